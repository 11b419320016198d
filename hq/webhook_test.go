package hq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/webhook"
)

// receiver is a webhook endpoint on loopback that checks every request
// with the Standard Webhooks project's own Go library (an implementation
// independent of HQ's signer): each signature in webhook-signature must
// verify under one of the secrets the test says are valid, every valid
// secret must have signed it, and the timestamp must be within the
// library's tolerance of now.
type receiver struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	secrets []string // the secrets that must each have signed
	status  int      // what to answer
	got     []received
	bad     []string // why requests failed verification
}

type received struct {
	id, typ string
	ts      string
	sigs    int
	body    map[string]any
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{t: t, status: 200}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := rc.verify(body, r.Header); err != nil {
		rc.bad = append(rc.bad, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		rc.bad = append(rc.bad, "body: "+err.Error())
	}
	typ, _ := m["type"].(string)
	rc.got = append(rc.got, received{id: r.Header.Get("webhook-id"), typ: typ, ts: r.Header.Get("webhook-timestamp"),
		sigs: len(strings.Fields(r.Header.Get("webhook-signature"))), body: m})
	w.WriteHeader(rc.status)
}

// verify checks one request as the receiver's doc says.
func (rc *receiver) verify(body []byte, h http.Header) error {
	if r := h.Get("Content-Type"); r != "application/json" {
		return fmt.Errorf("content type %q", r)
	}
	if len(rc.secrets) == 0 {
		return errors.New("the test gave the receiver no secret")
	}
	sigs := strings.Fields(h.Get("webhook-signature"))
	if len(sigs) == 0 {
		return errors.New("no signature")
	}
	signed := make([]bool, len(rc.secrets))
	for _, sig := range sigs {
		one := h.Clone()
		one.Set("webhook-signature", sig)
		ok := false
		for i, s := range rc.secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			if err != nil {
				return err
			}
			if wh.Verify(body, one) == nil {
				ok, signed[i] = true, true
			}
		}
		if !ok {
			return fmt.Errorf("signature %s of %s verifies under no valid secret", sig, h.Get("webhook-id"))
		}
	}
	for i, s := range signed {
		if !s {
			return fmt.Errorf("valid secret %d did not sign %s", i, h.Get("webhook-id"))
		}
	}
	return nil
}

func (rc *receiver) set(status int, secrets ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status, rc.secrets = status, secrets
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		rc.t.Fatalf("requests failed verification: %q", rc.bad)
	}
	return slices.Clone(rc.got)
}

// loopback is the allow-list the tests give the sender: 127.0.0.1 only.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// newSender is a sender on e's store and clock that may post to
// allow; retries wait a minute, doubled.
func newSender(tb testing.TB, e *env, allow []netip.Prefix) *webhook.Sender {
	tb.Helper()
	return newSenderAt(tb, e, e.clock.Now, allow)
}

// newSenderAt is newSender with the clock now (the store's).
func newSenderAt(tb testing.TB, e *env, now func() time.Time, allow []netip.Prefix) *webhook.Sender {
	tb.Helper()
	s, err := webhook.New(e.st, newLogger(e.logs), now, webhook.Config{Allow: allow, RetryAfter: time.Minute, MaxDelay: time.Hour,
		Timeout: 10 * time.Second, Lease: time.Minute, MaxAttempts: 5})
	MustNoErr(tb, err)
	return s
}

// realClock is a settable clock that starts at the wall clock's second,
// so the receiver's tolerance check (five minutes of now) holds while a
// test advances it a few minutes.
func realClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

// mustDeliveries returns the webhook's delivery log, newest first.
func mustDeliveries(tb testing.TB, e *env, u *user, hookID string) []any {
	tb.Helper()
	r := MustStatus(tb, e.do(tb, "GET", "/v1/webhooks/"+hookID+"/deliveries", u.access, nil), 200)
	ds, _ := r.body["deliveries"].([]any)
	return ds
}

func field(v any, name string) any { m, _ := v.(map[string]any); return m[name] }

