package store

import (
	"context"
	"database/sql"
	"encoding/hex"
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
// in one transaction, which also erases the members HQ erased and adopts
// the custody changes made at HQ (adoptHQCustody). A snapshot whose
// version is not newer than the applied one is refused (keycab.ECONFLICT).
func (d *DB) ApplyConfig(ctx context.Context, c *keycab.Config) error {
	if err := c.Cabinet.Kind.Validate(); err != nil {
		return err
	}
	if err := c.Branding.Validate(); err != nil {
		return err
	}
	branding, err := json.Marshal(c.Branding)
	if err != nil {
		return err
	}
	lifecycle, err := json.Marshal(Lifecycle{Held: c.Held, PersonalTextDays: c.PersonalTextDays})
	if err != nil {
		return err
	}
	defer d.changedConfig()
	var erased []string
	var adopted int
	err = d.Update(ctx, func(tx *Tx) error {
		var cur int64
		if err := tx.QueryRow("SELECT coalesce(max(version), 0) FROM config").Scan(&cur); err != nil {
			return d.wrap("apply config", err)
		}
		if c.Version <= cur {
			return keycab.Errorf(keycab.ECONFLICT, "config version %d is not newer than the applied %d", c.Version, cur)
		}
		// Members erased at HQ that this kiosk still holds anything of,
		// read before the snapshot below replaces the members.
		var err error
		if erased, err = tx.pendingErasures(c.Erased); err != nil {
			return err
		}
		for _, id := range erased {
			if _, err := tx.erase(id, ""); err != nil {
				return err
			}
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
			{"DELETE FROM access_rules", nil},
			{"DELETE FROM cabinet", nil},
			{"DELETE FROM revoked_passes", nil},
			{`INSERT INTO config (id, version, org_id, org_name, site_id, site_name, time_zone, badge_salt, policy, branding, applied_ms, language)
			  VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			  ON CONFLICT (id) DO UPDATE SET version = excluded.version, org_id = excluded.org_id, org_name = excluded.org_name,
			  site_id = excluded.site_id, site_name = excluded.site_name, time_zone = excluded.time_zone,
			  badge_salt = excluded.badge_salt, policy = excluded.policy, branding = excluded.branding, applied_ms = excluded.applied_ms,
			  language = excluded.language`,
				[]any{c.Version, c.Org.ID, c.Org.Name, c.Site.ID, c.Site.Name, c.Site.TimeZone, c.BadgeSalt, string(policy), string(branding), d.now().UnixMilli(), c.Site.Language}},
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
			groups, _ := json.Marshal(append([]string{}, k.Groups...))
			add("INSERT INTO keysets (id, label, sensitive, pin_required, max_out_ms, triple_release, groups) VALUES (?, ?, ?, ?, ?, ?, ?)", k.ID, k.Label, k.Sensitive, k.PINRequired, k.MaxOut.Milliseconds(), k.TripleRelease, string(groups))
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
			sched, _ := json.Marshal(m.Schedule)
			groups, _ := json.Marshal(append([]string{}, m.Groups...))
			add("INSERT INTO members (id, name, email, role, site_ids, pin_hash, max_keys_out, schedule, disabled, erased_ms, access_until_ms, groups, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", m.ID, m.Name, m.Email, string(m.Role), string(sites), m.PINHash, m.MaxKeysOut, string(sched), m.Disabled, ms(m.ErasedAt), ms(m.AccessUntil), string(groups), m.Language)
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
		for _, r := range c.Rules {
			sched, _ := json.Marshal(append([]keycab.Window{}, r.Schedule...))
			add("INSERT INTO access_rules (id, member_group_id, keyset_group_id, schedule) VALUES (?, ?, ?, ?)", r.ID, r.MemberGroupID, r.KeySetGroupID, string(sched))
		}
		for _, id := range c.RevokedPasses {
			add("INSERT INTO revoked_passes (pass_id) VALUES (?) ON CONFLICT DO NOTHING", id)
		}
		for _, s := range stmts {
			if _, err := tx.Exec(s.q, s.args...); err != nil {
				return d.wrap("apply config version "+strconv.FormatInt(c.Version, 10), err)
			}
		}
		if err := tx.applyTouch(c); err != nil {
			return d.wrap("apply config version "+strconv.FormatInt(c.Version, 10), err)
		}
		if adopted, err = tx.adoptHQCustody(c.HQCustody); err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE config SET lifecycle = ? WHERE id = 1", string(lifecycle)); err != nil {
			return d.wrap("apply config version "+strconv.FormatInt(c.Version, 10), err)
		}
		_, err = tx.Append(Record{Event: &audit.Event{
			Kind:   keycab.EventConfigApplied,
			Detail: map[string]string{"version": strconv.FormatInt(c.Version, 10), "previous": strconv.FormatInt(cur, 10)},
		}})
		return err
	})
	if err != nil {
		return err
	}
	if adopted > 0 {
		d.log.Info("custody changes made at HQ adopted", "changes", adopted)
	}
	if len(erased) == 0 {
		return nil
	}
	// The erased bytes out of free pages and the WAL, as Erase does, before
	// the erasure is reported done. The bundle is applied whatever happens
	// here: a compaction that cannot run now runs with the next
	// ExpirePersonal.
	if err := d.Compact(ctx); err != nil {
		d.compactDue.Store(true)
		d.log.Warn("members erased by HQ; compacting the files failed, will retry", "members", erased, "err", err)
		return nil
	}
	d.log.Info("members erased by HQ", "members", erased)
	return nil
}

// ConfigChanged returns a channel closed at the next change of the
// config snapshot (Snapshot): a bundle applied, a fob enrolled or a badge
// linked at the kiosk, a member erased. A reader takes the channel before
// it reads the snapshot, so that no change falls between the two.
func (d *DB) ConfigChanged() <-chan struct{} {
	d.confMu.Lock()
	defer d.confMu.Unlock()
	if d.confChanged == nil {
		d.confChanged = make(chan struct{})
	}
	return d.confChanged
}

// changedConfig tells the ConfigChanged watchers, after a change of the
// config committed (or failed: a spurious reload costs one read).
func (d *DB) changedConfig() {
	d.confMu.Lock()
	defer d.confMu.Unlock()
	if d.confChanged != nil {
		close(d.confChanged)
		d.confChanged = nil
	}
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
	memberCols  = "id, name, email, role, site_ids, pin_hash, max_keys_out, schedule, disabled, erased_ms, access_until_ms, groups, language"
	memberColsM = "m.id, m.name, m.email, m.role, m.site_ids, m.pin_hash, m.max_keys_out, m.schedule, m.disabled, m.erased_ms, m.access_until_ms, m.groups, m.language"
)

func scanMember(row interface{ Scan(...any) error }) (*keycab.Member, error) {
	var m keycab.Member
	var role, sites, sched, groups string
	var erased, until int64
	if err := row.Scan(&m.ID, &m.Name, &m.Email, &role, &sites, &m.PINHash, &m.MaxKeysOut, &sched, &m.Disabled, &erased, &until, &groups, &m.Language); err != nil {
		return nil, err
	}
	m.AccessUntil = fromMS(until)
	if err := json.Unmarshal([]byte(groups), &m.Groups); err != nil {
		return nil, fmt.Errorf("member %s groups: %w", m.ID, err)
	}
	if err := json.Unmarshal([]byte(sched), &m.Schedule); err != nil {
		return nil, fmt.Errorf("member %s schedule: %w", m.ID, err)
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
	var groups string
	err := d.db.QueryRowContext(ctx, `SELECT k.id, k.label, k.sensitive, k.pin_required, k.max_out_ms, k.triple_release, k.groups
		FROM keyset_tokens t JOIN keysets k ON k.id = t.keyset_id WHERE t.hash = ? AND t.revoked_ms = 0`, keycab.TokenHash(token)).
		Scan(&k.ID, &k.Label, &k.Sensitive, &k.PINRequired, &maxOut, &k.TripleRelease, &groups)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keycab.Errorf(keycab.ENOTFOUND, "unknown key label")
	} else if err != nil {
		return nil, d.wrap("read key set", err)
	}
	if err := json.Unmarshal([]byte(groups), &k.Groups); err != nil {
		return nil, fmt.Errorf("key set %s groups: %w", k.ID, err)
	}
	k.MaxOut = time.Duration(maxOut) * time.Millisecond
	return &k, nil
}

// Snapshot returns the whole applied config snapshot. Before any config
// is applied it returns an empty one with the default policy.
func (d *DB) Snapshot(ctx context.Context) (*keycab.Config, error) {
	c := &keycab.Config{Policy: keycab.DefaultPolicy()}
	err := d.read(ctx, func(tx *sql.Tx) error {
		var policy, branding string
		err := tx.QueryRowContext(ctx, "SELECT version, org_id, org_name, site_id, site_name, time_zone, badge_salt, policy, branding, language FROM config WHERE id = 1").
			Scan(&c.Version, &c.Org.ID, &c.Org.Name, &c.Site.ID, &c.Site.Name, &c.Site.TimeZone, &c.BadgeSalt, &policy, &branding, &c.Site.Language)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(policy), &c.Policy); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		if err := json.Unmarshal([]byte(branding), &c.Branding); err != nil {
			return fmt.Errorf("branding: %w", err)
		}
		c.Site.OrgID = c.Org.ID
		var kind string
		err = tx.QueryRowContext(ctx, "SELECT id, name, kind, door_lock, door_sensor FROM cabinet").Scan(&c.Cabinet.ID, &c.Cabinet.Name, &kind, &c.Cabinet.DoorLock, &c.Cabinet.DoorSensor)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c.Cabinet.Kind, c.Cabinet.OrgID, c.Cabinet.SiteID = keycab.CabinetKind(kind), c.Org.ID, c.Site.ID
		return each(ctx, tx, []rowsQuery{{"SELECT id, label, sensitive, pin_required, max_out_ms, triple_release, groups FROM keysets ORDER BY label", func(r *sql.Rows) error {
			var k keycab.KeySet
			var maxOut int64
			var groups string
			if err := r.Scan(&k.ID, &k.Label, &k.Sensitive, &k.PINRequired, &maxOut, &k.TripleRelease, &groups); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(groups), &k.Groups); err != nil {
				return fmt.Errorf("key set %s groups: %w", k.ID, err)
			}
			k.MaxOut, k.OrgID, k.SiteID = time.Duration(maxOut)*time.Millisecond, c.Org.ID, c.Site.ID
			c.KeySets = append(c.KeySets, k)
			return nil
		}}, {"SELECT number, lock, sensor, coalesce(keyset_id, '') FROM slots ORDER BY number", func(r *sql.Rows) error {
			s := keycab.Slot{CabinetID: c.Cabinet.ID}
			if err := r.Scan(&s.Number, &s.Lock, &s.Sensor, &s.KeySetID); err != nil {
				return err
			}
			c.Slots = append(c.Slots, s)
			return nil
		}}, {"SELECT hash, keyset_id, issued_ms, revoked_ms FROM keyset_tokens", func(r *sql.Rows) error {
			var t keycab.QRToken
			var issued, revoked int64
			if err := r.Scan(&t.Hash, &t.KeySetID, &issued, &revoked); err != nil {
				return err
			}
			t.IssuedAt, t.RevokedAt = fromMS(issued), fromMS(revoked)
			c.Tokens = append(c.Tokens, t)
			return nil
		}}, {"SELECT " + memberCols + " FROM members ORDER BY name", func(r *sql.Rows) error {
			m, err := scanMember(r)
			if err != nil {
				return err
			}
			m.OrgID = c.Org.ID
			c.Members = append(c.Members, *m)
			return nil
		}}, {"SELECT hash, member_id, kind, revoked_ms FROM badges", func(r *sql.Rows) error {
			var b keycab.Badge
			var kind string
			var revoked int64
			if err := r.Scan(&b.Hash, &b.MemberID, &kind, &revoked); err != nil {
				return err
			}
			b.Kind, b.RevokedAt = keycab.BadgeKind(kind), fromMS(revoked)
			c.Badges = append(c.Badges, b)
			return nil
		}}, {"SELECT id, keyset_id, member_id, from_ms, until_ms FROM reservations ORDER BY from_ms", func(r *sql.Rows) error {
			var v keycab.Reservation
			var from, until int64
			if err := r.Scan(&v.ID, &v.KeySetID, &v.MemberID, &from, &until); err != nil {
				return err
			}
			v.From, v.Until, v.OrgID = fromMS(from), fromMS(until), c.Org.ID
			c.Reservations = append(c.Reservations, v)
			return nil
		}}, {touchRefusalsQuery, func(r *sql.Rows) error {
			var v keycab.Refusal
			if err := r.Scan(&v.Index, &v.Change, &v.Reason); err != nil {
				return err
			}
			c.Refused = append(c.Refused, v)
			return nil
		}}, {"SELECT id, member_id, keyset_ids, from_ms, until_ms, descriptor FROM jobs ORDER BY from_ms", func(r *sql.Rows) error {
			var j keycab.Job
			var ks string
			var from, until int64
			if err := r.Scan(&j.ID, &j.MemberID, &ks, &from, &until, &j.Descriptor); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(ks), &j.KeySetIDs); err != nil {
				return fmt.Errorf("job %s: %w", j.ID, err)
			}
			j.From, j.Until, j.OrgID = fromMS(from), fromMS(until), c.Org.ID
			c.Jobs = append(c.Jobs, j)
			return nil
		}}, {"SELECT id, member_group_id, keyset_group_id, schedule FROM access_rules ORDER BY id", func(r *sql.Rows) error {
			ar := keycab.AccessRule{OrgID: c.Org.ID}
			var sched string
			if err := r.Scan(&ar.ID, &ar.MemberGroupID, &ar.KeySetGroupID, &sched); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(sched), &ar.Schedule); err != nil {
				return fmt.Errorf("access rule %s: %w", ar.ID, err)
			}
			c.Rules = append(c.Rules, ar)
			return nil
		}}, {"SELECT pass_id FROM revoked_passes ORDER BY pass_id", func(r *sql.Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			c.RevokedPasses = append(c.RevokedPasses, id)
			return nil
		}}})
	})
	if err != nil {
		return nil, d.wrap("read config", err)
	}
	return c, nil
}

