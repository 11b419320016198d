// Command kioskwindow opens the real kiosk window (Fyne's GLFW driver) on
// a simulated cabinet with a demo store in a temporary directory, drives
// it to a chosen screen, prints READY, and runs until killed or -for has
// passed. The kiosk/ui tests run it under Xvfb and capture the screen.
//
// With -setup it first shows the setup screen of a kiosk not enrolled
// yet, with an enrolment code held to the simulated camera (read by the
// real QR decoder); the enrolment it accepts is that code's (HQ is not
// asked), and on it the kiosk takes the window over, as keycab-kiosk does.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/kiosk/ui"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
	"keycab.dev/keycab/sync/wire"
)

func main() {
	kiosk.TuneMemory()
	go reportHeap()
	screen := flag.String("screen", "menu", "screen to show: idle or menu")
	withCamera := flag.Bool("camera", false, "run the simulated camera at 10 frames a second into the real QR decoder")
	showQR := flag.String("qr", "", "with -camera, keep this QR code in front of the camera")
	full := flag.Bool("fullscreen", true, "fill the display")
	panel := flag.Bool("sim-panel", true, "show the simulator panel beside the kiosk screen (a cabinet has none)")
	runFor := flag.Duration("for", time.Minute, "quit after this long")
	setup := flag.Bool("setup", false, "start on the setup screen, enrolled by a code at the camera (implies -camera)")
	flag.Parse()
	if err := run(*screen, *full, *panel, *runFor, *withCamera || *setup, *showQR, *setup); err != nil {
		log.Fatal(err)
	}
}

func run(screen string, full, panel bool, runFor time.Duration, withCamera bool, showQR string, setup bool) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	dir, err := os.MkdirTemp("", "kioskwindow")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	signer, err := storetest.NewSigner("shot.keycab/kiosk")
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, filepath.Join(dir, "kiosk.db"), store.Options{Signer: signer, Create: true})
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := storetest.Config(1)
	cfg.Org.Name, cfg.Site.Name = "Harbour Lettings", "Quay Street office"
	cfg.Policy.ScanCoolDown = 100 * time.Millisecond
	if err := db.ApplyConfig(ctx, cfg); err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cab, err := simulator.New(cfg.Cabinet, cfg.Slots, simulator.Options{Logger: quiet, Camera: withCamera})
	if err != nil {
		return err
	}
	defer cab.Close()
	c, err := kiosk.New(kiosk.Config{
		Store: db, Locks: cab.Locks, Scanners: cab.Scanners(),
		Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States(), Buzzer: simulator.Buzzer,
		Logger: quiet, ShowDone: 300 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	a := app.NewWithID("dev.keycab.kioskwindow")
	o := ui.Options{Fullscreen: full, Title: "keycab kiosk"}
	if panel {
		o.Simulator = cab
	}
	// start runs the controller and puts the kiosk into the window.
	start := func(w fyne.Window) {
		go func() {
			if err := c.Run(ctx); err != nil {
				log.Print(err)
			}
		}()
		o.Window = w
		ui.New(a, c, o)
		go func() {
			if err := drive(c, cab, screen); err != nil {
				log.Print(err)
				fyne.Do(a.Quit)
				return
			}
			fmt.Println("READY")
			if withCamera && showQR != "" {
				cab.Camera.Show(showQR) // held in view: every frame carries it
			}
			select {
			case <-ctx.Done():
			case <-time.After(runFor):
			}
			fyne.Do(a.Quit)
		}()
	}
	if !setup {
		w := a.NewWindow(o.Title)
		start(w)
		w.ShowAndRun()
		return nil
	}

	code := wire.EnrolCode{HQ: "https://hq.example.com", Token: "org_demo.abcdefghijklmnop"}
	scanCtx, stopScans := context.WithCancel(ctx)
	defer stopScans()
	var s *ui.Setup
	var scanning <-chan struct{}
	s = ui.NewSetup(a, ui.SetupOptions{Fullscreen: full, Title: o.Title,
		Enrol: func(_ context.Context, got wire.EnrolCode) error {
			if got != code {
				return fmt.Errorf("HQ answered 401 Unauthorized: not the enrolment code shown")
			}
			return nil
		},
		Enrolled: func(w fyne.Window) error {
			stopScans() // the controller reads the scanners from now on
			<-scanning
			cab.Camera.Show()
			start(w)
			return nil
		}})
	scanning = kiosk.ReadScanners(scanCtx, cab.Scanners(), quiet, func(b badge.Badge) { s.Scanned(b.Code) })
	fmt.Println("SETUP")
	go func() {
		time.Sleep(time.Second) // the setup screen on the display first
		cab.Camera.Show(code.String())
	}()
	s.ShowAndRun()
	return nil
}

// reportHeap prints, at each SIGUSR1, the Go heap after a collection:
// "HEAP live=BYTES heap=BYTES total=BYTES" (the live heap the collection
// marked, the heap's objects and free space, and all memory the Go
// runtime has mapped), for the memory benchmark (perf_test.go).
func reportHeap() {
	usr := make(chan os.Signal, 1)
	signal.Notify(usr, syscall.SIGUSR1)
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}}
	for range usr {
		runtime.GC()
		metrics.Read(samples)
		fmt.Printf("HEAP live=%d heap=%d total=%d\n", samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64())
	}
}

// drive brings the kiosk to screen: for "menu", Ben takes 2 High St and
// badges again, so the menu lists keys to take and one to return.
func drive(c *kiosk.Controller, cab *simulator.Cabinet, screen string) error {
	if err := await(c, kiosk.Idle); err != nil || screen == "idle" {
		return err
	}
	cab.Badge("BADGE-BEN")
	steps := []struct {
		state kiosk.State
		then  func() error
	}{
		{kiosk.Menu, func() error { c.Do(kiosk.ChooseTake{KeySetID: "ks-2"}); return nil }},
		{kiosk.Reason, func() error { c.Do(kiosk.GiveReason{Reason: "viewing", Recipient: "Dana Buyer"}); return nil }},
		{kiosk.Unlocking, func() error { return cab.TakeKey(2, false) }},
		{kiosk.Done, nil},
		{kiosk.Idle, func() error { cab.Badge("BADGE-BEN"); return nil }},
		{kiosk.Menu, nil},
	}
	for _, s := range steps {
		if err := await(c, s.state); err != nil {
			return err
		}
		if s.then != nil {
			if err := s.then(); err != nil {
				return err
			}
		}
	}
	return nil
}

func await(c *kiosk.Controller, state kiosk.State) error {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if c.Screen().State == state {
			return nil
		}
	}
	return fmt.Errorf("kiosk did not reach %s (at %s)", state, c.Screen().State)
}
