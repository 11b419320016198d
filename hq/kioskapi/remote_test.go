package kioskapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// TestRemoteActionsReachKiosk: an action asked at HQ reaches the kiosk's
// agent signed by HQ, is carried out once, and its outcome is recorded at
// HQ; an acked action is not handed out again.
func TestRemoteActionsReachKiosk(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		asked := must[keycab.RemoteAction](t)(h.s.CreateRemoteAction(ctx, h.own(), keycab.RemoteAction{KioskID: k.peer.KioskID,
			Kind: keycab.RemoteReleaseDoor, Reason: "locksmith"}))
		var got []keycab.RemoteAction
		fn := func(_ context.Context, a keycab.RemoteAction, now time.Time) (keycab.RemoteOutcome, error) {
			got = append(got, a)
			return keycab.RemoteOutcome{Outcome: keycab.RemoteDone, LogIndex: 4}, nil
		}
		if n := must[int](t)(k.a.PullActions(ctx, 0, fn)); n != 1 {
			t.Fatalf("%d actions answered, want 1", n)
		}
		if len(got) != 1 || got[0].ID != asked.ID || got[0].Kind != keycab.RemoteReleaseDoor || got[0].RequestedBy != h.owner.ID ||
			got[0].Reason != "locksmith" || got[0].KioskID != k.peer.KioskID || got[0].Expires.Unix() != asked.Expires.Unix() {
			t.Fatalf("the kiosk got %+v", got)
		}
		list := must[[]keycab.RemoteAction](t)(h.s.ListRemoteActions(ctx, h.own(), k.peer.KioskID, 0))
		if len(list) != 1 || list[0].Outcome != keycab.RemoteDone || list[0].LogIndex != 4 {
			t.Fatalf("HQ holds %+v", list)
		}
		if n := must[int](t)(k.a.PullActions(ctx, 0, fn)); n != 0 || len(got) != 1 {
			t.Fatalf("an acked action came again (%d)", n)
		}

		// Carried out and logged, then the kiosk restarted before its
		// ack: the new agent answers from the log, and acts not again.
		again := must[keycab.RemoteAction](t)(h.s.CreateRemoteAction(ctx, h.own(), keycab.RemoteAction{KioskID: k.peer.KioskID,
			Kind: keycab.RemoteReleaseDoor, Reason: "cleaner"}))
		ap := must[[]store.Appended](t)(k.db.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventRemoteRelease, Actor: h.owner.ID,
			Detail: map[string]string{keycab.RemoteActionID: again.ID, keycab.RemoteBy: h.owner.ID}}}))
		fresh := MustAgent(t, k.db, k.key)
		never := func(context.Context, keycab.RemoteAction, time.Time) (keycab.RemoteOutcome, error) {
			t.Fatal("an action the log records was carried out again")
			return keycab.RemoteOutcome{}, nil
		}
		if n := must[int](t)(fresh.PullActions(ctx, 0, never)); n != 1 {
			t.Fatalf("%d answered after the restart, want 1", n)
		}
		for _, a := range must[[]keycab.RemoteAction](t)(h.s.ListRemoteActions(ctx, h.own(), k.peer.KioskID, 0)) {
			if a.ID == again.ID && (a.Outcome != keycab.RemoteDone || a.LogIndex != ap[0].Index) {
				t.Fatalf("after the restart HQ holds %+v", a)
			}
		}
	})
}

// TestForgedRemoteActionRefused: an action not signed by HQ's pinned
// config key (a man in the middle, a rogue HQ) is never acted on; the
// kiosk logs remote.refused and HQ records the refusal.
func TestForgedRemoteActionRefused(t *testing.T) {
	engines(t, testForgedRemoteAction)
}

func testForgedRemoteAction(t *testing.T, dsn string) {
	ctx := context.Background()
	h := MustHQ(t, dsn)
	real, _ := url.Parse(h.srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(real)
	var forged [][]byte
	mitm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == wire.PathActions {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(wire.ActionsResponse{V: wire.Minor, Actions: forged})
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer mitm.Close()
	k := MustKiosk(t, h, mitm.URL)
	asked := must[keycab.RemoteAction](t)(h.s.CreateRemoteAction(ctx, h.own(), keycab.RemoteAction{KioskID: k.peer.KioskID,
		Kind: keycab.RemoteReleaseDoor, Reason: "real"}))
	skey, _, err := note.GenerateKey(rand.Reader, "hq.test/config")
	MustNoErr(t, err)
	rogue := must[*audit.Signer](t)(audit.ParseSignerKey(skey))
	a := wire.ActionOf(asked)
	a.Reason = "let me in"
	msg := must[[]byte](t)(wire.SignAction(k.peer.KioskID, a, rogue))
	unsigned := []byte("keycab remote action v1\n" + k.peer.KioskID + "\n{\"id\":\"ra_x\",\"kind\":\"release_door\"}\n")
	b := wire.ActionOf(asked)
	b.ID = "ra_madeup"
	madeUp := must[[]byte](t)(wire.SignAction(k.peer.KioskID, b, rogue))
	forged = [][]byte{msg, unsigned, madeUp}
	fn := func(context.Context, keycab.RemoteAction, time.Time) (keycab.RemoteOutcome, error) {
		t.Fatal("a forged action was handed to the controller")
		return keycab.RemoteOutcome{}, nil
	}
	must[int](t)(k.a.PullActions(ctx, 0, fn))
	must[int](t)(k.a.PullActions(ctx, 0, fn)) // again: logged once
	var refused []*audit.Event
	MustNoErr(t, k.db.Scan(ctx, 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err == nil && ev.Kind == keycab.EventRemoteRefused {
			refused = append(refused, ev)
		}
		return nil
	}))
	if len(refused) != 3 || !strings.Contains(refused[0].Detail[keycab.RemoteRefusal], "signature") {
		t.Fatalf("refusals logged: %+v", refused)
	}
	for _, ev := range refused {
		if ev.Detail[keycab.RemoteActionID] != "" {
			t.Fatalf("a forged note's id is logged as an action's: %+v", ev)
		}
	}
	// A forgery carrying the genuine action's id answers nothing for it:
	// HQ's action stays pending.
	list := must[[]keycab.RemoteAction](t)(h.s.ListRemoteActions(ctx, h.own(), k.peer.KioskID, 0))
	if len(list) != 1 || list[0].Outcome != keycab.RemotePending {
		t.Fatalf("HQ holds %+v", list)
	}
}
