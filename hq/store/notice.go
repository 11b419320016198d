package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"keycab.dev/keycab"
)

// Outbox is what HQ sends out, queued in the database: notices and the
// mail retry queue (notice.go), webhook endpoints and their deliveries
// (webhook.go), and report mail subscriptions (reportmail.go). It is the
// same store as Store (a defined type over it).
type Outbox Store

// Outbox returns the store's Outbox methods.
func (s *Store) Outbox() *Outbox { return (*Outbox)(s) }

// store is the Store this is.
func (s *Outbox) store() *Store { return (*Store)(s) }

// Notices are HQ's own emails about an organisation (keys overdue, alarms,
// kiosks offline and back online). They are decided and queued by HQ's
// notifier (package hq/notify), which runs for no member or kiosk: the
// calls below take an organisation id and are bound to that tenant like
// every other call (row-level security on PostgreSQL, org_id in every
// statement on both engines).
//
// A notice is sent once: its key is unique per organisation, and the
// notice and the mail of each recipient are stored in one transaction, so
// two HQ processes (or one restarted) never decide it twice. The mail is a
// retry queue in the database (notice_outbox).

// NoticeOrgs returns the id of every organisation, for the notifier to
// visit each in turn.
func (s *Outbox) NoticeOrgs(ctx context.Context) ([]string, error) {
	var out []string
	err := s.store().global(ctx, "list organisations for notices", false, func(ctx context.Context, t *tx) error {
		rows, err := t.query(ctx, t.byEngine("SELECT org_id FROM org_directory ORDER BY org_id", "SELECT * FROM keycab_org_ids()"))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out = append(out, id)
		}
		return rows.Err()
	})
	return out, err
}

// NoticeFacts is what the notifier needs about one organisation at one
// moment.
type NoticeFacts struct {
	Now     time.Time // the store's clock when the facts were read
	OrgName string
	Overdue []OverdueKey
	Alarms  []NoticeAlarm // alarms still open, or raised since the lookback
	Kiosks  []NoticeKiosk // kiosks not revoked
	// Admins are the addresses of the owners and admins. SiteManagers maps
	// a site id to its managers' addresses; managers whose scope is every
	// site are under "".
	Admins       []string
	SiteManagers map[string][]string
}

// OverdueKey is a key set held past its due time.
type OverdueKey struct {
	KeySetID, Label, SiteID string
	MemberName              string
	KioskID                 string
	LogIndex                int64
	TakenAt, DueAt          time.Time
}

// NoticeAlarm is an alarm raised at a kiosk.
type NoticeAlarm struct {
	ID, Alarm, KioskID, CabinetName, SiteID string
	RaisedAt                                time.Time
	Open                                    bool
}

// NoticeKiosk is a kiosk with what the notifier last said about it.
type NoticeKiosk struct {
	ID, Name, CabinetName, SiteID string
	// SilentSince is when the kiosk was last seen, or enrolled if it
	// never was.
	SilentSince time.Time
	// OfflineNoticed and OnlineNoticed are the silence episodes (SilentSince
	// in microseconds) of the newest offline and back-online notices; zero
	// when none was sent.
	OfflineNoticed, OnlineNoticed int64
	// ConfigApplied is the config version the kiosk last reported applied,
	// ConfigNewest the newest HQ issued it (versions are HQ's clock in
	// microseconds when issued), and BehindNoticed the version of the
	// newest config-behind notice (zero when none was sent).
	ConfigApplied, ConfigNewest, BehindNoticed int64
}

// ConfigBehindSince is when HQ issued a config the kiosk has not applied,
// or zero when it is up to date.
func (k NoticeKiosk) ConfigBehindSince() time.Time {
	if k.ConfigNewest <= k.ConfigApplied {
		return time.Time{}
	}
	return fromUS(k.ConfigNewest)
}

