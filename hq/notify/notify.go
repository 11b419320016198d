// Package notify is HQ's notifier: a loop that tells an organisation's
// owners and admins (and, for things at a site, that site's managers) by
// email when a key set is overdue, when a kiosk raises an alarm, when a
// kiosk has been silent for longer than the offline threshold, when it
// is heard from again, and when a kiosk has not applied the config HQ
// issued it within the config-behind threshold; and sends each member
// the report mails they subscribed to, at their time (reports.go).
//
// Each round visits every organisation: it reads the facts (store
// ReadNoticeFacts), decides the notices with a key unique per
// organisation (store ClaimNotices, which stores the notice and queues one
// mail per recipient in one transaction), then sends the queued mail that
// is due (store TakeNoticeMail and FinishNoticeMail). Deciding through the
// database makes each notice go out once across restarts and across
// several HQ processes on one PostgreSQL database. A mail that fails (a
// refused recipient, a dropped connection) is retried with exponential
// backoff up to MaxAttempts, from the queue in the database; every
// attempt, sent, failed or dry run, is recorded in the delivery log.
//
// The notifier also drains the retry queue of sign-in, reset and
// invitation mail that failed when it was asked for (mail.Retrying puts it
// there, its body sealed with the notes key), with the same backoff.
//
// Every mail is in its recipient's language, from the message catalogue
// (internal/i18n): the member's own, else the site's, else en-GB; a
// notice for recipients of several languages queues each their own
// letter (lang.go).
//
// Notice keys (the format is stored; keep it stable):
//
//	key.overdue:KEYSET:KIOSK:LOGINDEX   a custody entry past its due time
//	alarm.raised:ALARM                  an alarm
//	kiosk.offline:KIOSK:SINCE           a silence that began at SINCE (µs)
//	kiosk.online:KIOSK:SINCE            the end of that silence
//	kiosk.config_behind:KIOSK:VERSION   a config HQ issued and the kiosk has not applied
//	report.KIND:SUBSCRIPTION:DATE       a scheduled report mail (reports.go)
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/backoff"
	"keycab.dev/keycab/internal/i18n"
)

// Config tunes a Notifier. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	Interval     time.Duration // between rounds
	OfflineAfter time.Duration // a kiosk silent this long is offline
	// ConfigBehindAfter: a kiosk that has not applied the config HQ issued
	// it this long is behind (the kiosks page flags it at the same age).
	ConfigBehindAfter time.Duration
	AlarmLookback     time.Duration // alarms raised longer ago (and cleared) are not notified
	MaxAttempts       int           // tries per mail before it fails for good
	RetryAfter        time.Duration // first retry delay, doubled per attempt up to an hour
	Lease             time.Duration // how long one process holds a mail it is sending
	Batch             int           // mails sent per organisation per round
	BaseURL           string        // HQ's public URL, for a link in each mail
	// LinkKey signs report mails' unsubscribe links (HQ's dashboard key,
	// which checks them: report.CheckUnsubscribe).
	LinkKey []byte
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Interval:          30 * time.Second,
		OfflineAfter:      10 * time.Minute,
		ConfigBehindAfter: 10 * time.Minute,
		AlarmLookback:     24 * time.Hour,
		MaxAttempts:       8,
		RetryAfter:        time.Minute,
		Lease:             2 * time.Minute,
		Batch:             100,
	}
}

