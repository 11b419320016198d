package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/store/storetest"
)

// TestWatchdog runs the supervisor against a fake systemd notify socket:
// READY once the controller runs, WATCHDOG pings while it goes round, and
// none once it has stopped.
func TestWatchdog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	db := storetest.MustOpen(t, nil)
	cfg := storetest.Config(1)
	if err := db.ApplyConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cab, err := simulator.New(cfg.Cabinet, cfg.Slots, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cab.Close()
	c, err := kiosk.New(kiosk.Config{Store: db, Locks: cab.Locks, Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States()})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopController := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	supCtx, stopSupervisor := context.WithCancel(context.Background())
	defer stopSupervisor()
	go superviseWithSystemd(supCtx, c, slog.New(slog.NewTextHandler(io.Discard, nil)))

	read := func(within time.Duration) string {
		conn.SetReadDeadline(time.Now().Add(within))
		buf := make([]byte, 256)
		n, err := conn.Read(buf)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(buf[:n]))
	}
	if got := read(10 * time.Second); got != "READY=1" {
		t.Fatalf("first message %q, want READY=1", got)
	}
	for i := 0; i < 3; i++ {
		if got := read(10 * time.Second); got != "WATCHDOG=1" {
			t.Fatalf("ping %d: %q, want WATCHDOG=1", i, got)
		}
	}
	stopController()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The loop no longer goes round: after at most one ping in flight,
	// the pings stop and systemd's watchdog would fire.
	read(300 * time.Millisecond)
	if got := read(2 * time.Second); got == "WATCHDOG=1" {
		t.Fatal("the supervisor kept pinging for a stopped controller")
	}
}
