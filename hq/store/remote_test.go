package store_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestRemoteActions runs the remote-action contract on both engines:
// who may ask, another organisation's kiosk, the kiosk's pending list
// and its ack, and row-level security under the store.
func TestRemoteActions(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, e)
			own := f.a.as(f.a.owner)
			MustNoErr(t, f.s.SetSlot(ctx, own, keycab.Slot{CabinetID: f.a.cab1.ID, Number: 1, Lock: "L1", KeySetID: f.a.ks1.ID}))
			release := keycab.RemoteAction{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteReleaseSlot, Slot: 1, Reason: "locked out courier"}
			create := func(sc store.Scope, a keycab.RemoteAction) error {
				_, err := f.s.CreateRemoteAction(ctx, sc, a)
				return err
			}

			// Roles that may not.
			for _, m := range []keycab.Member{f.a.staff, f.a.auditor, f.a.contractor} {
				wantCode(t, create(f.a.as(m), release), keycab.EFORBIDDEN)
			}
			wantCode(t, create(f.a.kiosk(), release), keycab.EFORBIDDEN)
			// A site manager of another site: a manager of site 2 only.
			mgr2 := must[keycab.Member](t)(f.s.CreateMember(ctx, own, keycab.Member{Name: "mgr2", Email: "mgr2@A.test",
				Role: keycab.RoleSiteManager, SiteIDs: []string{f.a.site2.ID}}))
			wantCode(t, create(f.a.as(mgr2), release), keycab.EFORBIDDEN)
			_, err := f.s.ListRemoteActions(ctx, f.a.as(mgr2), f.a.kiosk1.ID, 0)
			wantCode(t, err, keycab.EFORBIDDEN)

			// Another organisation's kiosk answers as a missing one.
			sameMiss(t, "kiosk", func(id string) error {
				a := release
				a.KioskID = id
				return create(own, a)
			}, f.b.kiosk1.ID)
			sameMiss(t, "kiosk", func(id string) error { _, err := f.s.ListRemoteActions(ctx, own, id, 0); return err }, f.b.kiosk1.ID)

			// Malformed: clear EINVALID, nothing stored.
			for _, a := range []keycab.RemoteAction{
				{KioskID: f.a.kiosk1.ID, Kind: "explode"},
				{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteReleaseSlot, Reason: "x"},
				{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteReleaseDoor},
				{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteHandOver, KeySetID: f.a.ks1.ID},
				{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteMarkLost},
			} {
				wantCode(t, create(own, a), keycab.EINVALID)
			}
			// Things that do not exist.
			wantCode(t, create(own, keycab.RemoteAction{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteReleaseSlot, Slot: 9, Reason: "x"}), keycab.ENOTFOUND)
			wantCode(t, create(own, keycab.RemoteAction{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteMarkLost, KeySetID: f.b.ks1.ID}), keycab.ENOTFOUND)
			wantCode(t, create(own, keycab.RemoteAction{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteHandOver, KeySetID: f.a.ks1.ID, MemberID: f.b.staff.ID}), keycab.ENOTFOUND)
			// A new holder who may not take the key set, a key set of
			// another site than the kiosk's.
			wantCode(t, create(own, keycab.RemoteAction{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteHandOver, KeySetID: f.a.ks1.ID, MemberID: f.a.auditor.ID}), keycab.EFORBIDDEN)
			wantCode(t, create(own, keycab.RemoteAction{KioskID: f.a.kiosk1.ID, Kind: keycab.RemoteMarkLost, KeySetID: f.a.ks2.ID}), keycab.EINVALID)
			if as := must[[]keycab.RemoteAction](t)(f.s.ListRemoteActions(ctx, own, f.a.kiosk1.ID, 0)); len(as) != 0 {
				t.Fatalf("refused actions were stored: %v", as)
			}

			// The site's manager may; the kiosk sees it pending.
			got := must[keycab.RemoteAction](t)(f.s.CreateRemoteAction(ctx, f.a.as(f.a.manager), release))
			if got.ID == "" || got.RequestedBy != f.a.manager.ID || !got.Expires.After(got.RequestedAt) {
				t.Fatalf("created %+v", got)
			}
			fob := must[keycab.RemoteAction](t)(f.s.CreateRemoteAction(ctx, own, keycab.RemoteAction{KioskID: f.a.kiosk1.ID,
				Kind: keycab.RemoteReplaceFob, KeySetID: f.a.ks1.ID}))
			if fob.Token == "" {
				t.Fatal("replace_fob carries no new token")
			}
			if _, err := f.s.LookupToken(ctx, f.a.kiosk(), fob.Token); err != nil {
				t.Fatalf("the new fob's token is not the key set's: %v", err)
			}
			pend := must[[]keycab.RemoteAction](t)(f.s.PendingRemoteActions(ctx, f.a.kiosk()))
			if len(pend) != 2 || pend[0].ID != got.ID || pend[1].Token != fob.Token {
				t.Fatalf("pending %+v", pend)
			}
			if bp := must[[]keycab.RemoteAction](t)(f.s.PendingRemoteActions(ctx, f.b.kiosk())); len(bp) != 0 {
				t.Fatalf("B's kiosk sees A's actions: %+v", bp)
			}
			_, err = f.s.PendingRemoteActions(ctx, own)
			wantCode(t, err, keycab.EFORBIDDEN)

			// Acks: another kiosk's is not found; the first one stands.
			wantCode(t, f.s.AckRemoteAction(ctx, f.b.kiosk(), got.ID, keycab.RemoteDone, "", 3), keycab.ENOTFOUND)
			wantCode(t, f.s.AckRemoteAction(ctx, f.a.kiosk(), got.ID, "maybe", "", 3), keycab.EINVALID)
			MustNoErr(t, f.s.AckRemoteAction(ctx, f.a.kiosk(), got.ID, keycab.RemoteRefused, "policy forbids remote release", 7))
			MustNoErr(t, f.s.AckRemoteAction(ctx, f.a.kiosk(), got.ID, keycab.RemoteDone, "", 8))
			list := must[[]keycab.RemoteAction](t)(f.s.ListRemoteActions(ctx, f.a.as(f.a.auditor), f.a.kiosk1.ID, 0))
			if len(list) != 2 {
				t.Fatalf("listed %+v", list)
			}
			for _, a := range list {
				if a.Token != "" {
					t.Fatal("a fob's token is listed at HQ")
				}
				if a.ID == got.ID && (a.Outcome != keycab.RemoteRefused || a.LogIndex != 7 || a.Refusal == "") {
					t.Fatalf("ack not recorded as the first: %+v", a)
				}
			}
			if pend := must[[]keycab.RemoteAction](t)(f.s.PendingRemoteActions(ctx, f.a.kiosk())); len(pend) != 1 {
				t.Fatalf("an acked action is still pending: %+v", pend)
			}
			// Both the request and the ack are in the admin log.
			var asked, acked int
			for _, l := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 0)) {
				switch l.Action {
				case "remote.release_slot":
					asked++
				case "remote.ack":
					acked++
				}
			}
			if asked != 1 || acked != 1 {
				t.Fatalf("admin log: %d asked, %d acked", asked, acked)
			}

			// Under the store: B's tenant sees none of A's rows and
			// cannot write one into A (row-level security on
			// PostgreSQL).
			if e.Name != "sqlite" {
				db := openRaw(t, f.appDSN, f.b.org.ID)
				var n int
				MustNoErr(t, db.QueryRowContext(ctx, "SELECT count(*) FROM remote_actions").Scan(&n))
				if n != 0 {
					t.Fatalf("B's tenant sees %d of A's remote actions", n)
				}
				_, err := db.ExecContext(ctx, `INSERT INTO remote_actions (org_id, id, kiosk_id, kind, requested_by, requested_us, expires_us)
					VALUES ($1, 'ra_evil', $2, 'release_door', 'x', 0, 99999999999999)`, f.a.org.ID, f.a.kiosk1.ID)
				if err == nil {
					t.Fatal("B's tenant wrote a remote action into A")
				}
			}
		})
	}
}

