package qr_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab/hardware/qr"
	"keycab.dev/keycab/internal/testenv"
)

// The robustness set (issue 19): 120 frames made by testdata/robustset.py
// with qrencode and ImageMagick, tools independent of every decoder
// compared, decoded in the same run by keycab, zxing-cpp (Debian's
// python3-zxing-cpp, through testdata/zxingscan.py) and libzbar (through
// testdata/zbarscan.py).

const robustW, robustH = 640, 480

// robustPasses is how many interleaved passes TestRobustSet makes.
const robustPasses = 5

type robustFrame struct {
	File, Text, Desc string
	img              *image.Gray
}

// robustSet returns the frames, generating them into the user's cache
// directory the first time (keyed by the generator's hash, so a changed
// generator makes a new set) rather than committing 25 MB of noisy PNGs.
func robustSet(tb testing.TB) []robustFrame {
	tb.Helper()
	testenv.MustHaveTool(tb, "qrencode", "qrencode")
	testenv.MustHaveTool(tb, "convert", "imagemagick")
	testenv.MustHaveTool(tb, "python3", "python3")
	script, err := os.ReadFile("testdata/robustset.py")
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(script)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "keycab", "qr-robustset-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			tb.Fatal(err)
		}
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "gen-")
		if err != nil {
			tb.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		tb.Logf("generating the robustness set into %s (once)", dir)
		if out, err := exec.Command("python3", "testdata/robustset.py", tmp).CombinedOutput(); err != nil {
			tb.Fatalf("testdata/robustset.py: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
			if _, serr := os.Stat(filepath.Join(dir, "manifest.json")); serr != nil {
				tb.Fatal(err) // not a concurrent run that got there first
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var frames []robustFrame
	if err := json.Unmarshal(raw, &frames); err != nil {
		tb.Fatalf("%s: %v", dir, err)
	}
	for i := range frames {
		f, err := os.Open(filepath.Join(dir, frames[i].File))
		if err != nil {
			tb.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			tb.Fatalf("%s: %v", frames[i].File, err)
		}
		g, ok := img.(*image.Gray)
		if !ok || g.Rect.Dx() != robustW || g.Rect.Dy() != robustH {
			tb.Fatalf("%s: want a %dx%d 8-bit grey PNG, got %T %v", frames[i].File, robustW, robustH, img, img.Bounds())
		}
		frames[i].img = g
	}
	return frames
}

// debianPython is the interpreter Debian's python3-zxing-cpp installs for:
// /usr/bin/python3 when it exists (a python3 earlier on PATH, say pyenv's,
// would not see Debian's dist-packages), python3 on PATH otherwise.
func debianPython() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// helperPass runs one pass of a testdata helper (zbarscan.py, zxingscan.py)
// over the raw luma frames and returns its texts and the summed wall and
// process CPU time of its decode calls.
func helperPass(tb testing.TB, script, raw string, n int) (texts []string, wall, cpu time.Duration) {
	tb.Helper()
	out, err := exec.Command(debianPython(), script, raw, fmt.Sprint(robustW), fmt.Sprint(robustH), "1").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		testenv.Missing(tb, "%s (python3-zxing-cpp, libzbar0): %v\n%s", script, err, stderr)
	}
	var res struct {
		PassSeconds    []float64 `json:"pass_seconds"`
		PassCPUSeconds []float64 `json:"pass_cpu_seconds"`
		Texts          []string  `json:"texts"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Texts) != n || len(res.PassSeconds) != 1 || len(res.PassCPUSeconds) != 1 {
		tb.Fatalf("parse %s output: %v\n%s", script, err, out)
	}
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	return res.Texts, sec(res.PassSeconds[0]), sec(res.PassCPUSeconds[0])
}

// processCPU returns the CPU time this process has used, all threads (the
// garbage collector's included).
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// robustResult is one decoder's figures over the set.
type robustResult struct {
	name    string
	texts   []string
	correct int
	best    time.Duration // fastest pass, wall time
	bestCPU time.Duration // fastest pass, process CPU time
}

func (r robustResult) msPerFrame() float64 {
	return r.best.Seconds() * 1000 / float64(len(r.texts))
}

func (r robustResult) cpuMsPerFrame() float64 {
	return r.bestCPU.Seconds() * 1000 / float64(len(r.texts))
}

// runRobust decodes the set passes times with each decoder, the three
// taking turns pass by pass (so load from other work on the machine hits
// all alike), and keeps each one's fastest pass.
func runRobust(tb testing.TB, frames []robustFrame, passes int) (keycab, zxing, zbar robustResult) {
	tb.Helper()
	n := len(frames)
	raw := filepath.Join(tb.TempDir(), "frames.y800")
	buf := make([]byte, 0, n*robustW*robustH)
	for _, f := range frames {
		buf = append(buf, f.img.Pix[:robustW*robustH]...)
	}
	if err := os.WriteFile(raw, buf, 0o644); err != nil {
		tb.Fatal(err)
	}
	keycab = robustResult{name: "keycab", texts: make([]string, n), best: math.MaxInt64, bestCPU: math.MaxInt64}
	zxing = robustResult{name: "zxing-cpp", best: math.MaxInt64, bestCPU: math.MaxInt64}
	zbar = robustResult{name: "libzbar", best: math.MaxInt64, bestCPU: math.MaxInt64}
	dec := qr.NewDecoder()
	for p := range passes {
		for k := range 3 {
			switch (p + k) % 3 {
			case 0:
				// The loop does nothing but decode, so the process's CPU
				// time over it is the decoder's, garbage collection
				// included.
				var wall time.Duration
				cpu := processCPU(tb)
				for i, f := range frames {
					start := time.Now()
					keycab.texts[i] = decodeOne(dec, f.img)
					wall += time.Since(start)
				}
				keycab.best, keycab.bestCPU = min(keycab.best, wall), min(keycab.bestCPU, processCPU(tb)-cpu)
			case 1:
				var wall, cpu time.Duration
				zxing.texts, wall, cpu = helperPass(tb, "testdata/zxingscan.py", raw, n)
				zxing.best, zxing.bestCPU = min(zxing.best, wall), min(zxing.bestCPU, cpu)
			case 2:
				var wall, cpu time.Duration
				zbar.texts, wall, cpu = helperPass(tb, "testdata/zbarscan.py", raw, n)
				zbar.best, zbar.bestCPU = min(zbar.best, wall), min(zbar.bestCPU, cpu)
			}
		}
	}
	for _, r := range []*robustResult{&keycab, &zxing, &zbar} {
		for i, f := range frames {
			if r.texts[i] == f.Text {
				r.correct++
			}
		}
	}
	return keycab, zxing, zbar
}

// TestRobustSet decodes the robustness set with keycab, zxing-cpp and
// libzbar and logs each one's correct count (decoded text equal to the
// encoded text) and time per frame (fastest of robustPasses interleaved
// passes, CPU and wall time), and
// the frames keycab misses. It fails if keycab decodes a wrong text or reads
// fewer frames correctly than zxing-cpp.
// docs/PERFORMANCE.md quotes it.
func TestRobustSet(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 120 frames with three decoders; skipped with -short")
	}
	frames := robustSet(t)
	keycab, zxing, zbar := runRobust(t, frames, robustPasses)
	for i, f := range frames {
		got := keycab.texts[i]
		if got != "" && got != f.Text {
			t.Errorf("%s (%s): keycab decoded %q, want %q", f.File, f.Desc, got, f.Text)
		}
		if got != f.Text {
			t.Logf("keycab missed %s (%s); zxing-cpp %v, zbar %v", f.File, f.Desc, zxing.texts[i] == f.Text, zbar.texts[i] == f.Text)
		}
	}
	for i, f := range frames {
		if keycab.texts[i] == f.Text && zxing.texts[i] != f.Text {
			t.Logf("zxing-cpp missed %s (%s), keycab read it", f.File, f.Desc)
		}
	}
	n := len(frames)
	if keycab.correct < zxing.correct {
		// Counts, not times: the frames and the decoders are fixed, so
		// this is no timing threshold. It is issue 19's goal.
		t.Errorf("keycab read %d frames correctly, fewer than zxing-cpp's %d", keycab.correct, zxing.correct)
	}
	for _, r := range []robustResult{keycab, zxing, zbar} {
		t.Logf("%-9s %3d/%d correct, %.2f ms CPU/frame, %.2f ms wall/frame (decode calls only, fastest of %d interleaved passes)",
			r.name, r.correct, n, r.cpuMsPerFrame(), r.msPerFrame(), robustPasses)
	}
	t.Logf("keycab/zxing-cpp: correct %.2f, CPU per frame %.2f, wall per frame %.2f",
		float64(keycab.correct)/math.Max(1, float64(zxing.correct)), keycab.cpuMsPerFrame()/zxing.cpuMsPerFrame(), keycab.msPerFrame()/zxing.msPerFrame())
	t.Logf("keycab/zbar:      correct %.2f, CPU per frame %.2f, wall per frame %.2f",
		float64(keycab.correct)/math.Max(1, float64(zbar.correct)), keycab.cpuMsPerFrame()/zbar.cpuMsPerFrame(), keycab.msPerFrame()/zbar.msPerFrame())
}

// BenchmarkRobustSet is TestRobustSet as a benchmark: b.N interleaved
// passes of the three decoders over the set, each one's correct count and
// fastest pass's time per frame reported as metrics, with the ratios.
func BenchmarkRobustSet(b *testing.B) {
	frames := robustSet(b)
	b.ResetTimer()
	keycab, zxing, zbar := runRobust(b, frames, b.N)
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(keycab.correct), "keycab-correct")
	b.ReportMetric(float64(zxing.correct), "zxing-correct")
	b.ReportMetric(float64(zbar.correct), "zbar-correct")
	b.ReportMetric(keycab.cpuMsPerFrame(), "keycab-cpu-ms/frame")
	b.ReportMetric(zxing.cpuMsPerFrame(), "zxing-cpu-ms/frame")
	b.ReportMetric(zbar.cpuMsPerFrame(), "zbar-cpu-ms/frame")
	b.ReportMetric(keycab.msPerFrame(), "keycab-ms/frame")
	b.ReportMetric(zxing.msPerFrame(), "zxing-ms/frame")
	b.ReportMetric(zbar.msPerFrame(), "zbar-ms/frame")
	b.ReportMetric(keycab.cpuMsPerFrame()/zxing.cpuMsPerFrame(), "keycab/zxing-cpu")
	b.ReportMetric(keycab.msPerFrame()/zxing.msPerFrame(), "keycab/zxing-wall")
}
