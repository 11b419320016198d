package hq_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/notify"
	"keycab.dev/keycab/hq/store"
)

// mustSay checks that m's subject is subject and its body has each of
// body.
func mustSay(tb testing.TB, m mail.Message, subject string, body ...string) {
	tb.Helper()
	if m.Subject != subject {
		tb.Errorf("%s to %s: subject %q, want %q", m.Kind, m.To, m.Subject, subject)
	}
	for _, b := range body {
		if !strings.Contains(m.Body, b) {
			tb.Errorf("%s to %s: body %q lacks %q", m.Kind, m.To, m.Body, b)
		}
	}
}

// TestAccountMailLanguages: the account's own mail (verification, a
// sign-in link, a password reset, a change of address) is in its member's
// language, German for Bea, English for Ann; an invitation is in the
// invited site's language.
func TestAccountMailLanguages(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ann := e.MustSignup(t, "Acme", "ann@acme.test")
		bea := e.signupRaw(t, "Bolt", "bea@bolt.test")
		MustNoErr(t, e.st.SetMemberLanguage(ctx, store.MemberScope(bea.orgID, bea.memberID), bea.memberID, "de"))
		e.clock.Advance(16 * time.Minute) // fresh mail-limit windows

		MustStatus(t, e.do(t, "POST", "/v1/me/verify/resend", bea.access, nil), 202)
		mustSay(t, e.mail.last(t, "verify", bea.email), "Bestätigen Sie Ihre E-Mail-Adresse für keycab", "innerhalb von 24 Stunden", "#token=")
		e.MustVerify(t, bea.email)

		for _, u := range []*user{ann, bea} {
			MustStatus(t, e.do(t, "POST", "/v1/auth/magic", "", map[string]string{"email": u.email}), 202)
			MustStatus(t, e.do(t, "POST", "/v1/auth/reset", "", map[string]string{"email": u.email}), 202)
		}
		mustSay(t, e.mail.last(t, "magic", ann.email), "Your keycab sign-in link", "To sign in to keycab, open this link within 15 minutes:", "If it was not you, ignore this message.")
		mustSay(t, e.mail.last(t, "magic", bea.email), "Ihr Anmeldelink für keycab", "Um sich bei keycab anzumelden, öffnen Sie innerhalb von 15 Minuten diesen Link:", "Wenn Sie es nicht waren")
		mustSay(t, e.mail.last(t, "reset", ann.email), "Reset your keycab password", "Someone asked to reset the password", "within 30 minutes")
		mustSay(t, e.mail.last(t, "reset", bea.email), "Setzen Sie Ihr keycab-Passwort zurück", "Jemand hat angefordert", "innerhalb von 30 Minuten")

		e.clock.Advance(16 * time.Minute)
		e.MustLogin(t, ann)
		e.MustLogin(t, bea)
		MustStatus(t, e.do(t, "POST", "/v1/me/email", bea.access, map[string]string{"email": "bea@neu.test", "password": goodPassword}), 202)
		mustSay(t, e.mail.last(t, "email-change", "bea@neu.test"), "Bestätigen Sie Ihre neue E-Mail-Adresse für keycab", "Um diese Adresse zur E-Mail-Adresse")
		mustSay(t, e.mail.last(t, "email-change-notice", bea.email), "Die E-Mail-Adresse Ihres keycab-Kontos wird geändert", "bea@neu.test", "ändern Sie jetzt Ihr Passwort")
		MustStatus(t, e.do(t, "POST", "/v1/auth/verify", "", map[string]string{"token": e.mail.MustToken(t, "email-change", "bea@neu.test")}), 200)
		mustSay(t, e.mail.last(t, "email-changed", bea.email), "Die E-Mail-Adresse Ihres keycab-Kontos wurde geändert", "ist jetzt bea@neu.test")
		MustStatus(t, e.do(t, "POST", "/v1/me/email", ann.access, map[string]string{"email": "ann@new.test", "password": goodPassword}), 202)
		mustSay(t, e.mail.last(t, "email-change", "ann@new.test"), "Confirm your new keycab email address", "within 24 hours")
		mustSay(t, e.mail.last(t, "email-change-notice", ann.email), "Your keycab email address is being changed", "change your password now")

		// Invitations: to a German site in German, to none in English.
		sc := store.MemberScope(ann.orgID, ann.memberID)
		nord, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Nord", Language: "de"}})
		MustNoErr(t, err)
		MustStatus(t, e.do(t, "POST", "/v1/invites", ann.access, map[string]any{"email": "cem@acme.test", "role": "site_manager", "site_ids": []string{nord.ID}}), 201)
		mustSay(t, e.mail.last(t, "invite", "cem@acme.test"), "Sie sind zu Acme bei keycab eingeladen", "Owner of Acme lädt Sie ein, Acme bei keycab beizutreten, als Objektleiter.", "innerhalb von 168 Stunden")
		MustStatus(t, e.do(t, "POST", "/v1/invites", ann.access, map[string]any{"email": "dan@acme.test", "role": "staff"}), 201)
		mustSay(t, e.mail.last(t, "invite", "dan@acme.test"), "You are invited to Acme on keycab", "Owner of Acme invites you to join Acme on keycab as staff.", "within 168 hours")
	})
}

