package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/store"
)

// asProgram makes the test binary run the kiosk program's main instead of
// the tests when the environment says so: the tests below start it as the
// real program, with real signals and a real terminal.
const asProgram = "KEYCAB_KIOSK_TEST_AS_PROGRAM"

func TestMain(m *testing.M) {
	if os.Getenv(asProgram) == "1" {
		os.Args = append([]string{"keycab-kiosk"}, strings.Fields(os.Getenv(asProgram+"_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSIGTERMStopsConsole runs the program's console on a simulated
// cabinet with a pty as its terminal, left open and idle, and sends it
// SIGTERM as systemd does: it must exit cleanly, with every lock secured
// and kiosk.shutdown as the log's last entry.
func TestSIGTERMStopsConsole(t *testing.T) {
	data := t.TempDir()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), asProgram+"=1", asProgram+"_ARGS=--sim --headless --data "+data, "DISPLAY=", "WAYLAND_DISPLAY=")
	var stderr testenv.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	var term testenv.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			term.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	testenv.Eventually(t, 60*time.Second, "the console's idle screen", func() bool {
		return strings.Contains(term.String(), "Scan your badge")
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("still running 30s after SIGTERM with its terminal open\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "secure lock") {
		t.Errorf("a lock was not secured on the way out:\n%s", stderr.String())
	}
	db, err := store.Open(context.Background(), filepath.Join(data, "kiosk.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var last keycab.EventKind
	if err := db.Scan(context.Background(), 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			return err
		}
		last = ev.Kind
		return nil
	}); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if last != keycab.EventShutdown {
		t.Fatalf("last log entry %q, want %q", last, keycab.EventShutdown)
	}
}
