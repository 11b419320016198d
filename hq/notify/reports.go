package notify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"keycab.dev/keycab/hq/report"
	"keycab.dev/keycab/hq/store"
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
		subject, body, err := n.composeReport(ctx, sub, due)
		if err != nil {
			return fmt.Errorf("report mail %s: %w", sub.ID, err)
		}
		body += "\nYou get this mail because you asked for it on the reports page.\n"
		link := "/unsubscribe?" + report.UnsubscribeQuery(n.cfg.LinkKey, org, sub.ID)
		if n.cfg.BaseURL != "" {
			link = strings.TrimRight(n.cfg.BaseURL, "/") + link
		}
		body += "Unsubscribe: " + link + "\n"
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

// composeReport writes sub's mail as its member may see the records at
// due.
func (n *Notifier) composeReport(ctx context.Context, sub store.ReportSubscription, due time.Time) (subject, body string, err error) {
	sc := store.MemberScope(sub.OrgID, sub.MemberID)
	where := "every site you see"
	if sub.SiteName != "" {
		where = sub.SiteName
	}
	zone := "UTC"
	if sub.TimeZone != "" {
		zone = sub.TimeZone
	}
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
		return "member " + id
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
			line := fmt.Sprintf("- %s: with %s since %s", label, name(h.MemberID), stamp(h.TakenAt))
			if !h.DueAt.IsZero() {
				line += ", due " + stamp(h.DueAt)
				if h.Overdue(due) {
					line += " (overdue)"
				}
			}
			lines = append(lines, line)
		}
		sort.Strings(lines)
		subject = fmt.Sprintf("%d key sets still out at %s: %s", len(lines), where, due.Format("Mon 2 Jan 15:04"))
		fmt.Fprintf(&b, "Key sets still out at %s, %s (%s):\n\n", where, due.Format("Mon 2 Jan 2006 15:04"), zone)
		if len(lines) == 0 {
			b.WriteString("None: every key set is in.\n")
		}
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
		return subject, b.String(), nil
	}
	since := due.AddDate(0, 0, -1)
	period := "day"
	if sub.Kind == store.ReportWeekly {
		since, period = due.AddDate(0, 0, -7), "week"
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
	subject = fmt.Sprintf("The %s at %s: %d taken, %d overdue", period, where, takes, late)
	fmt.Fprintf(&b, "Use of the key sets at %s from %s to %s (%s):\n\n%d taken; %d checkouts overdue.\n",
		where, since.Format("Mon 2 Jan 15:04"), due.Format("Mon 2 Jan 15:04"), zone, takes, late)
	if len(u.KeySets) > 0 {
		b.WriteString("\nMost used (time out):\n")
		for i, k := range u.KeySets {
			if i == 10 {
				fmt.Fprintf(&b, "... and %d more\n", len(u.KeySets)-10)
				break
			}
			fmt.Fprintf(&b, "- %s: %d taken, %.1f h out", k.Label, k.Takes, k.Out.Hours())
			if k.Overdue > 0 {
				fmt.Fprintf(&b, ", %d overdue", k.Overdue)
			}
			b.WriteString("\n")
		}
	}
	if u.Truncated {
		b.WriteString("\n(The period holds more history than a report reads: the figures are partial.)\n")
	}
	return subject, b.String(), nil
}
