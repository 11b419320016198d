package notify

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab/hq/report"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// Scheduled report mail (store.ReportSubscription): each round, every
// subscription whose time of day has come in its site's zone (weekly:
// on a Monday) since it was made is composed as its member would see it
// and claimed as the notice
//
//	report.KIND:SUBSCRIPTION:DATE   DATE the local day (weekly: the Monday)
//
// so it goes once whatever the number of rounds, restarts and HQ
// processes. The mail ends with its unsubscribe link (report.UnsubscribeQuery).

// reportMail claims org's report mails that are due.
func (n *Notifier) reportMail(ctx context.Context, org string) error {
	subs, err := n.st.Outbox().DueReportMail(ctx, org)
	if err != nil {
		return err
	}
	now := n.now()
	for _, sub := range subs {
		due, day, ok := dueAt(sub, now)
		if !ok {
			continue
		}
		k := key("report."+string(sub.Kind), sub.ID, day)
		if done, err := n.st.Outbox().NoticeDecided(ctx, org, k); err != nil || done {
			if err != nil {
				return err
			}
			continue
		}
		l, err := n.reportLanguage(ctx, sub)
		if err != nil {
			return fmt.Errorf("report mail %s: %w", sub.ID, err)
		}
		subject, body, err := n.composeReport(ctx, l, sub, due)
		if err != nil {
			return fmt.Errorf("report mail %s: %w", sub.ID, err)
		}
		body += "\n" + l.T("mail.report.why") + "\n"
		link := "/unsubscribe?" + report.UnsubscribeQuery(n.cfg.LinkKey, org, sub.ID)
		if n.cfg.BaseURL != "" {
			link = strings.TrimRight(n.cfg.BaseURL, "/") + link
		}
		body += l.T("mail.report.unsubscribe", "Link", link) + "\n"
		claimed, err := n.st.Outbox().ClaimNotices(ctx, org, []store.Notice{{Key: k, Kind: "report." + string(sub.Kind), Ref: sub.ID,
			Episode: due.UnixMicro(), Subject: "[keycab] " + subject, Body: body, To: []string{sub.Email}}})
		if err != nil {
			return err
		}
		if len(claimed) > 0 {
			n.log.Info("report mail", "org", org, "subscription", sub.ID, "kind", sub.Kind)
		}
	}
	return nil
}