// ReadNoticeFacts reads org's overdue keys, alarms raised since
// alarmsSince (and those still open), kiosks and recipients.
func (s *Outbox) ReadNoticeFacts(ctx context.Context, orgID string, alarmsSince time.Time) (NoticeFacts, error) {
	f := NoticeFacts{SiteManagers: map[string][]string{}}
	err := s.store().tenant(ctx, "read notice facts", orgID, false, func(ctx context.Context, t *tx) error {
		f.Now = t.now
		if after, err := t.orgDeleteAfter(ctx); err != nil || after != 0 {
			return err // an organisation being deleted gets no notices
		}
		return t.noticeFacts(ctx, &f, alarmsSince)
	})
	return f, err
}

func (t *tx) noticeFacts(ctx context.Context, f *NoticeFacts, alarmsSince time.Time) error {
	if err := t.queryRow(ctx, "SELECT name FROM orgs WHERE id = $1", t.org()).Scan(&f.OrgName); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("organisation", t.org())
		}
		return err
	}
	err := t.each(ctx, func(r *sql.Rows) error {
		var o OverdueKey
		var taken, due int64
		if err := r.Scan(&o.KeySetID, &o.Label, &o.SiteID, &o.MemberName, &o.KioskID, &o.LogIndex, &taken, &due); err != nil {
			return err
		}
		o.TakenAt, o.DueAt = fromUS(taken), fromUS(due)
		f.Overdue = append(f.Overdue, o)
		return nil
	}, `SELECT c.key_set_id, k.label, k.site_id, m.name, c.kiosk_id, c.log_index, c.taken_us, c.due_us FROM custody c
		JOIN key_sets k ON k.org_id = c.org_id AND k.id = c.key_set_id
		JOIN members m ON m.org_id = c.org_id AND m.id = c.member_id
		WHERE c.org_id = $1 AND c.due_us > 0 AND c.due_us <= $2 ORDER BY c.due_us, c.key_set_id`, t.org(), us(t.now))
	if err != nil {
		return err
	}
	err = t.each(ctx, func(r *sql.Rows) error {
		var a NoticeAlarm
		var raised, cleared int64
		if err := r.Scan(&a.ID, &a.Alarm, &a.KioskID, &a.CabinetName, &a.SiteID, &raised, &cleared); err != nil {
			return err
		}
		a.RaisedAt, a.Open = fromUS(raised), cleared == 0
		f.Alarms = append(f.Alarms, a)
		return nil
	}, `SELECT a.id, a.alarm, a.kiosk_id, c.name, c.site_id, a.raised_us, a.cleared_us
		FROM alarms a JOIN cabinets c ON c.org_id = a.org_id AND c.id = a.cabinet_id
		WHERE a.org_id = $1 AND (a.cleared_us = 0 OR a.raised_us >= $2) ORDER BY a.raised_us, a.id`, t.org(), us(alarmsSince))
	if err != nil {
		return err
	}
	err = t.each(ctx, func(r *sql.Rows) error {
		var k NoticeKiosk
		var seen, enrolled int64
		if err := r.Scan(&k.ID, &k.Name, &k.CabinetName, &k.SiteID, &seen, &enrolled, &k.OfflineNoticed, &k.OnlineNoticed,
			&k.ConfigApplied, &k.ConfigNewest, &k.BehindNoticed); err != nil {
			return err
		}
		k.SilentSince = fromUS(max(seen, enrolled))
		f.Kiosks = append(f.Kiosks, k)
		return nil
	}, `SELECT k.id, k.name, c.name, c.site_id, k.last_seen_us, k.enrolled_us,
			coalesce((SELECT max(n.episode) FROM notices n WHERE n.org_id = k.org_id AND n.kind = $2 AND n.ref = k.id), 0),
			coalesce((SELECT max(n.episode) FROM notices n WHERE n.org_id = k.org_id AND n.kind = $3 AND n.ref = k.id), 0),
			coalesce(hb.config_version, 0), coalesce(kl.config_version, 0),
			coalesce((SELECT max(n.episode) FROM notices n WHERE n.org_id = k.org_id AND n.kind = $4 AND n.ref = k.id), 0)
		FROM kiosks k JOIN cabinets c ON c.org_id = k.org_id AND c.id = k.cabinet_id
		LEFT JOIN kiosk_heartbeats hb ON hb.org_id = k.org_id AND hb.kiosk_id = k.id
		LEFT JOIN kiosk_logs kl ON kl.org_id = k.org_id AND kl.kiosk_id = k.id
		WHERE k.org_id = $1 AND k.revoked_us = 0 ORDER BY k.id`, t.org(), NoticeKioskOffline, NoticeKioskOnline, NoticeConfigBehind)
	if err != nil {
		return err
	}
	return t.each(ctx, func(r *sql.Rows) error {
		var email, site string
		var role keycab.Role
		if err := r.Scan(&email, &role, &site); err != nil {
			return err
		}
		email = NormalizeEmail(email)
		if role == keycab.RoleOwner || role == keycab.RoleAdmin {
			f.Admins = append(f.Admins, email)
		} else {
			f.SiteManagers[site] = append(f.SiteManagers[site], email)
		}
		return nil
	}, `SELECT m.email, m.role, coalesce(ms.site_id, '') FROM members m
		LEFT JOIN member_sites ms ON ms.org_id = m.org_id AND ms.member_id = m.id AND m.role = $2
		WHERE m.org_id = $1 AND m.email <> '' AND NOT m.disabled AND m.erased_us = 0
			AND m.role IN ($3, $4, $2) ORDER BY m.email, ms.site_id`,
		t.org(), string(keycab.RoleSiteManager), string(keycab.RoleOwner), string(keycab.RoleAdmin))
}

