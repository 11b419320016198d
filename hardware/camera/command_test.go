package camera_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/internal/testenv"
)

// mustScript writes a shell script to a temporary directory and returns
// its path.
func mustScript(tb testing.TB, body string) string {
	tb.Helper()
	testenv.MustHaveTool(tb, "sh", "dash")
	path := filepath.Join(tb.TempDir(), "camera.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		tb.Fatal(err)
	}
	return path
}

// readFails reads st until it fails and returns the error, which must be
// an *camera.ExitError.
func readFails(tb testing.TB, st camera.Stream) *camera.ExitError {
	tb.Helper()
	for {
		_, err := st.ReadFrame()
		if err == nil {
			continue
		}
		var ee *camera.ExitError
		if !errors.As(err, &ee) {
			tb.Fatalf("stream ended with %v (%T), not the program's exit", err, err)
		}
		if ee.Error() != err.Error() {
			tb.Fatalf("error %q is not the exit's %q", err, ee)
		}
		return ee
	}
}

// TestFFmpegMissingInput has ffmpeg open a file that does not exist: its
// complaint reaches the stream's error, the log and Source.LastError.
func TestFFmpegMissingInput(t *testing.T) {
	testenv.MustHaveTool(t, "ffmpeg", "ffmpeg")
	missing := filepath.Join(t.TempDir(), "missing.mp4")
	cmd := camera.FFmpeg(missing, 640, 480, false)
	st, err := cmd.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ee := readFails(t, st)
	st.Close()
	if ee.Path != "ffmpeg" || !strings.Contains(ee.Stderr, "No such file or directory") || !strings.Contains(ee.Error(), missing) {
		t.Fatalf("ffmpeg's failure reads %q (stderr %q)", ee, ee.Stderr)
	}
	var exit *exec.ExitError
	if !errors.As(ee, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("exit %v", ee.Err)
	}

	logs, log := hardwaretest.NewLogs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := camera.NewSource(camera.SourceConfig{Open: cmd.Open, Logger: log, BackoffMin: time.Millisecond,
		OnTrouble: func(error) { cancel() }})
	defer src.Close()
	if _, err := src.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next: %v", err)
	}
	at, last := src.LastError()
	if !errors.Is(last, camera.ErrEnded) || !strings.Contains(last.Error(), "No such file or directory") || at.IsZero() {
		t.Fatalf("last error %v at %v", last, at)
	}
	if r := strings.Join(logs.Records(), "\n"); !strings.Contains(r, "No such file or directory") {
		t.Fatalf("the log does not say why ffmpeg failed:\n%s", r)
	}
}

// TestProgramStderrTail runs a program that writes much more than
// StderrTail to stderr and exits 3: the error carries the end of it, from
// a line's start, and the exit status.
func TestProgramStderrTail(t *testing.T) {
	path := mustScript(t, `i=0
while [ $i -lt 2000 ]; do echo "rpicam-vid: retrying camera $i" >&2; i=$((i+1)); done
echo "ERROR: *** no cameras available ***" >&2
exit 3
`)
	st, err := camera.Command{Path: path, Width: 640, Height: 480}.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ee := readFails(t, st)
	if len(ee.Stderr) > camera.StderrTail || !strings.HasPrefix(ee.Stderr, "rpicam-vid: retrying camera ") ||
		!strings.HasSuffix(ee.Stderr, "ERROR: *** no cameras available ***") || !strings.Contains(ee.Stderr, "retrying camera 1999\n") {
		t.Fatalf("stderr kept (%d bytes): %q", len(ee.Stderr), ee.Stderr)
	}
	var exit *exec.ExitError
	if !errors.As(ee, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("exit %v", ee.Err)
	}
	if !strings.Contains(ee.Error(), "exit status 3") || !strings.Contains(ee.Error(), "no cameras available") {
		t.Fatalf("error %q", ee)
	}
}

// TestOpenHonoursContext cancels the context a running program was opened
// with: the program is killed and reaped, the stream says so, and no
// goroutine is left behind.
func TestOpenHonoursContext(t *testing.T) {
	before := runtime.NumGoroutine()
	path := mustScript(t, `echo $$ > "$0.pid"
echo "camera started" >&2
printf 'YYYYUV'
exec sleep 600
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := camera.Command{Path: path, Width: 2, Height: 2}.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if f, err := st.ReadFrame(); err != nil || string(f.Y) != "YYYY" {
		t.Fatalf("first frame %q, %v", f.Y, err)
	}
	b, err := os.ReadFile(path + ".pid") // written before the frame
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	failed := make(chan error, 1)
	go func() {
		_, err := st.ReadFrame()
		failed <- err
	}()
	select {
	case err = <-failed:
	case <-time.After(30 * time.Second):
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatal("ReadFrame still blocked 30s after the context was cancelled: the program was not killed")
	}
	var ee *camera.ExitError
	if !errors.As(err, &ee) || !errors.Is(err, context.Canceled) || ee.Stderr != "camera started" {
		t.Fatalf("stream ended with %v (%T), want the program's exit through the context", err, err)
	}
	// A killed child not yet reaped is a zombie, which still takes
	// signal 0; a reaped one is gone.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d after the stream ended: kill 0 gives %v, want ESRCH (reaped)", pid, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := camera.FFmpeg("x", 2, 2, false).Open(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with an ended context: %v", err)
	}
	testenv.Eventually(t, 10*time.Second, "goroutines settle", func() bool { return runtime.NumGoroutine() <= before })
}
