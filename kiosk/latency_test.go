package kiosk_test

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"keycab.dev/keycab/hardware/camera"
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
	})
	// The stopwatch stops when slot 1's output goes high.
	released := make(chan time.Time, 1)
	r.cab.Board.Pin("L1").Watch(func(l gpio.Level) {
		if l == gpio.High {
			select {
			case released <- time.Now():
			default:
			}
		}
	})
	const token = "qr-token-1"
	takeKS1 := func() {
		r.badge("BADGE-BEN")
		r.await(kiosk.Menu)
		r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
		r.await(kiosk.Reason)
		r.do(kiosk.GiveReason{Reason: "viewing"})
		r.await(kiosk.Unlocking)
		if err := r.takeKey(1, false); err != nil {
			b.Fatal(err)
		}
		r.await(kiosk.Done)
		if r.cab.PinHigh("L1") {
			b.Fatal("slot 1 not relocked after the take")
		}
	}
	takeKS1()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r.badge("BADGE-BEN")
		r.await(kiosk.Menu)
		select {
		case <-released: // the take's
		default:
		}
		bound := time.NewTimer(wait)
		b.StartTimer()
		cam.show(token)
		var t1 time.Time
		select {
		case t1 = <-released:
		case <-bound.C:
			b.Fatalf("slot 1 not released by the QR code within %v", wait)
		}
		b.StopTimer()
		bound.Stop()
		lat = append(lat, t1.Sub(time.Unix(0, cam.first.Load())))
		cam.show("")
		r.await(kiosk.Unlocking)
		r.putKey(1)
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
