package store_test

import (
	"bufio"
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
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// The crash test re-runs this test binary as a child that appends in a
// loop; these variables tell it so.
const (
	crashDBEnv  = "KEYCAB_CRASH_CHILD_DB"
	crashKeyEnv = "KEYCAB_CRASH_CHILD_KEY"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashDBEnv); path != "" {
		crashChild(path, os.Getenv(crashKeyEnv))
		return
	}
	os.Exit(m.Run())
}

// crashChild appends until it is killed, printing each index once its
// append has returned: a promise that the entry is durable.
func crashChild(path, skey string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	signer, err := audit.ParseSignerKey(skey)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	d, err := store.Open(ctx, path, store.Options{Signer: signer, Create: true, RetainEvery: 64})
	if err != nil {
		fail(err)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	for {
		index := d.Size()
		var err error
		switch index % 3 {
		case 0:
			_, err = d.Append(ctx, crashRecord(index))
		default:
			// Custody changes alternate take and return of one key set.
			if out, _ := d.KeysOut(ctx); len(out) == 0 {
				err = d.Take(ctx, &keycab.Checkout{KeySetID: "ks-crash", MemberID: "m-" + strconv.FormatInt(index, 10), Slot: 1, Recipient: "R " + strconv.FormatInt(index, 10)})
			} else {
				_, err = d.Return(ctx, "ks-crash", "m-x", 1, false)
			}
		}
		if err != nil {
			fail(err)
		}
		fmt.Fprintln(out, index)
		out.Flush()
	}
}

func crashRecord(index int64) store.Record {
	return store.Record{Event: &audit.Event{
		Kind:   keycab.EventDoorOpened,
		Detail: map[string]string{"seq": strconv.FormatInt(index, 10)},
	}}
}

// TestCrashSIGKILL kills a child appending in a loop with SIGKILL at
// random moments, 200 times, and checks after each kill that the database
// opens, passes PRAGMA integrity_check and keycab's verification, holds
// every append the child saw succeed, and that custody agrees with the log.
func TestCrashSIGKILL(t *testing.T) {
	kills := 200
	if testing.Short() {
		kills = 20
	}
	skey, signer := storetest.MustSignerKey(t, "test.keycab/crash")
	path := t.TempDir() + "/crash.db"
	rng := rand.New(rand.NewPCG(testenv.Seed(t), 1))
	acked := int64(-1) // the newest acknowledged index
	next := int64(0)   // the index the next append must get
	tails := 0         // kills that left entries no signed head covered yet
	for k := 0; k < kills; k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashDBEnv+"="+path, crashKeyEnv+"="+skey)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		select {
		case l := <-lines:
			if l != "ready" {
				t.Fatalf("kill %d: child said %q before ready", k, l)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("kill %d: child did not start", k)
		}
		time.Sleep(time.Duration(rng.IntN(15000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for l := range lines {
			i, err := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
			if err != nil {
				t.Fatalf("kill %d: child printed %q", k, l)
			}
			if i != next {
				t.Fatalf("kill %d: child acknowledged %d, want %d", k, i, next)
			}
			acked, next = i, i+1
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended with %v, not by SIGKILL", k, err)
		}
		// An append may have committed after the last acknowledgement:
		// the next child continues after it.
		var unsigned int64
		next, unsigned = checkAfterCrash(t, k, path, signer, next)
		if unsigned > 0 {
			tails++
		}
	}
	t.Logf("%d kills, %d appends acknowledged, %d kills before a head was signed over the newest entries", kills, acked+1, tails)
	// The kills land within 15 ms of the child's start, long before the
	// seal delay: most leave entries the next child must check and sign.
	if tails == 0 {
		t.Fatal("no kill left entries without a signed head: the crash path of sealing went untested")
	}
}

// checkAfterCrash checks the database after a kill; want is the size that
// the acknowledged appends imply. It returns the actual size, and how many
// of the newest entries no signed head covers yet (the next open signs
// them).
func checkAfterCrash(t *testing.T, k int, path string, signer *audit.Signer, want int64) (int64, int64) {
	t.Helper()
	d, err := store.Open(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("kill %d: open: %v", k, err)
	}
	defer d.Close()
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	res, err := d.Verify(ctx, signer.Verifier())
	if err != nil {
		t.Fatalf("kill %d: verify: %v", k, err)
	}
	// Every acknowledged append is there; at most the one in flight more.
	if res.Entries < want || res.Entries > want+1 {
		t.Fatalf("kill %d: log has %d entries, acknowledged appends make %d", k, res.Entries, want)
	}
	var holder string
	var out bool
	err = d.Scan(ctx, 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			return err
		}
		switch ev.Kind {
		case keycab.EventDoorOpened:
			if ev.Detail["seq"] != strconv.FormatInt(e.Index, 10) {
				return fmt.Errorf("entry %d holds seq %q", e.Index, ev.Detail["seq"])
			}
		case keycab.EventKeyTaken:
			holder, out = ev.Actor, true
		case keycab.EventKeyReturned:
			out = false
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	keys, err := d.KeysOut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out != (len(keys) == 1) || (out && keys[0].MemberID != holder) {
		t.Fatalf("kill %d: custody %+v disagrees with the log (out=%v holder=%s)", k, keys, out, holder)
	}
	return res.Entries, res.Unsigned
}