// Webhooks end to end on both engines: an owner registers a receiver on
// loopback through the API and gets its secret once; custody changes and
// an alarm pushed by a kiosk, a custody change at HQ, a config applied
// and a test event reach it, each signed as the Standard Webhooks
// library verifies; after a rotation every delivery carries both
// signatures and each verifies under its own secret; the secret is in no
// answer but the two, in no log, and the admin log has every change with
// its before and after.
func TestWebhookDelivery(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, eng.dsn(t), realClock(), nil)
			w := e.mustCustodyWorld(t, "Acme")
			rc := newReceiver(t)
			o := w.owner.access
			r := MustStatus(t, e.do(t, "POST", "/v1/webhooks", o, map[string]any{"url": rc.srv.URL + "/hook?token=abc", "description": "Access control",
				"events": []string{"custody.changed", "alarm.raised", "kiosk.config_applied"}}), 201)
			secret := r.str("secret")
			hook, _ := r.body["webhook"].(map[string]any)
			id, _ := hook["id"].(string)
			if !strings.HasPrefix(secret, "whsec_") || id == "" || hook["enabled"] != true {
				t.Fatalf("create: %s", r.raw)
			}
			rc.set(200, secret)
			sender := newSender(t, e, loopback)

			// A kiosk pushes a take, a return and an alarm.
			ctx := context.Background()
			ks := store.KioskScope(w.owner.orgID, w.kiosk.ID)
			at := e.clock.Now()
			MustNoErr(t, e.st.RecordEvents(ctx, ks, []store.Event{
				{LogIndex: 8, Kind: keycab.EventKeyTaken, ActorID: w.staff.memberID, KeySetID: w.ks[0].ID, CabinetID: w.cab.ID, At: at, DueAt: at.Add(time.Hour)},
				{LogIndex: 9, Kind: keycab.EventKeyReturned, ActorID: w.staff.memberID, KeySetID: w.ks[0].ID, CabinetID: w.cab.ID, At: at.Add(time.Minute)},
				{LogIndex: 10, Kind: keycab.EventAlarmRaised, CabinetID: w.cab.ID, Detail: keycab.AlarmDoorHeld, At: at.Add(2 * time.Minute)},
			}))
			// The same push again changes nothing: no second delivery.
			MustNoErr(t, e.st.RecordEvents(ctx, ks, []store.Event{
				{LogIndex: 10, Kind: keycab.EventAlarmRaised, CabinetID: w.cab.ID, Detail: keycab.AlarmDoorHeld, At: at.Add(2 * time.Minute)}}))
			// A take at HQ, from a phone.
			MustStatus(t, e.do(t, "POST", "/v1/custody", w.staff.access, map[string]string{"request_id": requestID(t, 1), "token": w.token, "action": "take", "reason": "viewing"}), 200)
			// The kiosk applies config version 5, then reports it again.
			for range 2 {
				MustNoErr(t, e.st.KioskLogs().RecordHeartbeat(ctx, ks, store.Heartbeat{ConfigVersion: 5}))
			}
			MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/test", o, nil), 202)
			MustNoErr(t, sender.Round(ctx))

			got := rc.received()
			var types []string
			for _, g := range got {
				types = append(types, g.typ)
				if g.sigs != 1 {
					t.Errorf("%s: %d signatures, want 1", g.id, g.sigs)
				}
			}
			want := []string{"alarm.raised", "custody.changed", "custody.changed", "custody.changed", "kiosk.config_applied", "webhook.test"}
			slices.Sort(types)
			if !slices.Equal(types, want) {
				t.Fatalf("received %q, want %q", types, want)
			}
			for _, g := range got {
				data, _ := g.body["data"].(map[string]any)
				if g.typ == "custody.changed" && data["kind"] == "key.taken" && data["kiosk_id"] == "" && data["actor_id"] != w.staff.memberID {
					t.Errorf("HQ take: %v", g.body)
				}
				if g.typ == "alarm.raised" && data["alarm"] != string(keycab.AlarmDoorHeld) {
					t.Errorf("alarm: %v", g.body)
				}
			}
			for _, d := range mustDeliveries(t, e, w.owner, id) {
				if field(d, "state") != "delivered" || field(d, "attempts") != float64(1) || field(d, "last_status") != float64(200) {
					t.Errorf("delivery log: %v", d)
				}
			}

			// Rotation: the new secret is answered once; both sign.
			r = MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/rotate", o, map[string]any{"keep_old_seconds": 60}), 200)
			newSecret := r.str("secret")
			if newSecret == secret || !strings.HasPrefix(newSecret, "whsec_") {
				t.Fatalf("rotate: %s", r.raw)
			}
			rc.set(200, newSecret, secret)
			MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/test", o, nil), 202)
			MustNoErr(t, sender.Round(ctx))
			got = rc.received()
			if last := got[len(got)-1]; last.typ != "webhook.test" || last.sigs != 2 {
				t.Fatalf("after rotation: %+v", last)
			}
			// Once the old secret's minute is over, only the new one signs.
			e.clock.Advance(61 * time.Second)
			rc.set(200, newSecret)
			MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/test", o, nil), 202)
			MustNoErr(t, sender.Round(ctx))
			if last := rc.received()[len(rc.received())-1]; last.sigs != 1 {
				t.Fatalf("after the old secret's end: %d signatures", last.sigs)
			}

			// Change, disable, and the admin log.
			MustStatus(t, e.do(t, "PUT", "/v1/webhooks/"+id, o, map[string]any{"url": rc.srv.URL + "/v2", "events": []string{"key.overdue"}, "enabled": false}), 200)
			if g := MustStatus(t, e.do(t, "GET", "/v1/webhooks/"+id, o, nil), 200); g.body["enabled"] != false || g.str("url") != rc.srv.URL+"/v2" {
				t.Fatalf("after update: %s", g.raw)
			}
			MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/test", o, nil), 409)
			MustStatus(t, e.do(t, "DELETE", "/v1/webhooks/"+id, o, nil), 204)
			log := MustStatus(t, e.do(t, "GET", "/v1/admin-log", o, nil), 200)
			details := map[string]string{}
			for _, a := range items(t, log, "actions") {
				if a["target"] == id {
					details[a["action"].(string)] = a["detail"].(string)
				}
			}
			for action, want := range map[string]string{
				"webhook.create":        `{"before":null,"after":{"url":"` + rc.srv.URL + `/hook?…","description":"Access control","events":["alarm.raised","custody.changed","kiosk.config_applied"],"enabled":true}}`,
				"webhook.update":        `{"before":{"url":"` + rc.srv.URL + `/hook?…","description":"Access control","events":["alarm.raised","custody.changed","kiosk.config_applied"],"enabled":true},"after":{"url":"` + rc.srv.URL + `/v2","description":"","events":["key.overdue"],"enabled":false}}`,
				"webhook.delete":        `{"before":{"url":"` + rc.srv.URL + `/v2","description":"","events":["key.overdue"],"enabled":false},"after":null}`,
				"webhook.rotate_secret": `"after":{"old_secret_valid_until":`,
				"webhook.test":          "msg_",
			} {
				if !strings.Contains(details[action], want) {
					t.Errorf("admin log's %s: %q, want %q", action, details[action], want)
				}
			}
			if strings.Contains(log.raw, "token=abc") {
				t.Error("the admin log has the URL's query")
			}
			for _, s := range []string{secret, newSecret, strings.TrimPrefix(secret, "whsec_"), strings.TrimPrefix(newSecret, "whsec_")} {
				if strings.Contains(log.raw, s) || strings.Contains(e.logText(), s) {
					t.Fatal("a webhook secret is in the admin log or HQ's log")
				}
			}
		})
	}
}

