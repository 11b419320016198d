package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// mustPersonNamed adds a staff member of organisation A.
func mustPersonNamed(t *testing.T, f *fixture, name, email string) keycab.Member {
	t.Helper()
	return must[keycab.Member](t)(f.s.CreateMember(context.Background(), f.a.as(f.a.owner), keycab.Member{Name: name, Email: email,
		Role: keycab.RoleStaff, SiteIDs: []string{f.a.site1.ID}}))
}

// mustPerson adds a member of A with a name, email and badge found
// nowhere else, at site 1.
func mustPerson(t *testing.T, f *fixture, role keycab.Role) keycab.Member {
	t.Helper()
	ctx := context.Background()
	own := f.a.as(f.a.owner)
	m := must[keycab.Member](t)(f.s.CreateMember(ctx, own, keycab.Member{Name: "Zebulon Quarrington", Email: "zebulon.q@erase.test",
		Role: role, SiteIDs: []string{f.a.site1.ID}}))
	must[keycab.Badge](t)(f.s.AddBadge(ctx, own, m.ID, keycab.BadgeRFID, "BADGE-77771"))
	MustNoErr(t, f.s.SetPINHash(ctx, own, m.ID, "$argon2id$pin-hash-of-zebulon"))
	return m
}

func TestEraseMember(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, e)
			own := f.a.as(f.a.owner)
			m := mustPerson(t, f, keycab.RoleStaff)
			badges := must[[]keycab.Badge](t)(f.s.ListBadges(ctx, own, m.ID))
			if len(badges) != 1 || len(badges[0].Hash) == 0 {
				t.Fatalf("the member's badges: %+v", badges)
			}
			// inFiles reports whether the SQLite database or its WAL holds b.
			inFiles := func(b []byte) bool {
				path, _ := strings.CutPrefix(f.appDSN, "sqlite:")
				for _, file := range []string{path, path + "-wal"} {
					raw, err := os.ReadFile(file)
					if os.IsNotExist(err) {
						continue
					}
					MustNoErr(t, err)
					if bytes.Contains(raw, b) {
						return true
					}
				}
				return false
			}
			sqlite := strings.HasPrefix(f.appDSN, "sqlite:")
			if sqlite && !inFiles(badges[0].Hash) {
				t.Fatal("the badge's hash is not in the files before erasure; the test would prove nothing")
			}
			at := time.Now().Add(-time.Hour)
			// Their sign-in account, with recovery codes, a password-reset
			// link and its mail (the account's own rows, of no
			// organisation); and a colleague's account that organisation B
			// has too.
			acct := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "zebulon.q@erase.test", Name: "Zebulon Quarrington", PasswordHash: "$argon2id$password-of-zebulon"}))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, acct.ID, f.a.org.ID, m.ID))
			MustNoErr(t, f.s.Accounts().SetPendingTOTP(ctx, acct.ID, []byte("totp secret of zebulon")))
			MustNoErr(t, f.s.Accounts().EnableTOTP(ctx, acct.ID, 1, [][]byte{[]byte("recovery-code-of-zebulon")}))
			must[store.AuthToken](t)(f.s.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: []byte("reset of zebulon"), Purpose: store.PurposeReset,
				AccountID: acct.ID, Email: acct.Email, ExpiresAt: time.Now().Add(time.Hour)}))
			must[store.Delivery](t)(f.s.Accounts().RecordDelivery(ctx, store.Delivery{Kind: "reset", To: acct.Email, Subject: "Reset your password", Status: "dry-run"}))
			both := mustPersonNamed(t, f, "Bea Both", "bea.both@erase.test")
			shared := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "bea.both@erase.test", Name: "Bea Both"}))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, shared.ID, f.a.org.ID, both.ID))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, shared.ID, f.b.org.ID, f.b.staff.ID))
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), []store.Event{
				{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: m.ID, KeySetID: f.a.ks1.ID, At: at},
			}))

			// Who may not: an auditor, staff, a site manager for an admin.
			wantCode(t, f.s.EraseMember(ctx, f.a.as(f.a.auditor), m.ID), keycab.EFORBIDDEN)
			wantCode(t, f.s.EraseMember(ctx, f.a.as(f.a.staff), m.ID), keycab.ENOTFOUND) // staff see only themselves
			wantCode(t, f.s.EraseMember(ctx, f.a.as(f.a.staff), f.a.staff.ID), keycab.EFORBIDDEN)
			wantCode(t, f.s.EraseMember(ctx, f.a.as(f.a.manager), f.a.admin.ID), keycab.ENOTFOUND) // not at their sites
			wantCode(t, f.s.EraseMember(ctx, own, f.a.owner.ID), keycab.EFORBIDDEN)

			// Holding a key set: refused until it is back.
			err := f.s.EraseMember(ctx, own, m.ID)
			wantCode(t, err, keycab.ECONFLICT)
			if !strings.Contains(err.Error(), f.a.ks1.ID) {
				t.Errorf("refusal does not name the key set held: %v", err)
			}
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), []store.Event{
				{LogIndex: 1, Kind: keycab.EventKeyReturned, ActorID: m.ID, KeySetID: f.a.ks1.ID, At: at.Add(time.Minute)},
			}))

			// A hold on a key set the member's history touches, then one
			// on the member: each refuses, naming the hold.
			for _, h := range []store.Hold{
				{Target: store.HoldKeySet, TargetID: f.a.ks1.ID, Reason: "insurance claim 42", OwnerID: f.a.admin.ID},
				{Target: store.HoldMember, TargetID: m.ID, Reason: "tribunal", OwnerID: f.a.admin.ID, Ends: time.Now().Add(24 * time.Hour)},
			} {
				h := must[store.Hold](t)(f.s.CreateHold(ctx, own, h))
				err := f.s.EraseMember(ctx, own, m.ID)
				wantCode(t, err, keycab.ECONFLICT)
				if !strings.Contains(err.Error(), h.ID) || !strings.Contains(err.Error(), "legal hold") {
					t.Errorf("refusal does not name hold %s: %v", h.ID, err)
				}
				wantCode(t, f.s.RemoveMember(ctx, own, m.ID), keycab.ECONFLICT)
				ended := must[store.Hold](t)(f.s.EndHold(ctx, own, h.ID))
				if ended.Active(time.Now()) || ended.EndedBy != f.a.owner.ID {
					t.Fatalf("hold not ended: %+v", ended)
				}
			}

			// The site manager of the member's site erases.
			MustNoErr(t, f.s.EraseMember(ctx, f.a.as(f.a.manager), m.ID))
			wantCode(t, f.s.EraseMember(ctx, own, m.ID), keycab.ECONFLICT)

			// The account went with them; the shared one stays, B's.
			if _, err := f.s.Accounts().AccountByEmail(ctx, acct.Email); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("erased member's account: %v, want ENOTFOUND", err)
			}
			if _, err := f.s.Accounts().GetAccount(ctx, acct.ID); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("erased member's account by id: %v, want ENOTFOUND", err)
			}
			for _, d := range must[[]store.Delivery](t)(f.s.Accounts().ListDeliveries(ctx, "", 100)) {
				if d.To == acct.Email {
					t.Fatalf("the account's mail log keeps %+v", d)
				}
			}
			MustNoErr(t, f.s.EraseMember(ctx, own, both.ID))
			if a, err := f.s.Accounts().AccountByEmail(ctx, shared.Email); err != nil || a.ID != shared.ID {
				t.Fatalf("an account B has too went with A's erasure: %v", err)
			}

			got := must[keycab.Member](t)(f.s.GetMember(ctx, own, m.ID))
			if got.Name != "" || got.Email != "" || got.PINHash != "" || got.ErasedAt.IsZero() {
				t.Fatalf("erased member still holds %+v", got)
			}
			if bs := must[[]keycab.Badge](t)(f.s.ListBadges(ctx, own, m.ID)); len(bs) != 0 {
				t.Fatalf("erased member keeps badges %v", bs)
			}
			if _, err := f.s.FindBadge(ctx, own, "BADGE-77771"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("erased badge still found: %v", err)
			}
			wantCode(t, f.s.SetPINHash(ctx, store.MemberScope(f.a.org.ID, m.ID), m.ID, "x"), keycab.EUNAUTHORIZED)

			// The events keep the id; the admin log records member.erased
			// and nothing personal.
			var logged bool
			for _, a := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 1000)) {
				if strings.Contains(a.Detail, "Zebulon") || strings.Contains(a.Detail, "zebulon.q") {
					t.Errorf("admin log %s keeps personal data: %s", a.Action, a.Detail)
				}
				if a.Action == "member.erased" && a.Target == m.ID && a.ActorID == f.a.manager.ID {
					logged = true
				}
			}
			if !logged {
				t.Fatal("no member.erased in the admin log")
			}

			// The kiosk's bundle carries the erasure and not the member.
			cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, f.a.kiosk()))
			if !slices.Contains(cfg.Erased, m.ID) {
				t.Fatalf("bundle's Erased %v lacks %s", cfg.Erased, m.ID)
			}
			for _, cm := range cfg.Members {
				if cm.ID == m.ID {
					t.Fatalf("bundle still lists the erased member")
				}
			}
			if cfgB := must[keycab.Config](t)(f.s.KioskConfig(ctx, f.b.kiosk())); slices.Contains(cfgB.Erased, m.ID) {
				t.Fatalf("B's bundle lists A's erasure")
			}

			// On SQLite, neither the database file nor its WAL keeps the
			// name, the email, the PIN or password hash or the badge's hash.
			if sqlite {
				for _, s := range []string{"Zebulon Quarrington", "zebulon.q@erase.test", "pin-hash-of-zebulon", "password-of-zebulon", string(badges[0].Hash)} {
					if inFiles([]byte(s)) {
						t.Errorf("the database or its WAL still holds %q after erasure", s)
					}
				}
			}
		})
	}
}

