package notify_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/mail/smtptest"
	"keycab.dev/keycab/hq/notify"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
)

var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// clock is a clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// engines returns a function per engine that makes a fresh migrated
// database and returns the DSN the service uses.
func engines() map[string]func(tb testing.TB) string {
	return map[string]func(tb testing.TB) string{
		"sqlite": func(tb testing.TB) string {
			dsn := "sqlite:" + filepath.Join(tb.TempDir(), "hq.db")
			mustMigrate(tb, dsn)
			return dsn
		},
		"postgres": func(tb testing.TB) string {
			d := pg.Must(tb).MustDatabase(tb)
			mustMigrate(tb, d.OwnerDSN)
			return d.AppDSN
		},
	}
}

func mustMigrate(tb testing.TB, dsn string) {
	tb.Helper()
	if err := store.Migrate(context.Background(), dsn, store.MigrateOptions{AppRole: pgtest.AppRole}); err != nil {
		tb.Fatal(err)
	}
}

func mustOpen(tb testing.TB, dsn string, c *clock) *store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{Now: c.Now, NotesKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

func mustNoErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// tenant is one organisation: an owner, a manager of each of two sites,
// a staff member, a key set and a kiosk at site 1.
type tenant struct {
	org          keycab.Org
	owner, staff keycab.Member
	site1, site2 string
	keySet       keycab.KeySet
	kiosk        store.Kiosk
}

func (tn tenant) admin() store.Scope { return store.MemberScope(tn.org.ID, tn.owner.ID) }
func (tn tenant) kioskScope() store.Scope {
	return store.KioskScope(tn.org.ID, tn.kiosk.ID)
}

func newTenant(tb testing.TB, st *store.Store, name string) tenant {
	tb.Helper()
	ctx := context.Background()
	var tn tenant
	tn.org, tn.owner = func() (keycab.Org, keycab.Member) {
		o, m, err := st.CreateOrg(ctx, store.NewOrg{Name: name, Caps: keycab.Caps{KeySets: 10, Sites: 10, Cabinets: 10, Members: 10},
			Owner: keycab.Member{Name: "Owner", Email: "owner@" + name + ".test"}})
		mustNoErr(tb, err)
		return o, m
	}()
	a := tn.admin()
	tn.site1 = must[store.Site](tb)(st.CreateSite(ctx, a, store.Site{Site: keycab.Site{Name: "one"}})).ID
	tn.site2 = must[store.Site](tb)(st.CreateSite(ctx, a, store.Site{Site: keycab.Site{Name: "two"}})).ID
	must[keycab.Member](tb)(st.CreateMember(ctx, a, keycab.Member{Name: "M1", Email: "mgr1@" + name + ".test", Role: keycab.RoleSiteManager, SiteIDs: []string{tn.site1}}))
	must[keycab.Member](tb)(st.CreateMember(ctx, a, keycab.Member{Name: "M2", Email: "mgr2@" + name + ".test", Role: keycab.RoleSiteManager, SiteIDs: []string{tn.site2}}))
	tn.staff = must[keycab.Member](tb)(st.CreateMember(ctx, a, keycab.Member{Name: "Sam Staff", Email: "staff@" + name + ".test", Role: keycab.RoleStaff}))
	cab := must[keycab.Cabinet](tb)(st.CreateCabinet(ctx, a, keycab.Cabinet{SiteID: tn.site1, Name: "Lobby", Kind: keycab.Slotted}))
	tn.keySet = must[keycab.KeySet](tb)(st.CreateKeySet(ctx, a, keycab.KeySet{SiteID: tn.site1, Label: "12 High St"}))
	tn.kiosk = must[store.Kiosk](tb)(st.CreateKiosk(ctx, a, store.Kiosk{CabinetID: cab.ID, Name: "lobby kiosk"}))
	return tn
}

// sent returns, per recipient, the subjects of the messages it received,
// sorted.
func sent(srv *smtptest.Server) map[string][]string {
	out := map[string][]string{}
	for _, m := range srv.Messages() {
		for _, to := range m.To {
			out[to] = append(out[to], m.Header.Get("Subject"))
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

// setup makes a database on one engine with organisation "acme", a store
// on it with a hand-moved clock, and an SMTP server.
// allDeliveries returns the delivery logs of every organisation and of
// accounts' own mail.
func allDeliveries(tb testing.TB, st *store.Store) []store.Delivery {
	tb.Helper()
	ctx := context.Background()
	var out []store.Delivery
	for _, org := range append(must[[]string](tb)(st.Outbox().NoticeOrgs(ctx)), "") {
		out = append(out, must[[]store.Delivery](tb)(st.Accounts().ListDeliveries(ctx, org, 1000))...)
	}
	return out
}

func setup(tb testing.TB, newDB func(testing.TB) string) (*clock, string, *store.Store, tenant, *smtptest.Server) {
	tb.Helper()
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	dsn := newDB(tb)
	st := mustOpen(tb, dsn, c)
	return c, dsn, st, newTenant(tb, st, "acme"), smtptest.Start(tb)
}

func mailer(tb testing.TB, srv *smtptest.Server) *mail.SMTPMailer {
	return must[*mail.SMTPMailer](tb)(mail.NewSMTPMailer(mail.SMTPConfig{Host: srv.Host(), Port: srv.Port(),
		Security: mail.SMTPNone, From: "hq@keycab.test", Timeout: 5 * time.Second}))
}

// TestNotices, on both engines with a hand-moved clock: an alarm, an
// overdue key, kiosks going offline and one coming back each make one
// notice, to the organisation's owner and the site's manager only (never
// the other site's manager, never another organisation), also when the
// notifier restarts and when two notifiers (two HQ processes) run rounds
// at the same time.
func TestNotices(t *testing.T) {
	for name, newDB := range engines() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c, dsn, st, a, srv := setup(t, newDB)
			b := newTenant(t, st, "bravo")
			cfg := notify.Config{OfflineAfter: 10 * time.Minute}
			n1 := must[*notify.Notifier](t)(notify.New(st, mailer(t, srv), nil, c.Now, cfg))
			// A second HQ process: its own connection pool on the same database.
			n2 := must[*notify.Notifier](t)(notify.New(mustOpen(t, dsn, c), mailer(t, srv), nil, c.Now, cfg))
			both := func() {
				t.Helper()
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, n := range []*notify.Notifier{n1, n2} {
					wg.Go(func() { errs[i] = n.Round(ctx) })
				}
				wg.Wait()
				for _, err := range errs {
					mustNoErr(t, err)
				}
			}
			// Acme has a webhook for what the notices tell.
			hook, _, err := st.Outbox().CreateWebhook(ctx, a.admin(), store.Webhook{URL: "https://hooks.acme.test/", Enabled: true,
				Events: []string{store.WebhookAlarmRaised, store.WebhookKeyOverdue, store.WebhookKioskOffline, store.WebhookKioskOnline}})
			mustNoErr(t, err)
			t0 := c.Now()
			mustNoErr(t, st.RecordEvents(ctx, a.kioskScope(), []store.Event{
				{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: a.staff.ID, KeySetID: a.keySet.ID, At: t0, DueAt: t0.Add(time.Hour)},
				{LogIndex: 1, Kind: keycab.EventAlarmRaised, At: t0, Detail: keycab.AlarmDoorForced},
			}))
			mustNoErr(t, st.RecordEvents(ctx, b.kioskScope(), []store.Event{{LogIndex: 0, Kind: keycab.EventBoot, At: t0}}))

			c.Add(time.Minute)
			both()
			both()
			alarm := "[keycab] Alarm at Lobby: " + keycab.AlarmTitle(keycab.AlarmDoorForced)
			want := map[string][]string{"owner@acme.test": {alarm}, "mgr1@acme.test": {alarm}}
			if got := sent(srv); !equal(got, want) {
				t.Fatalf("after the alarm: %v, want %v", got, want)
			}

			c.Add(time.Hour) // the key is overdue; both kiosks silent for 61 minutes
			both()
			// A restarted HQ decides nothing again.
			n3 := must[*notify.Notifier](t)(notify.New(mustOpen(t, dsn, c), mailer(t, srv), nil, c.Now, cfg))
			mustNoErr(t, n3.Round(ctx))
			overdue, offline := "[keycab] Key overdue: 12 High St", "[keycab] Kiosk offline: lobby kiosk"
			want = map[string][]string{
				"owner@acme.test":  {alarm, overdue, offline},
				"mgr1@acme.test":   {alarm, overdue, offline},
				"owner@bravo.test": {offline},
				"mgr1@bravo.test":  {offline},
			}
			if got := sent(srv); !equal(got, want) {
				t.Fatalf("after an hour: %v, want %v", got, want)
			}
			for _, m := range srv.Messages() {
				if m.To[0] == "owner@acme.test" && m.Header.Get("Subject") == overdue && !strings.Contains(m.Body, "Sam Staff took the key set") {
					t.Errorf("overdue body %q", m.Body)
				}
			}

			// Acme's kiosk is heard from again: one back-online notice.
			c.Add(time.Minute)
			mustNoErr(t, st.RecordEvents(ctx, a.kioskScope(), []store.Event{{LogIndex: 2, Kind: keycab.EventBoot, At: c.Now()}}))
			both()
			both()
			online := "[keycab] Kiosk back online: lobby kiosk"
			want["owner@acme.test"] = []string{alarm, overdue, offline, online}
			want["mgr1@acme.test"] = []string{alarm, overdue, offline, online}
			if got := sent(srv); !equal(got, want) {
				t.Fatalf("after coming back: %v, want %v", got, want)
			}

			// Silent again: a second offline notice for the new silence.
			c.Add(11 * time.Minute)
			both()
			want["owner@acme.test"] = []string{alarm, overdue, offline, offline, online}
			want["mgr1@acme.test"] = []string{alarm, overdue, offline, offline, online}
			if got := sent(srv); !equal(got, want) {
				t.Fatalf("after a second silence: %v, want %v", got, want)
			}
			// Every mail is in the delivery log as sent.
			ds := allDeliveries(t, st)
			if len(ds) != len(srv.Messages()) {
				t.Errorf("%d deliveries logged, %d messages sent", len(ds), len(srv.Messages()))
			}
			for _, d := range ds {
				if d.Status != "sent" || !strings.HasPrefix(d.Kind, "key.") && !strings.HasPrefix(d.Kind, "alarm.") && !strings.HasPrefix(d.Kind, "kiosk.") {
					t.Errorf("delivery %+v", d)
				}
			}
			// The webhook has each event once, as each notice went once
			// (the alarm from the push itself), across three notifiers.
			var types []string
			for _, d := range must[[]store.WebhookDelivery](t)(st.Outbox().ListWebhookDeliveries(ctx, a.admin(), hook.ID, 0)) {
				types = append(types, d.EventType)
				if d.EventType == store.WebhookKeyOverdue && !strings.Contains(d.Payload, `"key_set_id":"`+a.keySet.ID+`"`) {
					t.Errorf("overdue payload %s", d.Payload)
				}
			}
			slices.Sort(types)
			if want := []string{"alarm.raised", "key.overdue", "kiosk.offline", "kiosk.offline", "kiosk.online"}; !slices.Equal(types, want) {
				t.Errorf("webhook deliveries %q, want %q", types, want)
			}
		})
	}
}

func equal(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w := slices.Clone(b[k])
		slices.Sort(w)
		if !slices.Equal(v, w) {
			return false
		}
	}
	return true
}

