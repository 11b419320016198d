package store_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestReadOneSnapshot: every statement of a read sees one snapshot of the
// database, on both engines. A member is erased (and committed) while a
// kiosk's bundle is being read, between its statements; the bundle must
// show the state before the erasure or after it, never a mix. At
// PostgreSQL's READ COMMITTED it was a mix: the member with their name
// and badge read before the commit, the erased list after, so the kiosk
// erased the member and then stored their badge again from the same
// bundle (seen as TestLiveErasure/postgres leaving the badge's hash in
// kiosk.db).
func TestReadOneSnapshot(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			app, _ := e.New(t)
			var s *store.Store
			var armed, fired atomic.Bool
			var tn tenant
			s, err := store.Open(ctx, app, store.Options{NotesKey: testNotesKey(), Trace: func(q string) {
				// After the bundle has read the members and their badges,
				// just before it reads the erased (kioskLifecycle), erase
				// the staff member in a transaction of its own, committed
				// before that statement runs.
				if armed.Load() && strings.Contains(q, "erased_us <> 0") && fired.CompareAndSwap(false, true) {
					if err := s.EraseMember(ctx, tn.as(tn.owner), tn.staff.ID); err != nil {
						t.Errorf("erase during the read: %v", err)
					}
				}
			}})
			MustNoErr(t, err)
			t.Cleanup(func() { s.Close() })
			tn = MustTenant(t, s, "A")
			_, err = s.AddBadge(ctx, tn.as(tn.owner), tn.staff.ID, keycab.BadgeRFID, "0A00B1C2D4")
			MustNoErr(t, err)

			armed.Store(true)
			cfg, err := s.KioskConfig(ctx, tn.kiosk())
			MustNoErr(t, err)
			if !fired.Load() {
				t.Fatal("the erasure never ran inside the read; the test proves nothing")
			}
			erased := slices.Contains(cfg.Erased, tn.staff.ID)
			for _, m := range cfg.Members {
				if m.ID == tn.staff.ID && (m.Name != "") == erased {
					t.Errorf("the bundle lists the member as erased=%v but holds them as %+v", erased, m)
				}
			}
			for _, b := range cfg.Badges {
				if b.MemberID == tn.staff.ID && erased {
					t.Errorf("the bundle lists the member as erased and holds their badge %x", b.Hash)
				}
			}
			// The next read sees the erasure whole.
			armed.Store(false)
			cfg, err = s.KioskConfig(ctx, tn.kiosk())
			MustNoErr(t, err)
			if !slices.Contains(cfg.Erased, tn.staff.ID) {
				t.Fatalf("the read after the erasure does not list it: %v", cfg.Erased)
			}
			for _, b := range cfg.Badges {
				if b.MemberID == tn.staff.ID {
					t.Errorf("the read after the erasure holds the member's badge")
				}
			}
		})
	}
}