func TestLegalHolds(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, e)
			own := f.a.as(f.a.owner)
			ok := store.Hold{Target: store.HoldSite, TargetID: f.a.site1.ID, Reason: "audit 2026", OwnerID: f.a.admin.ID}
			for name, c := range map[string]struct {
				sc   store.Scope
				h    store.Hold
				code string
			}{
				"staff":         {f.a.as(f.a.staff), ok, keycab.EFORBIDDEN},
				"auditor":       {f.a.as(f.a.auditor), ok, keycab.EFORBIDDEN},
				"site manager":  {f.a.as(f.a.manager), ok, keycab.EFORBIDDEN},
				"no reason":     {own, store.Hold{Target: store.HoldSite, TargetID: f.a.site1.ID, OwnerID: f.a.admin.ID}, keycab.EINVALID},
				"ended already": {own, store.Hold{Target: store.HoldSite, TargetID: f.a.site1.ID, Reason: "x", OwnerID: f.a.admin.ID, Ends: time.Now().Add(-time.Hour)}, keycab.EINVALID},
				"bad target":    {own, store.Hold{Target: "cabinet", TargetID: f.a.cab1.ID, Reason: "x", OwnerID: f.a.admin.ID}, keycab.EINVALID},
				"no such owner": {own, store.Hold{Target: store.HoldSite, TargetID: f.a.site1.ID, Reason: "x", OwnerID: "mem_nope"}, keycab.ENOTFOUND},
			} {
				if _, err := f.s.CreateHold(ctx, c.sc, c.h); keycab.ErrorCode(err) != c.code {
					t.Errorf("%s: %v, want %s", name, err, c.code)
				}
			}
			if hs := must[[]store.Hold](t)(f.s.ListHolds(ctx, own)); len(hs) != 0 {
				t.Fatalf("refused holds were stored: %v", hs)
			}
			h := must[store.Hold](t)(f.s.CreateHold(ctx, own, ok))
			// A site hold covers the members scoped to the site.
			err := f.s.EraseMember(ctx, own, f.a.staff.ID)
			wantCode(t, err, keycab.ECONFLICT)
			if !strings.Contains(err.Error(), h.ID) {
				t.Fatalf("erasure refusal does not name the hold: %v", err)
			}
			cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, f.a.kiosk()))
			if !slices.Contains(cfg.Held, f.a.site1.ID) || !slices.Contains(cfg.Held, f.a.staff.ID) {
				t.Fatalf("bundle's Held %v lacks the site or its member", cfg.Held)
			}
			wantCode(t, func() error { _, err := f.s.EndHold(ctx, f.a.as(f.a.staff), h.ID); return err }(), keycab.EFORBIDDEN)
			if _, err := f.s.ListHolds(ctx, f.a.as(f.a.staff)); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("staff lists holds: %v", err)
			}
			if hs := must[[]store.Hold](t)(f.s.ListHolds(ctx, f.a.as(f.a.auditor))); len(hs) != 1 || hs[0].ID != h.ID {
				t.Fatalf("auditor sees holds %v", hs)
			}
			must[store.Hold](t)(f.s.EndHold(ctx, own, h.ID))
			wantCode(t, func() error { _, err := f.s.EndHold(ctx, own, h.ID); return err }(), keycab.ECONFLICT)
			var created, ended bool
			for _, a := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 1000)) {
				created = created || (a.Action == "hold.create" && a.Target == h.ID && strings.Contains(a.Detail, "audit 2026"))
				ended = ended || (a.Action == "hold.end" && a.Target == h.ID && strings.Contains(a.Detail, `"before"`))
			}
			if !created || !ended {
				t.Fatalf("admin log: hold.create %v, hold.end %v", created, ended)
			}
			MustNoErr(t, f.s.EraseMember(ctx, own, f.a.staff.ID))
		})
	}
}