// A delivery survives HQ's restart mid-retry: the receiver answers 500,
// the first HQ records the failed attempt and a retry; a second attempt
// leased by it is cut off by its stopping (no outcome recorded); a new HQ
// on the same database, once the retry and the lease are due, delivers
// it, with the same message id.
func TestWebhookSurvivesRestart(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			dsn, c := eng.dsn(t), realClock()
			e := newEnvOn(t, dsn, c, nil)
			owner := e.MustSignup(t, "Acme", "owner@acme.test")
			rc := newReceiver(t)
			r := MustStatus(t, e.do(t, "POST", "/v1/webhooks", owner.access, map[string]any{"url": rc.srv.URL, "events": []string{"custody.changed"}}), 201)
			secret, id := r.str("secret"), field(r.body["webhook"], "id").(string)
			rc.set(http.StatusInternalServerError, secret)
			MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/test", owner.access, nil), 202)
			ctx := context.Background()
			MustNoErr(t, newSender(t, e, loopback).Round(ctx))
			ds := mustDeliveries(t, e, owner, id)
			if len(ds) != 1 || field(ds[0], "state") != "pending" || field(ds[0], "attempts") != float64(1) || field(ds[0], "last_status") != float64(500) ||
				field(ds[0], "next_attempt_at") == nil {
				t.Fatalf("after a 500: %v", ds)
			}
			// The retry falls due; this HQ leases it and stops before it
			// posts.
			c.Advance(time.Minute)
			taken, err := e.st.Outbox().TakeWebhookDeliveries(ctx, owner.orgID, time.Minute, 10)
			MustNoErr(t, err)
			if len(taken) != 1 || taken[0].Attempt != 2 {
				t.Fatalf("leased %+v", taken)
			}
			e.srv.Close()
			MustNoErr(t, e.st.Close())

			// A new HQ on the same database.
			rc.set(http.StatusOK, secret)
			e2 := newEnvOn(t, dsn, c, nil)
			s2 := newSender(t, e2, loopback)
			MustNoErr(t, s2.Round(ctx))
			if n := len(rc.received()); n != 1 {
				t.Fatalf("the lease of the stopped HQ did not hold: %d requests", n)
			}
			c.Advance(time.Minute + time.Second)
			MustNoErr(t, s2.Round(ctx))
			got := rc.received()
			if len(got) != 2 || got[0].id != got[1].id {
				t.Fatalf("received %+v", got)
			}
			owner2 := &user{email: owner.email, password: goodPassword}
			e2.MustLogin(t, owner2)
			ds = mustDeliveries(t, e2, owner2, id)
			if field(ds[0], "state") != "delivered" || field(ds[0], "attempts") != float64(3) || field(ds[0], "id") != got[0].id {
				t.Fatalf("after the restart: %v", ds)
			}
			// Resend: the same message id, a new series of attempts.
			MustStatus(t, e2.do(t, "POST", "/v1/webhooks/"+id+"/deliveries/"+got[0].id+"/resend", owner2.access, nil), 202)
			MustNoErr(t, s2.Round(ctx))
			if got = rc.received(); len(got) != 3 || got[2].id != got[0].id {
				t.Fatalf("resend: %+v", got)
			}
		})
	}
}

