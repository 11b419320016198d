package ui_test

import (
	"os"
	"path/filepath"
	"testing"

	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/kiosk"
)

// TestAdminShowsCameraError: a camera whose program fails at once, saying
// why on stderr, has the admin screen's status say why.
func TestAdminShowsCameraError(t *testing.T) {
	testenv.MustHaveTool(t, "sh", "dash")
	script := filepath.Join(t.TempDir(), "rpicam-vid")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'ERROR: *** no cameras available ***' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, log := hardwaretest.NewLogs()
	failed := make(chan struct{})
	src := camera.NewSource(camera.SourceConfig{
		Open:   camera.Command{Path: script, Width: 640, Height: 480}.Open,
		Logger: log,
		OnTrouble: func(error) {
			select {
			case <-failed:
			default:
				close(failed)
			}
		},
	})
	t.Cleanup(func() { src.Close() }) // after the rig's cleanup has stopped the scanners
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