func TestRetention(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, e)
			own := f.a.as(f.a.owner)
			for _, sc := range []store.Scope{f.a.as(f.a.staff), f.a.as(f.a.auditor), f.a.as(f.a.manager)} {
				wantCode(t, f.s.SetRetention(ctx, sc, store.Retention{DeliveriesDays: 1}), keycab.EFORBIDDEN)
			}
			wantCode(t, f.s.SetRetention(ctx, own, store.Retention{DeliveriesDays: -1}), keycab.EINVALID)
			wantCode(t, f.s.SetRetention(ctx, own, store.Retention{SessionsDays: store.MaxRetentionDays + 1}), keycab.EINVALID)
			rules := store.Retention{PersonalTextDays: 90, DeliveriesDays: 30, SessionsDays: 30, AdminDetailDays: 30}
			MustNoErr(t, f.s.SetRetention(ctx, own, rules))
			if got := must[store.Retention](t)(f.s.GetRetention(ctx, f.a.as(f.a.auditor))); got != rules {
				t.Fatalf("rules read back %+v, want %+v", got, rules)
			}
			if got := must[store.Retention](t)(f.s.GetRetention(ctx, f.b.as(f.b.owner))); got != (store.Retention{}) {
				t.Fatalf("B reads A's rules: %+v", got)
			}
			if cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, f.a.kiosk())); cfg.PersonalTextDays != 90 {
				t.Fatalf("bundle's PersonalTextDays = %d, want 90", cfg.PersonalTextDays)
			}
			MustNoErr(t, f.s.SetRetention(ctx, f.b.as(f.b.owner), store.Retention{DeliveriesDays: 30}))

			// Mail to A's staff, to A's admin (under hold), and B's.
			for _, d := range []store.Delivery{
				{Kind: "notice", OrgID: f.a.org.ID, To: f.a.staff.Email, Subject: "old", Status: "sent"},
				{Kind: "notice", OrgID: f.a.org.ID, To: f.a.admin.Email, Subject: "held", Status: "sent"},
				{Kind: "notice", OrgID: f.b.org.ID, To: f.b.staff.Email, Subject: "B's", Status: "sent"},
			} {
				must[store.Delivery](t)(f.s.Accounts().RecordDelivery(ctx, d))
			}
			must[store.Hold](t)(f.s.CreateHold(ctx, own, store.Hold{Target: store.HoldMember, TargetID: f.a.admin.ID, Reason: "dispute", OwnerID: f.a.owner.ID}))
			// Sessions and MFA-step tokens expiring in an hour: A's staff's
			// (due), A's admin's (held), B's (B keeps sessions).
			for i, w := range []struct {
				org string
				m   keycab.Member
			}{{f.a.org.ID, f.a.staff}, {f.a.org.ID, f.a.admin}, {f.b.org.ID, f.b.staff}} {
				acct := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: fmt.Sprintf("acct%d@retain.test", i)}))
				MustNoErr(t, f.s.Accounts().LinkMember(ctx, acct.ID, w.org, w.m.ID))
				must[store.Session](t)(f.s.Accounts().CreateSession(ctx, store.Session{AccountID: acct.ID, OrgID: w.org, MemberID: w.m.ID,
					AccessHash: fmt.Appendf(nil, "access %d", i), RefreshHash: fmt.Appendf(nil, "refresh %d", i), ExpiresAt: time.Now().Add(time.Hour)}))
				must[store.AuthToken](t)(f.s.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: fmt.Appendf(nil, "token %d", i), Purpose: store.PurposeMFA,
					AccountID: acct.ID, OrgID: w.org, MemberID: w.m.ID, ExpiresAt: time.Now().Add(time.Hour)}))
			}

			clock := time.Now()
			later, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: testNotesKey(), Now: func() time.Time { return clock }})
			MustNoErr(t, err)
			t.Cleanup(func() { later.Close() })

			// 29 days on nothing is due; 31 days on A's unheld mail goes.
			clock = clock.Add(29 * 24 * time.Hour)
			if run := must[store.RetentionRun](t)(later.ApplyRetention(ctx, f.a.org.ID)); run != (store.RetentionRun{}) {
				t.Fatalf("29 days on, retention deleted %+v", run)
			}
			// The admin log's details go but those about the held admin.
			var details int64
			for _, a := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 1000)) {
				if a.Detail != "" && a.Target != f.a.admin.ID {
					details++
				}
			}
			bLog := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.b.as(f.b.owner), 1000))
			clock = clock.Add(2 * 24 * time.Hour)
			run := must[store.RetentionRun](t)(later.ApplyRetention(ctx, f.a.org.ID))
			if want := (store.RetentionRun{Deliveries: 1, Sessions: 1, Tokens: 1, AdminDetails: details}); run != want || details == 0 {
				t.Fatalf("retention deleted %+v, want %+v", run, want)
			}
			for _, a := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 1000)) {
				switch {
				case a.Action == "retention.run":
				case a.Target == f.a.admin.ID && (a.Detail == store.AdminDetailRemoved || a.Detail == ""):
					t.Errorf("held admin's %s lost its detail %q", a.Action, a.Detail)
				case a.Target != f.a.admin.ID && a.Detail != "" && a.Detail != store.AdminDetailRemoved:
					t.Errorf("%s on %s kept its detail %q", a.Action, a.Target, a.Detail)
				}
			}
			if got := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.b.as(f.b.owner), 1000)); !slices.Equal(got, bLog) {
				t.Errorf("A's retention changed B's admin log")
			}
			// The triggers allow that one change and nothing else.
			db := openRaw(t, f.appDSN, f.a.org.ID)
			for _, q := range []string{"UPDATE admin_log SET detail = 'forged' WHERE org_id = $1", "UPDATE admin_log SET action = 'x', detail = 'removed by retention' WHERE org_id = $1 AND detail <> 'removed by retention'"} {
				if _, err := db.ExecContext(ctx, q, f.a.org.ID); err == nil {
					t.Errorf("%s: allowed", q)
				}
			}
			for i, want := range []string{keycab.EUNAUTHORIZED, "", ""} {
				if _, err := f.s.Accounts().SessionByAccess(ctx, fmt.Appendf(nil, "access %d", i)); keycab.ErrorCode(err) != want {
					t.Errorf("session %d after retention: %v, want %q", i, err, want)
				}
			}
			subjects := func(org string) []string {
				var out []string
				for _, d := range must[[]store.Delivery](t)(f.s.Accounts().ListDeliveries(ctx, org, 100)) {
					out = append(out, d.Subject)
				}
				return out
			}
			if got := subjects(f.a.org.ID); !slices.Equal(got, []string{"held"}) {
				t.Fatalf("A's deliveries after retention: %v, want only the held one", got)
			}
			if got := subjects(f.b.org.ID); !slices.Equal(got, []string{"B's"}) {
				t.Fatalf("A's retention touched B's deliveries: %v", got)
			}
			var logged bool
			for _, a := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 1000)) {
				logged = logged || (a.Action == "retention.run" && strings.Contains(a.Detail, `"Deliveries":1`))
			}
			if !logged {
				t.Fatal("no retention.run in the admin log")
			}
			// The background job's entry point runs every organisation.
			MustNoErr(t, later.RunRetention(ctx))
			if got := subjects(f.b.org.ID); len(got) != 0 {
				t.Fatalf("B's deliveries after RunRetention: %v", got)
			}
		})
	}
}