// Two senders on one database (two HQ processes: two stores, two
// connection pools) never send one attempt twice: 30 deliveries, both
// running rounds at once until all are delivered, then 20 more with both
// senders' loops running, and each message id arrives exactly once. A
// lease held by one is not taken by the other, and an outcome recorded
// after the lease passed on is refused.
func TestWebhookTwoSenders(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			dsn, c := eng.dsn(t), realClock()
			e := newEnvOn(t, dsn, c, nil)
			e2 := newEnvOn(t, dsn, c, nil)
			owner := e.MustSignup(t, "Acme", "owner@acme.test")
			rc := newReceiver(t)
			r := MustStatus(t, e.do(t, "POST", "/v1/webhooks", owner.access, map[string]any{"url": rc.srv.URL, "events": []string{"custody.changed"}}), 201)
			secret, id := r.str("secret"), field(r.body["webhook"], "id").(string)
			rc.set(200, secret)
			const n = 30
			for range n {
				MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/test", owner.access, nil), 202)
			}
			ctx := context.Background()
			a, b := newSender(t, e, loopback), newSender(t, e2, loopback)
			for round := 0; len(rc.received()) < n; round++ {
				if round == 20 {
					t.Fatalf("after 20 rounds each, %d of %d received", len(rc.received()), n)
				}
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, s := range []*webhook.Sender{a, b} {
					wg.Go(func() { errs[i] = s.Round(ctx) })
				}
				wg.Wait()
				MustNoErr(t, errors.Join(errs...))
			}
			seen := map[string]bool{}
			for _, g := range rc.received() {
				if seen[g.id] {
					t.Errorf("%s received twice", g.id)
				}
				seen[g.id] = true
			}
			for _, d := range mustDeliveries(t, e, owner, id) {
				if field(d, "state") != "delivered" || field(d, "attempts") != float64(1) {
					t.Errorf("delivery %v", d)
				}
			}

			// The same with both senders' loops running (as serve runs
			// them), woken as the API wakes them.
			const more = 20
			for range more {
				MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/test", owner.access, nil), 202)
			}
			lctx, stop := context.WithCancel(ctx)
			var loops sync.WaitGroup
			for _, st := range []*env{e, e2} {
				s, err := webhook.New(st.st, nil, c.Now, webhook.Config{Allow: loopback, Interval: 10 * time.Millisecond, Timeout: 10 * time.Second, Lease: time.Minute})
				MustNoErr(t, err)
				loops.Go(func() { s.Run(lctx) })
				s.Wake()
			}
			for i := 0; len(rc.received()) < n+more; i++ {
				if i == 3000 {
					t.Fatalf("the loops delivered %d of %d", len(rc.received())-n, more)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Received is not yet recorded: a sender writes the outcome
			// after the answer, so wait for every delivery's record
			// before stopping the loops (a lease cut short here would
			// come back as a second attempt below).
			for i := 0; ; i++ {
				done := 0
				for _, d := range mustDeliveries(t, e, owner, id) {
					if field(d, "state") == "delivered" {
						done++
					}
				}
				if done == n+more {
					break
				}
				if i == 3000 {
					t.Fatalf("%d of %d deliveries recorded as delivered", done, n+more)
				}
				time.Sleep(10 * time.Millisecond)
			}
			stop()
			loops.Wait()
			seen = map[string]bool{}
			for _, g := range rc.received() {
				if seen[g.id] {
					t.Errorf("%s received twice", g.id)
				}
				seen[g.id] = true
			}

			// Leases: one more delivery, leased by the first store.
			MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/test", owner.access, nil), 202)
			la, err := e.st.Outbox().TakeWebhookDeliveries(ctx, owner.orgID, time.Minute, 10)
			MustNoErr(t, err)
			lb, err := e2.st.Outbox().TakeWebhookDeliveries(ctx, owner.orgID, time.Minute, 10)
			MustNoErr(t, err)
			if len(la) != 1 || len(lb) != 0 {
				t.Fatalf("leased %d and %d", len(la), len(lb))
			}
			c.Advance(time.Minute)
			lb, err = e2.st.Outbox().TakeWebhookDeliveries(ctx, owner.orgID, time.Minute, 10)
			MustNoErr(t, err)
			if len(lb) != 1 || lb[0].Attempt != 2 {
				t.Fatalf("after the lease: %+v", lb)
			}
			if err := e.st.Outbox().FinishWebhookDelivery(ctx, la[0], store.WebhookResult{Delivered: true, Status: 200}); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("finishing a lost lease: %v", err)
			}
			MustNoErr(t, e2.st.Outbox().FinishWebhookDelivery(ctx, lb[0], store.WebhookResult{Delivered: true, Status: 200}))
		})
	}
}

