package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

func newLog(id string) (string, string, error) {
	return "test/" + id, "test/" + id + "+00000000+AQ==", nil
}

// TestSyncStore: enrolment tokens are single-use, scoped to their
// organisation and made only by those who manage the cabinet; a kiosk's
// log, nonces and heartbeats are its own.
func TestSyncStore(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, e)
			a, b := f.a, f.b
			if _, _, err := f.s.CreateEnrolToken(ctx, a.as(a.staff), a.cab1.ID, 0); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("staff made an enrolment token: %v", err)
			}
			if _, _, err := f.s.CreateEnrolToken(ctx, a.as(a.manager), a.cab2.ID, 0); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("a manager of another site made a token: %v", err)
			}
			if _, _, err := f.s.CreateEnrolToken(ctx, b.as(b.owner), a.cab1.ID, 0); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("org B made a token for A's cabinet: %v", err)
			}
			tok, info, err := f.s.CreateEnrolToken(ctx, a.as(a.manager), a.cab1.ID, 0)
			MustNoErr(t, err)
			if d := info.ExpiresAt.Sub(info.CreatedAt); d != store.DefaultEnrolTokenTTL {
				t.Fatalf("token lives %v", d)
			}
			// The token names its org; under another org's id it is unknown.
			_, secret, _ := strings.Cut(tok, ".")
			if _, _, err := f.s.Enrol(ctx, b.org.ID+"."+secret, make([]byte, 32), "x", newLog); keycab.ErrorCode(err) != keycab.EUNAUTHORIZED {
				t.Fatalf("token under another org: %v", err)
			}
			k, kl, err := f.s.Enrol(ctx, tok, make([]byte, 32), "kiosk", newLog)
			MustNoErr(t, err)
			if k.OrgID != a.org.ID || k.CabinetID != a.cab1.ID || kl.Origin != "test/"+k.ID {
				t.Fatalf("enrolled %+v %+v", k, kl)
			}
			if _, _, err := f.s.Enrol(ctx, tok, make([]byte, 32), "again", newLog); keycab.ErrorCode(err) != keycab.EUNAUTHORIZED {
				t.Fatalf("token reused: %v", err)
			}
			sc := store.KioskScope(a.org.ID, k.ID)
			MustNoErr(t, f.s.KioskLogs().UpdateKioskLog(ctx, sc, func(ctx context.Context, l *store.LogTx) error {
				if err := l.Append(ctx, 0, [][]byte{[]byte("leaf")}, [][]byte{make([]byte, 32)}); err != nil {
					return err
				}
				return l.SetHead(ctx, 1, []byte("cp"), []byte("cosigned"))
			}))
			if got := must[store.KioskLog](t)(f.s.KioskLogs().KioskLogState(ctx, sc)); got.Size != 1 || string(got.Cosigned) != "cosigned" {
				t.Fatalf("log state %+v", got)
			}
			if _, err := f.s.KioskLogs().GetKioskLog(ctx, b.as(b.owner), k.ID); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("org B read A's kiosk log: %v", err)
			}
			if _, err := f.s.KioskLogs().KioskLeaves(ctx, b.as(b.auditor), k.ID, 0, 1); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("org B read A's kiosk leaves: %v", err)
			}
			if _, err := f.s.KioskLogs().KioskLogState(ctx, store.KioskScope(b.org.ID, k.ID)); err == nil {
				t.Fatal("A's kiosk identified in org B")
			}
			exp := time.Now().Add(time.Minute)
			MustNoErr(t, f.s.KioskLogs().UseNonce(ctx, sc, "n1", exp))
			if err := f.s.KioskLogs().UseNonce(ctx, sc, "n1", exp); keycab.ErrorCode(err) != keycab.ECONFLICT {
				t.Fatalf("nonce reused: %v", err)
			}
			MustNoErr(t, f.s.KioskLogs().UseNonce(ctx, b.kiosk(), "n1", exp)) // another kiosk's nonces are its own
			v1 := must[int64](t)(f.s.KioskLogs().IssueConfigVersion(ctx, sc, []byte("h1")))
			if v := must[int64](t)(f.s.KioskLogs().IssueConfigVersion(ctx, sc, []byte("h1"))); v != v1 {
				t.Fatalf("unchanged config got version %d, then %d", v1, v)
			}
			if v := must[int64](t)(f.s.KioskLogs().IssueConfigVersion(ctx, sc, []byte("h2"))); v <= v1 {
				t.Fatalf("changed config got version %d after %d", v, v1)
			}
			MustNoErr(t, f.s.KioskLogs().RecordHeartbeat(ctx, sc, store.Heartbeat{Door: "closed", LogSize: 1}))
			hs := must[[]store.KioskHealth](t)(f.s.KioskLogs().ListKioskHealth(ctx, a.as(a.admin), time.Minute))
			online := 0
			for _, h := range hs {
				if h.Online {
					online++
				}
			}
			if online != 1 {
				t.Fatalf("health %+v", hs)
			}
			if _, err := f.s.KioskLogs().ListKioskHealth(ctx, a.as(a.staff), time.Minute); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("staff saw kiosk health: %v", err)
			}
		})
	}
}