// lifecycleContractCases are the contract cases of erasure, legal holds
// and retention (schema version 18).
func lifecycleContractCases() []contractCase {
	ctx := context.Background()
	return []contractCase{
		{"id swap: erase member", func(t *testing.T, f *fixture) {
			sameMiss(t, "member", func(id string) error { return f.s.EraseMember(ctx, f.a.as(f.a.owner), id) }, f.b.staff.ID)
			if got := must[keycab.Member](t)(f.s.GetMember(ctx, f.b.as(f.b.owner), f.b.staff.ID)); !got.ErasedAt.IsZero() || got.Name == "" {
				t.Fatalf("A erased B's member: %+v", got)
			}
		}},
		{"id swap: legal hold targets and owner", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			for name, h := range map[string]store.Hold{
				"member":  {Target: store.HoldMember, TargetID: f.b.staff.ID, Reason: "x", OwnerID: f.a.admin.ID},
				"key set": {Target: store.HoldKeySet, TargetID: f.b.ks1.ID, Reason: "x", OwnerID: f.a.admin.ID},
				"site":    {Target: store.HoldSite, TargetID: f.b.site1.ID, Reason: "x", OwnerID: f.a.admin.ID},
				"owner":   {Target: store.HoldSite, TargetID: f.a.site1.ID, Reason: "x", OwnerID: f.b.admin.ID},
			} {
				if _, err := f.s.CreateHold(ctx, own, h); keycab.ErrorCode(err) != keycab.ENOTFOUND {
					t.Errorf("A holds B's %s: %v, want not found", name, err)
				}
			}
			bh := must[store.Hold](t)(f.s.CreateHold(ctx, f.b.as(f.b.owner), store.Hold{Target: store.HoldSite, TargetID: f.b.site1.ID, Reason: "B's", OwnerID: f.b.admin.ID}))
			sameMiss(t, "hold", func(id string) error { _, err := f.s.EndHold(ctx, own, id); return err }, bh.ID)
			if hs := must[[]store.Hold](t)(f.s.ListHolds(ctx, own)); len(hs) != 0 {
				t.Fatalf("A lists B's holds: %v", hs)
			}
			if hs := must[[]store.Hold](t)(f.s.ListHolds(ctx, f.b.as(f.b.owner))); len(hs) != 1 || !hs[0].Active(time.Now()) {
				t.Fatalf("B's hold changed: %v", hs)
			}
			if cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, f.a.kiosk())); len(cfg.Held) != 0 {
				t.Fatalf("A's bundle carries B's hold: %v", cfg.Held)
			}
		}},
		{"tenant: retention rules and runs", func(t *testing.T, f *fixture) {
			MustNoErr(t, f.s.SetRetention(ctx, f.a.as(f.a.owner), store.Retention{DeliveriesDays: 1}))
			if got := must[store.Retention](t)(f.s.GetRetention(ctx, f.b.as(f.b.owner))); got != (store.Retention{}) {
				t.Fatalf("B sees A's rules: %+v", got)
			}
			must[store.Delivery](t)(f.s.Accounts().RecordDelivery(ctx, store.Delivery{Kind: "notice", OrgID: f.b.org.ID, To: "x@b.test", Subject: "B", Status: "sent"}))
			clock := time.Now().Add(48 * time.Hour)
			later, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: testNotesKey(), Now: func() time.Time { return clock }})
			MustNoErr(t, err)
			defer later.Close()
			must[store.RetentionRun](t)(later.ApplyRetention(ctx, f.a.org.ID))
			if ds := must[[]store.Delivery](t)(f.s.Accounts().ListDeliveries(ctx, f.b.org.ID, 10)); len(ds) != 1 {
				t.Fatalf("A's retention removed B's mail: %v", ds)
			}
		}},
	}
}

