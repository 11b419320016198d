package badge_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab/hardware"
	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/hardware/sim"
	"keycab.dev/keycab/internal/testenv"
)

// stepClock advances by step on every Now call, plus a jump at chosen call
// numbers. The RDM6300 reader calls Now exactly once per valid frame, so the
// test decides the time of every frame regardless of scheduling.
type stepClock struct {
	mu    sync.Mutex
	t     time.Time
	calls int
	step  time.Duration
	jumps map[int]time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.t = c.t.Add(c.step + c.jumps[c.calls])
	return c.t
}

func (c *stepClock) AfterFunc(d time.Duration, f func()) hardware.Timer { return time.AfterFunc(d, f) }

func MustFrame(tb testing.TB, code string) []byte {
	tb.Helper()
	f, err := badge.RDM6300Frame(code)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func MustRead(tb testing.TB, r badge.Reader) badge.Badge {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := r.Read(ctx)
	if err != nil {
		tb.Fatalf("read badge: %v", err)
	}
	return b
}

// MustNext reads the next badge and checks its code.
func MustNext(tb testing.TB, r badge.Reader, want string) {
	tb.Helper()
	if b := MustRead(tb, r); b.Code != want {
		tb.Fatalf("read %q (%s), want %q", b.Code, b.Source, want)
	}
}

func MustDevice(tb testing.TB) *sim.SerialDevice {
	tb.Helper()
	d, err := sim.NewSerialDevice(filepath.Join(tb.TempDir(), "ttyRFID"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// checkGoroutines fails tb if goroutines started after it was called are
// still running once the test's cleanups ran.
func checkGoroutines(tb testing.TB) {
	before := runtime.NumGoroutine()
	tb.Cleanup(func() {
		testenv.Eventually(tb, 10*time.Second, "goroutines settle", func() bool {
			return runtime.NumGoroutine() <= before
		})
	})
}

func newRDM(tb testing.TB, dev *sim.SerialDevice, clk hardware.Clock, hold time.Duration) (badge.Reader, *hardwaretest.Logs) {
	logs, log := hardwaretest.NewLogs()
	r := badge.NewRDM6300(badge.RDM6300Config{
		SerialConfig: badge.SerialConfig{Port: dev.Path(), Clock: clk, Logger: log, Poll: 20 * time.Millisecond,
			Backoff: badge.Backoff{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond}},
		Hold: hold,
	})
	tb.Cleanup(func() { r.Close() })
	return r, logs
}

func TestRDM6300OverPTY(t *testing.T) {
	checkGoroutines(t)
	dev := MustDevice(t)
	clk := &stepClock{step: 10 * time.Millisecond}
	r, logs := newRDM(t, dev, clk, 100*time.Millisecond)

	a, c, d := MustFrame(t, "0A1B2C3D4E"), MustFrame(t, "1122334455"), MustFrame(t, "00DEADBEEF")
	bad := MustFrame(t, "0102030405")
	bad[11], bad[12] = 'F', 'F' // wrong checksum
	var stream []byte
	stream = append(stream, "noise\r\n"...)
	stream = append(stream, a...)
	stream = append(stream, bad...)
	stream = append(stream, c...) // glued
	stream = append(stream, c...) // repeated: same presentation
	stream = append(stream, 0x02, '1', '2', '3')
	stream = append(stream, d[:5]...) // truncated frame, then d split
	if err := dev.Write(stream); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // give the reader a chance to see d split
	if err := dev.Write(d[5:]); err != nil {
		t.Fatal(err)
	}
	MustNext(t, r, "0A1B2C3D4E")
	MustNext(t, r, "1122334455")
	MustNext(t, r, "00DEADBEEF")
	for _, reason := range []string{"outside a frame", "checksum", "truncated"} {
		if logs.Count("frame rejected", reason) == 0 {
			t.Errorf("no rejection logged for %q: %q", reason, logs.Records())
		}
	}
}

func TestRDM6300CardHeld(t *testing.T) {
	checkGoroutines(t)
	dev := MustDevice(t)
	const held = 300 // frames, one every 10ms of reader time: 3s held
	// The card is taken away for 2s after frame 300, then shown again.
	clk := &stepClock{step: 10 * time.Millisecond, jumps: map[int]time.Duration{held + 1: 2 * time.Second}}
	r, _ := newRDM(t, dev, clk, 200*time.Millisecond)
	rdm := &sim.RDM6300{SerialDevice: dev}
	if err := rdm.Present("0A1B2C3D4E", held); err != nil {
		t.Fatal(err)
	}
	if err := rdm.Present("0A1B2C3D4E", 20); err != nil {
		t.Fatal(err)
	}
	if err := rdm.Present("5566778899", 1); err != nil { // sentinel
		t.Fatal(err)
	}
	first := MustRead(t, r)
	second := MustRead(t, r)
	MustNext(t, r, "5566778899")
	if first.Code != "0A1B2C3D4E" || second.Code != "0A1B2C3D4E" {
		t.Fatalf("reads %q, %q: want the card once per presentation", first.Code, second.Code)
	}
	if gap := second.At.Sub(first.At); gap < 3*time.Second {
		t.Fatalf("second report %v after the first; want the second presentation", gap)
	}
}

func TestRDM6300DeviceVanishes(t *testing.T) {
	checkGoroutines(t)
	dev := MustDevice(t)
	clk := &stepClock{step: time.Second} // every frame a new presentation
	r, logs := newRDM(t, dev, clk, 100*time.Millisecond)
	rdm := &sim.RDM6300{SerialDevice: dev}
	if err := rdm.Present("0A1B2C3D4E", 1); err != nil {
		t.Fatal(err)
	}
	MustNext(t, r, "0A1B2C3D4E")

	// Unplug while the reader waits, then plug back in.
	got := make(chan badge.Badge, 1)
	go func() {
		b, _ := r.Read(context.Background())
		got <- b
	}()
	if err := dev.Unplug(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "reader notices the unplug", func() bool {
		return logs.Count("device lost") > 0 || logs.Count("open failed") > 0
	})
	if err := dev.Plug(); err != nil {
		t.Fatal(err)
	}
	// The reader may not have reopened yet: keep presenting until it has.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := rdm.Present("1122334455", 1); err != nil {
			t.Fatal(err)
		}
		select {
		case b := <-got:
			if b.Code != "1122334455" {
				t.Fatalf("after replug read %q", b.Code)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no badge after replug; logs %q", logs.Records())
		}
	}
}

func TestReadHonoursContextAndClose(t *testing.T) {
	checkGoroutines(t)
	dev := MustDevice(t)
	r, _ := newRDM(t, dev, nil, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read: %v", err)
	}
	r.Close()
	if _, err := r.Read(context.Background()); !errors.Is(err, badge.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}

func TestLineScanner(t *testing.T) {
	checkGoroutines(t)
	dev := MustDevice(t)
	logs, log := hardwaretest.NewLogs()
	r := badge.NewLine(badge.SerialConfig{Port: dev.Path(), Logger: log, Poll: 20 * time.Millisecond})
	defer r.Close()
	sc := sim.Scanner{SerialDevice: dev}
	if err := dev.Write([]byte("KEY-1\r\n\r\nbad\x01line\nKE")); err != nil {
		t.Fatal(err)
	}
	if err := sc.Scan("Y-2"); err != nil {
		t.Fatal(err)
	}
	MustNext(t, r, "KEY-1")
	MustNext(t, r, "KEY-2")
	if logs.Count("frame rejected", "control") != 1 {
		t.Fatalf("logs %q", logs.Records())
	}
}

func TestWedge(t *testing.T) {
	checkGoroutines(t)
	kb, err := sim.NewKeyboard(filepath.Join(t.TempDir(), "usb-reader-event-kbd"))
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	logs, log := hardwaretest.NewLogs()
	r := badge.NewWedge(badge.WedgeConfig{SerialConfig: badge.SerialConfig{Port: kb.Path(), Logger: log, Poll: 20 * time.Millisecond}})
	defer r.Close()
	if err := kb.Type("Badge-0042"); err != nil {
		t.Fatal(err)
	}
	if err := kb.WriteRaw(badge.AppendInputEvent(nil, badge.InputEvent{Type: 1, Code: 200, Value: 1})); err != nil {
		t.Fatal(err)
	}
	if err := kb.Type("x"); err != nil { // line with an unknown key: rejected
		t.Fatal(err)
	}
	if err := kb.Type("NEXT"); err != nil {
		t.Fatal(err)
	}
	MustNext(t, r, "Badge-0042")
	MustNext(t, r, "NEXT")
	if logs.Count("frame rejected", "not in layout") != 1 || logs.Count("cannot grab") != 1 {
		t.Fatalf("logs %q", logs.Records())
	}
}

func TestWiegandOnPins(t *testing.T) {
	checkGoroutines(t)
	board := sim.NewBoard("WG_D0", "WG_D1")
	clk := hardwaretest.NewClock()
	logs, log := hardwaretest.NewLogs()
	w, err := badge.NewWiegand(badge.WiegandConfig{D0: "WG_D0", D1: "WG_D1", Pins: board.ByName, Clock: clk, Logger: log, EdgeTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wg := sim.Wiegand{D0: board.Pin("WG_D0"), D1: board.Pin("WG_D1")}
	read := func() badge.Badge {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			clk.Advance(30 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			b, err := w.Read(ctx)
			cancel()
			if err == nil {
				return b
			}
		}
		t.Fatal("no wiegand badge")
		return badge.Badge{}
	}
	if err := wg.Present(26, 123<<16|45678); err != nil {
		t.Fatal(err)
	}
	if b := read(); b.Code != "8106606" || b.Source != "wiegand26" {
		t.Fatalf("got %+v", b)
	}
	bits, _ := badge.WiegandFrame(34, 0xDEADBEEF)
	bits[5] ^= 1 // parity error: rejected
	if err := wg.Send(bits); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "bad frame rejected", func() bool {
		clk.Advance(30 * time.Millisecond)
		return logs.Count("frame rejected", "parity") == 1
	})
	if err := wg.Present(34, 0xDEADBEEF); err != nil {
		t.Fatal(err)
	}
	if b := read(); b.Code != "3735928559" || b.Source != "wiegand34" {
		t.Fatalf("got %+v", b)
	}
	if logs.Count("frame rejected", "parity") != 1 {
		t.Fatalf("logs %q", logs.Records())
	}
}