// TestNoticeRetry: dropped connections and a refused recipient are
// recorded as failed deliveries and stay queued in the database; a new
// notifier (a restarted HQ) sends them once the server accepts them, and
// a mail that keeps failing gives up after MaxAttempts.
func TestNoticeRetry(t *testing.T) {
	for name, newDB := range engines() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c, dsn, st, a, srv := setup(t, newDB)
			cfg := notify.Config{RetryAfter: time.Minute, MaxAttempts: 3, OfflineAfter: 48 * time.Hour}
			n := must[*notify.Notifier](t)(notify.New(st, mailer(t, srv), nil, c.Now, cfg))
			mustNoErr(t, st.RecordEvents(ctx, a.kioskScope(), []store.Event{{LogIndex: 0, Kind: keycab.EventAlarmRaised, At: c.Now(), Detail: keycab.AlarmDoorForced}}))
			srv.Reject("mgr1@acme.test", true)
			srv.DropNext(2) // both first sessions end after MAIL FROM
			mustNoErr(t, n.Round(ctx))
			ds := allDeliveries(t, st)
			if len(ds) != 2 || ds[0].Status != "failed" || ds[1].Status != "failed" {
				t.Fatalf("first round deliveries %+v, want two failed", ds)
			}
			// Nothing is due before the retry time, even for a fresh process.
			n = must[*notify.Notifier](t)(notify.New(mustOpen(t, dsn, c), mailer(t, srv), nil, c.Now, cfg))
			mustNoErr(t, n.Round(ctx))
			if got := len(allDeliveries(t, st)); got != 2 {
				t.Fatalf("%d deliveries before the retry time, want 2", got)
			}
			c.Add(time.Minute)
			mustNoErr(t, n.Round(ctx)) // owner sent; manager refused again (attempt 2)
			if got := sent(srv); len(got["owner@acme.test"]) != 1 || len(got["mgr1@acme.test"]) != 0 {
				t.Fatalf("after the first retry: %v", got)
			}
			c.Add(2 * time.Minute)
			mustNoErr(t, n.Round(ctx)) // attempt 3, the last: failed for good
			c.Add(time.Hour)
			srv.Reject("mgr1@acme.test", false)
			mustNoErr(t, n.Round(ctx))
			ms := must[[]store.NoticeMail](t)(st.Outbox().ListNoticeMail(ctx, a.org.ID))
			states := map[string]string{}
			for _, m := range ms {
				states[m.To] = fmt.Sprintf("%s/%d", m.State, m.Attempts)
			}
			if states["owner@acme.test"] != "sent/2" || states["mgr1@acme.test"] != "failed/3" {
				t.Errorf("queue %v, want the owner's sent on attempt 2 and the manager's failed after 3", states)
			}
			if got := sent(srv); len(got["owner@acme.test"]) != 1 || len(got["mgr1@acme.test"]) != 0 {
				t.Errorf("sent %v", got)
			}
			var failed, ok int
			for _, d := range allDeliveries(t, st) {
				switch d.Status {
				case "failed":
					failed++
				case "sent":
					ok++
				}
			}
			if failed != 4 || ok != 1 {
				t.Errorf("delivery log: %d failed, %d sent; want 4 and 1", failed, ok)
			}
		})
	}
}

