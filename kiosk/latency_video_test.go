package kiosk_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/internal/qrlabel"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
)

// Frame geometry and rate of the fob video.
const (
	videoW, videoH, videoFPS = 640, 480, 30
)

// makeFobVideo has ffmpeg make a two-second 30 fps video of text's QR
// label as a camera sees a fob held up to it: 4-pixel modules on a fob
// drifting by up to 24 pixels (blurred by its motion: each frame mixed
// with the last), seen at a slant (a perspective warp), under uneven
// light (a vignette) at lower contrast, out of focus (a Gaussian blur,
// sigma 1.5), with fresh sensor noise every frame. It loops without a
// seam.
func makeFobVideo(tb testing.TB, text string) string {
	tb.Helper()
	ffmpeg := testenv.MustHaveTool(tb, "ffmpeg", "ffmpeg")
	dir := tb.TempDir()
	png := filepath.Join(dir, "fob.png")
	f, err := os.Create(png)
	if err != nil {
		tb.Fatal(err)
	}
	if err := qrlabel.WritePNG(f, text, 4); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	video := filepath.Join(dir, "fob.mkv")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "color=c=0x6e6e6e:s=640x480:r=30:d=2",
		"-loop", "1", "-framerate", "30", "-i", png,
		"-filter_complex", "[1:v]format=gray,pad=iw+40:ih+40:20:20:color=0x9a9a9a[q];"+
			"[0:v][q]overlay=x='(W-w)/2+24*sin(PI*t)':y='(H-h)/2+10*cos(PI*t)':shortest=1,"+
			"perspective=x0=18:y0=10:x1=640:y1=0:x2=0:y2=480:x3=618:y3=466:sense=source,tmix=frames=2,"+
			"vignette=angle=PI/5,eq=contrast=0.7:brightness=0.02,gblur=sigma=1.5,noise=alls=18:allf=t+u,format=yuv420p",
		"-t", "2", "-c:v", "ffv1", video)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return video
}

// gate stands between the camera program and the source: while shut it
// hands on a blank grey frame in place of each video frame (the video is
// still read, at its own pace), and it notes when it handed on the first
// video frame after it was opened.
type gate struct {
	mu    sync.Mutex
	open  bool
	first time.Time
	blank []byte
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open, g.first = open, time.Time{}
}

func (g *gate) firstFrame() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.first
}

type gatedStream struct {
	camera.Stream
	g *gate
}

func (s gatedStream) ReadFrame() (camera.Frame, error) {
	f, err := s.Stream.ReadFrame()
	if err != nil {
		return f, err
	}
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	if !s.g.open {
		if len(s.g.blank) != len(f.Y) {
			s.g.blank = slices.Repeat([]byte{0x7a}, len(f.Y))
		}
		f.Y = s.g.blank
	} else if s.g.first.IsZero() {
		s.g.first = time.Now()
	}
	return f, nil
}

// BenchmarkScanToUnlockVideo measures, over b.N returns, the time from the
// first frame of a fob's video entering the camera source to the slot's
// lock output going high. The video is ffmpeg's (makeFobVideo), played in
// real time at 30 frames a second by an ffmpeg process and read through
// the camera path a kiosk uses (camera.Command, its raw yuv420 pipe,
// camera.Source, the QR scanner); until the member is at the menu the
// source is handed blank frames in place of the video's. It counts the
// frames the decoder could not read (blur, noise), the controller's
// decision and the lock driver's pin write. Run:
//
//	go test ./kiosk -run '^$' -bench ScanToUnlockVideo -benchtime 500x
func BenchmarkScanToUnlockVideo(b *testing.B) {
	const token = "qr-token-1"
	video := makeFobVideo(b, token)
	cmd := camera.FFmpeg(video, videoW, videoH, true)
	cmd.Args = append([]string{"-re", "-stream_loop", "-1"}, cmd.Args[1:]...) // loop the two seconds
	g := &gate{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := camera.NewSource(camera.SourceConfig{Open: func(context.Context) (camera.Stream, error) {
		st, err := cmd.Open(ctx)
		if err != nil {
			return nil, err
		}
		return gatedStream{Stream: st, g: g}, nil
	}})
	cfg := testConfig(b)
	cfg.Policy.ScanCoolDown = 20 * time.Millisecond
	r := newRigWith(b, cfg, simulator.Options{Rest: -1}, func(c *kiosk.Config) {
		c.Scanners = append(c.Scanners, kiosk.NewQRScanner(src))
	})
	released := make(chan time.Time, 1)
	r.cab.Board.Pin("L1").Watch(func(l gpio.Level) {
		if l == gpio.High {
			select {
			case released <- time.Now():
			default:
			}
		}
	})
	takeKS1 := func() {
		r.badge("BADGE-BEN")
		r.await(kiosk.Menu)
		r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
		r.await(kiosk.Reason)
		r.do(kiosk.GiveReason{Reason: "viewing"})
		r.await(kiosk.Unlocking)
		if err := r.takeKey(1, false); err != nil {
			b.Fatal(err)
		}
		r.await(kiosk.Done)
	}
	takeKS1()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r.badge("BADGE-BEN")
		r.await(kiosk.Menu)
		select {
		case <-released: // the take's
		default:
		}
		bound := time.NewTimer(wait)
		b.StartTimer()
		g.set(true)
		var t1 time.Time
		select {
		case t1 = <-released:
		case <-bound.C:
			b.Fatalf("slot 1 not released by the fob's video within %v", wait)
		}
		b.StopTimer()
		bound.Stop()
		lat = append(lat, t1.Sub(g.firstFrame()))
		g.set(false)
		r.await(kiosk.Unlocking)
		r.putKey(1)
		r.await(kiosk.Done)
		takeKS1()
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	b.ReportMetric(float64(p(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
