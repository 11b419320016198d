package kioskapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

func TestEnrol(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		dir := filepath.Dir(k.path)
		st, err := os.Stat(filepath.Join(dir, "kiosk.key"))
		MustNoErr(t, err)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
		}
		if k.peer.OrgID != h.org.ID || k.peer.CabinetID != h.cab.ID || k.key.Signer.Name() != k.peer.Origin {
			t.Fatalf("enrolment %+v does not match HQ", k.peer)
		}
		kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID))
		if kl.VerifierKey != k.key.Signer.VerifierKey {
			t.Fatalf("HQ holds verifier key %q, kiosk %q", kl.VerifierKey, k.key.Signer.VerifierKey)
		}
		// The token is single-use.
		token, _, err := h.s.CreateEnrolToken(ctx, h.own(), h.cab.ID, 0)
		MustNoErr(t, err)
		db2 := must[*store.DB](t)(store.Open(ctx, filepath.Join(t.TempDir(), "k2.db"), store.Options{Create: true}))
		defer db2.Close()
		_, _, err = agent.Enrol(ctx, db2, agent.EnrolOptions{HQ: h.srv.URL, Token: token, KeyFile: filepath.Join(t.TempDir(), "k2.key")})
		MustNoErr(t, err)
		db3 := must[*store.DB](t)(store.Open(ctx, filepath.Join(t.TempDir(), "k3.db"), store.Options{Create: true}))
		defer db3.Close()
		if _, _, err := agent.Enrol(ctx, db3, agent.EnrolOptions{HQ: h.srv.URL, Token: token, KeyFile: filepath.Join(t.TempDir(), "k3.key")}); err == nil {
			t.Fatal("a used token enrolled a second kiosk")
		}
		// An expired token is refused.
		old, _, err := h.s.CreateEnrolToken(ctx, h.own(), h.cab.ID, time.Nanosecond)
		MustNoErr(t, err)
		time.Sleep(time.Millisecond)
		if _, _, err := agent.Enrol(ctx, db3, agent.EnrolOptions{HQ: h.srv.URL, Token: old, KeyFile: filepath.Join(t.TempDir(), "k4.key")}); err == nil {
			t.Fatal("an expired token enrolled a kiosk")
		}
	})
}

func TestPush(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		MustAppend(t, k.db, h, 3000, "a")
		n, err := k.a.Push(ctx)
		MustNoErr(t, err)
		// The 3000 and the clock.anchored entry the first cosignature
		// adds (anchor: pushed in the same Push, and no other follows).
		if n != 3001 || k.db.Size() != 3001 {
			t.Fatalf("pushed %d entries of %d, want 3001", n, k.db.Size())
		}
		st := must[store.SyncState](t)(k.db.SyncState(ctx))
		if st.AckedSize != 3001 || st.CosignedSize != 3001 {
			t.Fatalf("sync state %+v", st)
		}
		MustSameHistory(t, h, k)

		// Identical resend: the kiosk lost its acknowledgements.
		MustNoErr(t, k.db.SetAcked(ctx, 0, 0))
		n, err = k.a.Push(ctx)
		MustNoErr(t, err)
		if n != 500 {
			t.Logf("resend pushed %d", n)
		}
		MustSameHistory(t, h, k)

		// Resume after 409: the kiosk believes HQ holds less, or more.
		MustAppend(t, k.db, h, 100, "b")
		MustNoErr(t, k.db.SetAcked(ctx, 2500, 0))
		_, err = k.a.Push(ctx)
		MustNoErr(t, err)
		MustSameHistory(t, h, k)
		MustAppend(t, k.db, h, 100, "c")
		MustNoErr(t, k.db.SetAcked(ctx, 3150, 0))
		_, err = k.a.Push(ctx)
		MustNoErr(t, err)
		MustSameHistory(t, h, k)

		// A heartbeat reports the state; the kiosk shows online.
		hr, err := k.a.Heartbeat(ctx)
		MustNoErr(t, err)
		if hr.Size != 3201 {
			t.Fatalf("heartbeat says HQ holds %d", hr.Size)
		}
		health := must[[]hqstore.KioskHealth](t)(h.s.KioskLogs().ListKioskHealth(ctx, h.own(), time.Minute))
		if len(health) != 1 || !health[0].Online || health[0].Heartbeat.LogSize != 3201 || health[0].Heartbeat.CosignedSize != 3201 {
			t.Fatalf("health %+v", health)
		}
		health = must[[]hqstore.KioskHealth](t)(h.s.KioskLogs().ListKioskHealth(ctx, h.own(), time.Nanosecond))
		if health[0].Online {
			t.Fatal("kiosk online after the offline threshold")
		}
	})
}

