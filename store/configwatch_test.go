package store_test

import (
	"context"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/store/storetest"
)

// TestConfigChanged: the channel closes at each change of the config
// snapshot (a bundle applied, a fob enrolled, a badge linked, a member
// erased), and a take, which changes custody only, leaves it open.
func TestConfigChanged(t *testing.T) {
	ctx := context.Background()
	d := storetest.MustOpen(t, storetest.MustSigner(t, "test.keycab/kiosk"))
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	for _, c := range []struct {
		name    string
		change  func() error
		changes bool
	}{
		{"bundle applied", func() error { return d.ApplyConfig(ctx, storetest.Config(1)) }, true},
		{"take", func() error {
			return d.Take(ctx, &keycab.Checkout{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1})
		}, false},
		{"fob enrolled", func() error { return d.EnrolToken(ctx, "m-ana", "ks-2", "new-fob") }, true},
		{"badge linked", func() error { return d.LinkBadge(ctx, "m-ana", "m-ben", keycab.BadgeQR, "BEN-QR") }, true},
		{"refused link", func() error {
			if err := d.LinkBadge(ctx, "m-ana", "m-ben", keycab.BadgeQR, "BEN-QR"); keycab.ErrorCode(err) != keycab.ECONFLICT {
				t.Errorf("linking a linked badge again: %v", err)
			}
			return nil
		}, true}, // a failed change may wake the watchers: they read the same snapshot again
		{"member erased", func() error { return d.Erase(ctx, "m-cara", "m-ana") }, true},
	} {
		ch := d.ConfigChanged()
		if closed(ch) {
			t.Fatalf("%s: the channel is closed before the change", c.name)
		}
		if err := c.change(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := closed(ch); got != c.changes {
			t.Errorf("%s: channel closed %v, want %v", c.name, got, c.changes)
		}
	}
}