// TestPersonalTextsLifecycle: erasing a member deletes the personal texts
// HQ keeps of them, and the personal-text rule deletes those of old
// entries but the ones a hold covers; another organisation's stay, and
// neither touches a leaf of HQ's copies of the kiosks' logs or an event.
func TestPersonalTextsLifecycle(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, e)
			own := f.a.as(f.a.owner)
			staff := mustPushTake(t, f.s, f.a, f.a.staff, "Dana Buyer", "back door", true)
			held := mustPushTake(t, f.s, f.a, f.a.admin, "Held Recipient", "held note", true)
			erased := mustPushTake(t, f.s, f.a, f.a.contractor, "Eve Tenant", "flat 2", true)
			other := mustPushTake(t, f.s, f.b, f.b.staff, "B's Recipient", "B's note", true)

			// What erasure and retention never touch: the leaves HQ holds
			// of each kiosk's log, and the events.
			kept := func() string {
				var b strings.Builder
				for _, p := range []pushedTake{staff, held, erased} {
					fmt.Fprintf(&b, "%s %x\n", p.kiosk, must[[][]byte](t)(f.s.KioskLogs().KioskLeaves(ctx, own, p.kiosk, 0, 2)))
				}
				for _, e := range must[[]store.Event](t)(f.s.ListEvents(ctx, f.a.as(f.a.auditor), store.EventFilter{})) {
					fmt.Fprintf(&b, "%s %d %s %s %s\n", e.KioskID, e.LogIndex, e.Kind, e.ActorID, e.KeySetID)
				}
				return b.String()
			}
			leavesBefore := kept()
			if strings.Count(leavesBefore, "key.taken") != 3 {
				t.Fatalf("the fixture's events:\n%s", leavesBefore)
			}

			MustNoErr(t, f.s.EraseMember(ctx, own, f.a.contractor.ID))
			if r, n, _ := takeTexts(t, f.s, own, erased.kiosk); r != "" || n != "" {
				t.Fatalf("erased member's texts still read %q, %q", r, n)
			}
			if r, _, _ := takeTexts(t, f.s, own, staff.kiosk); r != "Dana Buyer" {
				t.Fatalf("another member's text after the erasure: %q", r)
			}

			must[store.Hold](t)(f.s.CreateHold(ctx, own, store.Hold{Target: store.HoldMember, TargetID: f.a.admin.ID, Reason: "dispute", OwnerID: f.a.owner.ID}))
			MustNoErr(t, f.s.SetRetention(ctx, own, store.Retention{PersonalTextDays: 90}))
			MustNoErr(t, f.s.SetRetention(ctx, f.b.as(f.b.owner), store.Retention{PersonalTextDays: 90}))
			clock := time.Now()
			later, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: testNotesKey(), Now: func() time.Time { return clock }})
			MustNoErr(t, err)
			t.Cleanup(func() { later.Close() })
			clock = clock.Add(89 * 24 * time.Hour)
			if run := must[store.RetentionRun](t)(later.ApplyRetention(ctx, f.a.org.ID)); run.Texts != 0 {
				t.Fatalf("89 days on, retention deleted %d texts", run.Texts)
			}
			clock = clock.Add(2 * 24 * time.Hour)
			if run := must[store.RetentionRun](t)(later.ApplyRetention(ctx, f.a.org.ID)); run.Texts != 2 {
				t.Fatalf("91 days on, retention deleted %d texts, want the staff member's 2", run.Texts)
			}
			if r, n, _ := takeTexts(t, f.s, own, staff.kiosk); r != "" || n != "" {
				t.Fatalf("texts past retention still read %q, %q", r, n)
			}
			if r, n, _ := takeTexts(t, f.s, own, held.kiosk); r != "Held Recipient" || n != "held note" {
				t.Fatalf("held member's texts after retention: %q, %q", r, n)
			}
			if r, _, _ := takeTexts(t, f.s, f.b.as(f.b.owner), other.kiosk); r != "B's Recipient" {
				t.Fatalf("A's retention touched B's texts: %q", r)
			}
			if after := kept(); after != leavesBefore {
				t.Fatalf("erasure or retention changed leaves or events:\nbefore:\n%s\nafter:\n%s", leavesBefore, after)
			}
		})
	}
}

