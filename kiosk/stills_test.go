package kiosk_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"image/jpeg"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/camera/cameratest"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// videoCamera is a QR scanner over ffmpeg's test pattern at 1280 x 720,
// read in real time through the camera path a kiosk uses (camera.Command,
// its raw yuv420 pipe, camera.Source).
func videoCamera(t *testing.T) *kiosk.QRScanner {
	testenv.MustHaveTool(t, "ffmpeg", "ffmpeg")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cmd := camera.FFmpeg("testsrc2=s=1280x720:r=15", 1280, 720, true)
	cmd.Args = append([]string{"-f", "lavfi"}, cmd.Args...)
	return kiosk.NewQRScanner(camera.NewSource(camera.SourceConfig{Open: func(context.Context) (camera.Stream, error) { return cmd.Open(ctx) }}))
}

// stillOf returns the JPEG kept for the still of the entry at index,
// checked against the hash the entry holds.
func stillOf(t *testing.T, r *rig, index int64, ev *audit.Event) []byte {
	t.Helper()
	ref := ev.StillRef()
	if len(ref) != 32 {
		t.Fatalf("%s entry holds no still hash: detail %v", ev.Kind, ev.Detail)
	}
	b, ok, err := r.db.KeptStill(context.Background(), index)
	if err != nil || !ok {
		t.Fatalf("%s: no still kept for hash %x (%v)", ev.Kind, ref, err)
	}
	if !bytes.Equal(audit.StillHash(b), ref) || ev.Detail[audit.StillKey] != hex.EncodeToString(audit.StillHash(b)) {
		t.Fatalf("%s: the kept still does not hash to the entry's", ev.Kind)
	}
	return b
}

type indexed struct {
	index int64
	ev    *audit.Event
}

// entriesOf returns the decoded entries of one kind with their indexes.
func entriesOf(t *testing.T, r *rig, kind keycab.EventKind) []indexed {
	t.Helper()
	var out []indexed
	r.db.Scan(context.Background(), 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == kind {
			out = append(out, indexed{e.Index, ev})
		}
		return nil
	})
	return out
}

// TestStillsOnTakeReturnAndAlarm: with the policy's Stills on, a take, a
// return and an alarm each keep a JPEG from the camera (a 1280 x 720
// video, kept at 640 x 360) whose SHA-256 their entry holds, and the log
// verifies; with the policy off no entry holds one.
func TestStillsOnTakeReturnAndAlarm(t *testing.T) {
	cfg := testConfig(t)
	cfg.Policy.Stills = true
	cam := videoCamera(t)
	r := newRig(t, cfg, func(c *kiosk.Config) { c.Scanners = append(c.Scanners, cam) })
	testenv.Eventually(t, wait, "a frame from the camera", func() bool { _, err := cam.Still(); return err == nil })
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	r.clock.Advance(time.Second)
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseReturn{KeySetID: "ks-1"})
	r.await(kiosk.Unlocking)
	r.putKey(1)
	r.await(kiosk.Done)
	r.toIdle()
	r.door(true) // locked: forced
	testenv.Eventually(t, wait, "the door-forced alarm", func() bool { return r.alarm(keycab.AlarmDoorForced) })

	for _, kind := range []keycab.EventKind{keycab.EventKeyTaken, keycab.EventKeyReturned, keycab.EventAlarmRaised} {
		evs := entriesOf(t, r, kind)
		if len(evs) != 1 {
			t.Fatalf("%d %s entries, want 1", len(evs), kind)
		}
		img, err := jpeg.Decode(bytes.NewReader(stillOf(t, r, evs[0].index, evs[0].ev)))
		if err != nil {
			t.Fatalf("%s: the still is no JPEG: %v", kind, err)
		}
		if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 360 {
			t.Fatalf("%s: the still is %v, want 640 x 360 (1280 x 720 halved)", kind, b)
		}
	}
	res := storetest.MustVerifyResult(t, r.db)
	if res.Stills != 3 {
		t.Fatalf("verify: %d stills match, want 3", res.Stills)
	}
}

// TestStillsCameraFails: a camera that gives no frame never blocks a take
// or a return; their entries say the still is unavailable, and with no
// camera at all that there is none. With the policy off, nothing.
func TestStillsCameraFails(t *testing.T) {
	for _, c := range []struct {
		name    string
		stills  bool
		camera  bool
		missing string
	}{
		{"failing camera", true, true, "unavailable"},
		{"no camera", true, false, "no camera"},
		{"policy off", false, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Policy.Stills = c.stills
			src, failed := cameratest.FailingSource(t, "ERROR: *** no cameras available ***")
			r := newRig(t, cfg, func(k *kiosk.Config) {
				if c.camera {
					k.Scanners = append(k.Scanners, kiosk.NewQRScanner(src))
				}
			})
			if c.camera {
				<-failed
			}
			r.take("BADGE-BEN", "ks-1", 1)
			if len(r.keysOut()) != 1 {
				t.Fatal("the take did not happen")
			}
			for _, ev := range r.events(keycab.EventKeyTaken) {
				if ev.StillRef() != nil || ev.Detail[audit.StillMissingKey] != c.missing {
					t.Fatalf("take entry detail %v, want no still and %s %q", ev.Detail, audit.StillMissingKey, c.missing)
				}
			}
			r.verify()
		})
	}
}
