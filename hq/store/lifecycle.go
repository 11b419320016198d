package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// The lifecycle of an organisation's records (schema version 18):
// erasure of a member, legal holds, and retention rules. See doc.go
// (Erasure, legal hold and retention).

// HoldTarget is what a legal hold covers.
type HoldTarget string

// The kinds of thing a hold covers.
const (
	HoldMember HoldTarget = "member"
	HoldKeySet HoldTarget = "key_set"
	HoldSite   HoldTarget = "site"
)

// Hold is a legal hold: while active it suspends erasure and retention
// for what it covers (a member; a key set; a site, and so its members).
type Hold struct {
	ID        string
	Target    HoldTarget
	TargetID  string
	Reason    string
	OwnerID   string    // the member responsible for the hold
	Ends      time.Time // zero: until ended
	CreatedBy string
	CreatedAt time.Time
	EndedBy   string
	EndedAt   time.Time
}

// Active reports whether the hold is in force at now.
func (h Hold) Active(now time.Time) bool {
	return h.EndedAt.IsZero() && (h.Ends.IsZero() || now.Before(h.Ends))
}

// maxHoldReason bounds a hold's reason.
const maxHoldReason = 500

// CreateHold places a legal hold. Owners and admins only; the target and
// the owner must be of the organisation (a miss is ENOTFOUND), the reason
// is required and the end, if any, in the future.
func (s *Store) CreateHold(ctx context.Context, sc Scope, h Hold) (Hold, error) {
	err := s.write(ctx, "create legal hold", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("placing a legal hold"); err != nil {
			return err
		}
		h.Reason = strings.TrimSpace(h.Reason)
		switch {
		case h.Reason == "":
			return invalid("a legal hold needs a reason")
		case len(h.Reason) > maxHoldReason || !keycab.Printable(h.Reason):
			return invalid("a hold's reason must be at most %d printable characters", maxHoldReason)
		case !h.Ends.IsZero() && !h.Ends.After(t.now):
			return invalid("a hold's end (%s) must be in the future", h.Ends.UTC().Format(time.RFC3339))
		}
		var err error
		switch h.Target {
		case HoldMember:
			_, err = t.member(ctx, h.TargetID)
		case HoldKeySet:
			_, err = t.keySet(ctx, h.TargetID)
		case HoldSite:
			err = t.siteVisible(ctx, h.TargetID)
		default:
			return invalid("a hold covers a member, a key_set or a site, not %q", h.Target)
		}
		if err != nil {
			return err
		}
		owner, err := t.member(ctx, h.OwnerID)
		if err != nil {
			return err
		}
		if !owner.ErasedAt.IsZero() || owner.Disabled {
			return invalid("the hold's owner %s is erased or disabled", h.OwnerID)
		}
		h.ID, h.CreatedBy, h.CreatedAt = newID("hold"), t.p.member, t.now
		h.EndedBy, h.EndedAt = "", time.Time{}
		if _, err := t.exec(ctx, `INSERT INTO legal_holds (org_id, id, target, target_id, reason, owner_id, created_by, created_us, ends_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.org(), h.ID, string(h.Target), h.TargetID, h.Reason, h.OwnerID, h.CreatedBy, us(h.CreatedAt), us(h.Ends)); err != nil {
			return err
		}
		return t.logChange(ctx, "hold.create", h.ID, nil, h)
	})
	return h, err
}

// EndHold ends an active legal hold. Owners and admins only.
func (s *Store) EndHold(ctx context.Context, sc Scope, id string) (Hold, error) {
	var h Hold
	err := s.write(ctx, "end legal hold "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("ending a legal hold"); err != nil {
			return err
		}
		hs, err := t.holds(ctx, id)
		if err != nil {
			return err
		}
		if len(hs) == 0 {
			return notFound("legal hold", id)
		}
		before := hs[0]
		if !before.Active(t.now) {
			return keycab.Errorf(keycab.ECONFLICT, "legal hold %s has already ended", id)
		}
		h = before
		h.EndedBy, h.EndedAt = t.p.member, t.now
		if _, err := t.exec(ctx, "UPDATE legal_holds SET ended_by = $1, ended_us = $2 WHERE org_id = $3 AND id = $4",
			h.EndedBy, us(h.EndedAt), t.org(), id); err != nil {
			return err
		}
		return t.logChange(ctx, "hold.end", id, before, h)
	})
	return h, err
}

// ListHolds returns the organisation's legal holds, newest first, ended
// ones included. Owners, admins and auditors.
func (s *Store) ListHolds(ctx context.Context, sc Scope) ([]Hold, error) {
	var out []Hold
	err := s.read(ctx, "list legal holds", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() {
			return forbidden("legal holds are for owners, admins and auditors")
		}
		var err error
		out, err = t.holds(ctx, "")
		return err
	})
	return out, err
}

// holds reads the organisation's holds, or the one of that id.
func (t *tx) holds(ctx context.Context, id string) ([]Hold, error) {
	rows, err := t.query(ctx, `SELECT id, target, target_id, reason, owner_id, created_by, created_us, ends_us, ended_by, ended_us
		FROM legal_holds WHERE org_id = $1 AND ($2 = '' OR id = $2) ORDER BY created_us DESC, id`, t.org(), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		var h Hold
		var created, ends, ended int64
		if err := rows.Scan(&h.ID, &h.Target, &h.TargetID, &h.Reason, &h.OwnerID, &h.CreatedBy, &created, &ends, &h.EndedBy, &ended); err != nil {
			return nil, err
		}
		h.CreatedAt, h.Ends, h.EndedAt = fromUS(created), fromUS(ends), fromUS(ended)
		out = append(out, h)
	}
	return out, rows.Err()
}

// activeHolds returns the holds in force now.
func (t *tx) activeHolds(ctx context.Context) ([]Hold, error) {
	all, err := t.holds(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []Hold
	for _, h := range all {
		if h.Active(t.now) {
			out = append(out, h)
		}
	}
	return out, nil
}

// memberHold returns the active hold that covers member m, if any: a
// hold on the member, on a site in the member's scope, or on a key set
// the member's recorded history (events as actor, second or third
// approver) or present custody touches.
func (t *tx) memberHold(ctx context.Context, m keycab.Member) (*Hold, error) {
	holds, err := t.activeHolds(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range holds {
		var covers bool
		switch h.Target {
		case HoldMember:
			covers = h.TargetID == m.ID
		case HoldSite:
			covers = m.AtSite(h.TargetID) && len(m.SiteIDs) > 0
		case HoldKeySet:
			var n int
			if err := t.queryRow(ctx, `SELECT count(*) FROM events WHERE org_id = $1 AND key_set_id = $2
				AND (actor_id = $3 OR second_id = $3 OR third_id = $3)`, t.org(), h.TargetID, m.ID).Scan(&n); err != nil {
				return nil, err
			}
			covers = n > 0
		}
		if covers {
			return &h, nil
		}
	}
	return nil, nil
}

// heldError is the refusal of an action a hold suspends.
func heldError(what string, h *Hold) error {
	until := "until it is ended"
	if !h.Ends.IsZero() {
		until = "until " + h.Ends.UTC().Format(time.RFC3339)
	}
	return keycab.Errorf(keycab.ECONFLICT, "%s: under legal hold %s on %s %s (%q, owner %s), %s", what, h.ID, h.Target, h.TargetID, h.Reason, h.OwnerID, until)
}

// erasureStep is one part of erasing a member at HQ: each runs in the
// erasure's transaction, in order. A table that holds personal data of a
// member adds its step here.
type erasureStep struct {
	what string
	run  func(ctx context.Context, t *tx, m keycab.Member) error
}

var erasureSteps = []erasureStep{
	{"badges", func(ctx context.Context, t *tx, m keycab.Member) error {
		_, err := t.exec(ctx, "DELETE FROM badges WHERE org_id = $1 AND member_id = $2", t.org(), m.ID)
		return err
	}},
	{"group memberships", func(ctx context.Context, t *tx, m keycab.Member) error {
		_, err := t.exec(ctx, "DELETE FROM member_group_members WHERE org_id = $1 AND member_id = $2", t.org(), m.ID)
		return err
	}},
	{"sessions and tokens", func(ctx context.Context, t *tx, m keycab.Member) error {
		if err := t.revokeMemberSessions(ctx, m.ID); err != nil {
			return err
		}
		// The account's link to this organisation goes, and the account
		// with it unless another organisation has them (eraseAccount).
		accounts, err := t.strings(ctx, "SELECT account_id FROM account_members WHERE org_id = $1 AND member_id = $2", t.org(), m.ID)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM account_members WHERE org_id = $1 AND member_id = $2", t.org(), m.ID); err != nil {
			return err
		}
		for _, id := range accounts {
			if err := t.eraseAccount(ctx, id); err != nil {
				return err
			}
		}
		return nil
	}},
	{"report mail", func(ctx context.Context, t *tx, m keycab.Member) error {
		_, err := t.exec(ctx, "DELETE FROM report_subscriptions WHERE org_id = $1 AND member_id = $2", t.org(), m.ID)
		return err
	}},
	{"takes waiting for confirmation", func(ctx context.Context, t *tx, m keycab.Member) error {
		_, err := t.exec(ctx, "DELETE FROM pending_releases WHERE org_id = $1 AND member_id = $2", t.org(), m.ID)
		return err
	}},
	{"personal texts", func(ctx context.Context, t *tx, m keycab.Member) error {
		_, err := t.deleteMemberTexts(ctx, m.ID)
		return err
	}},
	{"camera stills", func(ctx context.Context, t *tx, m keycab.Member) error {
		_, err := t.exec(ctx, "DELETE FROM still_images WHERE org_id = $1 AND subject = $2", t.org(), m.ID)
		return err
	}},
	{"mail to their address", func(ctx context.Context, t *tx, m keycab.Member) error {
		if m.Email == "" {
			return nil
		}
		if _, err := t.exec(ctx, "DELETE FROM deliveries WHERE org_id = $1 AND to_email = $2", t.org(), m.Email); err != nil {
			return err
		}
		_, err := t.exec(ctx, "DELETE FROM auth_tokens WHERE org_id = $1 AND email = $2", t.org(), m.Email)
		return err
	}},
	{"SCIM user name", func(ctx context.Context, t *tx, m keycab.Member) error {
		_, err := t.exec(ctx, "DELETE FROM scim_users WHERE org_id = $1 AND member_id = $2", t.org(), m.ID)
		return err
	}},
	{"offline passes", func(ctx context.Context, t *tx, m keycab.Member) error {
		// Revoked (so every kiosk refuses them by id, whatever it knows
		// of the member), their notes cleared; the rows stay for the
		// admin log's record of what was issued.
		_, err := t.exec(ctx, `UPDATE passes SET note = '', revoked_us = CASE WHEN revoked_us = 0 THEN $1 ELSE revoked_us END,
			revoked_by = CASE WHEN revoked_by = '' THEN 'erasure' ELSE revoked_by END WHERE org_id = $2 AND member_id = $3`, us(t.now), t.org(), m.ID)
		return err
	}},
	{"profile", func(ctx context.Context, t *tx, m keycab.Member) error {
		_, err := t.exec(ctx, `UPDATE members SET name = '', email = '', pin_hash = '', disabled = TRUE, erased_us = $1
			WHERE org_id = $2 AND id = $3`, us(t.now), t.org(), m.ID)
		return err
	}},
}

// erasedTables are the tables erasureSteps change.
var erasedTables = []string{"members", "scim_users", "badges", "member_group_members", "sessions", "auth_tokens", "account_members", "deliveries", "personal_texts", "still_images",
	"passes", "accounts", "recovery_codes", "rate_limits", "mail_retry", "pending_releases", "report_subscriptions"}

// eraseAccount deletes the sign-in account of an erased member when it
// belongs to no organisation any more: its name, email, password hash
// and TOTP secret, with its sessions and recovery codes (they cascade),
// its rate-limit windows, and its own links and mail (of no organisation: on
// PostgreSQL out of a tenant's reach, so through keycab_erase_account_mail,
// which deletes them only for an address no account has). An account
// that another organisation still has stays: it is their sign-in there,
// which this organisation does not run.
func (t *tx) eraseAccount(ctx context.Context, id string) error {
	var orgs int
	if err := t.queryRow(ctx, t.byEngine(
		"SELECT count(*) FROM account_members WHERE account_id = $1",
		"SELECT count(*) FROM keycab_memberships($1)"), id).Scan(&orgs); err != nil {
		return err
	}
	if orgs > 0 {
		return nil
	}
	var email string
	if err := t.queryRow(ctx, "DELETE FROM accounts WHERE id = $1 RETURNING email", id).Scan(&email); errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	if _, err := t.exec(ctx, "DELETE FROM rate_limits WHERE length(key) > length($1) AND substr(key, length(key) - length($1)) = ':' || $1", email); err != nil {
		return err
	}
	if _, err := t.exec(ctx, "DELETE FROM auth_tokens WHERE org_id = $1 AND account_id = $2", t.org(), id); err != nil {
		return err
	}
	if t.s.engine == Postgres {
		_, err := t.exec(ctx, "SELECT keycab_erase_account_mail($1, $2)", id, email)
		return err
	}
	if _, err := t.exec(ctx, "DELETE FROM auth_tokens WHERE org_id = '' AND (account_id = $1 OR email = $2)", id, email); err != nil {
		return err
	}
	for _, table := range []string{"deliveries", "mail_retry"} {
		if _, err := t.exec(ctx, "DELETE FROM "+table+" WHERE org_id = '' AND to_email = $1", email); err != nil {
			return err
		}
	}
	return nil
}

// erasedRecord is what the admin log keeps of an erasure: nothing
// personal, only what was removed.
type erasedRecord struct {
	Role   keycab.Role `json:"role"`
	Badges int         `json:"badges"`
	PIN    bool        `json:"pin"`
	Steps  []string    `json:"steps"`
	Erased time.Time   `json:"erased,omitzero"`
}

// EraseMember erases a member's personal data at HQ: name, email, PIN,
// badges, group memberships, sessions and open tokens, the mail log of
// their address (erasureSteps). The member row stays as a tombstone
// (erased, disabled) so that events keep naming the id; the next bundle
// of every kiosk of the organisation lists the id in Config.Erased, and
// each kiosk erases it too (store.DB.Erase). It is refused for a member
// holding a key set, a member covered by an active legal hold, the last
// owner, oneself, and a member already erased. Owners and admins erase
// anyone they may change; site managers staff and contractors of their
// own sites; auditors and staff nobody. Logged as member.erased.
//
// On SQLite the store runs under secure_delete and checkpoints the WAL
// (truncating it) after the erasure, so the erased bytes are in neither
// file; on PostgreSQL the old row versions stay as dead tuples until
// VACUUM reclaims them (doc.go).
func (s *Store) EraseMember(ctx context.Context, sc Scope, memberID string) error {
	err := s.write(ctx, "erase member "+memberID, sc, func(ctx context.Context, t *tx) error {
		if err := t.lockOrg(ctx); err != nil {
			return err
		}
		m, err := t.managedMember(ctx, memberID, "erasing a member")
		if err != nil {
			return err
		}
		switch {
		case memberID == t.p.member:
			return forbidden("you cannot erase yourself: another owner or admin can")
		case !m.ErasedAt.IsZero():
			return keycab.Errorf(keycab.ECONFLICT, "member %s is already erased", memberID)
		}
		if m.Role == keycab.RoleOwner {
			if err := t.notLastOwner(ctx); err != nil {
				return err
			}
		}
		var held string
		err = t.queryRow(ctx, "SELECT key_set_id FROM custody WHERE org_id = $1 AND member_id = $2 ORDER BY key_set_id LIMIT 1",
			t.org(), memberID).Scan(&held)
		if err == nil {
			return keycab.Errorf(keycab.ECONFLICT, "member %s holds key set %s: erase them once it is returned", memberID, held)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if h, err := t.memberHold(ctx, m); err != nil {
			return err
		} else if h != nil {
			return heldError("member "+memberID+" cannot be erased", h)
		}
		rec := erasedRecord{Role: m.Role, PIN: m.PINHash != "", Erased: t.now}
		if err := t.queryRow(ctx, "SELECT count(*) FROM badges WHERE org_id = $1 AND member_id = $2", t.org(), memberID).Scan(&rec.Badges); err != nil {
			return err
		}
		for _, step := range erasureSteps {
			if err := step.run(ctx, t, m); err != nil {
				return fmt.Errorf("%s: %w", step.what, err)
			}
			rec.Steps = append(rec.Steps, step.what)
		}
		return t.logChange(ctx, "member.erased", memberID, nil, rec)
	})
	if err != nil {
		return err
	}
	return s.scrub(ctx)
}

// scrub empties SQLite's WAL into the database file (where secure_delete
// has zeroed what was deleted), so that what was just erased is no longer
// in the WAL. On PostgreSQL it does nothing: see doc.go.
func (s *Store) scrub(ctx context.Context) error {
	if s.engine == Postgres {
		return nil
	}
	// PRAGMA optimize's ANALYZE keeps sample index keys (emails among
	// them) in sqlite_stat4; the tables erasure touches lose theirs until
	// the next optimize samples them afresh.
	var stat4 int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'").Scan(&stat4); err != nil {
		return fmt.Errorf("scrub after erasure: %w", err)
	}
	if stat4 > 0 {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM sqlite_stat4 WHERE tbl IN ('"+strings.Join(erasedTables, "', '")+"')"); err != nil {
			return fmt.Errorf("scrub after erasure: %w", err)
		}
	}
	var busy, frames, done int
	if err := s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
		return fmt.Errorf("checkpoint after erasure: %w", err)
	}
	if busy != 0 {
		// A reader still holds an old snapshot: the next checkpoint
		// (SQLite's automatic one, or the next erasure) empties it.
		s.log.Warn("checkpoint after erasure: a reader kept part of the WAL", "frames", frames, "checkpointed", done)
	}
	return nil
}

// Retention is an organisation's retention rules: each is the number of
// days after which the retention job deletes those records; zero keeps
// them.
type Retention struct {
	// PersonalTextDays: personal texts (recipient, notes) at HQ and on
	// every kiosk, by the time of their entry. Never the entries.
	PersonalTextDays int
	// DeliveriesDays: the organisation's mail delivery log, and its
	// webhooks' finished deliveries.
	DeliveriesDays int
	// SessionsDays: sessions and single-use tokens this long after they
	// expired (or, for sessions, were revoked).
	SessionsDays int
	// AdminDetailDays: the detail (before and after) of admin-log
	// entries, replaced by AdminDetailRemoved; the entry itself stays.
	AdminDetailDays int
}

// AdminDetailRemoved is what retention leaves of an admin-log entry's
// detail; the only change the admin log's triggers allow.
const AdminDetailRemoved = "removed by retention"

// MaxRetentionDays bounds a retention rule (about a hundred years).
const MaxRetentionDays = 36500

// GetRetention returns the organisation's retention rules. Owners,
// admins and auditors.
func (s *Store) GetRetention(ctx context.Context, sc Scope) (Retention, error) {
	var r Retention
	err := s.read(ctx, "get retention rules", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() {
			return forbidden("retention rules are for owners, admins and auditors")
		}
		var err error
		r, err = t.retention(ctx)
		return err
	})
	return r, err
}

func (t *tx) retention(ctx context.Context) (Retention, error) {
	var r Retention
	err := t.queryRow(ctx, "SELECT personal_text_days, deliveries_days, sessions_days, admin_detail_days FROM retention_rules WHERE org_id = $1",
		t.org()).Scan(&r.PersonalTextDays, &r.DeliveriesDays, &r.SessionsDays, &r.AdminDetailDays)
	if errors.Is(err, sql.ErrNoRows) {
		return Retention{}, nil
	}
	return r, err
}

// SetRetention replaces the organisation's retention rules. Owners and
// admins; logged as retention.set with the rules before and after.
func (s *Store) SetRetention(ctx context.Context, sc Scope, r Retention) error {
	return s.write(ctx, "set retention rules", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("setting retention rules"); err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			v    int
		}{{"personal_text_days", r.PersonalTextDays}, {"deliveries_days", r.DeliveriesDays}, {"sessions_days", r.SessionsDays}, {"admin_detail_days", r.AdminDetailDays}} {
			if f.v < 0 || f.v > MaxRetentionDays {
				return invalid("%s: %d is out of range (0 to %d)", f.name, f.v, MaxRetentionDays)
			}
		}
		before, err := t.retention(ctx)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO retention_rules (org_id, personal_text_days, deliveries_days, sessions_days, admin_detail_days, updated_us)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id) DO UPDATE SET personal_text_days = excluded.personal_text_days,
			deliveries_days = excluded.deliveries_days, sessions_days = excluded.sessions_days,
			admin_detail_days = excluded.admin_detail_days, updated_us = excluded.updated_us`,
			t.org(), r.PersonalTextDays, r.DeliveriesDays, r.SessionsDays, r.AdminDetailDays, us(t.now)); err != nil {
			return err
		}
		return t.logChange(ctx, "retention.set", t.org(), before, r)
	})
}