// TestRetentionRuleAlone: each retention rule, set alone and past due,
// deletes what it names and nothing the other rules name.
func TestRetentionRuleAlone(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, e)
			own := f.a.as(f.a.owner)
			// One of each: a text, a delivery, a session and a token
			// expiring in an hour, and the admin log's entries.
			take := mustPushTake(t, f.s, f.a, f.a.staff, "Rule Recipient", "rule note", true)
			must[store.Delivery](t)(f.s.Accounts().RecordDelivery(ctx, store.Delivery{Kind: "notice", OrgID: f.a.org.ID, To: f.a.staff.Email, Subject: "one", Status: "sent"}))
			acct := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "rule@retain.test"}))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, acct.ID, f.a.org.ID, f.a.staff.ID))
			must[store.Session](t)(f.s.Accounts().CreateSession(ctx, store.Session{AccountID: acct.ID, OrgID: f.a.org.ID, MemberID: f.a.staff.ID,
				AccessHash: []byte("rule access"), RefreshHash: []byte("rule refresh"), ExpiresAt: time.Now().Add(time.Hour)}))
			must[store.AuthToken](t)(f.s.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: []byte("rule token"), Purpose: store.PurposeMFA,
				AccountID: acct.ID, OrgID: f.a.org.ID, MemberID: f.a.staff.ID, ExpiresAt: time.Now().Add(time.Hour)}))
			clock := time.Now().Add(20 * 24 * time.Hour)
			later, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: testNotesKey(), Now: func() time.Time { return clock }})
			MustNoErr(t, err)
			t.Cleanup(func() { later.Close() })
			for _, c := range []struct {
				rule store.Retention
				what func(store.RetentionRun) int64
			}{
				{store.Retention{PersonalTextDays: 10}, func(r store.RetentionRun) int64 { return r.Texts }},
				{store.Retention{DeliveriesDays: 10}, func(r store.RetentionRun) int64 { return r.Deliveries }},
				{store.Retention{SessionsDays: 10}, func(r store.RetentionRun) int64 { return r.Sessions + r.Tokens }},
				{store.Retention{AdminDetailDays: 10}, func(r store.RetentionRun) int64 { return r.AdminDetails }},
			} {
				MustNoErr(t, f.s.SetRetention(ctx, own, c.rule))
				run := must[store.RetentionRun](t)(later.ApplyRetention(ctx, f.a.org.ID))
				if n := c.what(run); n == 0 || n != run.Texts+run.Deliveries+run.Sessions+run.Tokens+run.AdminDetails {
					t.Fatalf("rule %+v alone deleted %+v", c.rule, run)
				}
				if run := must[store.RetentionRun](t)(later.ApplyRetention(ctx, f.a.org.ID)); run != (store.RetentionRun{}) {
					t.Fatalf("rule %+v run again deleted %+v", c.rule, run)
				}
			}
			if r, n, ok := takeTexts(t, f.s, own, take.kiosk); !ok || r != "" || n != "" {
				t.Fatalf("the take after retention: %v, %q %q", ok, r, n)
			}
		})
	}
}

