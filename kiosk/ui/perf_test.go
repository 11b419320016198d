package ui_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	var outside, gl, live []float64
	var worst privateMemory
	var worstHeap map[string]float64
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
			heap := make(chan string, 1)
			go func() {
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "HEAP ") {
						heap <- sc.Text()
					}
				}
			}()
			if !ready {
				b.Fatal("the kiosk window program did not get ready")
			}
			if qr == "" && !run.panel {
				starts = append(starts, time.Since(t0))
			}
			time.Sleep(10 * time.Second)
			rss := residentMB(b, prog.Process.Pid)
			if !run.panel {
				pm := readPrivate(b, prog.Process.Pid)
				outside, gl = append(outside, pm.outside()), append(gl, pm.gl)
				if pm.outside() > worst.outside() {
					worst = pm
				}
				prog.Process.Signal(syscall.SIGUSR1)
				select {
				case line := <-heap:
					h := heapMB(b, line)
					live = append(live, h["live"])
					if pm.outside() >= worst.outside() {
						worstHeap = h
					}
				case <-time.After(30 * time.Second):
					b.Fatal("the kiosk window program did not report its heap")
				}
			}
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
	sort.Float64s(outside)
	sort.Float64s(gl)
	sort.Float64s(live)
	b.ReportMetric(outside[len(outside)-1], "private-outside-gl-MB")
	b.ReportMetric(gl[len(gl)-1], "private-gl-MB")
	b.ReportMetric(live[len(live)-1], "go-live-heap-MB")
	b.Logf("private memory of the largest run, outside the GL driver: %s; the Go runtime had %.1f MB mapped, its heap %.1f MB, live %.1f MB",
		worst.breakdown(), worstHeap["total"], worstHeap["heap"], worstHeap["live"])
}

// privateMemory is a process's private memory (Private_Clean plus
// Private_Dirty, from /proc/PID/smaps) in MiB: gl in the mappings of the
// GL stack (Mesa's driver and its LLVM, libGL, libEGL, libdrm, X shared
// memory), by the rest of the mappings grouped by what they are.
type privateMemory struct {
	gl   float64
	rest map[string]float64
}

func (p privateMemory) outside() float64 {
	var n float64
	for _, v := range p.rest {
		n += v
	}
	return n
}

func (p privateMemory) breakdown() string {
	type part struct {
		name string
		mb   float64
	}
	var parts []part
	for k, v := range p.rest {
		parts = append(parts, part{k, v})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].mb > parts[j].mb })
	var b strings.Builder
	fmt.Fprintf(&b, "%.1f MB:", p.outside())
	for _, pt := range parts {
		if pt.mb >= 0.1 {
			fmt.Fprintf(&b, " %s %.1f;", pt.name, pt.mb)
		}
	}
	fmt.Fprintf(&b, " (GL driver %.1f MB)", p.gl)
	return b.String()
}

// glMapping names the mappings of the GL stack: what a Pi's V3D driver
// replaces (under Xvfb, llvmpipe and its LLVM) and the X shared memory
// Xvfb's software rendering uses.
var glMapping = regexp.MustCompile(`libLLVM|/dri/|_dri\.so|libgallium|libGL|libEGL|libglapi|libdrm|libxshmfence|libz3|libsensors|libelf|SYSV|/dev/dri`)

// readPrivate reads a process's private memory from its smaps.
func readPrivate(tb testing.TB, pid int) privateMemory {
	tb.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	p := privateMemory{rest: map[string]float64{}}
	name := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			name = "anonymous (Go heap, stacks, C mmap)"
			if len(fields) >= 6 {
				name = strings.Join(fields[5:], " ")
			}
			switch {
			case glMapping.MatchString(name):
				name = "gl"
			case name == exe:
				name = "the program's text and data"
			case name == "[heap]":
				name = "C heap"
			case strings.HasPrefix(name, "/"):
				name = "other libraries"
			}
			continue
		}
		if len(fields) == 3 && (fields[0] == "Private_Clean:" || fields[0] == "Private_Dirty:") {
			kb, err := strconv.ParseFloat(fields[1], 64)
			if err != nil {
				tb.Fatal(err)
			}
			if name == "gl" {
				p.gl += kb / 1024
			} else {
				p.rest[name] += kb / 1024
			}
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// heapMB reads the program's HEAP line: live=, heap= and total= in MiB.
func heapMB(tb testing.TB, line string) map[string]float64 {
	tb.Helper()
	out := map[string]float64{}
	for _, f := range strings.Fields(line)[1:] {
		k, v, _ := strings.Cut(f, "=")
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			tb.Fatalf("HEAP line %q: %v", line, err)
		}
		out[k] = n / (1 << 20)
	}
	if _, ok := out["live"]; !ok {
		tb.Fatalf("no live= in %q", line)
	}
	return out
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
