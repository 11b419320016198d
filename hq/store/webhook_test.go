package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The webhook store on both engines, every statement checked for its
// tenant condition (MustOpen): endpoints only for owners and admins and
// only of their organisation; events queued in the transaction of the
// change (a kiosk push, a heartbeat with a new config version, a claimed
// notice) for the enabled endpoints that take them, once; the queue's
// leases and outcomes; the secret sealed (not in the database in clear)
// and re-sealed by a notes-key rotation.
func TestWebhookStore(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, e)
			a, b := f.a, f.b
			own := a.as(a.owner)
			hook := store.Webhook{URL: "https://hooks.a.test/k", Events: []string{"custody.changed", "alarm.raised", "kiosk.config_applied", "key.overdue"}, Enabled: true}
			for _, m := range []keycab.Member{a.manager, a.auditor, a.staff, a.contractor} {
				if _, _, err := f.s.Outbox().CreateWebhook(ctx, a.as(m), hook); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
					t.Fatalf("%s creates a webhook: %v", m.Role, err)
				}
			}
			w, secret := mustWebhook(t, f.s, a.as(a.admin), hook)
			off := mustHook(t, f.s, own, store.Webhook{URL: "https://hooks.a.test/off", Events: []string{"custody.changed"}})
			other := mustHook(t, f.s, b.as(b.owner), store.Webhook{URL: "https://hooks.b.test/k", Events: []string{"custody.changed"}, Enabled: true})

			// B sees none of A's, and cannot change them.
			if ws := must[[]store.Webhook](t)(f.s.Outbox().ListWebhooks(ctx, b.as(b.owner))); len(ws) != 1 || ws[0].ID != other.ID {
				t.Fatalf("B lists %+v", ws)
			}
			bo := b.as(b.owner)
			for name, err := range map[string]error{
				"get":    errOf(f.s.Outbox().GetWebhook(ctx, bo, w.ID)),
				"update": errOf(f.s.Outbox().UpdateWebhook(ctx, bo, store.Webhook{ID: w.ID, URL: "https://evil.test/", Events: []string{"alarm.raised"}})),
				"rotate": errOf(f.s.Outbox().RotateWebhookSecret(ctx, bo, w.ID, 0)),
				"test":   errOf(f.s.Outbox().TestWebhook(ctx, bo, w.ID)),
				"log":    errOf(f.s.Outbox().ListWebhookDeliveries(ctx, bo, w.ID, 0)),
				"delete": f.s.Outbox().DeleteWebhook(ctx, bo, w.ID),
			} {
				if keycab.ErrorCode(err) != keycab.ENOTFOUND {
					t.Errorf("B's %s of A's webhook: %v", name, err)
				}
			}

			// The secret is sealed in the database.
			raw := openRaw(t, f.owner, a.org.ID)
			var sealed []byte
			MustNoErr(t, raw.QueryRowContext(ctx, "SELECT secret FROM webhooks WHERE org_id = $1 AND id = $2", a.org.ID, w.ID).Scan(&sealed))
			if bytes.Contains(sealed, []byte(secret)) || bytes.Contains(sealed, []byte(strings.TrimPrefix(secret, "whsec_"))) {
				t.Fatal("the secret is stored in clear")
			}

			// A push: a take, its return, an alarm, queued for w (off is
			// disabled, B's is another organisation's).
			now := time.Now()
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), []store.Event{
				{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: a.staff.ID, KeySetID: a.ks1.ID, At: now},
				{LogIndex: 1, Kind: keycab.EventKeyReturned, ActorID: a.staff.ID, KeySetID: a.ks1.ID, At: now.Add(time.Second)},
				{LogIndex: 2, Kind: keycab.EventAlarmRaised, Detail: keycab.AlarmDoorHeld, At: now.Add(2 * time.Second)},
			}))
			// The same entries again (a retried push): nothing more.
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), []store.Event{{LogIndex: 2, Kind: keycab.EventAlarmRaised, Detail: keycab.AlarmDoorHeld, At: now.Add(2 * time.Second)}}))
			for range 2 {
				MustNoErr(t, f.s.KioskLogs().RecordHeartbeat(ctx, a.kiosk(), store.Heartbeat{ConfigVersion: 7}))
			}
			claimed := must[[]store.Notice](t)(f.s.Outbox().ClaimNotices(ctx, a.org.ID, []store.Notice{{Key: "key.overdue:x:y:1", Kind: "key.overdue", Ref: a.ks1.ID, Episode: 1,
				Subject: "s", Body: "b", Webhook: map[string]any{"key_set_id": a.ks1.ID}}}))
			if len(claimed) != 1 {
				t.Fatalf("claimed %v", claimed)
			}
			must[[]store.Notice](t)(f.s.Outbox().ClaimNotices(ctx, a.org.ID, []store.Notice{{Key: "key.overdue:x:y:1", Kind: "key.overdue", Webhook: map[string]any{}}}))
			ds := must[[]store.WebhookDelivery](t)(f.s.Outbox().ListWebhookDeliveries(ctx, own, w.ID, 0))
			counts := map[string]int{}
			for _, d := range ds {
				counts[d.EventType]++
				var p struct {
					Type string         `json:"type"`
					Data map[string]any `json:"data"`
				}
				MustNoErr(t, json.Unmarshal([]byte(d.Payload), &p))
				if p.Type != d.EventType || d.State != "pending" || d.Attempts != 0 {
					t.Errorf("delivery %+v", d)
				}
			}
			if counts["custody.changed"] != 2 || counts["alarm.raised"] != 1 || counts["kiosk.config_applied"] != 1 || counts["key.overdue"] != 1 || len(ds) != 5 {
				t.Fatalf("queued %v", counts)
			}
			if n := len(must[[]store.WebhookDelivery](t)(f.s.Outbox().ListWebhookDeliveries(ctx, own, off.ID, 0))); n != 0 {
				t.Fatalf("a disabled webhook got %d", n)
			}
			if n := len(must[[]store.WebhookDelivery](t)(f.s.Outbox().ListWebhookDeliveries(ctx, bo, other.ID, 0))); n != 0 {
				t.Fatalf("B's webhook got %d of A's events", n)
			}

			// The queue: due organisations, a lease, outcomes.
			orgs := must[[]string](t)(f.s.Outbox().WebhookDueOrgs(ctx))
			if len(orgs) != 1 || orgs[0] != a.org.ID {
				t.Fatalf("due orgs %v", orgs)
			}
			sends := must[[]store.WebhookSend](t)(f.s.Outbox().TakeWebhookDeliveries(ctx, a.org.ID, time.Minute, 100))
			if len(sends) != 5 || sends[0].Attempt != 1 || len(sends[0].Secrets) != 1 || sends[0].Secrets[0] != secret || sends[0].URL != hook.URL {
				t.Fatalf("took %+v", sends)
			}
			if again := must[[]store.WebhookSend](t)(f.s.Outbox().TakeWebhookDeliveries(ctx, a.org.ID, time.Minute, 100)); len(again) != 0 {
				t.Fatalf("leased twice: %d", len(again))
			}
			if orgs := must[[]string](t)(f.s.Outbox().WebhookDueOrgs(ctx)); len(orgs) != 0 {
				t.Fatalf("due orgs while leased: %v", orgs)
			}
			MustNoErr(t, f.s.Outbox().FinishWebhookDelivery(ctx, sends[0], store.WebhookResult{Delivered: true, Status: 204}))
			MustNoErr(t, f.s.Outbox().FinishWebhookDelivery(ctx, sends[1], store.WebhookResult{Status: 500, Error: "HTTP 500", RetryAt: time.Now().Add(time.Hour)}))
			MustNoErr(t, f.s.Outbox().FinishWebhookDelivery(ctx, sends[2], store.WebhookResult{Error: "refused"}))
			if err := f.s.Outbox().FinishWebhookDelivery(ctx, sends[0], store.WebhookResult{Delivered: true}); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("finishing twice: %v", err)
			}
			states := map[string]store.WebhookDelivery{}
			for _, d := range must[[]store.WebhookDelivery](t)(f.s.Outbox().ListWebhookDeliveries(ctx, own, w.ID, 0)) {
				states[d.ID] = d
			}
			if d := states[sends[0].ID]; d.State != "delivered" || d.LastStatus != 204 || !d.NextAt.IsZero() {
				t.Errorf("delivered: %+v", d)
			}
			if d := states[sends[1].ID]; d.State != "pending" || d.LastError != "HTTP 500" || d.NextAt.IsZero() {
				t.Errorf("to retry: %+v", d)
			}
			if d := states[sends[2].ID]; d.State != "failed" {
				t.Errorf("failed: %+v", d)
			}
			MustNoErr(t, f.s.Outbox().ResendWebhookDelivery(ctx, own, w.ID, sends[2].ID))
			if err := f.s.Outbox().ResendWebhookDelivery(ctx, own, w.ID, sends[3].ID); keycab.ErrorCode(err) != keycab.ECONFLICT {
				t.Fatalf("resend while leased: %v", err)
			}
			if err := f.s.Outbox().ResendWebhookDelivery(ctx, bo, other.ID, sends[2].ID); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("B resends A's delivery: %v", err)
			}

			// Rotation: two secrets sign until the old one's time ends.
			next := must[string](t)(f.s.Outbox().RotateWebhookSecret(ctx, own, w.ID, time.Hour))
			MustNoErr(t, errOf(f.s.Outbox().TestWebhook(ctx, own, w.ID)))
			sends = must[[]store.WebhookSend](t)(f.s.Outbox().TakeWebhookDeliveries(ctx, a.org.ID, time.Minute, 100))
			for _, s := range sends {
				if len(s.Secrets) != 2 || s.Secrets[0] != next || s.Secrets[1] != secret {
					t.Fatalf("after rotation: %d secrets", len(s.Secrets))
				}
			}
			if _, err := f.s.Outbox().RotateWebhookSecret(ctx, own, w.ID, 8*24*time.Hour); keycab.ErrorCode(err) != keycab.EINVALID {
				t.Fatalf("keep 8 days: %v", err)
			}

			// A notes-key rotation re-seals both; they still open.
			rc := must[store.RotationCount](t)(f.s.RotateNotesKey(ctx, bytes.Repeat([]byte{7}, store.NotesKeySize)))
			if rc.WebhookSecrets != 4 { // A's two with an old one, A's disabled one, B's
				t.Fatalf("rotation %+v", rc)
			}
			MustNoErr(t, errOf(f.s.Outbox().TestWebhook(ctx, own, w.ID)))
			if s := must[[]store.WebhookSend](t)(f.s.Outbox().TakeWebhookDeliveries(ctx, a.org.ID, time.Minute, 100)); len(s) == 0 || s[len(s)-1].Secrets[0] != next {
				t.Fatalf("after the notes-key rotation: %+v", s)
			}

			// The deliveries retention rule removes finished deliveries
			// only (here the one delivered), run two days on.
			MustNoErr(t, f.s.SetRetention(ctx, own, store.Retention{DeliveriesDays: 1}))
			later, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: bytes.Repeat([]byte{7}, store.NotesKeySize),
				Now: func() time.Time { return time.Now().Add(48 * time.Hour) }})
			MustNoErr(t, err)
			defer later.Close()
			run := must[store.RetentionRun](t)(later.ApplyRetention(ctx, a.org.ID))
			if run.WebhookDeliveries != 1 {
				t.Fatalf("retention %+v", run)
			}
			for _, d := range must[[]store.WebhookDelivery](t)(f.s.Outbox().ListWebhookDeliveries(ctx, own, w.ID, 0)) {
				if d.State != "pending" {
					t.Errorf("kept %+v", d)
				}
			}

			// An organisation being deleted sends nothing.
			MustNoErr(t, errOf(f.s.Outbox().TestWebhook(ctx, bo, other.ID)))
			MustNoErr(t, errOf(f.s.ScheduleOrgDeletion(ctx, bo, b.org.Name, time.Hour)))
			if s := must[[]store.WebhookSend](t)(f.s.Outbox().TakeWebhookDeliveries(ctx, b.org.ID, time.Minute, 100)); len(s) != 0 {
				t.Fatalf("an organisation being deleted sent %d", len(s))
			}

			// Deleting takes the log with it; the admin log has it all.
			MustNoErr(t, f.s.Outbox().DeleteWebhook(ctx, own, w.ID))
			if _, err := f.s.Outbox().GetWebhook(ctx, own, w.ID); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("after delete: %v", err)
			}
			acts := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 0))
			seen := map[string]bool{}
			for _, act := range acts {
				seen[act.Action] = true
				if strings.Contains(act.Detail, strings.TrimPrefix(secret, "whsec_")) || strings.Contains(act.Detail, strings.TrimPrefix(next, "whsec_")) {
					t.Fatalf("a secret in the admin log: %+v", act)
				}
			}
			for _, want := range []string{"webhook.create", "webhook.rotate_secret", "webhook.test", "webhook.resend", "webhook.delete"} {
				if !seen[want] {
					t.Errorf("admin log lacks %s", want)
				}
			}
		})
	}
}

func mustWebhook(tb testing.TB, s *store.Store, sc store.Scope, w store.Webhook) (store.Webhook, string) {
	tb.Helper()
	w, secret, err := s.Outbox().CreateWebhook(context.Background(), sc, w)
	MustNoErr(tb, err)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+44 {
		tb.Fatalf("secret %q", secret)
	}
	return w, secret
}

func mustHook(tb testing.TB, s *store.Store, sc store.Scope, w store.Webhook) store.Webhook {
	tb.Helper()
	w, _ = mustWebhook(tb, s, sc, w)
	return w
}

func errOf[T any](_ T, err error) error { return err }