// dueAt says when sub's mail of the current period falls (in its zone)
// and its day, if that time has come and the subscription was made
// before it.
func dueAt(sub store.ReportSubscription, now time.Time) (time.Time, string, bool) {
	loc := time.UTC
	if l, err := time.LoadLocation(sub.TimeZone); err == nil && sub.TimeZone != "" {
		loc = l
	}
	local := now.In(loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	if sub.Kind == store.ReportWeekly {
		day = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // back to Monday
	}
	due := day.Add(time.Duration(sub.MinuteOfDay) * time.Minute)
	if now.Before(due) || sub.CreatedAt.After(due) {
		return due, "", false
	}
	return due, day.Format(time.DateOnly), true
}

// reportLanguage is the language of sub's mail: its member's own, else
// its site's, else en-GB.
func (n *Notifier) reportLanguage(ctx context.Context, sub store.ReportSubscription) (*i18n.Localizer, error) {
	sc := store.MemberScope(sub.OrgID, sub.MemberID)
	m, err := n.st.GetMember(ctx, sc, sub.MemberID)
	if err != nil {
		return nil, err
	}
	var site string
	if sub.SiteID != "" {
		s, err := n.st.GetSite(ctx, sc, sub.SiteID)
		if err != nil && !none(err) {
			return nil, err
		}
		site = s.Language
	}
	return i18n.For(m.Language, site), nil
}

// composeReport writes sub's mail in l as its member may see the records
// at due (in the site's zone).
func (n *Notifier) composeReport(ctx context.Context, l *i18n.Localizer, sub store.ReportSubscription, due time.Time) (subject, body string, err error) {
	sc := store.MemberScope(sub.OrgID, sub.MemberID)
	where := l.T("mail.report.every_site")
	if sub.SiteName != "" {
		where = sub.SiteName
	}
	zone := "UTC"
	if sub.TimeZone != "" {
		zone = sub.TimeZone
	}
	loc := due.Location()
	at := func(t time.Time) string { return l.DateTime(t.In(loc)) }
	short := func(t time.Time) string { return l.Day(t.In(loc)) + " " + l.Clock(t.In(loc)) }
	keySets, err := n.st.ListKeySets(ctx, sc, sub.SiteID)
	if err != nil {
		return "", "", err
	}
	labels := map[string]string{}
	for _, k := range keySets {
		labels[k.ID] = k.Label
	}
	members, err := n.st.ListMembers(ctx, sc)
	if err != nil {
		return "", "", err
	}
	names := map[string]string{}
	for _, m := range members {
		names[m.ID] = m.Name
	}
	name := func(id string) string {
		if s := names[id]; s != "" {
			return s
		}
		return l.T("mail.report.member", "ID", id)
	}
	var b strings.Builder
	if sub.Kind == store.ReportStillOut {
		out, err := n.st.ListCustody(ctx, sc)
		if err != nil {
			return "", "", err
		}
		var lines []string
		for _, h := range out {
			label, ok := labels[h.KeySetID]
			if !ok {
				continue // another site's
			}
			line := "- " + l.T("mail.report.out_line", "Label", label, "Name", name(h.MemberID), "At", at(h.TakenAt))
			if !h.DueAt.IsZero() {
				line += l.T("mail.report.out_due", "At", at(h.DueAt))
				if h.Overdue(due) {
					line += " " + l.T("mail.report.out_overdue")
				}
			}
			lines = append(lines, line)
		}
		sort.Strings(lines)
		subject = l.T("mail.report.still_out.subject", "Count", len(lines), "Where", where, "At", short(due))
		b.WriteString(l.T("mail.report.still_out.head", "Where", where, "At", at(due), "Zone", zone) + "\n\n")
		if len(lines) == 0 {
			b.WriteString(l.T("mail.report.still_out.none") + "\n")
		}
		for _, line := range lines {
			b.WriteString(line + "\n")
		}
		return subject, b.String(), nil
	}
	since := due.AddDate(0, 0, -1)
	kind := "daily"
	if sub.Kind == store.ReportWeekly {
		since, kind = due.AddDate(0, 0, -7), "weekly"
	}
	u, err := report.Load(ctx, n.st, sc, report.Filter{Since: since, Until: due, SiteID: sub.SiteID}, due)
	if err != nil {
		return "", "", err
	}
	takes, late := 0, 0
	for _, k := range u.KeySets {
		takes += k.Takes
		late += k.Overdue
	}
	if kind == "weekly" {
		subject = l.T("mail.report.weekly.subject", "Where", where, "Takes", takes, "Late", late)
	} else {
		subject = l.T("mail.report.daily.subject", "Where", where, "Takes", takes, "Late", late)
	}
	b.WriteString(l.T("mail.report.use.head", "Where", where, "From", short(since), "To", short(due), "Zone", zone) + "\n\n")
	b.WriteString(l.T("mail.report.use.counts", "Takes", takes, "Late", late) + "\n")
	if len(u.KeySets) > 0 {
		b.WriteString("\n" + l.T("mail.report.use.most") + "\n")
		for i, k := range u.KeySets {
			if i == 10 {
				b.WriteString(l.T("mail.report.use.more", "Count", len(u.KeySets)-10) + "\n")
				break
			}
			line := "- " + l.T("mail.report.use.line", "Label", k.Label, "Takes", k.Takes, "Hours", decimal(l, k.Out.Hours()))
			if k.Overdue > 0 {
				line += l.T("mail.report.use.line_overdue", "Count", k.Overdue)
			}
			b.WriteString(line + "\n")
		}
	}
	if u.Truncated {
		b.WriteString("\n" + l.T("mail.report.use.partial") + "\n")
	}
	return subject, b.String(), nil
}

// decimal says x to one decimal place with l's decimal mark: "1.5",
// "1,5".
func decimal(l *i18n.Localizer, x float64) string {
	s := strconv.FormatFloat(x, 'f', 1, 64)
	if l.Lang() == "de" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}
