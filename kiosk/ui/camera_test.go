package ui_test

import (
	"testing"

	"keycab.dev/keycab/hardware/camera/cameratest"
	"keycab.dev/keycab/kiosk"
)

// TestAdminShowsCameraError: a camera whose program fails at once, saying
// why on stderr, has the admin screen's status say why.
func TestAdminShowsCameraError(t *testing.T) {
	src, failed := cameratest.FailingSource(t, "ERROR: *** no cameras available ***") // closed after the rig has stopped the scanners
	r := newRig(t, testConfig(t), kiosk.NewQRScanner(src))
	<-failed
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
	for _, d := range "2468" {
		r.tap(string(d))
	}
	r.tap("OK")
	r.await(kiosk.Menu)
	r.tap("Admin")
	r.await(kiosk.Admin)
	if !r.shows("Camera error at ") || !r.shows("exit status 1: ERROR: *** no cameras available ***") {
		t.Fatal("the admin screen does not say why the camera failed")
	}
}
