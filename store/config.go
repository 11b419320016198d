package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// ConfigVersion returns the version of the applied config snapshot, or 0.
func (d *DB) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	err := d.db.QueryRowContext(ctx, "SELECT version FROM config WHERE id = 1").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, d.wrapNil("read config", err)
}

func (d *DB) wrapNil(op string, err error) error {
	if err == nil {
		return nil
	}
	return d.wrap(op, err)
}

// ApplyConfig replaces the config snapshot with c and logs config.applied,
// in one transaction. A snapshot whose version is not newer than the
// applied one is refused (keycab.ECONFLICT).
func (d *DB) ApplyConfig(ctx context.Context, c *keycab.Config) error {
	if err := c.Cabinet.Kind.Validate(); err != nil {
		return err
	}
	return d.Update(ctx, func(tx *Tx) error {
		var cur int64
		if err := tx.QueryRow("SELECT coalesce(max(version), 0) FROM config").Scan(&cur); err != nil {
			return d.wrap("apply config", err)
		}
		if c.Version <= cur {
			return keycab.Errorf(keycab.ECONFLICT, "config version %d is not newer than the applied %d", c.Version, cur)
		}
		policy, err := json.Marshal(c.Policy)
		if err != nil {
			return err
		}
		stmts := []struct {
			q    string
			args []any
		}{
			{"DELETE FROM badges", nil},
			{"DELETE FROM members", nil},
			{"DELETE FROM slots", nil},
			{"DELETE FROM keyset_tokens", nil},
			{"DELETE FROM keysets", nil},
			{"DELETE FROM reservations", nil},
			{"DELETE FROM jobs", nil},
			{"DELETE FROM cabinet", nil},
			{`INSERT INTO config (id, version, org_id, org_name, site_id, site_name, time_zone, badge_salt, policy, applied_ms)
			  VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			  ON CONFLICT (id) DO UPDATE SET version = excluded.version, org_id = excluded.org_id, org_name = excluded.org_name,
			  site_id = excluded.site_id, site_name = excluded.site_name, time_zone = excluded.time_zone,
			  badge_salt = excluded.badge_salt, policy = excluded.policy, applied_ms = excluded.applied_ms`,
				[]any{c.Version, c.Org.ID, c.Org.Name, c.Site.ID, c.Site.Name, c.Site.TimeZone, c.BadgeSalt, string(policy), d.now().UnixMilli()}},
			{"INSERT INTO cabinet (id, name, kind, door_lock, door_sensor) VALUES (?, ?, ?, ?, ?)",
				[]any{c.Cabinet.ID, c.Cabinet.Name, string(c.Cabinet.Kind), c.Cabinet.DoorLock, c.Cabinet.DoorSensor}},
		}
		add := func(q string, args ...any) {
			stmts = append(stmts, struct {
				q    string
				args []any
			}{q, args})
		}
		for _, k := range c.KeySets {
			add("INSERT INTO keysets (id, label, sensitive, pin_required, max_out_ms) VALUES (?, ?, ?, ?, ?)", k.ID, k.Label, k.Sensitive, k.PINRequired, k.MaxOut.Milliseconds())
		}
		for _, s := range c.Slots {
			var ks any
			if s.KeySetID != "" {
				ks = s.KeySetID
			}
			add("INSERT INTO slots (number, lock, sensor, keyset_id) VALUES (?, ?, ?, ?)", s.Number, s.Lock, s.Sensor, ks)
		}
		for _, t := range c.Tokens {
			add("INSERT INTO keyset_tokens (hash, keyset_id, issued_ms, revoked_ms) VALUES (?, ?, ?, ?)", t.Hash, t.KeySetID, ms(t.IssuedAt), ms(t.RevokedAt))
		}
		for _, m := range c.Members {
			sites, _ := json.Marshal(m.SiteIDs)
			add("INSERT INTO members (id, name, email, role, site_ids, pin_hash, max_keys_out, disabled, erased_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", m.ID, m.Name, m.Email, string(m.Role), string(sites), m.PINHash, m.MaxKeysOut, m.Disabled, ms(m.ErasedAt))
		}
		for _, b := range c.Badges {
			add("INSERT INTO badges (hash, member_id, kind, revoked_ms) VALUES (?, ?, ?, ?)", b.Hash, b.MemberID, string(b.Kind), ms(b.RevokedAt))
		}
		for _, r := range c.Reservations {
			add("INSERT INTO reservations (id, keyset_id, member_id, from_ms, until_ms) VALUES (?, ?, ?, ?, ?)", r.ID, r.KeySetID, r.MemberID, ms(r.From), ms(r.Until))
		}
		for _, j := range c.Jobs {
			ks, _ := json.Marshal(j.KeySetIDs)
			add("INSERT INTO jobs (id, member_id, keyset_ids, from_ms, until_ms, descriptor) VALUES (?, ?, ?, ?, ?, ?)", j.ID, j.MemberID, string(ks), ms(j.From), ms(j.Until), j.Descriptor)
		}
		for _, s := range stmts {
			if _, err := tx.Exec(s.q, s.args...); err != nil {
				return d.wrap("apply config version "+strconv.FormatInt(c.Version, 10), err)
			}
		}
		_, err = tx.Append(Record{Event: &audit.Event{
			Kind:   keycab.EventConfigApplied,
			Detail: map[string]string{"version": strconv.FormatInt(c.Version, 10), "previous": strconv.FormatInt(cur, 10)},
		}})
		return err
	})
}

