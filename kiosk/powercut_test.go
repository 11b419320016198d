package kiosk_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// The power-cut test re-runs this test binary as a kiosk that takes and
// returns keys in a loop until it is killed.
const powerCutEnv = "KEYCAB_POWERCUT_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(powerCutEnv); spec != "" {
		if err := powerCutChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "power-cut child:", err)
			os.Exit(3)
		}
		return
	}
	os.Exit(m.Run())
}

// powerCutChild runs the controller on a simulated cabinet over the
// database named in spec ("path|signer key|seed") and works it like a busy
// morning: badge, take, return, over and over, its pauses drawn from seed.
func powerCutChild(spec string) error {
	path, rest, _ := strings.Cut(spec, "|")
	skey, seedText, _ := strings.Cut(rest, "|")
	seed, err := strconv.ParseUint(seedText, 10, 64)
	if err != nil {
		return fmt.Errorf("seed in %q: %w", spec, err)
	}
	signer, err := audit.ParseSignerKey(skey)
	if err != nil {
		return err
	}
	ctx := context.Background()
	db, err := store.Open(ctx, path, store.Options{Signer: signer})
	if err != nil {
		return err
	}
	snap, err := db.Snapshot(ctx)
	if err != nil {
		return err
	}
	// Its controller and locks run on a manual clock that the loop below
	// moves; the kill comes in real time, wherever the loop has got to.
	clock := hardwaretest.NewClock()
	cab, err := simulator.New(snap.Cabinet, snap.Slots, simulator.Options{Clock: clock, InputClock: hardware.SystemClock{}})
	if err != nil {
		return err
	}
	out, _ := db.KeysOut(ctx)
	for _, o := range out {
		cab.TakeKey(o.Slot, true) // the cabinet as the log left it
	}
	c, err := kiosk.New(kiosk.Config{Store: db, Locks: cab.Locks, Scanners: []kiosk.Scanner{cab.Badges}, Clock: clock,
		Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States(), ShowDone: time.Millisecond})
	if err != nil {
		return err
	}
	screens := c.Subscribe()
	go c.Run(ctx)
	awaitState := func(s kiosk.State) error {
		bound := time.NewTimer(wait)
		defer bound.Stop()
		for c.Screen().State != s {
			select {
			case <-screens:
			case <-bound.C:
				return fmt.Errorf("stuck before %s at %+v", s, c.Screen())
			}
		}
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := 0; ; i++ {
		clock.Advance(snap.Policy.ScanCoolDown) // and past Done (ShowDone)
		if err := awaitState(kiosk.Idle); err != nil {
			return err
		}
		cab.Badge("BADGE-BEN")
		if err := awaitState(kiosk.Menu); err != nil {
			return err
		}
		held := c.Screen().Return
		slot := 1 + rng.IntN(2)
		if len(held) > 0 {
			c.Do(kiosk.ChooseReturn{KeySetID: held[0].KeySet.ID})
			if err := awaitState(kiosk.Unlocking); err != nil {
				return err
			}
			cab.PutKey(held[0].Slot)
		} else {
			c.Do(kiosk.ChooseTake{KeySetID: fmt.Sprintf("ks-%d", slot)})
			if err := awaitState(kiosk.Reason); err != nil {
				return err
			}
			c.Do(kiosk.GiveReason{Reason: "viewing", Recipient: fmt.Sprintf("visitor %d", i)})
			if err := awaitState(kiosk.Unlocking); err != nil {
				return err
			}
			cab.TakeKey(slot, false)
		}
		if err := awaitState(kiosk.Done); err != nil {
			return err
		}
	}
}

// TestPowerCutMidFlow kills a working kiosk with SIGKILL at random moments
// and restarts it on the same database: each time the database verifies,
// custody matches what the log says, and the restarted kiosk has every
// lock secured before it does anything else.
func TestPowerCutMidFlow(t *testing.T) {
	kills := 25
	if testing.Short() {
		kills = 5
	}
	skey, signer := storetest.MustSignerKey(t, "test.keycab/powercut")
	cfg := testConfig(t)
	cfg.Policy.ScanCoolDown = 5 * time.Millisecond
	d := storetest.MustOpen(t, signer)
	if err := d.ApplyConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	path := d.Path()
	d.Close()
	rng := rand.New(rand.NewPCG(testenv.Seed(t), 3))
	var lastSize int64
	for k := 0; k < kills; k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", powerCutEnv, path, skey, rng.Uint64()))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+rng.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("kill %d: the kiosk exited by itself: %v", k, cmd.ProcessState)
		}
		lastSize = checkAfterPowerCut(t, k, path, signer)
	}
	if lastSize < int64(kills)*3 {
		t.Fatalf("the kiosk did little work between kills: %d entries", lastSize)
	}

	// Restart in this process on a fresh simulated cabinet: before the
	// controller does anything, every output is secure.
	db, err := store.Open(context.Background(), path, store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, _ := db.Snapshot(context.Background())
	cab, err := simulator.New(snap.Cabinet, snap.Slots, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cab.Close()
	for _, n := range cab.Locks.Names() {
		cab.Locks.Unlock(n, time.Minute) // as a crash might have left them
	}
	c, _ := kiosk.New(kiosk.Config{Store: db, Locks: cab.Locks, Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States()})
	screens := c.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	bound := time.NewTimer(wait)
	defer bound.Stop()
	for s := c.Screen(); s.State != kiosk.Idle || s.Seq == 0; s = c.Screen() {
		select {
		case <-screens:
		case <-bound.C:
			t.Fatalf("restarted kiosk did not reach idle: %+v", s)
		}
	}
	for _, n := range cab.Locks.Names() {
		if cab.PinHigh(n) {
			t.Errorf("lock %s released after the restart", n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func checkAfterPowerCut(t *testing.T, k int, path string, signer *audit.Signer) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	res, err := db.Verify(ctx, signer.Verifier())
	if err != nil {
		t.Fatalf("kill %d: verify: %v", k, err)
	}
	// Replay custody from the log.
	holder := map[string]string{}
	db.Scan(ctx, 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case keycab.EventKeyTaken:
			holder[ev.KeySet] = ev.Actor
		case keycab.EventKeyReturned:
			delete(holder, ev.KeySet)
		}
		return nil
	})
	out, err := db.KeysOut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(holder) {
		t.Fatalf("kill %d: custody %+v, log says %v", k, out, holder)
	}
	for _, o := range out {
		if holder[o.KeySetID] != o.MemberID {
			t.Fatalf("kill %d: custody %+v, log says %v", k, out, holder)
		}
	}
	return res.Entries
}
