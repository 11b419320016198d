package pismoketest_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/hardware/lock"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

func MustPi(tb testing.TB) {
	tb.Helper()
	model, err := os.ReadFile("/proc/device-tree/model")
	if err != nil || !strings.Contains(string(model), "Raspberry Pi") {
		tb.Skip("not a Raspberry Pi")
	}
	if _, err := host.Init(); err != nil {
		tb.Fatalf("periph host init: %v", err)
	}
}

func TestLoopbackEdges(t *testing.T) {
	MustPi(t)
	out, in := gpioreg.ByName("GPIO24"), gpioreg.ByName("GPIO23")
	if out == nil || in == nil {
		t.Fatal("GPIO23/GPIO24 not found")
	}
	if err := out.Out(gpio.Low); err != nil {
		t.Fatal(err)
	}
	w, err := input.Open(input.Config{Inputs: []input.Input{{Name: "loop", Kind: input.Tamper, Pin: "GPIO23", Pull: gpio.Float}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 5; i++ {
		if err := out.Out(gpio.Level(i%2 == 0)); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-w.Events():
			if ev.Active != (i%2 == 0) {
				t.Fatalf("event %v after writing %v", ev, i%2 == 0)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no edge on loopback")
		}
	}
}

func TestLockPulse(t *testing.T) {
	MustPi(t)
	bank, err := lock.Open(lock.Config{Locks: []lock.Lock{{Name: "slot1", Pin: "GPIO17", Pulse: 500 * time.Millisecond, MaxOn: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	defer bank.Halt()
	if err := bank.Unlock("slot1", 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if gpioreg.ByName("GPIO17").Read() != gpio.Low {
		t.Fatal("lock output still energised after its pulse")
	}
}