// Validate fills in defaults and checks c.
func (c *Config) Validate() error {
	d := DefaultConfig()
	for _, p := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{{&c.Interval, d.Interval, "interval"}, {&c.OfflineAfter, d.OfflineAfter, "offline-after"}, {&c.ConfigBehindAfter, d.ConfigBehindAfter, "config-behind-after"},
		{&c.AlarmLookback, d.AlarmLookback, "alarm lookback"}, {&c.RetryAfter, d.RetryAfter, "retry delay"}, {&c.Lease, d.Lease, "lease"}} {
		if *p.v == 0 {
			*p.v = p.def
		}
		if *p.v < 0 {
			return fmt.Errorf("notices: %s %v is negative", p.name, *p.v)
		}
	}
	if c.OfflineAfter < time.Minute {
		return fmt.Errorf("notices: offline-after %v is under a minute: kiosks would flap between offline and online", c.OfflineAfter)
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.Batch == 0 {
		c.Batch = d.Batch
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 50 {
		return fmt.Errorf("notices: max attempts %d: want 1 to 50", c.MaxAttempts)
	}
	if c.Batch < 1 {
		return fmt.Errorf("notices: batch %d: want at least 1", c.Batch)
	}
	return nil
}

// Notifier sends notices; see the package documentation.
type Notifier struct {
	st   *store.Store
	mail mail.Mailer
	log  *slog.Logger
	now  func() time.Time
	cfg  Config
}

// New returns a Notifier. A nil mailer records every mail as a dry run;
// nil now means time.Now (use the store's clock).
func New(st *store.Store, mailer mail.Mailer, log *slog.Logger, now func() time.Time, cfg Config) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if now == nil {
		now = time.Now
	}
	return &Notifier{st: st, mail: mailer, log: log, now: now, cfg: cfg}, nil
}

// Run runs a round at once and then every Interval until ctx ends; it
// returns nil when ctx ends. A failed round is logged and the loop goes on.
func (n *Notifier) Run(ctx context.Context) error {
	t := time.NewTicker(n.cfg.Interval)
	defer t.Stop()
	for {
		if err := n.Round(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("notice round", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Round decides and sends the notices of every organisation once. An
// error with one organisation does not stop the others; the errors are
// joined.
func (n *Notifier) Round(ctx context.Context) error {
	orgs, err := n.st.Outbox().NoticeOrgs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, org := range orgs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := n.decide(ctx, org); err != nil {
			errs = append(errs, err)
		}
		if err := n.reportMail(ctx, org); err != nil {
			errs = append(errs, err)
		}
		ms, err := n.st.Outbox().TakeNoticeMail(ctx, org, n.cfg.Lease, n.cfg.Batch)
		if err == nil {
			err = n.send(ctx, ms, func(ctx context.Context, id, state, errText string, retry time.Time) error {
				return n.st.Outbox().FinishNoticeMail(ctx, org, id, state, errText, retry)
			})
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Sign-in, reset and invitation mail that failed when it was asked for.
	ms, err := n.st.Outbox().TakeMailRetries(ctx, n.cfg.Lease, n.cfg.Batch)
	if err == nil || len(ms) > 0 {
		err = errors.Join(err, n.send(ctx, ms, n.st.Outbox().FinishMailRetry))
	}
	return errors.Join(append(errs, err)...)
}

// decide claims the notices that org's facts call for.
func (n *Notifier) decide(ctx context.Context, org string) error {
	f, err := n.st.Outbox().ReadNoticeFacts(ctx, org, n.now().Add(-n.cfg.AlarmLookback))
	if err != nil {
		return err
	}
	ns, err := n.notices(ctx, f, newSpeakers(n.st, org))
	if err != nil {
		return err
	}
	claimed, err := n.st.Outbox().ClaimNotices(ctx, org, ns)
	if err != nil {
		return err
	}
	for _, c := range claimed {
		if len(c.To) == 0 {
			n.log.Warn("notice has no recipient with an email address", "org", org, "notice", c.Key)
		}
		n.log.Info("notice", "org", org, "notice", c.Key, "recipients", len(c.To))
	}
	return nil
}

// pending is a notice the facts call for, with its text in any language
// and the site it is about ("" for none).
type pending struct {
	store.Notice
	site string
	text func(l *i18n.Localizer) (subject, body string)
}

// notices returns the notices the facts call for, decided or not, each
// written in its recipients' languages (lang.go).
func (n *Notifier) notices(ctx context.Context, f store.NoticeFacts, sp *speakers) ([]store.Notice, error) {
	ps := n.pending(f)
	out := make([]store.Notice, 0, len(ps))
	for _, p := range ps {
		if err := sp.localize(ctx, &p.Notice, p.site, p.text); err != nil {
			return nil, err
		}
		out = append(out, p.Notice)
	}
	return out, nil
}

// pending returns the notices the facts call for, not yet written.
func (n *Notifier) pending(f store.NoticeFacts) []pending {
	var out []pending
	add := func(kind, ref string, episode int64, key, site string, text func(l *i18n.Localizer) (subject, body string)) {
		out = append(out, pending{Notice: store.Notice{Key: key, Kind: kind, Ref: ref, Episode: episode, To: recipients(f, site)}, site: site,
			text: func(l *i18n.Localizer) (string, string) {
				subject, body := text(l)
				if n.cfg.BaseURL != "" {
					body += "\n" + strings.TrimRight(n.cfg.BaseURL, "/") + "/\n"
				}
				body += "\n" + l.T("mail.notice.footer", "Org", f.OrgName) + "\n"
				return "[keycab] " + subject, body
			}})
	}
	// hook makes the notice just added a webhook event too (alarms are
	// sent as webhooks when HQ stores them, not here).
	hook := func(data map[string]any) { out[len(out)-1].Webhook = data }
	for _, o := range f.Overdue {
		add("key.overdue", o.KeySetID, o.DueAt.UnixMicro(), key("key.overdue", o.KeySetID, o.KioskID, strconv.FormatInt(o.LogIndex, 10)), o.SiteID,
			func(l *i18n.Localizer) (string, string) {
				return l.T("mail.overdue.subject", "Label", o.Label),
					l.T("mail.overdue.body", "Name", o.MemberName, "Label", o.Label, "Taken", stampIn(l, o.TakenAt), "Due", stampIn(l, o.DueAt)) + "\n"
			})
		hook(map[string]any{"key_set_id": o.KeySetID, "label": o.Label, "site_id": o.SiteID, "holder": o.MemberName,
			"kiosk_id": o.KioskID, "log_index": o.LogIndex, "taken_at": o.TakenAt, "due_at": o.DueAt})
	}
	for _, a := range f.Alarms {
		add("alarm.raised", a.ID, a.RaisedAt.UnixMicro(), key("alarm.raised", a.ID), a.SiteID,
			func(l *i18n.Localizer) (string, string) {
				title := keycab.AlarmTitleIn(l, a.Alarm)
				return l.T("mail.alarm.subject", "Cabinet", a.CabinetName, "Title", title),
					l.T("mail.alarm.body", "Cabinet", a.CabinetName, "Title", title, "At", stampIn(l, a.RaisedAt)) + "\n"
			})
	}
	for _, k := range f.Kiosks {
		since := k.SilentSince.UnixMicro()
		name := k.Name
		if name == "" {
			name = k.ID
		}
		// Heard from after the newest offline notice: back online, even if
		// it has gone silent again since.
		if k.OfflineNoticed > k.OnlineNoticed && since > k.OfflineNoticed {
			ep := strconv.FormatInt(k.OfflineNoticed, 10)
			add(store.NoticeKioskOnline, k.ID, k.OfflineNoticed, key(store.NoticeKioskOnline, k.ID, ep), k.SiteID,
				func(l *i18n.Localizer) (string, string) {
					return l.T("mail.online.subject", "Kiosk", name),
						l.T("mail.online.body", "Kiosk", name, "Cabinet", k.CabinetName, "At", stampIn(l, k.SilentSince)) + "\n"
				})
			hook(map[string]any{"kiosk_id": k.ID, "name": name, "cabinet": k.CabinetName, "site_id": k.SiteID, "seen_at": k.SilentSince})
		}
		if behind := k.ConfigBehindSince(); !behind.IsZero() && f.Now.Sub(behind) >= n.cfg.ConfigBehindAfter && k.ConfigNewest > k.BehindNoticed {
			add(store.NoticeConfigBehind, k.ID, k.ConfigNewest, key(store.NoticeConfigBehind, k.ID, strconv.FormatInt(k.ConfigNewest, 10)), k.SiteID,
				func(l *i18n.Localizer) (string, string) {
					return l.T("mail.behind.subject", "Kiosk", name),
						l.T("mail.behind.body", "Kiosk", name, "Cabinet", k.CabinetName, "At", stampIn(l, behind),
							"For", l.Duration(n.cfg.ConfigBehindAfter), "Version", k.ConfigApplied) + "\n"
				})
			hook(map[string]any{"kiosk_id": k.ID, "name": name, "cabinet": k.CabinetName, "site_id": k.SiteID,
				"config_applied": k.ConfigApplied, "config_issued": k.ConfigNewest, "issued_at": behind})
		}
		if f.Now.Sub(k.SilentSince) >= n.cfg.OfflineAfter && since > k.OfflineNoticed {
			add(store.NoticeKioskOffline, k.ID, since, key(store.NoticeKioskOffline, k.ID, strconv.FormatInt(since, 10)), k.SiteID,
				func(l *i18n.Localizer) (string, string) {
					return l.T("mail.offline.subject", "Kiosk", name),
						l.T("mail.offline.body", "Kiosk", name, "Cabinet", k.CabinetName, "At", stampIn(l, k.SilentSince), "For", l.Duration(n.cfg.OfflineAfter)) + "\n"
				})
			hook(map[string]any{"kiosk_id": k.ID, "name": name, "cabinet": k.CabinetName, "site_id": k.SiteID, "silent_since": k.SilentSince})
		}
	}
	return out
}

func key(parts ...string) string { return strings.Join(parts, ":") }

// recipients returns the owners and admins, and the managers of site
// (and of every site), each once.
func recipients(f store.NoticeFacts, site string) []string {
	to := slices.Concat(f.Admins, f.SiteManagers[""])
	if site != "" {
		to = append(to, f.SiteManagers[site]...)
	}
	slices.Sort(to)
	return slices.Compact(to)
}

// send sends mail taken from a queue, records every attempt in the
// delivery log, and tells the queue the outcome through finish.
func (n *Notifier) send(ctx context.Context, ms []store.NoticeMail, finish func(ctx context.Context, id, state, errText string, retry time.Time) error) error {
	var errs []error
	for _, m := range ms {
		d := mail.Attempt(ctx, n.mail, mail.Message{Kind: m.Kind, OrgID: m.OrgID, To: m.To, Subject: m.Subject, Body: m.Body})
		if _, err := n.st.Accounts().RecordDelivery(ctx, d); err != nil {
			errs = append(errs, err)
		}
		var retry time.Time
		if d.Status == "failed" && m.Attempts < n.cfg.MaxAttempts {
			// RetryAfter doubled per attempt, at most an hour.
			retry = n.now().Add(backoff.Policy{Base: n.cfg.RetryAfter, Max: time.Hour}.Delay(m.Attempts))
		}
		if err := finish(ctx, m.ID, d.Status, d.Error, retry); err != nil {
			errs = append(errs, err)
		}
		n.log.Info("queued mail", "org", m.OrgID, "mail", m.ID, "kind", m.Kind, "status", d.Status, "attempt", m.Attempts,
			"retry", !retry.IsZero())
	}
	return errors.Join(errs...)
}
