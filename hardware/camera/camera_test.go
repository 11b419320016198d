package camera_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab/internal/qrlabel"

	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/hardware/qr"
	"keycab.dev/keycab/hardware/sim"
	"keycab.dev/keycab/internal/testenv"
)

var sequence = []string{"KEY:A", "", "KEY:B", "KEY:B", "KEY:C"} // "" is a blank frame

// MustVideo renders sequence as PNG frames (each shown twice) and has
// ffmpeg turn them into name (format by extension: .yuv raw I420, .mjpg
// MJPEG) in dir.
func MustVideo(tb testing.TB, dir, name string, extra ...string) string {
	tb.Helper()
	testenv.MustHaveTool(tb, "ffmpeg", "ffmpeg")
	n := 0
	for _, text := range sequence {
		for rep := 0; rep < 2; rep++ {
			img := image.NewGray(image.Rect(0, 0, 640, 480))
			for i := range img.Pix {
				img.Pix[i] = 170
			}
			if text != "" {
				if _, err := qrlabel.Draw(img.Pix, 640, 480, img.Stride, text, 200+rep*40, 120, 5); err != nil {
					tb.Fatal(err)
				}
			}
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%03d.png", n)))
			if err != nil {
				tb.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				tb.Fatal(err)
			}
			f.Close()
			n++
		}
	}
	out := filepath.Join(dir, name)
	args := []string{"-hide_banner", "-loglevel", "error", "-y", "-framerate", "5", "-i", filepath.Join(dir, "f%03d.png")}
	switch filepath.Ext(name) {
	case ".yuv":
		args = append(args, "-pix_fmt", "yuv420p", "-f", "rawvideo")
	case ".mjpg":
		args = append(args, "-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p", "-f", "mjpeg")
	}
	args = append(append(args, extra...), out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg %q: %v\n%s", args, err, b)
	}
	return out
}

// codesIn reads every frame of st and returns the distinct runs of decoded
// text, and how many frames there were.
func codesIn(tb testing.TB, next func() (camera.Frame, error)) (runs []string, frames int) {
	tb.Helper()
	dec := qr.NewDecoder()
	last := ""
	for {
		f, err := next()
		if err != nil {
			return runs, frames
		}
		frames++
		codes, err := dec.Decode(f.Y, f.Width, f.Height, f.Stride)
		if err != nil {
			tb.Fatal(err)
		}
		text := ""
		if len(codes) > 0 {
			text = codes[0].Text
		}
		if text != last && text != "" {
			runs = append(runs, text)
		}
		last = text
	}
}

func wantRuns(tb testing.TB, runs []string, frames int) {
	tb.Helper()
	if fmt.Sprint(runs) != "[KEY:A KEY:B KEY:C]" || frames != 2*len(sequence) {
		tb.Fatalf("decoded runs %q over %d frames, want [KEY:A KEY:B KEY:C] over %d", runs, frames, 2*len(sequence))
	}
}

func TestYUV420File(t *testing.T) {
	dir := t.TempDir()
	path := MustVideo(t, dir, "v.yuv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := camera.NewYUV420(f, 640, 480, f)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, frames := codesIn(t, st.ReadFrame)
	wantRuns(t, runs, frames)
}

func TestMJPEGFile(t *testing.T) {
	dir := t.TempDir()
	path := MustVideo(t, dir, "v.mjpg")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st := camera.NewMJPEG(f, f)
	defer st.Close()
	runs, frames := codesIn(t, st.ReadFrame)
	wantRuns(t, runs, frames)
}

func TestFFmpegCommand(t *testing.T) {
	dir := t.TempDir()
	path := MustVideo(t, dir, "v.mjpg")
	st, err := camera.FFmpeg(path, 640, 480, false).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, frames := codesIn(t, st.ReadFrame)
	wantRuns(t, runs, frames)
}

func TestJPEGWithoutHuffmanTables(t *testing.T) {
	dir := t.TempDir()
	path := MustVideo(t, dir, "v.mjpg", "-huffman", "default")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.Index(data, []byte{0xFF, 0xD9})
	jpg := data[:end+2]
	// Strip every DHT segment, as many UVC webcams do.
	var stripped []byte
	i := 2
	stripped = append(stripped, jpg[:2]...)
	for {
		m := jpg[i+1]
		n := int(jpg[i+2])<<8 | int(jpg[i+3])
		if m != 0xC4 {
			stripped = append(stripped, jpg[i:i+2+n]...)
		}
		if m == 0xDA {
			stripped = append(stripped, jpg[i+2+n:]...)
			break
		}
		i += 2 + n
	}
	if bytes.Contains(stripped, []byte{0xFF, 0xC4}) {
		t.Fatal("DHT still present")
	}
	f, err := camera.DecodeJPEG(stripped)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := qr.NewDecoder().Decode(f.Y, f.Width, f.Height, f.Stride)
	if err != nil || len(codes) != 1 || codes[0].Text != "KEY:A" {
		t.Fatalf("codes %v, err %v", codes, err)
	}
}

func TestRpicamCommand(t *testing.T) {
	if _, err := camera.Rpicam(600, 480, 10); err == nil {
		t.Fatal("width 600 accepted")
	}
	c, err := camera.Rpicam(1280, 720, 15)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(c.Args) != "[-t 0 -n --codec yuv420 --width 1280 --height 720 --framerate 15 --flush -o -]" {
		t.Fatalf("args %q", c.Args)
	}
}

type troubles struct {
	mu   sync.Mutex
	errs []error
}

func (tr *troubles) add(err error) { tr.mu.Lock(); tr.errs = append(tr.errs, err); tr.mu.Unlock() }
func (tr *troubles) count(target error) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, e := range tr.errs {
		if errors.Is(e, target) {
			n++
		}
	}
	return n
}

