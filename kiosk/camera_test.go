package kiosk_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/kiosk"
)

// TestAdminShowsCameraError runs the kiosk with a camera whose program
// fails at once, saying why on stderr: the admin screen shows why.
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
	r := newRig(t, testConfig(t), func(c *kiosk.Config) { c.Scanners = append(c.Scanners, kiosk.NewQRScanner(src)) })
	<-failed
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
	r.c.Do(kiosk.PIN{Digits: "2468"})
	r.await(kiosk.Menu)
	r.c.Do(kiosk.OpenAdmin{})
	a := r.await(kiosk.Admin)
	if a.Admin == nil || !strings.Contains(a.Admin.CameraError, "exit status 1: ERROR: *** no cameras available ***") || a.Admin.CameraErrorAt.IsZero() {
		t.Fatalf("admin view camera error %q at %v", a.Admin.CameraError, a.Admin.CameraErrorAt)
	}
}
