//go:build cgo

package main

import (
	"context"
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/kiosk/ui"
)

// uiBuilt reports that this build has the Fyne window (it needs cgo).
const uiBuilt = true

// runUI shows the touchscreen UI until its window is closed or ctx ends.
func runUI(ctx context.Context, c *kiosk.Controller, cab *simulator.Cabinet) {
	a := app.NewWithID("dev.keycab.kiosk")
	u := ui.New(a, c, ui.Options{Fullscreen: false, Simulator: cab, Title: "keycab kiosk"})
	go func() {
		<-ctx.Done()
		a.Quit()
	}()
	u.ShowAndRun()
}

// runSetupUI shows the setup screen until the kiosk is enrolled, then the
// kiosk in the same window, until the window closes, ctx ends or the
// controller stops.
func runSetupUI(ctx context.Context, f setupFlow) {
	a := app.NewWithID("dev.keycab.kiosk")
	s := ui.NewSetup(a, ui.SetupOptions{Title: "keycab kiosk", HQ: f.HQ, Enrol: f.Enrol, Language: i18n.FromEnv(os.Getenv),
		Enrolled: func(w fyne.Window) error {
			c, cctx, err := f.Start()
			if err != nil {
				return err
			}
			go func() {
				<-cctx.Done()
				a.Quit()
			}()
			ui.New(a, c, ui.Options{Window: w, Title: "keycab kiosk"})
			return nil
		}})
	go func() {
		for {
			select {
			case <-ctx.Done():
				a.Quit()
				return
			case code := <-f.Scans:
				s.Scanned(code)
			}
		}
	}()
	s.ShowAndRun()
}