// TestNoticeMailLanguages: one notice, two languages. Ann, the owner,
// reads German (her own language) and Max, a manager of a British site
// with no sign-in account, English (the site's); the alarm, overdue,
// offline, back-online and config-behind notices and the report mails
// each reach both so.
func TestNoticeMailLanguages(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ann := e.MustSignup(t, "Acme", "ann@acme.test")
		sc := store.MemberScope(ann.orgID, ann.memberID)
		MustNoErr(t, e.st.SetMemberLanguage(ctx, sc, ann.memberID, "de"))
		site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Quay", TimeZone: "Europe/London", Language: "en-GB"}})
		MustNoErr(t, err)
		max, err := e.st.CreateMember(ctx, sc, keycab.Member{Name: "Max", Email: "max@acme.test", Role: keycab.RoleSiteManager, SiteIDs: []string{site.ID}})
		MustNoErr(t, err)
		cab, err := e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "Front", Kind: keycab.Slotted})
		MustNoErr(t, err)
		ks, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: "Flat 9"})
		MustNoErr(t, err)
		k, err := e.st.CreateKiosk(ctx, sc, store.Kiosk{CabinetID: cab.ID, Name: "lobby"})
		MustNoErr(t, err)
		for _, m := range []struct {
			sc   store.Scope
			kind store.ReportKind
		}{{sc, store.ReportStillOut}, {store.MemberScope(ann.orgID, max.ID), store.ReportStillOut}} {
			_, err := e.st.Outbox().SubscribeReport(ctx, m.sc, store.ReportSubscription{SiteID: site.ID, Kind: m.kind, MinuteOfDay: 10 * 60})
			MustNoErr(t, err)
		}
		now := e.clock.Now() // 09:00 UTC, 2 March
		MustNoErr(t, e.st.RecordEvents(ctx, store.KioskScope(ann.orgID, k.ID), []store.Event{
			{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: max.ID, KeySetID: ks.ID, CabinetID: cab.ID, At: now, DueAt: now.Add(30 * time.Minute)},
			{LogIndex: 1, Kind: keycab.EventAlarmRaised, CabinetID: cab.ID, At: now, Detail: keycab.AlarmDoorForced}}))
		n, err := notify.New(e.st, e.mail, nil, e.clock.Now, notify.Config{LinkKey: []byte("dashboard test key, 32 bytes...."), BaseURL: "https://hq.test"})
		MustNoErr(t, err)
		e.clock.Advance(61 * time.Minute) // 10:01: overdue, silent an hour, the reports due
		MustNoErr(t, n.Round(ctx))
		MustNoErr(t, n.Round(ctx))

		mustSay(t, e.mail.last(t, "alarm.raised", ann.email), "[keycab] Alarm am Schrank Front: Tür gewaltsam geöffnet",
			"Der Kiosk des Schranks „Front“ hat am 2. März 2026 09:00 UTC den Alarm „Tür gewaltsam geöffnet“", "Diese Benachrichtigung geht einmal")
		mustSay(t, e.mail.last(t, "alarm.raised", max.Email), "[keycab] Alarm at Front: Door forced open while locked",
			`The kiosk of cabinet "Front" raised the alarm "Door forced open while locked" at 2 Mar 2026 09:00 UTC.`, "This notice is sent once")
		mustSay(t, e.mail.last(t, "key.overdue", ann.email), "[keycab] Schlüssel überfällig: Flat 9",
			"Max hat den Schlüsselsatz „Flat 9“ am 2. März 2026 09:00 UTC entnommen; er sollte am 2. März 2026 09:30 UTC zurück sein")
		mustSay(t, e.mail.last(t, "key.overdue", max.Email), "[keycab] Key overdue: Flat 9",
			`Max took the key set "Flat 9" at 2 Mar 2026 09:00 UTC; it was due back at 2 Mar 2026 09:30 UTC and has not been returned.`)
		mustSay(t, e.mail.last(t, "kiosk.offline", ann.email), "[keycab] Kiosk offline: lobby", "seit mehr als 10 Minuten")
		mustSay(t, e.mail.last(t, "kiosk.offline", max.Email), "[keycab] Kiosk offline: lobby", "(more than 10 minutes)")
		mustSay(t, e.mail.last(t, "report.still_out", ann.email), "[keycab] Noch entnommene Schlüsselsätze (Quay): 1, Mo., 2. März 10:00",
			"- Flat 9: bei Max seit 2. März 2026 09:00, fällig 2. März 2026 09:30 (überfällig)", "Abbestellen: https://hq.test/unsubscribe?")
		mustSay(t, e.mail.last(t, "report.still_out", max.Email), "[keycab] 1 key sets still out at Quay: Mon 2 Mar 10:00",
			"- Flat 9: with Max since 2 Mar 2026 09:00, due 2 Mar 2026 09:30 (overdue)", "Unsubscribe: https://hq.test/unsubscribe?")

		// The kiosk is heard from again; an enrolled kiosk lags behind on
		// its config.
		MustNoErr(t, e.st.RecordEvents(ctx, store.KioskScope(ann.orgID, k.ID), []store.Event{{LogIndex: 2, Kind: keycab.EventBoot, At: e.clock.Now()}}))
		tok, _, err := e.st.CreateEnrolToken(ctx, sc, cab.ID, 0)
		MustNoErr(t, err)
		hall, _, err := e.st.Enrol(ctx, tok, make([]byte, 32), "hall", func(id string) (string, string, error) {
			return "keycab.test/" + id, "keycab.test/" + id + "+00000000+AQ", nil
		})
		MustNoErr(t, err)
		kiosk := store.KioskScope(ann.orgID, hall.ID)
		MustNoErr(t, e.st.KioskLogs().RecordHeartbeat(ctx, kiosk, store.Heartbeat{At: e.clock.Now()}))
		_, err = e.st.KioskLogs().IssueConfigVersion(ctx, kiosk, []byte("one"))
		MustNoErr(t, err)
		e.clock.Advance(11 * time.Minute)
		MustNoErr(t, e.st.KioskLogs().RecordHeartbeat(ctx, kiosk, store.Heartbeat{At: e.clock.Now()}))
		MustNoErr(t, n.Round(ctx))
		mustSay(t, e.mail.last(t, "kiosk.online", ann.email), "[keycab] Kiosk wieder online: lobby", "ist wieder online")
		mustSay(t, e.mail.last(t, "kiosk.online", max.Email), "[keycab] Kiosk back online: lobby", "is back online")
		mustSay(t, e.mail.last(t, "kiosk.config_behind", ann.email), "[keycab] Kiosk mit veralteter Konfiguration: hall", "hat sie nicht übernommen (seit mehr als 10 Minuten)")
		mustSay(t, e.mail.last(t, "kiosk.config_behind", max.Email), "[keycab] Kiosk behind on its config: hall", "it has not applied it (more than 10 minutes)")
	})
}