func TestFork(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		MustAppend(t, k.db, h, 600, "a")
		_, err := k.a.Push(ctx)
		MustNoErr(t, err)
		pushed := k.db.Size() // and a time anchor

		// A second log under the same key, with other entries: history
		// rewritten after HQ cosigned.
		forked := must[*store.DB](t)(store.Open(ctx, filepath.Join(t.TempDir(), "fork.db"), store.Options{Create: true, Signer: k.key.Signer}))
		defer forked.Close()
		MustNoErr(t, forked.PinHQ(ctx, k.peer))
		MustAppend(t, forked, h, 700, "rewritten")
		fa := MustAgent(t, forked, k.key)
		if _, err := fa.Push(ctx); !errors.Is(err, agent.ErrForked) {
			t.Fatalf("push of a forked log: %v, want ErrForked", err)
		}
		kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID))
		if kl.QuarantinedAt.IsZero() || kl.Size != pushed {
			t.Fatalf("after the fork HQ has %+v", kl)
		}
		ev := must[[]hqstore.Evidence](t)(h.s.KioskLogs().ListEvidence(ctx, h.own(), k.peer.KioskID))
		if len(ev) == 0 || len(ev[0].Theirs) == 0 || len(ev[0].Ours) == 0 {
			t.Fatalf("evidence %+v", ev)
		}
		if _, err := audit.NoteText(ev[0].Theirs); err != nil {
			t.Fatalf("evidence is not a signed checkpoint: %v", err)
		}
		alarms := must[[]hqstore.Alarm](t)(h.s.ListAlarms(ctx, h.own(), true))
		found := false
		for _, a := range alarms {
			found = found || a.Alarm == keycab.AlarmEquivocation
		}
		if !found {
			t.Fatalf("no equivocation alarm in %+v", alarms)
		}
		// The quarantined kiosk's own pushes are refused too.
		MustAppend(t, k.db, h, 10, "after")
		if _, err := k.a.Push(ctx); !errors.Is(err, agent.ErrForked) {
			t.Fatalf("push of a quarantined kiosk: %v", err)
		}
	})
}

// post sends a raw signed request and returns the status.
func post(t *testing.T, url string, body []byte, org, kiosk string, key ed25519.PrivateKey, when time.Time) (*http.Request, int) {
	t.Helper()
	req := must[*http.Request](t)(http.NewRequest(http.MethodPost, url+wire.PathHeartbeat, bytes.NewReader(body)))
	wire.SignRequest(req, body, org, kiosk, key, when)
	return req, send(t, req, body)
}

func send(t *testing.T, req *http.Request, body []byte) int {
	t.Helper()
	r2 := req.Clone(context.Background())
	r2.Body = http.NoBody
	if body != nil {
		r2.Body = ioNopCloser(bytes.NewReader(body))
	}
	r2.ContentLength = int64(len(body))
	res, err := http.DefaultClient.Do(r2)
	MustNoErr(t, err)
	res.Body.Close()
	return res.StatusCode
}

func TestAuth(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		body, _ := json.Marshal(wire.Heartbeat{V: wire.Minor})
		req, code := post(t, h.srv.URL, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
		if code != http.StatusOK {
			t.Fatalf("signed heartbeat: %d", code)
		}
		if code := send(t, req, body); code != http.StatusUnauthorized {
			t.Fatalf("replayed request: %d, want 401", code)
		}
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		if _, code := post(t, h.srv.URL, body, k.peer.OrgID, k.peer.KioskID, other, time.Now()); code != http.StatusUnauthorized {
			t.Fatalf("request signed by another key: %d, want 401", code)
		}
		if _, code := post(t, h.srv.URL, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now().Add(-time.Hour)); code != http.StatusUnauthorized {
			t.Fatalf("stale request: %d, want 401", code)
		}
		// A body changed in flight.
		req = must[*http.Request](t)(http.NewRequest(http.MethodPost, h.srv.URL+wire.PathHeartbeat, nil))
		wire.SignRequest(req, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
		if code := send(t, req, []byte(`{"v":0,"log_size":99}`)); code != http.StatusUnauthorized {
			t.Fatalf("changed body: %d, want 401", code)
		}
		// Another organisation's id with this kiosk's key.
		if _, code := post(t, h.srv.URL, body, "org_other", k.peer.KioskID, k.key.Private, time.Now()); code != http.StatusUnauthorized {
			t.Fatalf("kiosk in another org: %d, want 401", code)
		}
		// A push whose checkpoint is signed by another key.
		skey, _, _ := note.GenerateKey(rand.Reader, k.peer.Origin)
		bad := must[*audit.Signer](t)(audit.ParseSignerKey(skey))
		MustAppend(t, k.db, h, 3, "x")
		leaves := must[[][]byte](t)(k.db.ReadEntries(0, 3))
		root := must[tlogHashT](t)(k.db.TreeRoot(ctx, 3))
		cp := must[[]byte](t)(audit.SignCheckpoint(audit.Checkpoint{Origin: k.peer.Origin, Size: 3, Root: root}, bad))
		pb, _ := json.Marshal(wire.PushRequest{V: wire.Minor, OldSize: 0, Entries: leaves, Checkpoint: cp})
		req = must[*http.Request](t)(http.NewRequest(http.MethodPost, h.srv.URL+wire.PathPush, nil))
		wire.SignRequest(req, pb, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
		if code := send(t, req, pb); code != http.StatusBadRequest {
			t.Fatalf("push with a badly signed checkpoint: %d, want 400", code)
		}
		if kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID)); kl.Size != 0 {
			t.Fatalf("HQ took %d entries of a badly signed push", kl.Size)
		}
		// A revoked kiosk is refused.
		MustNoErr(t, h.s.RevokeKiosk(ctx, h.own(), k.peer.KioskID))
		if _, code := post(t, h.srv.URL, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now()); code != http.StatusUnauthorized {
			t.Fatalf("revoked kiosk: %d, want 401", code)
		}
	})
}

