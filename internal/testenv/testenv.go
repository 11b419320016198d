// Package testenv tells tests what the machine they run on has, in the
// manner of the Go distribution's internal/testenv: a test that needs an
// outside program asks for it here instead of looking it up itself.
//
// A missing program skips the test on a developer's machine, and fails it
// when CI=true: CI's `make test` installs every tool first, so there a
// missing one means the set-up is broken, and a skip would hide that the
// test never ran.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI (CI=true, as CI sets it).
func InCI() bool { return os.Getenv("CI") == "true" }

// MustHaveTool returns the path of the program name, which the Debian
// package pkg provides. When it is not on PATH the test is skipped, or
// fails under CI.
func MustHaveTool(tb testing.TB, name, pkg string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	Missing(tb, "%s is not installed (Debian package %s; make deps installs it)", name, pkg)
	return ""
}

// Missing skips the test with the message format, or fails it under CI,
// for a prerequisite other than a program on PATH.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("CI=true: "+format, args...)
	}
	tb.Skipf(format, args...)
}

// Seed returns the seed for a randomised test: KEYCAB_SEED when it is set,
// a fresh one otherwise. It logs the seed, so a failure seen once can be
// replayed with KEYCAB_SEED=N go test -run NAME.
func Seed(tb testing.TB) uint64 {
	tb.Helper()
	if v := os.Getenv("KEYCAB_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			tb.Fatalf("KEYCAB_SEED=%q: %v", v, err)
		}
		tb.Logf("seed %d (from KEYCAB_SEED)", n)
		return n
	}
	n := uint64(time.Now().UnixNano())
	tb.Logf("seed %d (replay with KEYCAB_SEED=%d)", n, n)
	return n
}

// BuildForHost builds the Go packages pkgs into dir (a directory, each
// program named after its package) for the machine the go command runs
// on, with cgo off, and returns dir. A test that runs programs as its own
// processes builds them here: under -exec qemu-aarch64-static (make
// qemu-test) the test binary is another architecture's, but the host's
// kernel execs its children, and it cannot run those without binfmt_misc.
func BuildForHost(tb testing.TB, dir string, pkgs ...string) string {
	tb.Helper()
	host, err := exec.Command("go", "env", "GOHOSTOS", "GOHOSTARCH").Output()
	if err != nil {
		tb.Fatalf("go env: %v", err)
	}
	hostOS, hostArch, _ := strings.Cut(strings.TrimSpace(string(host)), "\n")
	build := exec.Command("go", append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+hostOS, "GOARCH="+hostArch, "GOARM=")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return dir
}

// Buffer is a bytes.Buffer that a process's output, a logger's goroutines
// and a test may share: Write and String hold its lock.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Len returns how many bytes have been written.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

// Eventually calls ok until it holds, failing the test after d with what
// it was waiting for. It polls at 2 ms at first, for conditions a pin or a
// goroutine meets at once, and backs off to 50 ms, for those that read
// files or make requests. It bounds waits in tests; it is not a timing
// assertion.
func Eventually(tb testing.TB, d time.Duration, what string, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for wait := 2 * time.Millisecond; !ok(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(wait)
	}
}

// ReadEnvFile reads a file of KEY=VALUE lines, values optionally in
// double quotes: the logins keycab-hq demo-seed --out writes.
func ReadEnvFile(tb testing.TB, path string) map[string]string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = strings.Trim(v, `"`)
		}
	}
	return env
}
