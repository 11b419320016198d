package console_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/console"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/passhash"
	"keycab.dev/keycab/store/storetest"
)

// syncBuffer is a bytes.Buffer safe for the console's printer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestConsoleTake(t *testing.T) {
	ctx := context.Background()
	cfg, badges, err := simulator.Demo(time.Now(), passhash.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.MustOpen(t, nil)
	if err := db.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	cab, err := simulator.New(cfg.Cabinet, cfg.Slots, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cab.Close()
	c, err := kiosk.New(kiosk.Config{Store: db, Locks: cab.Locks, Scanners: []kiosk.Scanner{cab.Badges}, Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States()})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	defer func() { stop(); <-done }()

	out := &syncBuffer{}
	in, w := io.Pipe()
	con := console.New(c, cab, out)
	finished := make(chan error, 1)
	go func() { finished <- con.Run(ctx, in) }()
	say := func(line string, want string) {
		t.Helper()
		io.WriteString(w, line+"\n")
		if want != "" {
			hardwaretest.Eventually(t, 10*time.Second, "after "+line+": "+want, func() bool { return strings.Contains(out.String(), want) })
		}
	}
	say("status", "Scan your badge")
	say("badge "+badges[1].Code, "take 1: 12 High St, front door [slot 1]")
	if strings.Contains(out.String(), "3 Mill Lane") {
		t.Fatal("a key set reserved for someone else was offered")
	}
	say("take 1", "reasons: viewing")
	say("reason viewing|Mr Patel", "Slot 1 is open")
	say("locks", "SLOT1_LOCK   RELEASED")
	say("slot 1 out", "Taken: 12 High St, front door")
	say("slot 2 yank", "ALARM")
	say("frobnicate", "unknown command")
	say("quit", "")
	w.Close()
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	keys, _ := db.KeysOut(ctx)
	if len(keys) != 1 || keys[0].KeySetID != "ks-1" || keys[0].MemberID != "m-ben" || keys[0].Recipient != "Mr Patel" {
		t.Fatalf("custody %+v", keys)
	}
}
