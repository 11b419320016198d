package kiosk_test

import (
	"strings"
	"testing"

	"keycab.dev/keycab/hardware/camera/cameratest"
	"keycab.dev/keycab/kiosk"
)

// TestAdminShowsCameraError runs the kiosk with a camera whose program
// fails at once, saying why on stderr: the admin screen shows why.
func TestAdminShowsCameraError(t *testing.T) {
	src, failed := cameratest.FailingSource(t, "ERROR: *** no cameras available ***") // closed after the rig has stopped the scanners
	r := newRig(t, testConfig(t), func(c *kiosk.Config) { c.Scanners = append(c.Scanners, kiosk.NewQRScanner(src)) })
	<-failed
	a := r.openAdmin()
	if a.Admin == nil || !strings.Contains(a.Admin.CameraError, "exit status 1: ERROR: *** no cameras available ***") || a.Admin.CameraErrorAt.IsZero() {
		t.Fatalf("admin view camera error %q at %v", a.Admin.CameraError, a.Admin.CameraErrorAt)
	}
}
