package ui_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab/internal/testenv"
)

// KioskTags are the build tags the kiosk program ships with (the
// Makefile's KIOSK_TAGS): no_emoji leaves out Fyne's 4 MB colour emoji
// font, which a kiosk never shows and which every text style otherwise
// parses into memory as a fallback face.
const KioskTags = "no_emoji"

// BenchmarkKioskWindow measures the real kiosk window (GLFW under Xvfb, the
// store on disk, the camera decoding 10 frames a second), built as the
// kiosk ships (KioskTags): start-up time from exec to the idle screen, and
// resident memory after ten seconds idle (empty scene), after ten seconds
// with a QR code held in front of the camera, and idle with the
// simulator's panel beside the screen (as keycab-kiosk --sim shows it; a
// cabinet has no panel). Each iteration is three program runs.
//
//	CGO_ENABLED=1 go test -tags no_emoji ./kiosk/ui -run '^$' -bench KioskWindow -benchtime 3x
func BenchmarkKioskWindow(b *testing.B) {
	xvfb := testenv.MustHaveTool(b, "Xvfb", "xvfb")
	tmp := b.TempDir()
	bin := filepath.Join(tmp, "kioskwindow")
	build := exec.Command("go", "build", "-tags", KioskTags, "-o", bin, "./testdata/kioskwindow")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	display := startXvfb(b, xvfb)
	env := append(os.Environ(), "DISPLAY="+display, "XDG_RUNTIME_DIR="+tmp)
	var starts []time.Duration
	var idle, scanning, panel []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, run := range []struct {
			qr    string
			panel bool
		}{{"", false}, {"qr-token-1", false}, {"", true}} {
			qr := run.qr
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			args := []string{"-screen", "idle", "-camera", "-for", "60s", "-sim-panel=" + strconv.FormatBool(run.panel)}
			if qr != "" {
				args = append(args, "-qr", qr)
			}
			prog := exec.CommandContext(ctx, bin, args...)
			prog.Env = env
			out, _ := prog.StdoutPipe()
			t0 := time.Now()
			if err := prog.Start(); err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			ready := false
			for sc.Scan() {
				if strings.TrimSpace(sc.Text()) == "READY" {
					ready = true
					break
				}
			}
			if !ready {
				b.Fatal("the kiosk window program did not get ready")
			}
			if qr == "" && !run.panel {
				starts = append(starts, time.Since(t0))
			}
			time.Sleep(10 * time.Second)
			rss := residentMB(b, prog.Process.Pid)
			switch {
			case run.panel:
				panel = append(panel, rss)
			case qr == "":
				idle = append(idle, rss)
			default:
				scanning = append(scanning, rss)
			}
			prog.Process.Signal(syscall.SIGTERM)
			prog.Wait()
			cancel()
		}
	}
	b.StopTimer()
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	sort.Float64s(idle)
	sort.Float64s(scanning)
	sort.Float64s(panel)
	b.ReportMetric(float64(starts[len(starts)/2].Milliseconds()), "startup-ms")
	b.ReportMetric(idle[len(idle)-1], "rss-idle-MB")
	b.ReportMetric(scanning[len(scanning)-1], "rss-scanning-MB")
	b.ReportMetric(panel[len(panel)-1], "rss-simpanel-MB")
}

// residentMB reads a process's resident set size (VmRSS) in MiB.
func residentMB(tb testing.TB, pid int) float64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb / 1024
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}