// Policy returns the applied policy (the default policy before any config).
func (d *DB) Policy(ctx context.Context) (keycab.Policy, error) {
	var s string
	err := d.db.QueryRowContext(ctx, "SELECT policy FROM config WHERE id = 1").Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return keycab.DefaultPolicy(), nil
	} else if err != nil {
		return keycab.Policy{}, d.wrap("read policy", err)
	}
	var p keycab.Policy
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return keycab.Policy{}, fmt.Errorf("read policy: %w", err)
	}
	return p, nil
}

const (
	memberCols  = "id, name, email, role, site_ids, pin_hash, max_keys_out, disabled, erased_ms"
	memberColsM = "m.id, m.name, m.email, m.role, m.site_ids, m.pin_hash, m.max_keys_out, m.disabled, m.erased_ms"
)

func scanMember(row interface{ Scan(...any) error }) (*keycab.Member, error) {
	var m keycab.Member
	var role, sites string
	var erased int64
	if err := row.Scan(&m.ID, &m.Name, &m.Email, &role, &sites, &m.PINHash, &m.MaxKeysOut, &m.Disabled, &erased); err != nil {
		return nil, err
	}
	m.Role = keycab.Role(role)
	m.ErasedAt = fromMS(erased)
	if err := json.Unmarshal([]byte(sites), &m.SiteIDs); err != nil {
		return nil, fmt.Errorf("member %s sites: %w", m.ID, err)
	}
	return &m, nil
}

// Member returns the member with id.
func (d *DB) Member(ctx context.Context, id string) (*keycab.Member, error) {
	m, err := scanMember(d.db.QueryRowContext(ctx, "SELECT "+memberCols+" FROM members WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keycab.Errorf(keycab.ENOTFOUND, "no member %q", id)
	}
	return m, d.wrapNil("read member", err)
}

// MemberByBadge returns the member a badge code belongs to, if the badge
// is known and not revoked.
func (d *DB) MemberByBadge(ctx context.Context, code string) (*keycab.Member, error) {
	var salt []byte
	if err := d.db.QueryRowContext(ctx, "SELECT badge_salt FROM config WHERE id = 1").Scan(&salt); errors.Is(err, sql.ErrNoRows) {
		return nil, keycab.Errorf(keycab.ENOTFOUND, "unknown badge")
	} else if err != nil {
		return nil, d.wrap("read config", err)
	}
	m, err := scanMember(d.db.QueryRowContext(ctx, "SELECT "+memberColsM+" FROM badges b JOIN members m ON m.id = b.member_id WHERE b.hash = ? AND b.revoked_ms = 0", keycab.BadgeHash(salt, code)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keycab.Errorf(keycab.ENOTFOUND, "unknown badge")
	}
	return m, d.wrapNil("read badge", err)
}

// KeySetByToken returns the key set whose fob carries QR token, if the
// token is valid.
func (d *DB) KeySetByToken(ctx context.Context, token string) (*keycab.KeySet, error) {
	var k keycab.KeySet
	var maxOut int64
	err := d.db.QueryRowContext(ctx, `SELECT k.id, k.label, k.sensitive, k.pin_required, k.max_out_ms
		FROM keyset_tokens t JOIN keysets k ON k.id = t.keyset_id WHERE t.hash = ? AND t.revoked_ms = 0`, keycab.TokenHash(token)).
		Scan(&k.ID, &k.Label, &k.Sensitive, &k.PINRequired, &maxOut)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keycab.Errorf(keycab.ENOTFOUND, "unknown key label")
	} else if err != nil {
		return nil, d.wrap("read key set", err)
	}
	k.MaxOut = time.Duration(maxOut) * time.Millisecond
	return &k, nil
}
