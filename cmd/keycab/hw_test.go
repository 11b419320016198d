package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func MustRun(tb testing.TB, args ...string) (stdout, stderr string) {
	tb.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := Main(ctx, &env{stdout: &out, stderr: &errb}, args); code != 0 {
		tb.Fatalf("keycab %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

func TestHWPinsSim(t *testing.T) {
	out, _ := MustRun(t, "hw", "pins", "--sim")
	for _, p := range []string{"DOOR\t", "SLOT1_LOCK\t", "WG_D0\t"} {
		if !strings.Contains(out, p) {
			t.Fatalf("hw pins --sim lacks %q:\n%s", p, out)
		}
	}
}

func TestHWLockSim(t *testing.T) {
	out, _ := MustRun(t, "hw", "lock", "SLOT1_LOCK", "--pulse", "10ms", "--sim")
	if !strings.Contains(out, "SLOT1_LOCK secured") || !strings.Contains(out, "writes: Low High Low") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestHWWatchSim(t *testing.T) {
	out, _ := MustRun(t, "hw", "watch", "--sim")
	want := []string{"door\tdoor\tactive=true", "slot1\tkey\tactive=false", "slot1\tkey\tactive=true", "door\tdoor\tactive=false"}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(l, "initial") {
			f := strings.Split(l, "\t")
			got = append(got, strings.Join(f[:3], "\t"))
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestHWBadgeSim(t *testing.T) {
	for _, tc := range []struct{ proto, code, want string }{
		{"rdm6300", "0A1B2C3D4E", "rdm6300\t0A1B2C3D4E"},
		{"line", "KEY-42", "line\tKEY-42"},
		{"wedge", "Badge-7", "wedge\tBadge-7"},
		{"wiegand", "8106606", "wiegand26\t8106606"},
	} {
		out, _ := MustRun(t, "hw", "badge", "--proto", tc.proto, "--sim", tc.code)
		if strings.TrimSpace(out) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.proto, out, tc.want)
		}
	}
}

func TestQRMakeDecode(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	MustRun(t, "qr", "make", "KEY:0042", "-o", a)
	if err := os.WriteFile(b, mustBlankPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := MustRun(t, "qr", "decode", a, b)
	if out != a+"\tKEY:0042\n"+b+"\t-\n" {
		t.Fatalf("output %q", out)
	}
}

func TestQRDecodeRawNeedsSize(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "v.yuv")
	if err := os.WriteFile(f, make([]byte, 64*64*3/2), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main(context.Background(), &env{stdout: &out, stderr: &errb}, []string{"qr", "decode", f}); code == 0 || !strings.Contains(errb.String(), "--size") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	o, _ := MustRun(t, "qr", "decode", "--size", "64x64", f)
	if o != f+"\t-\n" {
		t.Fatalf("output %q", o)
	}
}