// TestRemoteCustody: HQ's custody follows the kiosk's key.handed_over
// (to a member HQ knows) and key.lost entries, alone or in one push.
func TestRemoteCustody(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, e)
			own, k := f.a.as(f.a.owner), f.a.kiosk()
			holder := func() string {
				for _, h := range must[[]store.Holding](t)(f.s.ListCustody(ctx, own)) {
					if h.KeySetID == f.a.ks1.ID {
						return h.MemberID
					}
				}
				return ""
			}
			now := time.Now()
			MustNoErr(t, f.s.RecordEvents(ctx, k, []store.Event{
				{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: f.a.staff.ID, KeySetID: f.a.ks1.ID, At: now},
				{LogIndex: 1, Kind: keycab.EventKeyHandedOver, ActorID: f.a.owner.ID, KeySetID: f.a.ks1.ID, Detail: f.a.manager.ID, At: now},
			}))
			if h := holder(); h != f.a.manager.ID {
				t.Fatalf("after the hand-over HQ says %q holds it", h)
			}
			// To a member HQ does not know: the holder stays.
			MustNoErr(t, f.s.RecordEvents(ctx, k, []store.Event{
				{LogIndex: 2, Kind: keycab.EventKeyHandedOver, ActorID: f.a.owner.ID, KeySetID: f.a.ks1.ID, Detail: f.b.staff.ID, At: now},
			}))
			if h := holder(); h != f.a.manager.ID {
				t.Fatalf("a hand-over to another org's member moved custody to %q", h)
			}
			// To a disabled member: the holder stays.
			MustNoErr(t, f.s.RemoveMember(ctx, own, f.a.auditor.ID))
			MustNoErr(t, f.s.RecordEvents(ctx, k, []store.Event{
				{LogIndex: 3, Kind: keycab.EventKeyHandedOver, ActorID: f.a.owner.ID, KeySetID: f.a.ks1.ID, Detail: f.a.auditor.ID, At: now},
			}))
			if h := holder(); h != f.a.manager.ID {
				t.Fatalf("a hand-over to a removed member moved custody to %q", h)
			}
			// A kiosk of site 1 settles nothing of site 2's custody.
			k2 := must[store.Kiosk](t)(f.s.CreateKiosk(ctx, own, store.Kiosk{CabinetID: f.a.cab2.ID, Name: "kiosk two"}))
			MustNoErr(t, f.s.RecordEvents(ctx, store.KioskScope(f.a.org.ID, k2.ID), []store.Event{
				{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: f.a.staff.ID, KeySetID: f.a.ks2.ID, At: now},
			}))
			MustNoErr(t, f.s.RecordEvents(ctx, k, []store.Event{
				{LogIndex: 4, Kind: keycab.EventKeyLost, ActorID: f.a.owner.ID, KeySetID: f.a.ks2.ID, At: now},
				{LogIndex: 5, Kind: keycab.EventKeyHandedOver, ActorID: f.a.owner.ID, KeySetID: f.a.ks2.ID, Detail: f.a.owner.ID, At: now},
			}))
			held := false
			for _, h := range must[[]store.Holding](t)(f.s.ListCustody(ctx, own)) {
				held = held || (h.KeySetID == f.a.ks2.ID && h.MemberID == f.a.staff.ID)
			}
			if !held {
				t.Fatal("a kiosk of site 1 settled the custody of site 2's key set")
			}
			MustNoErr(t, f.s.RecordEvents(ctx, k, []store.Event{
				{LogIndex: 6, Kind: keycab.EventKeyLost, ActorID: f.a.owner.ID, KeySetID: f.a.ks1.ID, At: now},
			}))
			if h := holder(); h != "" {
				t.Fatalf("a lost key set is still held by %q", h)
			}
		})
	}
}
