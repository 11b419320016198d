//go:build cgo

package main

import (
	"context"

	"fyne.io/fyne/v2/app"

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