// Targets an attacker might point a webhook at to reach HQ's own network
// are refused when HQ connects, without the allow-list: 127.0.0.1, [::1],
// 169.254.169.254, 10.0.0.1, a name that resolves to loopback
// (localhost), and a redirect from an allowed endpoint to another (never
// followed). With 127.0.0.1 allowed, the loopback receiver gets its
// deliveries; the others stay refused.
func TestWebhookSSRF(t *testing.T) {
	e := newEnvOn(t, engines()[0].dsn(t), realClock(), nil)
	owner := e.MustSignup(t, "Acme", "owner@acme.test")
	rc := newReceiver(t)
	port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":")+1:]
	inner := newReceiver(t) // where a redirect points: must get nothing
	named := newReceiver(t) // reached by the name localhost
	namedPort := named.srv.URL[strings.LastIndex(named.srv.URL, ":")+1:]
	redirect := httptest.NewServer(http.RedirectHandler(strings.Replace(inner.srv.URL, "127.0.0.1", "localhost", 1)+"/metadata", http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	targets := map[string]string{
		"loopback v4":    rc.srv.URL,
		"loopback v6":    "http://[::1]:" + port + "/",
		"metadata":       "http://169.254.169.254/latest/meta-data/",
		"private":        "http://10.0.0.1/hook",
		"name":           "http://localhost:" + namedPort + "/",
		"redirect":       redirect.URL,
		"unique-local":   "http://[fd00::1]/",
		"link-local v6":  "http://[fe80::1]/",
		"unspecified v4": "http://0.0.0.0:" + port + "/",
	}
	ids := map[string]string{}
	secrets := map[string]string{}
	for name, u := range targets {
		r := MustStatus(t, e.do(t, "POST", "/v1/webhooks", owner.access, map[string]any{"url": u, "description": name, "events": []string{"alarm.raised"}}), 201)
		ids[name], secrets[name] = field(r.body["webhook"], "id").(string), r.str("secret")
		MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+ids[name]+"/test", owner.access, nil), 202)
	}
	rc.set(200, secrets["loopback v4"])
	named.set(200, secrets["name"])
	ctx := context.Background()
	MustNoErr(t, newSender(t, e, nil).Round(ctx))
	if n := len(rc.received()) + len(inner.received()) + len(named.received()); n != 0 {
		t.Fatalf("without the allow-list, loopback receivers got %d requests", n)
	}
	for name := range targets {
		d := mustDeliveries(t, e, owner, ids[name])[0]
		msg, _ := field(d, "last_error").(string)
		want := "refused"
		if name == "redirect" {
			want = "loopback" // the redirector itself is on loopback
		}
		if field(d, "state") != "pending" || !strings.Contains(msg, want) || field(d, "last_status") != float64(0) {
			t.Errorf("%s (%s): %v", name, targets[name], d)
		}
	}

	// The operator allows 127.0.0.1: the receivers there get their
	// deliveries, by address and by a name that resolves to it (the check
	// is of the address connected to); the redirector answers, but its
	// redirect is not followed; the other targets stay refused.
	e.clock.Advance(time.Minute)
	MustNoErr(t, newSender(t, e, loopback).Round(ctx))
	if got := rc.received(); len(got) != 1 || got[0].typ != "webhook.test" {
		t.Fatalf("allowed receiver got %+v", got)
	}
	if n := len(inner.received()); n != 0 {
		t.Fatalf("the redirect was followed: %d requests", n)
	}
	if got := named.received(); len(got) != 1 {
		t.Fatalf("receiver by name got %+v", got)
	}
	for name := range targets {
		d := mustDeliveries(t, e, owner, ids[name])[0]
		msg, _ := field(d, "last_error").(string)
		switch name {
		case "loopback v4", "name":
			if field(d, "state") != "delivered" {
				t.Errorf("%s: %v", name, d)
			}
		case "redirect":
			if field(d, "last_status") != float64(307) || !strings.Contains(msg, "redirects are not followed") {
				t.Errorf("redirect: %v", d)
			}
		default:
			if !strings.Contains(msg, "refused") {
				t.Errorf("%s with 127.0.0.1 allowed: %v", name, d)
			}
		}
	}

	// The URL's form is checked when it is given.
	for _, u := range []string{"ftp://example.com/", "https://user:pw@example.com/", "/relative", "https://example.com/#frag", "https:///nohost"} {
		r := MustStatus(t, e.do(t, "POST", "/v1/webhooks", owner.access, map[string]any{"url": u, "events": []string{"alarm.raised"}}), 400)
		if r.code() != keycab.EINVALID {
			t.Errorf("%s: %s", u, r.raw)
		}
	}
	MustStatus(t, e.do(t, "POST", "/v1/webhooks", owner.access, map[string]any{"url": "https://example.com/", "events": []string{"nope"}}), 400)
	MustStatus(t, e.do(t, "POST", "/v1/webhooks", owner.access, map[string]any{"url": "https://example.com/", "events": []string{}}), 400)
}