// TestRetentionSparesHeldKeySetAndSite: at HQ, a hold on the key set of
// an entry, or on the site of its cabinet, keeps its personal texts past
// the rule (as a hold on its member does: TestPersonalTextsLifecycle);
// once the holds end, the rule takes them.
func TestRetentionSparesHeldKeySetAndSite(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, e)
			own := f.a.as(f.a.owner)
			take := mustPushTake(t, f.s, f.a, f.a.admin, "Kept Recipient", "kept note", true) // an admin: no site of theirs is held
			MustNoErr(t, f.s.SetRetention(ctx, own, store.Retention{PersonalTextDays: 90}))
			clock := time.Now().Add(91 * 24 * time.Hour)
			later, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: testNotesKey(), Now: func() time.Time { return clock }})
			MustNoErr(t, err)
			t.Cleanup(func() { later.Close() })
			for _, h := range []store.Hold{
				{Target: store.HoldKeySet, TargetID: f.a.ks1.ID, Reason: "claim on the front door", OwnerID: f.a.admin.ID},
				{Target: store.HoldSite, TargetID: f.a.site1.ID, Reason: "site audit", OwnerID: f.a.admin.ID},
			} {
				h := must[store.Hold](t)(f.s.CreateHold(ctx, own, h))
				if run := must[store.RetentionRun](t)(later.ApplyRetention(ctx, f.a.org.ID)); run.Texts != 0 {
					t.Fatalf("under a hold on %s, retention deleted %d texts", h.Target, run.Texts)
				}
				if r, n, _ := takeTexts(t, f.s, own, take.kiosk); r != "Kept Recipient" || n != "kept note" {
					t.Fatalf("under a hold on %s the texts read %q, %q", h.Target, r, n)
				}
				must[store.Hold](t)(f.s.EndHold(ctx, own, h.ID))
			}
			if run := must[store.RetentionRun](t)(later.ApplyRetention(ctx, f.a.org.ID)); run.Texts != 2 {
				t.Fatalf("the holds ended, retention deleted %d texts, want 2", run.Texts)
			}
		})
	}
}
