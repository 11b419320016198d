package kiosk_test

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/hardware/sim"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
)

// markedCamera is the simulated camera with a stopwatch: it notes when it
// delivers the first frame after the scene was armed (when the frame that
// carries a code leaves the camera).
type markedCamera struct {
	*sim.Camera
	mu    sync.Mutex
	armed bool
	first atomic.Int64 // unix nanoseconds of the first armed frame
}

func (m *markedCamera) show(text string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.first.Store(0)
	m.armed = text != ""
	if m.armed {
		m.Camera.Show(text)
	} else {
		m.Camera.Show()
	}
}

func (m *markedCamera) Open(ctx context.Context) (camera.Stream, error) { return m, nil }

func (m *markedCamera) ReadFrame() (camera.Frame, error) {
	m.mu.Lock()
	armed := m.armed
	f, err := m.Camera.ReadFrame()
	m.mu.Unlock()
	if armed {
		m.first.CompareAndSwap(0, time.Now().UnixNano())
	}
	return f, err
}

// BenchmarkScanToUnlock measures, over b.N returns, the time from the
// camera frame that first carries a key fob's QR code to the slot's lock
// output going high: QR decoding on the luma plane, the controller's
// decision and the lock driver's pin write. The camera runs at 30 frames a
// second. Run: go test ./kiosk -run '^$' -bench ScanToUnlock -benchtime 1000x
func BenchmarkScanToUnlock(b *testing.B) {
	cfg := testConfig(b)
	cfg.Policy.ScanCoolDown = 20 * time.Millisecond
	cam := &markedCamera{Camera: sim.NewCamera()}
	cam.Interval = 33 * time.Millisecond
	src := camera.NewSource(camera.SourceConfig{Open: cam.Open})
	// Its takes and returns follow each other faster than any person's,
	// inside the door lock's rest after each release (lock.Lock.Rest),
	// which would refuse the next release: the locks here need none.
	r := newRigWith(b, cfg, simulator.Options{Rest: -1}, func(c *kiosk.Config) {
		c.Scanners = append(c.Scanners, kiosk.NewQRScanner(src))
		c.ShowDone = 50 * time.Millisecond
	})
	const token = "qr-token-1"
	takeKS1 := func() {
		r.badge("BADGE-BEN")
		r.await(kiosk.Menu)
		r.c.Do(kiosk.ChooseTake{KeySetID: "ks-1"})
		r.await(kiosk.Reason)
		r.c.Do(kiosk.GiveReason{Reason: "viewing"})
		r.await(kiosk.Unlocking)
		r.cab.TakeKey(1, false)
		r.await(kiosk.Done)
		hardwaretest.Eventually(b, wait, "slot 1 relocked", func() bool { return !r.cab.PinHigh("L1") })
	}
	takeKS1()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r.badge("BADGE-BEN")
		r.await(kiosk.Menu)
		b.StartTimer()
		cam.show(token)
		var t1 time.Time
		hardwaretest.Eventually(b, wait, "slot 1 released by the QR", func() bool {
			if r.cab.PinHigh("L1") {
				t1 = time.Now()
				return true
			}
			return false
		})
		b.StopTimer()
		lat = append(lat, t1.Sub(time.Unix(0, cam.first.Load())))
		cam.show("")
		r.cab.PutKey(1)
		r.await(kiosk.Done)
		takeKS1()
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	b.ReportMetric(float64(p(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
