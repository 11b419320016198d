package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"keycab.dev/keycab"
)

// SubjectRecord is everything HQ holds about one member of one
// organisation, for a subject access request (GDPR article 15): read in
// one transaction, so its parts agree with each other.
type SubjectRecord struct {
	OrgID, OrgName string
	MadeAt         time.Time
	MadeBy         string // the member who asked
	// Member is the profile; its PIN hash is left out (HasPIN says
	// whether there is one).
	Member  keycab.Member
	HasPIN  bool
	Account *SubjectAccount // nil: no sign-in account
	Badges  []keycab.Badge  // hashes only: HQ never holds a badge's code
	Groups  []string        // member groups, by name
	// Events are the custody history the member took part in: as the
	// actor, or as the second or third approver.
	Events       []Event
	Holding      []Holding // keys out with them now
	Jobs         []keycab.Job
	Reservations []keycab.Reservation
	Sessions     []SubjectSession
	Deliveries   []Delivery // mail sent to their address by this organisation
	// AdminLog is every admin-log entry they made or that names them as
	// its target.
	AdminLog []AdminAction
	// Stills are the camera stills of entries they made (stills.go).
	Stills []SubjectStill
}

// SubjectStill is a camera still HQ keeps of an entry the member made.
type SubjectStill struct {
	KioskID  string
	LogIndex int64
	JPEG     []byte
}

// SubjectAccount is the sign-in account linked to a member.
type SubjectAccount struct {
	ID, Email, Name   string
	CreatedAt         time.Time
	PasswordSet       bool
	PasswordChangedAt time.Time
	MFA               bool
}

// SubjectSession is one sign-in session of the member (never its tokens).
type SubjectSession struct {
	ID, FamilyID string
	CreatedAt    time.Time
	LastUsed     time.Time
	ExpiresAt    time.Time
	RotatedAt    time.Time
	RevokedAt    time.Time
}

// SubjectAccess gathers what HQ holds about member memberID. Owners and
// admins may ask about any member of their organisation; anyone may ask
// about themself; nobody else. The request is in the admin log.
func (s *Store) SubjectAccess(ctx context.Context, sc Scope, memberID string) (SubjectRecord, error) {
	var rec SubjectRecord
	err := s.write(ctx, "subject access for "+memberID, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("a subject access request"); err != nil {
			return err
		}
		if memberID != t.p.member && !t.p.isAdmin() {
			return forbidden("only owners and admins may export another member's data")
		}
		m, err := t.memberRow(ctx, memberID)
		if err != nil {
			return err
		}
		rec = SubjectRecord{OrgID: t.org(), MadeAt: t.now, MadeBy: t.p.member, HasPIN: m.PINHash != ""}
		m.PINHash = ""
		rec.Member = m
		o, err := t.getOrg(ctx)
		if err != nil {
			return err
		}
		rec.OrgName = o.Name
		if err := t.subjectParts(ctx, &rec); err != nil {
			return err
		}
		return t.logAction(ctx, "member.subject_access", memberID, "")
	})
	return rec, err
}