// TestNoticeDryRun: without a mailer every notice mail is a dry run in
// the delivery log and leaves the queue.
func TestNoticeDryRun(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	st := mustOpen(t, engines()["sqlite"](t), c)
	a := newTenant(t, st, "acme")
	n := must[*notify.Notifier](t)(notify.New(st, nil, nil, c.Now, notify.Config{}))
	c.Add(11 * time.Minute) // the kiosk never spoke: offline since enrolment
	mustNoErr(t, n.Round(ctx))
	mustNoErr(t, n.Round(ctx))
	ms := must[[]store.NoticeMail](t)(st.Outbox().ListNoticeMail(ctx, a.org.ID))
	if len(ms) != 2 {
		t.Fatalf("%d mails queued, want 2 (owner, site manager)", len(ms))
	}
	for _, m := range ms {
		if m.State != "dry-run" || m.Kind != store.NoticeKioskOffline {
			t.Errorf("mail %+v", m)
		}
	}
	ds := allDeliveries(t, st)
	if len(ds) != 2 || ds[0].Status != "dry-run" {
		t.Errorf("deliveries %+v", ds)
	}
}

// TestConfig: bad notifier settings are refused with a clear error.
func TestConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  notify.Config
		want string
	}{
		{notify.Config{OfflineAfter: 10 * time.Second}, "under a minute"},
		{notify.Config{Interval: -time.Second}, "negative"},
		{notify.Config{MaxAttempts: 500}, "max attempts"},
	} {
		if _, err := notify.New(nil, nil, nil, nil, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %q", c.cfg, err, c.want)
		}
	}
}

