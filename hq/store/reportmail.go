package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"keycab.dev/keycab"
)

// Scheduled report mail (HQ migration 0023): a member subscribes to a
// report by mail, for one site or every site they see; the notifier
// (hq/notify) sends each one at its time as a notice, so it goes once,
// and the mail's signed link unsubscribes.

// ReportKind is what a subscribed mail reports.
type ReportKind string

const (
	// ReportStillOut lists the key sets still out at the time of day
	// ("keys out at shift end"), daily.
	ReportStillOut ReportKind = "still_out"
	// ReportDaily and ReportWeekly sum up the last day's or week's use
	// (weekly on Mondays).
	ReportDaily  ReportKind = "daily"
	ReportWeekly ReportKind = "weekly"
)

// ReportSubscription is one member's subscribed report mail, sent at
// MinuteOfDay in the site's time zone (UTC for every site).
type ReportSubscription struct {
	ID          string
	OrgID       string
	MemberID    string
	SiteID      string // "" for every site the member sees
	Kind        ReportKind
	MinuteOfDay int
	CreatedAt   time.Time
	// Filled in for the notifier (DueReportMail).
	Email, Name, TimeZone, SiteName string
}

// SubscribeReport subscribes the principal to a report by mail.
func (s *Outbox) SubscribeReport(ctx context.Context, sc Scope, r ReportSubscription) (ReportSubscription, error) {
	err := s.store().write(ctx, "subscribe to report", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("report mail"); err != nil {
			return err
		}
		switch r.Kind {
		case ReportStillOut, ReportDaily, ReportWeekly:
		default:
			return invalid("a report mail is still_out, daily or weekly")
		}
		if r.MinuteOfDay < 0 || r.MinuteOfDay >= 24*60 {
			return invalid("the time of day must be between 00:00 and 23:59")
		}
		if r.SiteID != "" {
			if err := t.siteVisible(ctx, r.SiteID); err != nil {
				return err
			}
		}
		if n, err := t.count(ctx, "SELECT count(*) FROM report_subscriptions WHERE org_id = $1 AND member_id = $2", t.org(), t.p.member); err != nil {
			return err
		} else if n >= 20 {
			return keycab.Errorf(keycab.ECAPACITY, "at most 20 report mails a member: unsubscribe from one first")
		}
		r.ID, r.OrgID, r.MemberID, r.CreatedAt = newID("rsub"), t.org(), t.p.member, t.now
		if _, err := t.exec(ctx, `INSERT INTO report_subscriptions (org_id, id, member_id, site_id, kind, minute_of_day, created_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.OrgID, r.ID, r.MemberID, r.SiteID, string(r.Kind), r.MinuteOfDay, us(r.CreatedAt)); err != nil {
			return err
		}
		return t.logChange(ctx, "report_mail.subscribe", r.ID, nil, r)
	})
	return r, err
}

// ListReportSubscriptions returns the principal's own report mails.
func (s *Outbox) ListReportSubscriptions(ctx context.Context, sc Scope) ([]ReportSubscription, error) {
	var out []ReportSubscription
	err := s.store().read(ctx, "list report mail", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("report mail"); err != nil {
			return err
		}
		var err error
		out, err = t.reportSubscriptions(ctx, "AND r.member_id = $2", t.p.member)
		return err
	})
	return out, err
}

// UnsubscribeReport removes one of the principal's report mails.
func (s *Outbox) UnsubscribeReport(ctx context.Context, sc Scope, id string) error {
	return s.store().write(ctx, "unsubscribe from report", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("report mail"); err != nil {
			return err
		}
		return t.unsubscribe(ctx, id, t.p.member)
	})
}

// UnsubscribeReportByLink removes a report mail for the holder of its
// mail's unsubscribe link (hq/report.CheckUnsubscribe vouches for the
// link): no sign-in, as a mail's unsubscribe link must work. Removing
// one already gone succeeds.
func (s *Outbox) UnsubscribeReportByLink(ctx context.Context, orgID, id string) error {
	return s.store().tenant(ctx, "unsubscribe from report", orgID, true, func(ctx context.Context, t *tx) error {
		var member string
		var role keycab.Role
		err := t.queryRow(ctx, `SELECT r.member_id, m.role FROM report_subscriptions r JOIN members m ON m.org_id = r.org_id AND m.id = r.member_id
			WHERE r.org_id = $1 AND r.id = $2`, t.org(), id).Scan(&member, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // gone already
		} else if err != nil {
			return err
		}
		t.p.member, t.p.role = member, role // the admin log names the member
		return t.unsubscribe(ctx, id, member)
	})
}

func (t *tx) unsubscribe(ctx context.Context, id, member string) error {
	subs, err := t.reportSubscriptions(ctx, "AND r.member_id = $2 AND r.id = $3", member, id)
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		return notFound("report mail", id)
	}
	if _, err := t.exec(ctx, "DELETE FROM report_subscriptions WHERE org_id = $1 AND id = $2", t.org(), id); err != nil {
		return err
	}
	return t.logChange(ctx, "report_mail.unsubscribe", id, subs[0], nil)
}

// DueReportMail returns every report mail of the organisation with its
// member's address and the site's time zone, for the notifier, which
// decides which are due: members disabled, erased or without an
// address are left out.
func (s *Outbox) DueReportMail(ctx context.Context, orgID string) ([]ReportSubscription, error) {
	var out []ReportSubscription
	err := s.store().tenant(ctx, "report mail", orgID, false, func(ctx context.Context, t *tx) error {
		var err error
		out, err = t.reportSubscriptions(ctx, "AND m.email <> '' AND NOT m.disabled AND m.erased_us = 0")
		return err
	})
	return out, err
}

func (t *tx) reportSubscriptions(ctx context.Context, where string, args ...any) ([]ReportSubscription, error) {
	rows, err := t.query(ctx, `SELECT r.id, r.member_id, r.site_id, r.kind, r.minute_of_day, r.created_us, m.email, m.name,
			coalesce(s.time_zone, ''), coalesce(s.name, '')
		FROM report_subscriptions r JOIN members m ON m.org_id = r.org_id AND m.id = r.member_id
		LEFT JOIN sites s ON s.org_id = r.org_id AND s.id = r.site_id
		WHERE r.org_id = $1 `+where+` ORDER BY r.created_us, r.id`, append([]any{t.org()}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReportSubscription
	for rows.Next() {
		r := ReportSubscription{OrgID: t.org()}
		var created int64
		if err := rows.Scan(&r.ID, &r.MemberID, &r.SiteID, &r.Kind, &r.MinuteOfDay, &created, &r.Email, &r.Name, &r.TimeZone, &r.SiteName); err != nil {
			return nil, err
		}
		r.CreatedAt = fromUS(created)
		out = append(out, r)
	}
	return out, rows.Err()
}
