package ui_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab/internal/testenv"
)

// Screen size of the Xvfb display: the kiosk's 1280 x 800 plus the
// simulator panel.
const shotW, shotH = 1640, 800

// artifact is where the screenshot of the real window is kept.
const artifact = "testdata/artifacts/kiosk-window.png"

// TestRealWindowUnderXvfb builds testdata/kioskwindow with the real GLFW
// driver and runs it on an Xvfb display, capturing the root window with
// ImageMagick's import and keeping the PNGs as test artifacts: full
// screen on the menu screen with the simulator panel; and a kiosk not
// enrolled yet, on its setup screen until the enrolment code held to the
// simulated camera (read by the real QR decoder) enrols it and the kiosk
// takes the window over. It needs cgo, Xvfb and ImageMagick, and is
// skipped in -short mode or when one is missing.
func TestRealWindowUnderXvfb(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Xvfb and builds the GLFW driver")
	}
	if os.Getenv("CGO_ENABLED") == "0" {
		t.Skip("the real window needs cgo")
	}
	xvfb := testenv.MustHaveTool(t, "Xvfb", "xvfb")
	imp := testenv.MustHaveTool(t, "import", "imagemagick")
	tmp := t.TempDir()

	// Build first: the GLFW driver's C takes minutes on a cold cache.
	bin := filepath.Join(tmp, "kioskwindow")
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build the window program")
	}
	build := exec.Command(goTool, "build", "-tags", KioskTags, "-o", bin, "./testdata/kioskwindow")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the kiosk window program: %v\n%s", err, out)
	}
	display := startXvfb(t, xvfb)
	env := append(os.Environ(), "DISPLAY="+display, "XDG_RUNTIME_DIR="+tmp)
	shoot := func(t *testing.T, path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		shot := exec.Command(imp, "-display", display, "-window", "root", "png:"+path)
		if out, err := shot.CombinedOutput(); err != nil {
			t.Fatalf("capture the screen: %v\n%s", err, out)
		}
		checkScreenshot(t, path)
		t.Logf("screenshot of the real kiosk window: %s", path)
	}

	t.Run("menu", func(t *testing.T) {
		start := time.Now()
		lines := startWindow(t, bin, env, "-screen", "menu", "-for", "90s")
		awaitLine(t, lines, "READY")
		t.Logf("kiosk window on the menu screen %v after start", time.Since(start).Round(time.Millisecond))
		time.Sleep(1500 * time.Millisecond) // a few frames, and the countdown moving
		shoot(t, artifact)
	})
	t.Run("setup", func(t *testing.T) {
		lines := startWindow(t, bin, env, "-setup", "-screen", "idle", "-for", "90s")
		awaitLine(t, lines, "SETUP")
		time.Sleep(500 * time.Millisecond) // drawn; the code goes before the camera a second after start
		shoot(t, setupArtifact)
		awaitLine(t, lines, "READY")
		time.Sleep(500 * time.Millisecond)
		shoot(t, enrolledArtifact)
		if same, err := sameFiles(setupArtifact, enrolledArtifact); err != nil || same {
			t.Fatalf("the window did not change once enrolled (%v)", err)
		}
	})
}

// Screenshots of the setup screen and of the kiosk it turned into.
const (
	setupArtifact    = "testdata/artifacts/kiosk-setup.png"
	enrolledArtifact = "testdata/artifacts/kiosk-enrolled.png"
)

// startWindow starts the kiosk window program with args and returns the
// lines it prints; it is stopped when the test ends.
func startWindow(t *testing.T, bin string, env []string, args ...string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	prog := exec.CommandContext(ctx, bin, args...)
	prog.Env = env
	prog.Stderr = &prefixWriter{t: t, prefix: "kioskwindow: "}
	stdout, err := prog.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer cancel()
		prog.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { prog.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			prog.Process.Kill()
		}
	})
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
	}()
	return lines
}

// awaitLine waits up to a minute for the program to print want.
func awaitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the kiosk window program ended before it printed %s", want)
			}
			if l == want {
				return
			}
		case <-timeout:
			t.Fatalf("the kiosk window program did not print %s in a minute", want)
		}
	}
}

// sameFiles reports whether two files hold the same bytes.
func sameFiles(a, b string) (bool, error) {
	x, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(x, y), nil
}

// checkScreenshot fails unless path is a PNG of the display's size that
// shows something: many colours (anti-aliased text, the palette) and no
// colour covering nearly all of it.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != shotW || b.Dy() != shotH {
		t.Fatalf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), shotW, shotH)
	}
	counts := map[uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[(r>>8)<<16|(g>>8)<<8|bl>>8]++
		}
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	total := b.Dx() * b.Dy()
	if len(counts) < 200 || most > total*9/10 {
		t.Fatalf("screenshot looks blank: %d colours, the commonest on %d%% of it", len(counts), most*100/total)
	}
	// The kiosk's accent (the countdown bar, the brand mark) must be on it.
	if !hasColour(img, 0xff, 0xb4, 0x1f) {
		t.Fatal("screenshot lacks the kiosk's accent colour: is the kiosk window on it?")
	}
	t.Logf("screenshot: %d colours, the commonest on %d%%", len(counts), most*100/total)
}

func hasColour(img image.Image, r8, g8, b8 uint32) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 == r8 && g>>8 == g8 && bl>>8 == b8 {
				return true
			}
		}
	}
	return false
}

// startXvfb starts Xvfb on a free display and returns its name; it is
// stopped when the test ends.
func startXvfb(t testing.TB, xvfb string) string {
	t.Helper()
	for n := 90; n < 190; n++ {
		if display, ok := tryXvfb(t, xvfb, n); ok {
			return display
		}
	}
	t.Fatal("no free X display between :90 and :189")
	return ""
}

// tryXvfb starts Xvfb on display n unless it is taken, and waits for its
// socket.
func tryXvfb(t testing.TB, xvfb string, n int) (string, bool) {
	t.Helper()
	sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
	for _, p := range []string{fmt.Sprintf("/tmp/.X%d-lock", n), sock} {
		if _, err := os.Stat(p); err == nil {
			return "", false
		}
	}
	display := fmt.Sprintf(":%d", n)
	cmd := exec.Command(xvfb, display, "-screen", "0", fmt.Sprintf("%dx%dx24", shotW, shotH), "-nolisten", "tcp")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Xvfb: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			return "", false // lost a race for the display
		default:
		}
		if _, err := os.Stat(sock); err == nil {
			t.Cleanup(func() {
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(5 * time.Second):
					cmd.Process.Kill()
				}
			})
			return display, true
		}
	}
	cmd.Process.Kill()
	<-exited
	t.Fatal("Xvfb did not start in 10 seconds")
	return "", false
}

// prefixWriter logs a subprocess's output through the test.
type prefixWriter struct {
	t      testing.TB
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.t.Log(w.prefix + line)
		}
	}
	return len(p), nil
}