// Another organisation's webhooks are invisible and unchangeable, on
// both engines: listing, reading, changing, deleting, rotating, testing,
// its delivery log and resending its delivery all answer 404 to the other
// organisation's owner; a staff member of the same organisation is
// refused; events of one organisation never reach the other's endpoint.
func TestWebhookTenantIsolation(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		a, b := e.MustWorld(t, "Acme"), e.MustWorld(t, "Bolt")
		r := MustStatus(t, e.do(t, "POST", "/v1/webhooks", a.owner.access, map[string]any{"url": "https://hooks.acme.test/k", "events": []string{"custody.changed"}}), 201)
		id := field(r.body["webhook"], "id").(string)
		d := MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+id+"/test", a.owner.access, nil), 202).str("id")
		if l := MustStatus(t, e.do(t, "GET", "/v1/webhooks", b.owner.access, nil), 200); len(items(t, l, "webhooks")) != 0 {
			t.Fatalf("other org lists %s", l.raw)
		}
		body := map[string]any{"url": "https://evil.test/", "events": []string{"custody.changed"}}
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/webhooks/" + id, nil},
			{"PUT", "/v1/webhooks/" + id, body},
			{"DELETE", "/v1/webhooks/" + id, nil},
			{"POST", "/v1/webhooks/" + id + "/rotate", nil},
			{"POST", "/v1/webhooks/" + id + "/test", nil},
			{"GET", "/v1/webhooks/" + id + "/deliveries", nil},
			{"POST", "/v1/webhooks/" + id + "/deliveries/" + d + "/resend", nil},
		} {
			if r := e.do(t, c.method, c.path, b.owner.access, c.body); r.status != 404 {
				t.Errorf("other org: %s %s: %d %s", c.method, c.path, r.status, r.raw)
			}
			if r := e.do(t, c.method, c.path, a.staff.access, c.body); r.status != 403 {
				t.Errorf("staff: %s %s: %d %s", c.method, c.path, r.status, r.raw)
			}
		}
		// B's own webhook cannot resend A's delivery through its id.
		rb := MustStatus(t, e.do(t, "POST", "/v1/webhooks", b.owner.access, body), 201)
		bid := field(rb.body["webhook"], "id").(string)
		MustStatus(t, e.do(t, "POST", "/v1/webhooks/"+bid+"/deliveries/"+d+"/resend", b.owner.access, nil), 404)
		MustStatus(t, e.do(t, "GET", "/v1/webhooks", a.staff.access, nil), 403)
		// A kiosk push of B's queues nothing for A's endpoint.
		MustNoErr(t, e.st.RecordEvents(context.Background(), store.KioskScope(b.owner.orgID, b.kiosk.ID), []store.Event{
			{LogIndex: 8, Kind: keycab.EventKeyTaken, ActorID: b.staff.memberID, KeySetID: b.ks[0].ID, CabinetID: b.cab.ID, At: e.clock.Now()}}))
		if ds := mustDeliveries(t, e, a.owner, id); len(ds) != 1 {
			t.Fatalf("A's deliveries after B's push: %v", ds)
		}
		if ds := mustDeliveries(t, e, b.owner, bid); len(ds) != 1 || field(ds[0], "event_type") != "custody.changed" {
			t.Fatalf("B's deliveries after B's push: %v", ds)
		}
		if g := MustStatus(t, e.do(t, "GET", "/v1/webhooks/"+id, a.owner.access, nil), 200); g.str("url") != "https://hooks.acme.test/k" {
			t.Fatalf("A's webhook changed: %s", g.raw)
		}
	})
}
