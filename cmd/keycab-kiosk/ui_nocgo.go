//go:build !cgo

package main

import (
	"context"

	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
)

// uiBuilt reports that this build has no window: Fyne needs cgo, so a
// CGO_ENABLED=0 build always runs the terminal console (what the
// end-to-end tests drive).
const uiBuilt = false

func runUI(context.Context, *kiosk.Controller, *simulator.Cabinet) {}

func runSetupUI(context.Context, setupFlow) {}
