package hq_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/notify"
	"keycab.dev/keycab/hq/store"
)

var unsubscribeLink = regexp.MustCompile(`/unsubscribe\?(\S+)`)

// Report mail on both engines: an owner asks on the reports page for
// "key sets still out" at 17:00 at a London site and for the day's use;
// before 17:00 London time nothing goes, after it one mail of each, and
// never twice however many rounds; the still-out mail lists the key set
// out; its link, opened without a sign-in, asks and then stops that mail
// only; a link with a forged MAC is refused.
func TestReportMail(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newDashEnv(t, eng, nil, false)
			w := e.web()
			w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
			sc := e.scopeOf(t, w)
			ctx := context.Background()
			p, err := e.auth.Authenticate(ctx, w.cookies["__Host-keycab_session"])
			MustNoErr(t, err)
			ann := p.MemberID
			site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Quay", TimeZone: "Europe/London"}})
			MustNoErr(t, err)
			cab, err := e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "Front", Kind: keycab.Slotted})
			MustNoErr(t, err)
			ks, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: "Flat 9, Quay House"})
			MustNoErr(t, err)
			k, err := e.st.CreateKiosk(ctx, sc, store.Kiosk{CabinetID: cab.ID, Name: "kiosk"})
			MustNoErr(t, err)
			// The test clock starts at 09:00 UTC on 2 March (GMT in London).
			now := e.clock.Now()
			MustNoErr(t, e.st.RecordEvents(ctx, store.KioskScope(sc.OrgID(), k.ID), []store.Event{
				{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: ann, KeySetID: ks.ID, CabinetID: cab.ID, At: now.Add(-time.Hour), DueAt: now.Add(2 * time.Hour)}}))

			w.get(t, "/reports")
			MustPage(t, w.post(t, "/reports/mail", url.Values{"kind": {"still_out"}, "at": {"17:00"}, "site": {site.ID}}), 303)
			MustPage(t, w.post(t, "/reports/mail", url.Values{"kind": {"daily"}, "at": {"08:30"}, "site": {site.ID}}), 303)
			MustPage(t, w.post(t, "/reports/mail", url.Values{"kind": {"hourly"}, "at": {"08:30"}}), 400)
			MustPage(t, w.post(t, "/reports/mail", url.Values{"kind": {"daily"}, "at": {"25:00"}}), 400)
			MustPage(t, w.get(t, "/reports"), 200, "Key sets still out at 17:00 · Quay (Europe/London)", "The day's use at 08:30")
			// A weekly one, stopped from the reports page.
			MustPage(t, w.post(t, "/reports/mail", url.Values{"kind": {"weekly"}, "at": {"07:00"}}), 303)
			subs, err := e.st.Outbox().ListReportSubscriptions(ctx, sc)
			MustNoErr(t, err)
			weekly := ""
			for _, sub := range subs {
				if sub.Kind == store.ReportWeekly {
					weekly = sub.ID
				}
			}
			if len(subs) != 3 || weekly == "" {
				t.Fatalf("subscriptions: %+v", subs)
			}
			MustPage(t, w.get(t, "/reports"), 200, "The week's use, on Mondays at 07:00 · every site (UTC)")
			MustPage(t, w.post(t, "/reports/mail/"+weekly+"/delete", nil), 303)
			MustPage(t, w.post(t, "/reports/mail/"+weekly+"/delete", nil), 404)

			n, err := notify.New(e.st, e.mail, nil, e.clock.Now, notify.Config{LinkKey: []byte("dashboard test key, 32 bytes...."), BaseURL: "https://hq.test"})
			MustNoErr(t, err)
			reports := func() []string {
				e.mail.mu.Lock()
				defer e.mail.mu.Unlock()
				var out []string
				for _, m := range e.mail.msgs {
					if strings.HasPrefix(m.Kind, "report.") {
						out = append(out, m.Kind+" to "+m.To+": "+m.Subject+"\n"+m.Body)
					}
				}
				return out
			}
			MustNoErr(t, n.Round(ctx))
			if got := reports(); len(got) != 0 {
				t.Fatalf("before its time: %q", got)
			}
			// The next day 08:45 UTC (08:45 in London): the day's use, made
			// yesterday before 08:30, is due; the still-out mail is not.
			e.clock.Advance(23*time.Hour + 45*time.Minute)
			MustNoErr(t, n.Round(ctx))
			MustNoErr(t, n.Round(ctx))
			if got := reports(); len(got) != 1 || !strings.Contains(got[0], "report.daily to ann@acme.test: [keycab] The day at Quay: 0 taken, 1 overdue") {
				t.Fatalf("the day's use: %q", got)
			}
			e.clock.Advance(8*time.Hour + 30*time.Minute) // 17:15
			MustNoErr(t, n.Round(ctx))
			MustNoErr(t, n.Round(ctx))
			got := reports()
			if len(got) != 2 || !strings.Contains(got[1], "report.still_out to ann@acme.test: [keycab] 1 key sets still out at Quay") ||
				!strings.Contains(got[1], "- Flat 9, Quay House: with Ann Owner since") || !strings.Contains(got[1], "(overdue)") ||
				!strings.Contains(got[1], "Unsubscribe: https://hq.test/unsubscribe?") {
				t.Fatalf("still out: %q", got)
			}

			// The link: no sign-in, asks first, then stops only that mail.
			q, err := url.ParseQuery(unsubscribeLink.FindStringSubmatch(got[1])[1])
			MustNoErr(t, err)
			anon := e.web()
			MustPage(t, anon.get(t, "/unsubscribe?"+q.Encode()), 200, "Stop this report mail?")
			forged := url.Values{"o": q["o"], "s": q["s"], "t": {"AAAAAAAAAAAAAAAAAAAAAAAA"}}
			MustPage(t, anon.get(t, "/unsubscribe?"+forged.Encode()), 404)
			MustPage(t, anon.post(t, "/unsubscribe", forged), 404)
			MustPage(t, anon.post(t, "/unsubscribe", q), 200, "Report mail stopped")
			subs, err = e.st.Outbox().ListReportSubscriptions(ctx, sc)
			MustNoErr(t, err)
			if len(subs) != 1 || subs[0].Kind != store.ReportDaily {
				t.Fatalf("after unsubscribing: %+v", subs)
			}
			MustPage(t, anon.post(t, "/unsubscribe", q), 200, "Report mail stopped") // again: nothing left to stop
			// The next day the daily one still goes, the stopped one not.
			e.clock.Advance(24 * time.Hour)
			MustNoErr(t, n.Round(ctx))
			if got := reports(); len(got) != 3 || !strings.Contains(got[2], "report.daily") {
				t.Fatalf("the next day: %q", got)
			}
		})
	}
}