// TestAuthMailRetry: a reset link whose mail fails (a dropped connection)
// is recorded as failed, queued in the database with its body sealed (the
// link is not in the row in clear), and sent by the notifier, from a new
// process, after the retry delay.
func TestAuthMailRetry(t *testing.T) {
	for name, newDB := range engines() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c, dsn, st, _, srv := setup(t, newDB)
			must[store.Account](t)(st.Accounts().CreateAccount(ctx, store.Account{Email: "ann@example.test", Name: "Ann"}))
			smtp := mailer(t, srv)
			svc := must[*auth.Service](t)(auth.New(st, mail.Retrying{Mailer: smtp, Queue: st.Outbox(), After: time.Minute, Now: c.Now}, nil, c.Now, auth.DefaultConfig()))
			srv.DropNext(1)
			mustNoErr(t, svc.RequestReset(ctx, "ann@example.test", "192.0.2.1"))
			ds := must[[]store.Delivery](t)(st.Accounts().ListDeliveries(ctx, "", 10))
			if len(ds) != 1 || ds[0].Status != "failed" || !strings.Contains(ds[0].Error, "queued for a retry") {
				t.Fatalf("deliveries %+v, want one failed and queued", ds)
			}
			q := must[[]store.NoticeMail](t)(st.Outbox().ListMailRetries(ctx, ""))
			if len(q) != 1 || q[0].State != "pending" || q[0].Attempts != 1 || q[0].To != "ann@example.test" || strings.Contains(q[0].Body, "reset") {
				t.Fatalf("retry queue %+v", q)
			}
			n := must[*notify.Notifier](t)(notify.New(mustOpen(t, dsn, c), smtp, nil, c.Now, notify.Config{OfflineAfter: 48 * time.Hour}))
			mustNoErr(t, n.Round(ctx))
			if len(srv.Messages()) != 0 {
				t.Fatal("retried before its time")
			}
			c.Add(time.Minute)
			mustNoErr(t, n.Round(ctx))
			mustNoErr(t, n.Round(ctx))
			got := srv.Messages()
			if len(got) != 1 || got[0].Header.Get("X-Keycab-Kind") != "reset" || !strings.Contains(got[0].Body, "/reset#") {
				t.Fatalf("messages %+v, want the reset link once", got)
			}
			if q := must[[]store.NoticeMail](t)(st.Outbox().ListMailRetries(ctx, "")); q[0].State != "sent" || q[0].Attempts != 2 {
				t.Errorf("retry queue %+v", q)
			}
			if ds := must[[]store.Delivery](t)(st.Accounts().ListDeliveries(ctx, "", 10)); len(ds) != 2 || ds[0].Status != "sent" || ds[0].Kind != "reset" {
				t.Errorf("deliveries %+v", ds)
			}
		})
	}
}