// each runs a query and calls fn for every row.
func (t *tx) each(ctx context.Context, fn func(*sql.Rows) error, q string, args ...any) error {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// The kinds of notice whose episodes ReadNoticeFacts reports.
const (
	NoticeKioskOffline = "kiosk.offline"
	NoticeKioskOnline  = "kiosk.online"
	NoticeConfigBehind = "kiosk.config_behind"
)

// Notice is one notice to decide: Key is unique per organisation (kind,
// subject and episode), Ref names its subject (a kiosk, key set or alarm)
// and Episode tells one occurrence from the next.
type Notice struct {
	Key, Kind, Ref string
	Episode        int64
	Subject, Body  string // the body carries no secret: it is stored for retries
	To             []string
	// Letters are the subject and body of some recipients' mail, by
	// their normalised address (each in the recipient's language); a
	// recipient not in it gets Subject and Body.
	Letters map[string]Letter
	// Webhook, when set, is the data of a webhook event of type Kind
	// (WebhookKeyOverdue, WebhookKioskOffline, ...), queued for the
	// organisation's webhooks that take it in the transaction that
	// claims the notice, so it goes once as the notice does.
	Webhook any
}

// Letter is one recipient's text of a notice (Notice.Letters).
type Letter struct{ Subject, Body string }

// ClaimNotices stores the notices of org that were never decided before,
// each with its mail queued for every recipient, and returns those. A
// notice already stored (by this process or another) is skipped.
func (s *Outbox) ClaimNotices(ctx context.Context, orgID string, ns []Notice) ([]Notice, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	// Most candidates were decided on an earlier round: look without
	// taking the writer first.
	var fresh []Notice
	if err := s.store().tenant(ctx, "check notices", orgID, false, func(ctx context.Context, t *tx) error {
		for _, n := range ns {
			var one int
			err := t.queryRow(ctx, "SELECT 1 FROM notices WHERE org_id = $1 AND key = $2", t.org(), n.Key).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				fresh = append(fresh, n)
			} else if err != nil {
				return err
			}
		}
		return nil
	}); err != nil || len(fresh) == 0 {
		return nil, err
	}
	var claimed []Notice
	err := s.store().tenant(ctx, "claim notices", orgID, true, func(ctx context.Context, t *tx) error {
		for _, n := range fresh {
			res, err := t.exec(ctx, `INSERT INTO notices (org_id, key, kind, ref, episode, created_us) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (org_id, key) DO NOTHING`, t.org(), n.Key, n.Kind, n.Ref, n.Episode, us(t.now))
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err != nil {
				return err
			} else if k == 0 {
				continue
			}
			for _, to := range n.To {
				to = NormalizeEmail(to)
				l, ok := n.Letters[to]
				if !ok {
					l = Letter{n.Subject, n.Body}
				}
				if _, err := t.exec(ctx, `INSERT INTO notice_outbox (org_id, id, notice_key, kind, to_email, subject, body, created_us, next_us)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (org_id, notice_key, to_email) DO NOTHING`,
					t.org(), newID("mail"), n.Key, n.Kind, to, l.Subject, l.Body, us(t.now)); err != nil {
					return err
				}
			}
			if n.Webhook != nil {
				if err := t.emit(ctx, n.Kind, n.Webhook); err != nil {
					return err
				}
			}
			claimed = append(claimed, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// tenant runs fn in a transaction bound to orgID for HQ itself (no member
// or kiosk principal).
func (s *Store) tenant(ctx context.Context, op, orgID string, write bool, fn func(context.Context, *tx) error) error {
	t, err := s.begin(ctx, orgID, write)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer t.sql.Rollback()
	if err := fn(ctx, t); err != nil {
		return fmt.Errorf("%s: %w", op, s.classify(err))
	}
	if err := t.sql.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", op, s.classify(err))
	}
	return nil
}

// NoticeMail is one queued email: of a notice, or a sign-in, reset or
// invitation mail waiting for a retry.
type NoticeMail struct {
	ID, OrgID, NoticeKey, Kind string // NoticeKey: "" for a retried mail
	To, Subject, Body          string
	Attempts                   int // including the one now leased
	State                      string
	LastError                  string
	NextAt                     time.Time
}

// mailQueue is a table of queued mail: rows whose column key equals the
// queue's value form one queue, and column ref is read into NoticeKey
// (notice_outbox) or OrgID (mail_retry). run runs a transaction that may
// read and write the table. A definer queue (the retry queue on
// PostgreSQL, whose rows belong to every organisation) is taken and
// finished through migration 0009's functions instead.
type mailQueue struct {
	table, key, ref string
	value           string
	run             func(ctx context.Context, op string, write bool, fn func(context.Context, *tx) error) error
	definer         bool
}

func (s *Store) noticeQueue(orgID string) mailQueue {
	return mailQueue{table: "notice_outbox", key: "org_id", ref: "notice_key", value: orgID,
		run: func(ctx context.Context, op string, write bool, fn func(context.Context, *tx) error) error {
			return s.tenant(ctx, op, orgID, write, fn)
		}}
}

func (s *Store) retryQueue() mailQueue {
	return mailQueue{table: "mail_retry", key: "queue", ref: "org_id", value: "auth", run: s.global, definer: s.engine == Postgres}
}

// scan reads a row of the queue's columns (see columns).
func (q mailQueue) scan(r *sql.Rows) (NoticeMail, error) {
	var m NoticeMail
	var next int64
	ref := &m.NoticeKey
	if q.ref == "org_id" {
		ref = &m.OrgID
	} else {
		m.OrgID = q.value
	}
	err := r.Scan(&m.ID, ref, &m.Kind, &m.To, &m.Subject, &m.Body, &m.Attempts, &m.State, &m.LastError, &next)
	m.NextAt = fromUS(next)
	return m, err
}

func (q mailQueue) columns() string {
	return "id, " + q.ref + ", kind, to_email, subject, body, attempts, state, last_error, next_us"
}

// take leases up to limit of the queue's mails that are due, for lease:
// no other HQ process takes them until the lease ends or the mail is
// finished. Each lease counts as an attempt. The due mails are looked up
// in a read transaction, so an idle queue never takes the writer.
func (q mailQueue) take(ctx context.Context, lease time.Duration, limit int) ([]NoticeMail, error) {
	var due []NoticeMail
	err := q.run(ctx, "find due mail in "+q.table, false, func(ctx context.Context, t *tx) error {
		scan := func(r *sql.Rows) error {
			m, err := q.scan(r)
			due = append(due, m)
			return err
		}
		if q.definer {
			return t.each(ctx, scan, `SELECT `+q.columns()+` FROM keycab_mail_retry_due($1, $2)`, us(t.now), limit)
		}
		return t.each(ctx, scan, `SELECT `+q.columns()+` FROM `+q.table+` WHERE `+q.key+` = $1 AND state = 'pending' AND next_us <= $2 AND lease_us <= $2
			ORDER BY next_us, id LIMIT $3`, q.value, us(t.now), limit)
	})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	var out []NoticeMail
	err = q.run(ctx, "take mail from "+q.table, true, func(ctx context.Context, t *tx) error {
		now := us(t.now)
		out = out[:0]
		for _, m := range due {
			k, err := q.changed(ctx, t, `SELECT keycab_mail_retry_lease($1, $2, $3)`, []any{m.ID, now, now + lease.Microseconds()},
				`UPDATE `+q.table+` SET lease_us = $1, attempts = attempts + 1
				WHERE `+q.key+` = $2 AND id = $3 AND state = 'pending' AND lease_us <= $4 AND next_us <= $4`, now+lease.Microseconds(), q.value, m.ID, now)
			if err != nil {
				return err
			} else if k == 1 {
				m.Attempts++
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}

// finish records the outcome of a leased mail: state is "sent",
// "dry-run" or "failed". A failed mail with a retry time goes back to the
// queue until then; without one it is failed for good.
func (q mailQueue) finish(ctx context.Context, id, state, errText string, retryAt time.Time) error {
	if state != "sent" && state != "dry-run" && state != "failed" {
		return fmt.Errorf("finish mail: %w", invalid("unknown state %q", state))
	}
	if state == "failed" && !retryAt.IsZero() {
		state = "pending"
	}
	return q.run(ctx, "finish mail of "+q.table, true, func(ctx context.Context, t *tx) error {
		k, err := q.changed(ctx, t, `SELECT keycab_mail_retry_finish($1, $2, $3, $4)`, []any{id, state, errText, us(retryAt)},
			`UPDATE `+q.table+` SET state = $1, last_error = $2, next_us = $3, lease_us = 0
			WHERE `+q.key+` = $4 AND id = $5 AND state = 'pending'`, state, errText, us(retryAt), q.value, id)
		if err != nil {
			return err
		}
		if k == 0 {
			return notFound("queued mail", id)
		}
		return nil
	})
}

// changed runs update with args, or for a definer queue the function
// call fn with fnArgs (which answers the rows it changed), and returns how
// many rows changed.
func (q mailQueue) changed(ctx context.Context, t *tx, fn string, fnArgs []any, update string, args ...any) (int64, error) {
	if q.definer {
		var k int64
		err := t.queryRow(ctx, fn, fnArgs...).Scan(&k)
		return k, err
	}
	res, err := t.exec(ctx, update, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// list returns the queue's mails, oldest first.
func (q mailQueue) list(ctx context.Context) ([]NoticeMail, error) {
	var out []NoticeMail
	err := q.run(ctx, "list mail of "+q.table, false, func(ctx context.Context, t *tx) error {
		return t.each(ctx, func(r *sql.Rows) error {
			m, err := q.scan(r)
			out = append(out, m)
			return err
		}, `SELECT `+q.columns()+` FROM `+q.table+` WHERE `+q.key+` = $1 ORDER BY created_us, id`, q.value)
	})
	return out, err
}

// TakeNoticeMail leases up to limit of org's queued notice mails that are
// due (see mailQueue.take).
func (s *Outbox) TakeNoticeMail(ctx context.Context, orgID string, lease time.Duration, limit int) ([]NoticeMail, error) {
	return s.store().noticeQueue(orgID).take(ctx, lease, limit)
}

// FinishNoticeMail records the outcome of a leased notice mail (see
// mailQueue.finish).
func (s *Outbox) FinishNoticeMail(ctx context.Context, orgID, id, state, errText string, retryAt time.Time) error {
	return s.store().noticeQueue(orgID).finish(ctx, id, state, errText, retryAt)
}

// ListNoticeMail returns org's queued and finished notice mails, oldest
// first.
func (s *Outbox) ListNoticeMail(ctx context.Context, orgID string) ([]NoticeMail, error) {
	return s.store().noticeQueue(orgID).list(ctx)
}

// ErrNoMailKey is returned by QueueMailRetry when HQ has no notes key to
// seal a mail's body with.
var ErrNoMailKey = keycab.Errorf(keycab.EUNAVAILABLE, "not queued for a retry: HQ has no notes key to seal the mail's link with")

// QueueMailRetry queues a sign-in, reset or invitation mail whose first
// attempt failed, for another at retryAt. Its body carries a single-use
// link, so it is stored sealed with the notes key (the row id as
// associated data); without a notes key it is not queued (ErrNoMailKey).
func (s *Outbox) QueueMailRetry(ctx context.Context, m NoticeMail, retryAt time.Time) (string, error) {
	if s.notes == nil {
		return "", ErrNoMailKey
	}
	id := newID("mail")
	sealed, err := s.notes.seal([]byte(m.Body), mailAD(id))
	if err != nil {
		return "", err
	}
	err = s.store().forOrg(ctx, "queue mail retry", m.OrgID, true, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO mail_retry (id, org_id, kind, to_email, subject, body, created_us, last_error, next_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, m.OrgID, m.Kind, NormalizeEmail(m.To), m.Subject, sealed, us(t.now), m.LastError, us(retryAt))
		return err
	})
	return id, err
}

func mailAD(id string) []byte { return []byte("keycab mail body v1\x00" + id) }

// TakeMailRetries leases up to limit of the retried mails that are due,
// their bodies opened. A body that no longer opens (the notes key
// changed) fails the mail for good.
func (s *Outbox) TakeMailRetries(ctx context.Context, lease time.Duration, limit int) ([]NoticeMail, error) {
	q := s.store().retryQueue()
	ms, err := q.take(ctx, lease, limit)
	out := ms[:0]
	for _, m := range ms {
		body, oerr := s.store().openMail(m.ID, []byte(m.Body))
		if oerr != nil {
			err = errors.Join(err, oerr, q.finish(ctx, m.ID, "failed", oerr.Error(), time.Time{}))
			continue
		}
		m.Body = body
		out = append(out, m)
	}
	return out, err
}

func (s *Store) openMail(id string, sealed []byte) (string, error) {
	if s.notes == nil {
		return "", ErrNoMailKey
	}
	pt, err := s.notes.open(sealed, mailAD(id), "mail "+id)
	return string(pt), err
}

// FinishMailRetry records the outcome of a leased retried mail (see
// mailQueue.finish).
func (s *Outbox) FinishMailRetry(ctx context.Context, id, state, errText string, retryAt time.Time) error {
	return s.store().retryQueue().finish(ctx, id, state, errText, retryAt)
}

// ListMailRetries returns organisation orgID's retried mails, or with
// orgID "" those of accounts' own mail (resets, sign-in links), oldest
// first, bodies sealed.
func (s *Outbox) ListMailRetries(ctx context.Context, orgID string) ([]NoticeMail, error) {
	q := s.store().retryQueue()
	var out []NoticeMail
	err := s.store().forOrg(ctx, "list mail retries", orgID, false, func(ctx context.Context, t *tx) error {
		return t.each(ctx, func(r *sql.Rows) error {
			m, err := q.scan(r)
			out = append(out, m)
			return err
		}, `SELECT `+q.columns()+` FROM mail_retry WHERE queue = $1 AND org_id = $2 ORDER BY created_us, id`, q.value, orgID)
	})
	return out, err
}

// NoticeDecided reports whether org's notice with key was decided
// already (ClaimNotices stored it), so a caller can skip composing a
// costly one.
func (s *Outbox) NoticeDecided(ctx context.Context, orgID, key string) (bool, error) {
	var found bool
	err := s.store().tenant(ctx, "check notice", orgID, false, func(ctx context.Context, t *tx) error {
		var one int
		err := t.queryRow(ctx, "SELECT 1 FROM notices WHERE org_id = $1 AND key = $2", t.org(), key).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	return found, err
}