// RetentionRun is what one run of the retention rules deleted in one
// organisation, by kind of record.
type RetentionRun struct {
	Deliveries   int64
	Sessions     int64
	Tokens       int64
	AdminDetails int64
	Texts        int64 `json:",omitempty"`
	// WebhookDeliveries: webhook deliveries delivered or failed for good
	// before the cutoff (the deliveries rule covers both logs).
	WebhookDeliveries int64 `json:",omitempty"`
}

func (r RetentionRun) total() int64 {
	return r.Deliveries + r.Sessions + r.Tokens + r.AdminDetails + r.Texts + r.WebhookDeliveries
}

// retentionStep deletes what one rule names in the transaction's
// organisation, older than cutoff, sparing what the active holds cover
// (held: ids of members, key sets and sites); it adds what it deleted to
// run. A table a rule covers adds its step here.
type retentionStep struct {
	days func(Retention) int
	run  func(ctx context.Context, t *tx, cutoff int64, held []string, run *RetentionRun) error
}

var retentionSteps = []retentionStep{
	{func(r Retention) int { return r.PersonalTextDays }, func(ctx context.Context, t *tx, cutoff int64, held []string, run *RetentionRun) error {
		// A text goes with its entry's age; a hold on its subject, the
		// entry's actor or key set, or the site of the entry's cabinet
		// keeps it (as a kiosk keeps it: store.DB.ExpirePersonal).
		// Camera stills go by the same rule as the texts, counted with them.
		for _, table := range []string{"personal_texts", "still_images"} {
			spare := notIn(table+".subject", 3, len(held)) + notIn("e.actor_id", 3, len(held)) + notIn("e.key_set_id", 3, len(held))
			if len(held) > 0 {
				spare += " AND e.cabinet_id NOT IN (SELECT id FROM cabinets WHERE org_id = $1" + strings.Replace(notIn("site_id", 3, len(held)), "NOT IN", "IN", 1) + ")"
			}
			res, err := t.exec(ctx, `DELETE FROM `+table+` WHERE org_id = $1 AND EXISTS (SELECT 1 FROM events e
				WHERE e.org_id = `+table+`.org_id AND e.kiosk_id = `+table+`.kiosk_id AND e.log_index = `+table+`.log_index
				AND e.at_us < $2`+spare+`)`, append([]any{t.org(), cutoff}, strArgs(held)...)...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			run.Texts += n
		}
		return nil
	}},
	{func(r Retention) int { return r.DeliveriesDays }, func(ctx context.Context, t *tx, cutoff int64, held []string, run *RetentionRun) error {
		emails, err := t.heldEmails(ctx, held)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, "DELETE FROM deliveries WHERE org_id = $1 AND at_us < $2"+notIn("to_email", 3, len(emails)),
			append([]any{t.org(), cutoff}, strArgs(emails)...)...)
		if err != nil {
			return err
		}
		if run.Deliveries, err = res.RowsAffected(); err != nil {
			return err
		}
		res, err = t.exec(ctx, "DELETE FROM webhook_deliveries WHERE org_id = $1 AND state <> 'pending' AND created_us < $2 AND last_attempt_us < $2", t.org(), cutoff)
		if err != nil {
			return err
		}
		run.WebhookDeliveries, err = res.RowsAffected()
		return err
	}},
	{func(r Retention) int { return r.SessionsDays }, func(ctx context.Context, t *tx, cutoff int64, held []string, run *RetentionRun) error {
		res, err := t.exec(ctx, `DELETE FROM sessions WHERE org_id = $1 AND (expires_us < $2 OR (revoked_us > 0 AND revoked_us < $2))`+
			notIn("member_id", 3, len(held)), append([]any{t.org(), cutoff}, strArgs(held)...)...)
		if err != nil {
			return err
		}
		if run.Sessions, err = res.RowsAffected(); err != nil {
			return err
		}
		res, err = t.exec(ctx, `DELETE FROM auth_tokens WHERE org_id = $1 AND expires_us < $2`+
			notIn("member_id", 3, len(held)), append([]any{t.org(), cutoff}, strArgs(held)...)...)
		if err != nil {
			return err
		}
		run.Tokens, err = res.RowsAffected()
		return err
	}},
	{func(r Retention) int { return r.AdminDetailDays }, func(ctx context.Context, t *tx, cutoff int64, held []string, run *RetentionRun) error {
		res, err := t.exec(ctx, `UPDATE admin_log SET detail = $3 WHERE org_id = $1 AND at_us < $2 AND detail <> '' AND detail <> $3`+
			notIn("target", 4, len(held)), append([]any{t.org(), cutoff, AdminDetailRemoved}, strArgs(held)...)...)
		if err != nil {
			return err
		}
		run.AdminDetails, err = res.RowsAffected()
		return err
	}},
}