// rowsQuery is a query and what to do with each row it returns.
type rowsQuery struct {
	q    string
	scan func(*sql.Rows) error
}

// each runs the queries in order, scanning every row.
func each(ctx context.Context, tx *sql.Tx, queries []rowsQuery) error {
	for _, rq := range queries {
		q, scan := rq.q, rq.scan
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// EnrolToken links a key fob's QR token to a key set at the kiosk, as an
// admin did on its screen, and logs admin.change by actor with the token's
// hash (never the token) so that HQ applies it (touch.go). A token
// already in use is refused.
func (d *DB) EnrolToken(ctx context.Context, actor, keySetID, token string) error {
	h := keycab.TokenHash(token)
	defer d.changedConfig()
	return d.Update(ctx, func(tx *Tx) error {
		var other string
		err := tx.QueryRow("SELECT keyset_id FROM keyset_tokens WHERE hash = ?", h).Scan(&other)
		if err == nil {
			return keycab.Errorf(keycab.ECONFLICT, "that label already belongs to key set %s", other)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return d.wrap("enrol token", err)
		}
		if _, err := tx.Exec("INSERT INTO keyset_tokens (hash, keyset_id, issued_ms) VALUES (?, ?, ?)", h, keySetID, d.now().UnixMilli()); err != nil {
			return d.wrap("enrol token", err)
		}
		a, err := tx.Append(Record{Event: &audit.Event{Kind: keycab.EventAdminChange, Actor: actor, KeySet: keySetID,
			Detail: map[string]string{"change": keycab.ChangeTokenEnrolled, "token_hash": fmt.Sprintf("%x", h)}}})
		if err != nil {
			return err
		}
		return tx.touchChange(a.Index, keycab.ChangeTokenEnrolled, h, keySetID, "", 0)
	})
}

// ReplaceToken gives key set keySetID the fob label token in place of
// its valid ones (a lost fob replaced at HQ's request) and appends e, the
// entry that records it, in one transaction: the old label stops working
// at once, before the bundle that carries the same comes. It is HQ's
// change, not the touchscreen's: nothing is kept for HQ to apply. A label
// already enrolled for the key set (the bundle came first) only revokes
// the others.
func (d *DB) ReplaceToken(ctx context.Context, keySetID, token string, e *audit.Event) (int64, error) {
	h := keycab.TokenHash(token)
	defer d.changedConfig()
	var index int64
	err := d.Update(ctx, func(tx *Tx) error {
		var other string
		err := tx.QueryRow("SELECT keyset_id FROM keyset_tokens WHERE hash = ?", h).Scan(&other)
		switch {
		case err == nil && other != keySetID:
			return keycab.Errorf(keycab.ECONFLICT, "that label already belongs to key set %s", other)
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.Exec("INSERT INTO keyset_tokens (hash, keyset_id, issued_ms) VALUES (?, ?, ?)", h, keySetID, d.now().UnixMilli()); err != nil {
				return d.wrap("replace token", err)
			}
		case err != nil:
			return d.wrap("replace token", err)
		}
		if _, err := tx.Exec("UPDATE keyset_tokens SET revoked_ms = ? WHERE keyset_id = ? AND hash <> ? AND revoked_ms = 0",
			d.now().UnixMilli(), keySetID, h); err != nil {
			return d.wrap("replace token", err)
		}
		a, err := tx.Append(Record{Event: e})
		index = a.Index
		return err
	})
	return index, err
}

// LinkBadge links a badge code to a member at the kiosk and logs
// admin.change, which HQ applies (touch.go). The entry carries only a
// salted reference to the badge's hash (audit.BadgeRefKey); the hash is
// kept in the personal table under the member, travels to HQ beside the
// push (sync/wire minor 8) and goes with the member's erasure. A badge
// already linked is refused.
func (d *DB) LinkBadge(ctx context.Context, actor, memberID string, kind keycab.BadgeKind, code string) error {
	defer d.changedConfig()
	return d.Update(ctx, func(tx *Tx) error {
		var salt []byte
		if err := tx.QueryRow("SELECT badge_salt FROM config WHERE id = 1").Scan(&salt); err != nil {
			return d.wrap("link badge", err)
		}
		h := keycab.BadgeHash(salt, code)
		var other string
		err := tx.QueryRow("SELECT member_id FROM badges WHERE hash = ?", h).Scan(&other)
		if err == nil {
			return keycab.Errorf(keycab.ECONFLICT, "that badge is already linked to member %s", other)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return d.wrap("link badge", err)
		}
		if _, err := tx.Exec("INSERT INTO badges (hash, member_id, kind) VALUES (?, ?, ?)", h, memberID, string(kind)); err != nil {
			return d.wrap("link badge", err)
		}
		a, err := tx.Append(Record{Event: &audit.Event{Kind: keycab.EventAdminChange, Actor: actor,
			Detail: map[string]string{"change": keycab.ChangeBadgeLinked, "member": memberID, "badge_kind": string(kind)}},
			Badge: hex.EncodeToString(h)})
		if err != nil {
			return err
		}
		return tx.touchChange(a.Index, keycab.ChangeBadgeLinked, h, memberID, kind, 0)
	})
}