// TestAuthMailNoKey: without a notes key a failed link is not queued (its
// body would have to be stored in clear), and the delivery log says so.
func TestAuthMailNoKey(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	st, err := store.Open(ctx, engines()["sqlite"](t), store.Options{Now: c.Now})
	mustNoErr(t, err)
	defer st.Close()
	srv := smtptest.Start(t)
	srv.Reject("ann@example.test", true)
	r := mail.Retrying{Mailer: mailer(t, srv), Queue: st.Outbox(), After: time.Minute}
	d := mail.Attempt(ctx, r, mail.Message{Kind: "magic", To: "ann@example.test", Subject: "s", Body: "https://hq.test/magic#secret"})
	if d.Status != "failed" || !strings.Contains(d.Error, "not queued") {
		t.Fatalf("delivery %+v", d)
	}
	if q := must[[]store.NoticeMail](t)(st.Outbox().ListMailRetries(ctx, "")); len(q) != 0 {
		t.Fatalf("queued without a key: %+v", q)
	}
}

// BenchmarkIdleRound: one notifier round over 100 organisations once
// every notice is decided and sent (the steady state): what a round costs
// the database every Interval.
//
//	go test -run '^$' -bench IdleRound -benchtime 20x ./hq/notify/
func BenchmarkIdleRound(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
			st := mustOpen(b, engines()[name](b), c)
			for i := range 100 {
				newTenant(b, st, fmt.Sprintf("org%03d", i))
			}
			n := must[*notify.Notifier](b)(notify.New(st, nil, nil, c.Now, notify.Config{}))
			c.Add(time.Hour) // every kiosk offline: 100 notices, 200 dry-run mails
			mustNoErr(b, n.Round(ctx))
			if d := allDeliveries(b, st); len(d) != 200 {
				b.Fatalf("%d deliveries, want 200", len(d))
			}
			for b.Loop() {
				mustNoErr(b, n.Round(ctx))
			}
		})
	}
}