// notIn returns " AND col NOT IN ($first, ...)" for n parameters from
// $first, or nothing for none.
func notIn(col string, first, n int) string {
	if n == 0 {
		return ""
	}
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", first+i)
	}
	return " AND " + col + " NOT IN (" + strings.Join(ps, ", ") + ")"
}

func strArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// heldEmails returns the addresses of the held members.
func (t *tx) heldEmails(ctx context.Context, held []string) ([]string, error) {
	var out []string
	for _, id := range held {
		m, err := t.memberRow(ctx, id)
		if keycab.ErrorCode(err) == keycab.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		if m.Email != "" {
			out = append(out, m.Email)
		}
	}
	return out, nil
}

// heldMembers returns the members active holds cover: held members, and
// the members scoped to a held site.
func (t *tx) heldMembers(ctx context.Context) ([]string, error) {
	holds, err := t.activeHolds(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range holds {
		switch h.Target {
		case HoldMember:
			out = append(out, h.TargetID)
		case HoldSite:
			ids, err := t.strings(ctx, "SELECT member_id FROM member_sites WHERE org_id = $1 AND site_id = $2", t.org(), h.TargetID)
			if err != nil {
				return nil, err
			}
			out = append(out, ids...)
		}
	}
	return dedupe(out), nil
}

// heldIDs returns every id active holds cover: their targets, and the
// members a site hold covers.
func (t *tx) heldIDs(ctx context.Context) ([]string, error) {
	held, err := t.heldMembers(ctx)
	if err != nil {
		return nil, err
	}
	holds, err := t.activeHolds(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range holds {
		held = append(held, h.TargetID)
	}
	return dedupe(held), nil
}

// ApplyRetention runs organisation orgID's retention rules at the store's
// clock: each rule deletes exactly the records it names older than its
// number of days, except those a legal hold covers. A run that deleted
// anything is logged as retention.run (by no member) with the counts.
// Kiosks apply the personal-text rule to their own copies
// (Config.PersonalTextDays).
func (s *Store) ApplyRetention(ctx context.Context, orgID string) (RetentionRun, error) {
	var run RetentionRun
	err := s.tenant(ctx, "apply retention rules", orgID, true, func(ctx context.Context, t *tx) error {
		rules, err := t.retention(ctx)
		if err != nil {
			return err
		}
		held, err := t.heldIDs(ctx)
		if err != nil {
			return err
		}
		for _, step := range retentionSteps {
			days := step.days(rules)
			if days == 0 {
				continue
			}
			if err := step.run(ctx, t, us(t.now.Add(-time.Duration(days)*24*time.Hour)), held, &run); err != nil {
				return err
			}
		}
		if run.total() == 0 {
			return nil
		}
		return t.logChange(ctx, "retention.run", orgID, rules, run)
	})
	return run, err
}

// RunRetention runs every organisation's retention rules (ApplyRetention),
// for HQ's background job; it goes on past an organisation that fails and
// returns the first error.
func (s *Store) RunRetention(ctx context.Context) error {
	orgs, err := s.Outbox().NoticeOrgs(ctx)
	if err != nil {
		return err
	}
	var first error
	for _, org := range orgs {
		if _, err := s.ApplyRetention(ctx, org); err != nil {
			s.log.Warn("retention", "org", org, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// kioskLifecycle fills in what a bundle carries of the lifecycle (sync/wire
// minor version 5): the organisation's erased members, the ids active
// holds cover, and the personal-text retention rule.
func (t *tx) kioskLifecycle(ctx context.Context, cfg *keycab.Config) error {
	var err error
	if cfg.Erased, err = t.strings(ctx, "SELECT id FROM members WHERE org_id = $1 AND erased_us <> 0 ORDER BY id", t.org()); err != nil {
		return err
	}
	if cfg.Held, err = t.heldIDs(ctx); err != nil {
		return err
	}
	if len(cfg.Held) == 0 {
		cfg.Held = nil
	}
	rules, err := t.retention(ctx)
	cfg.PersonalTextDays = rules.PersonalTextDays
	return err
}
