package store_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// enrolWithLeaf enrols a kiosk at the tenant's first cabinet and gives
// its log one leaf and a head.
func enrolWithLeaf(t *testing.T, f *fixture, tn tenant) store.Kiosk {
	t.Helper()
	ctx := context.Background()
	tok, _, err := f.s.CreateEnrolToken(ctx, tn.as(tn.owner), tn.cab1.ID, 0)
	MustNoErr(t, err)
	k, _, err := f.s.Enrol(ctx, tok, make([]byte, 32), "kiosk", newLog)
	MustNoErr(t, err)
	MustNoErr(t, f.s.KioskLogs().UpdateKioskLog(ctx, store.KioskScope(tn.org.ID, k.ID), func(ctx context.Context, l *store.LogTx) error {
		if err := l.Append(ctx, 0, [][]byte{[]byte("leaf of " + tn.org.ID)}, [][]byte{make([]byte, 32)}); err != nil {
			return err
		}
		return l.SetHead(ctx, 1, []byte("cp"), []byte("cosigned "+tn.org.ID))
	}))
	return k
}

// publicLogCases: an organisation's kiosk logs are readable without a
// principal only once its owners or admins publish them, and only its
// own; a log that is not public answers as an unknown kiosk does.
func publicLogCases() []contractCase {
	ctx := context.Background()
	return []contractCase{
		{"public logs: off by default, set by owners and admins of their own organisation only, in its admin log", func(t *testing.T, f *fixture) {
			ka, kb := enrolWithLeaf(t, f, f.a), enrolWithLeaf(t, f, f.b)
			notPublic := func(id string) {
				t.Helper()
				_, err := f.s.KioskLogs().PublicKioskLog(ctx, id)
				wantCode(t, err, keycab.EUNAUTHORIZED)
				_, err = f.s.KioskLogs().PublicKioskLeaves(ctx, id, 0, 1)
				wantCode(t, err, keycab.EUNAUTHORIZED)
				_, err = f.s.KioskLogs().PublicKioskTreeHashes(ctx, id, []int64{0})
				wantCode(t, err, keycab.EUNAUTHORIZED)
			}
			notPublic(ka.ID)
			notPublic(kb.ID)
			_, errUnknown := f.s.KioskLogs().PublicKioskLog(ctx, "kiosk_nope")
			_, errOff := f.s.KioskLogs().PublicKioskLog(ctx, ka.ID)
			if keycab.ErrorMessage(errUnknown) != keycab.ErrorMessage(errOff) {
				t.Fatalf("an unpublished log says %q, an unknown kiosk %q", keycab.ErrorMessage(errOff), keycab.ErrorMessage(errUnknown))
			}
			if must[bool](t)(f.s.KioskLogs().PublicLogs(ctx, f.a.as(f.a.staff))) {
				t.Fatal("public by default")
			}
			for _, sc := range []store.Scope{f.a.as(f.a.staff), f.a.as(f.a.manager), f.a.as(f.a.auditor), f.a.as(f.a.contractor), f.a.kiosk()} {
				wantCode(t, f.s.KioskLogs().SetPublicLogs(ctx, sc, true), keycab.EFORBIDDEN)
			}
			notPublic(ka.ID)
			MustNoErr(t, f.s.KioskLogs().SetPublicLogs(ctx, f.a.as(f.a.admin), true))
			if !must[bool](t)(f.s.KioskLogs().PublicLogs(ctx, f.a.as(f.a.staff))) || must[bool](t)(f.s.KioskLogs().PublicLogs(ctx, f.b.as(f.b.owner))) {
				t.Fatal("the setting is not A's alone")
			}
			kl := must[store.KioskLog](t)(f.s.KioskLogs().PublicKioskLog(ctx, ka.ID))
			if kl.Size != 1 || string(kl.Cosigned) != "cosigned "+f.a.org.ID {
				t.Fatalf("public log %+v", kl)
			}
			leaves := must[[][]byte](t)(f.s.KioskLogs().PublicKioskLeaves(ctx, ka.ID, 0, 1))
			if len(leaves) != 1 || string(leaves[0]) != "leaf of "+f.a.org.ID {
				t.Fatalf("public leaves %q", leaves)
			}
			if h, err := f.s.KioskLogs().PublicKioskTreeHashes(ctx, ka.ID, []int64{0}); err != nil || len(h) != 1 {
				t.Fatalf("public hashes %v %v", h, err)
			}
			notPublic(kb.ID) // A publishing shows nothing of B
			// A's kiosk named under nothing but its id: B's log stays B's.
			if _, err := f.s.KioskLogs().GetKioskLog(ctx, f.b.as(f.b.owner), ka.ID); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("B read A's log: %v", err)
			}
			log := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.a.as(f.a.owner), 1))
			if len(log) != 1 || log[0].Action != "org.public_logs" || log[0].Detail != `{"before":{"public_logs":false},"after":{"public_logs":true}}` {
				t.Fatalf("admin log %+v", log)
			}
			for _, x := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.b.as(f.b.owner), 50)) {
				if x.Action == "org.public_logs" {
					t.Fatalf("B's log has A's change: %+v", x)
				}
			}
			MustNoErr(t, f.s.KioskLogs().SetPublicLogs(ctx, f.a.as(f.a.owner), false))
			notPublic(ka.ID)
			log = must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.a.as(f.a.owner), 1))
			if len(log) != 1 || log[0].Detail != `{"before":{"public_logs":true},"after":{"public_logs":false}}` {
				t.Fatalf("admin log %+v", log)
			}
		}},
		{"public logs: an organisation scheduled for deletion publishes nothing", func(t *testing.T, f *fixture) {
			ka := enrolWithLeaf(t, f, f.a)
			MustNoErr(t, f.s.KioskLogs().SetPublicLogs(ctx, f.a.as(f.a.owner), true))
			must[store.KioskLog](t)(f.s.KioskLogs().PublicKioskLog(ctx, ka.ID))
			must[store.OrgDeletion](t)(f.s.ScheduleOrgDeletion(ctx, f.a.as(f.a.owner), f.a.org.Name, time.Hour))
			_, err := f.s.KioskLogs().PublicKioskLog(ctx, ka.ID)
			wantCode(t, err, keycab.EUNAUTHORIZED)
		}},
	}
}