func TestConfig(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		applied, err := k.a.PullConfig(ctx, 0)
		MustNoErr(t, err)
		if !applied {
			t.Fatal("first pull applied nothing")
		}
		v1 := must[int64](t)(k.db.ConfigVersion(ctx))
		if m, err := k.db.MemberByBadge(ctx, badgeCode); err != nil || m.ID != h.staff.ID {
			t.Fatalf("badge after config: %v %v", m, err)
		}
		// Nothing changed: nothing newer, the version stays.
		if applied, err := k.a.PullConfig(ctx, 0); err != nil || applied {
			t.Fatalf("second pull: applied %v, %v", applied, err)
		}
		// Keep the bundle of v1 to replay it later.
		cfg := must[*keycab.Config](t)(k.db.Snapshot(ctx))
		cfg.Org.ID, cfg.Cabinet.ID = k.peer.OrgID, k.peer.CabinetID
		stale := must[[]byte](t)(wire.SignBundle(wire.Bundle{KioskID: k.peer.KioskID, Version: v1, Config: *cfg}, h.cfgSign))
		if err := k.a.ApplyBundle(ctx, stale); keycab.ErrorCode(err) != keycab.ECONFLICT {
			t.Fatalf("stale bundle: %v", err)
		}
		skey, _, _ := note.GenerateKey(rand.Reader, "hq.test/config")
		forger := must[*audit.Signer](t)(audit.ParseSignerKey(skey))
		forged := must[[]byte](t)(wire.SignBundle(wire.Bundle{KioskID: k.peer.KioskID, Version: v1 + 10, Config: *cfg}, forger))
		if err := k.a.ApplyBundle(ctx, forged); keycab.ErrorCode(err) != keycab.ETAMPERED {
			t.Fatalf("forged bundle: %v", err)
		}
		other := must[[]byte](t)(wire.SignBundle(wire.Bundle{KioskID: "kiosk_other", Version: v1 + 10, Config: *cfg}, h.cfgSign))
		if err := k.a.ApplyBundle(ctx, other); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
			t.Fatalf("another kiosk's bundle: %v", err)
		}
		if v := must[int64](t)(k.db.ConfigVersion(ctx)); v != v1 {
			t.Fatalf("config version %d after refused bundles, want %d", v, v1)
		}

		// Revocation reaches a waiting kiosk within seconds (long poll).
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := k.a.PullConfig(ctx, 20*time.Second)
			done <- err
		}()
		time.Sleep(300 * time.Millisecond)
		MustNoErr(t, h.s.RevokeBadge(ctx, h.own(), h.staff.ID, h.badge.Hash))
		revoked := time.Now()
		select {
		case err := <-done:
			MustNoErr(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("revocation did not arrive within 10 s")
		}
		t.Logf("revocation reached the kiosk %v after it was made (long poll started %v before)", time.Since(revoked), revoked.Sub(start))
		if _, err := k.db.MemberByBadge(ctx, badgeCode); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("revoked badge still works: %v", err)
		}
		if v := must[int64](t)(k.db.ConfigVersion(ctx)); v <= v1 {
			t.Fatalf("config version %d did not grow from %d", v, v1)
		}
	})
}

type tlogHashT = tlog.Hash

func ioNopCloser(r *bytes.Reader) io.ReadCloser { return io.NopCloser(r) }
