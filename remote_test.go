package keycab_test

import (
	"strings"
	"testing"

	"keycab.dev/keycab"
)

func TestRemoteActionValidate(t *testing.T) {
	ok := []keycab.RemoteAction{
		{KioskID: "k", Kind: keycab.RemoteReleaseSlot, Slot: 2, Reason: "courier"},
		{KioskID: "k", Kind: keycab.RemoteReleaseDoor, Reason: "cleaner"},
		{KioskID: "k", Kind: keycab.RemoteMarkReturned, KeySetID: "ks"},
		{KioskID: "k", Kind: keycab.RemoteMarkLost, KeySetID: "ks", Reason: "river"},
		{KioskID: "k", Kind: keycab.RemoteHandOver, KeySetID: "ks", MemberID: "m"},
		{KioskID: "k", Kind: keycab.RemoteReplaceFob, KeySetID: "ks"},
	}
	for _, a := range ok {
		if err := a.Validate(); err != nil {
			t.Errorf("%+v: %v", a, err)
		}
	}
	bad := []struct {
		a    keycab.RemoteAction
		want string
	}{
		{keycab.RemoteAction{KioskID: "k", Kind: "open_sesame"}, "kind"},
		{keycab.RemoteAction{Kind: keycab.RemoteReleaseDoor, Reason: "x"}, "kiosk"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteReleaseSlot, Reason: "x"}, "slot"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteReleaseSlot, Slot: -1, Reason: "x"}, "slot"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteReleaseDoor}, "reason"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteReleaseDoor, Reason: "x", KeySetID: "ks"}, "key_set"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteMarkLost}, "key set"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteMarkLost, KeySetID: "ks", Slot: 1}, "slot"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteHandOver, KeySetID: "ks"}, "member"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteMarkReturned, KeySetID: "ks", MemberID: "m"}, "member"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteReleaseDoor, Reason: strings.Repeat("x", 201)}, "reason"},
		{keycab.RemoteAction{KioskID: "k", Kind: keycab.RemoteReleaseDoor, Reason: "a\x00b"}, "printable"},
	}
	for _, c := range bad {
		err := c.a.Validate()
		if keycab.ErrorCode(err) != keycab.EINVALID || !strings.Contains(keycab.ErrorMessage(err), c.want) {
			t.Errorf("%+v: %v, want EINVALID naming %s", c.a, err, c.want)
		}
	}
}