func (t *tx) subjectParts(ctx context.Context, rec *SubjectRecord) error {
	id := rec.Member.ID
	var err error
	if rec.Account, err = t.subjectAccount(ctx, id); err != nil {
		return err
	}
	if err := t.each(ctx, func(r *sql.Rows) error {
		b := keycab.Badge{MemberID: id}
		var revoked int64
		err := r.Scan(&b.Hash, &b.Kind, &revoked)
		b.RevokedAt = fromUS(revoked)
		rec.Badges = append(rec.Badges, b)
		return err
	}, "SELECT hash, kind, revoked_us FROM badges WHERE org_id = $1 AND member_id = $2 ORDER BY created_us", t.org(), id); err != nil {
		return err
	}
	if rec.Groups, err = t.strings(ctx, `SELECT g.name FROM member_group_members mg
		JOIN groups g ON g.org_id = mg.org_id AND g.id = mg.group_id
		WHERE mg.org_id = $1 AND mg.member_id = $2 ORDER BY g.name`, t.org(), id); err != nil {
		return err
	}
	rows, err := t.query(ctx, `SELECT `+eventColumns+` FROM events e
		WHERE e.org_id = $1 AND (e.actor_id = $2 OR e.second_id = $2 OR e.third_id = $2)
		ORDER BY e.at_us, e.kiosk_id, e.log_index`, t.org(), id)
	if err != nil {
		return err
	}
	for rows.Next() {
		e, _, err := scanEvent(rows, t.org())
		if err != nil {
			rows.Close()
			return err
		}
		rec.Events = append(rec.Events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := t.subjectTexts(ctx, id, rec.Events); err != nil {
		return err
	}
	if t.s.notes != nil {
		if err := t.each(ctx, func(r *sql.Rows) error {
			var st SubjectStill
			var sealed []byte
			if err := r.Scan(&st.KioskID, &st.LogIndex, &sealed); err != nil {
				return err
			}
			b, err := t.s.notes.open(sealed, stillAD(t.org(), st.KioskID, st.LogIndex), "camera still")
			if err != nil {
				t.s.log.Error("camera still does not open", "org", t.org(), "err", err)
				return nil
			}
			st.JPEG = b
			rec.Stills = append(rec.Stills, st)
			return nil
		}, "SELECT kiosk_id, log_index, sealed FROM still_images WHERE org_id = $1 AND subject = $2 ORDER BY kiosk_id, log_index", t.org(), id); err != nil {
			return err
		}
	}
	if err := t.each(ctx, func(r *sql.Rows) error {
		h := Holding{OrgID: t.org()}
		var taken, due int64
		err := r.Scan(&h.KeySetID, &h.MemberID, &h.KioskID, &h.LogIndex, &taken, &due, &h.SiteID)
		h.TakenAt, h.DueAt = fromUS(taken), fromUS(due)
		rec.Holding = append(rec.Holding, h)
		return err
	}, `SELECT c.key_set_id, c.member_id, c.kiosk_id, c.log_index, c.taken_us, c.due_us, k.site_id
		FROM custody c JOIN key_sets k ON k.org_id = c.org_id AND k.id = c.key_set_id
		WHERE c.org_id = $1 AND c.member_id = $2 ORDER BY c.taken_us`, t.org(), id); err != nil {
		return err
	}
	if rec.Jobs, err = t.jobs(ctx, id, ""); err != nil {
		return err
	}
	if err := t.each(ctx, func(r *sql.Rows) error {
		v := keycab.Reservation{OrgID: t.org(), MemberID: id}
		var from, until int64
		err := r.Scan(&v.ID, &v.KeySetID, &from, &until)
		v.From, v.Until = fromUS(from), fromUS(until)
		rec.Reservations = append(rec.Reservations, v)
		return err
	}, "SELECT id, key_set_id, from_us, until_us FROM reservations WHERE org_id = $1 AND member_id = $2 ORDER BY from_us", t.org(), id); err != nil {
		return err
	}
	if err := t.each(ctx, func(r *sql.Rows) error {
		var ss SubjectSession
		var created, used, expires, rotated, revoked int64
		err := r.Scan(&ss.ID, &ss.FamilyID, &created, &used, &expires, &rotated, &revoked)
		ss.CreatedAt, ss.LastUsed, ss.ExpiresAt, ss.RotatedAt, ss.RevokedAt = fromUS(created), fromUS(used), fromUS(expires), fromUS(rotated), fromUS(revoked)
		rec.Sessions = append(rec.Sessions, ss)
		return err
	}, `SELECT id, family_id, created_us, last_used_us, expires_us, rotated_us, revoked_us FROM sessions
		WHERE org_id = $1 AND member_id = $2 ORDER BY created_us, id`, t.org(), id); err != nil {
		return err
	}
	if addr := subjectAddress(rec); addr != "" {
		if err := t.each(ctx, func(r *sql.Rows) error {
			var d Delivery
			var at int64
			err := r.Scan(&d.ID, &at, &d.Kind, &d.OrgID, &d.To, &d.Subject, &d.Status, &d.Error)
			d.At = fromUS(at)
			rec.Deliveries = append(rec.Deliveries, d)
			return err
		}, `SELECT id, at_us, kind, org_id, to_email, subject, status, error FROM deliveries
			WHERE org_id = $1 AND to_email = $2 ORDER BY at_us, id`, t.org(), addr); err != nil {
			return err
		}
	}
	return t.each(ctx, func(r *sql.Rows) error {
		a := AdminAction{OrgID: t.org()}
		var at int64
		err := r.Scan(&a.ID, &at, &a.ActorID, &a.ActorRole, &a.Action, &a.Target, &a.Detail)
		a.At = fromUS(at)
		rec.AdminLog = append(rec.AdminLog, a)
		return err
	}, `SELECT id, at_us, actor_id, actor_role, action, target, detail FROM admin_log
		WHERE org_id = $1 AND (actor_id = $2 OR target = $2) ORDER BY at_us, id`, t.org(), id)
}

// subjectAddress is the address mail to the member went to: their
// account's, or the member's own.
func subjectAddress(rec *SubjectRecord) string {
	if rec.Account != nil {
		return rec.Account.Email
	}
	return NormalizeEmail(rec.Member.Email)
}

// subjectAccount reads the account linked to member id, if any: the link
// is the organisation's row, the account a global one.
func (t *tx) subjectAccount(ctx context.Context, id string) (*SubjectAccount, error) {
	var accountID string
	err := t.queryRow(ctx, "SELECT account_id FROM account_members WHERE org_id = $1 AND member_id = $2", t.org(), id).Scan(&accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	a, err := scanAccount(t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = $1", accountID))
	if err != nil {
		return nil, err
	}
	return &SubjectAccount{ID: a.ID, Email: a.Email, Name: a.Name, CreatedAt: a.CreatedAt,
		PasswordSet: a.PasswordHash != "", PasswordChangedAt: a.PasswordChangedAt, MFA: a.MFA}, nil
}

// subjectTexts fills in the personal texts whose subject is member among
// events (their own custody changes): all of them, whatever the
// requester's role, since they are the member's own data.
func (t *tx) subjectTexts(ctx context.Context, member string, events []Event) error {
	if t.s.notes == nil || len(events) == 0 {
		return nil
	}
	type at struct {
		kiosk string
		index int64
	}
	pos := make(map[at]int, len(events))
	for i, e := range events {
		pos[at{e.KioskID, e.LogIndex}] = i
	}
	return t.each(ctx, func(r *sql.Rows) error {
		var kiosk, field string
		var index int64
		var sealed []byte
		if err := r.Scan(&kiosk, &index, &field, &sealed); err != nil {
			return err
		}
		i, ok := pos[at{kiosk, index}]
		if !ok {
			return nil
		}
		_, text, err := t.s.openPersonal(t.org(), kiosk, index, field, sealed)
		if err != nil {
			t.s.log.Error("personal text does not open", "org", t.org(), "err", err)
			return nil
		}
		events[i].setText(field, text)
		return nil
	}, "SELECT kiosk_id, log_index, field, sealed FROM personal_texts WHERE org_id = $1 AND subject = $2", t.org(), member)
}