func TestSourceReopensAfterEnd(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	path := MustVideo(t, dir, "v.mjpg")
	var tr troubles
	opens := 0
	src := camera.NewSource(camera.SourceConfig{
		Open: func(ctx context.Context) (camera.Stream, error) {
			opens++
			return camera.FFmpeg(path, 640, 480, false).Open(ctx)
		},
		BackoffMin: time.Millisecond, OnTrouble: tr.add, Logger: testLogger(),
	})
	ctx := context.Background()
	next := func() (camera.Frame, error) { return src.Next(ctx) }
	for round := 0; round < 2; round++ {
		for i := 0; i < 2*len(sequence); i++ {
			f, err := next()
			if err != nil {
				t.Fatal(err)
			}
			if f.Seq != uint64(round*2*len(sequence)+i+1) {
				t.Fatalf("seq %d in round %d frame %d", f.Seq, round, i)
			}
		}
	}
	src.Close()
	if opens != 2 || tr.count(camera.ErrEnded) != 1 {
		t.Fatalf("opens %d, ends reported %d (%v)", opens, tr.count(camera.ErrEnded), tr.errs)
	}
	testenv.Eventually(t, 10*time.Second, "goroutines settle", func() bool { return runtime.NumGoroutine() <= before })
}

func TestSourceReopensAfterStall(t *testing.T) {
	dir := t.TempDir()
	path := MustVideo(t, dir, "v.yuv")
	mjpg := MustVideo(t, dir, "v.mjpg")
	clk := hardwaretest.NewClock()
	var tr troubles
	opens := 0
	src := camera.NewSource(camera.SourceConfig{
		Open: func(ctx context.Context) (camera.Stream, error) {
			opens++
			if opens == 1 { // frames, then the camera hangs
				return camera.Command{Path: "sh", Args: []string{"-c", `echo "camera hung" >&2; cat "$0"; exec sleep 600`, path}, Width: 640, Height: 480}.Open(ctx)
			}
			return camera.FFmpeg(mjpg, 640, 480, false).Open(ctx)
		},
		Clock: clk, Stall: 5 * time.Second, BackoffMin: time.Millisecond, OnTrouble: tr.add, Logger: testLogger(),
	})
	defer src.Close()
	ctx := context.Background()
	var runs1 []string
	dec := qr.NewDecoder()
	for i := 0; i < 2*len(sequence); i++ {
		f, err := src.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		codes, _ := dec.Decode(f.Y, f.Width, f.Height, f.Stride)
		if len(codes) > 0 && (len(runs1) == 0 || runs1[len(runs1)-1] != codes[0].Text) {
			runs1 = append(runs1, codes[0].Text)
		}
	}
	if fmt.Sprint(runs1) != "[KEY:A KEY:B KEY:C]" {
		t.Fatalf("runs %q", runs1)
	}
	got := make(chan camera.Frame, 1)
	go func() {
		f, _ := src.Next(ctx)
		got <- f
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case f := <-got:
			if tr.count(camera.ErrStalled) != 1 || opens != 2 || f.Seq != uint64(2*len(sequence)+1) {
				t.Fatalf("stalls %d, opens %d, seq %d", tr.count(camera.ErrStalled), opens, f.Seq)
			}
			if _, err := src.LastError(); !errors.Is(err, camera.ErrStalled) || !strings.Contains(err.Error(), "stderr: camera hung") {
				t.Fatalf("stall reported as %v", err)
			}
			return
		case <-time.After(5 * time.Millisecond):
			if tr.count(camera.ErrStalled) == 0 {
				clk.Advance(time.Second)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("stall never reported")
		}
	}
}

func TestSimCameraThroughSource(t *testing.T) {
	cam := sim.NewCamera()
	src := camera.NewSource(camera.SourceConfig{Open: cam.Open, Logger: testLogger()})
	defer src.Close()
	dec := qr.NewDecoder()
	for _, scene := range [][]string{{"KEY:7"}, {}, {"BADGE:42", "KEY:9"}} {
		cam.Show(scene...)
		// The source reads one frame ahead: the first after Show may
		// still show the old scene.
		var f camera.Frame
		for i := 0; i < 2; i++ {
			var err error
			if f, err = src.Next(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		codes, err := dec.Decode(f.Y, f.Width, f.Height, f.Stride)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, c := range codes {
			texts = append(texts, c.Text)
		}
		if fmt.Sprint(texts) != fmt.Sprint(scene) {
			t.Fatalf("camera showing %q decoded %q", scene, texts)
		}
	}
}

func testLogger() *slog.Logger {
	_, log := hardwaretest.NewLogs()
	return log
}