// TestConfigBehindNotice: a kiosk that has not applied the config HQ
// issued it within ConfigBehindAfter gets one notice per version; one
// that applies it in time gets none.
func TestConfigBehindNotice(t *testing.T) {
	for name, newDB := range engines() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c, _, st, a, srv := setup(t, newDB)
			tok, _, err := st.CreateEnrolToken(ctx, a.admin(), a.kiosk.CabinetID, 0)
			mustNoErr(t, err)
			k, _, err := st.Enrol(ctx, tok, make([]byte, 32), "hall kiosk", func(id string) (string, string, error) {
				return "keycab.test/" + id, "keycab.test/" + id + "+00000000+AQ", nil
			})
			mustNoErr(t, err)
			ks := store.KioskScope(a.org.ID, k.ID)
			n := must[*notify.Notifier](t)(notify.New(st, mailer(t, srv), nil, c.Now, notify.Config{OfflineAfter: 48 * time.Hour, ConfigBehindAfter: 10 * time.Minute}))
			beat := func(version int64) {
				t.Helper()
				mustNoErr(t, st.KioskLogs().RecordHeartbeat(ctx, ks, store.Heartbeat{At: c.Now(), ConfigVersion: version}))
			}
			behind := "[keycab] Kiosk behind on its config: hall kiosk"
			count := func() int {
				got := 0
				for _, subjects := range sent(srv) {
					for _, s := range subjects {
						if s == behind {
							got++
						}
					}
				}
				return got
			}
			v1, err := st.KioskLogs().IssueConfigVersion(ctx, ks, []byte("one"))
			mustNoErr(t, err)
			c.Add(time.Minute)
			beat(v1) // applied in time
			c.Add(20 * time.Minute)
			mustNoErr(t, n.Round(ctx))
			if got := count(); got != 0 {
				t.Fatalf("%d config-behind mails for a kiosk that applied its config", got)
			}
			v2, err := st.KioskLogs().IssueConfigVersion(ctx, ks, []byte("two"))
			mustNoErr(t, err)
			c.Add(9 * time.Minute)
			beat(v1)
			mustNoErr(t, n.Round(ctx))
			if got := count(); got != 0 {
				t.Fatalf("a notice 9 minutes behind: %d mails", got)
			}
			c.Add(2 * time.Minute)
			beat(v1)
			mustNoErr(t, n.Round(ctx))
			mustNoErr(t, n.Round(ctx))
			if got := count(); got == 0 {
				t.Fatalf("no notice 11 minutes behind (v%d applied, v%d issued): %v", v1, v2, sent(srv))
			}
			first := count()
			for _, m := range srv.Messages() {
				if m.Header.Get("Subject") == behind && !strings.Contains(m.Body, "has not applied it") {
					t.Errorf("body %q", m.Body)
				}
			}
			beat(v2)
			c.Add(time.Hour)
			beat(v2)
			mustNoErr(t, n.Round(ctx))
			if got := count(); got != first {
				t.Fatalf("more notices once up to date: %d, want %d", got, first)
			}
		})
	}
}
