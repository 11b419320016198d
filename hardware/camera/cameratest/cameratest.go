// Package cameratest gives tests a camera that fails the way a real one
// does: a camera program (a stand-in for rpicam-vid) that says why on
// stderr and exits.
package cameratest

import (
	"os"
	"path/filepath"
	"testing"

	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/internal/testenv"
)

// FailingSource returns a camera source whose program writes why to
// stderr and exits 1 at once, and a channel closed when the source first
// reports the trouble. The source is closed at the test's cleanup.
func FailingSource(tb testing.TB, why string) (*camera.Source, <-chan struct{}) {
	tb.Helper()
	testenv.MustHaveTool(tb, "sh", "dash")
	script := filepath.Join(tb.TempDir(), "rpicam-vid")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho '"+why+"' >&2\nexit 1\n"), 0o755); err != nil {
		tb.Fatal(err)
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
	tb.Cleanup(func() { src.Close() })
	return src, failed
}
