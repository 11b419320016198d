package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/wiring"
	"keycab.dev/keycab/sync/wire"
)

// errNotEnrolled is openStore's error for a cabinet's kiosk that is not
// enrolled with HQ yet.
var errNotEnrolled = errors.New("is not enrolled with HQ")

// setupFlow is what the setup window (runSetupUI) needs from the program.
type setupFlow struct {
	HQ    string        // HQ's address from the wiring file; may be empty
	Scans <-chan string // codes the cabinet's scanners read
	// Enrol enrols the kiosk; its error is for the installer to read.
	Enrol func(context.Context, wire.EnrolCode) error
	// Start builds and starts the kiosk's controller once enrolled; the
	// context it returns is done when the controller stops.
	Start func() (*kiosk.Controller, context.Context, error)
}

// runSetup runs a cabinet's kiosk that is not enrolled yet: its window
// shows the setup screen, where the installer shows HQ's enrolment code to
// the camera (any of the cabinet's scanners will do) or types HQ's address
// and the token; once enrolled, the same window shows the kiosk, which
// runs as runHardware would have run it.
func (m *Main) runSetup(ctx context.Context, w *wiring.Wiring) error {
	scanCtx, stopScanning := context.WithCancel(ctx)
	scans, scanning := readScans(scanCtx, m.hw.Scanners, m)
	defer func() {
		stopScanning()
		<-scanning
	}()
	m.log.Info("kiosk not enrolled: showing the setup screen", "data", m.Config.DataDir)
	var stop func() error
	m.setupUI(ctx, setupFlow{HQ: w.HQ, Scans: scans, Enrol: m.enrolWith,
		Start: func() (*kiosk.Controller, context.Context, error) {
			// From here on the controller reads the scanners.
			stopScanning()
			<-scanning
			c, err := m.hardwareController(w.Buzzer)
			if err != nil {
				return nil, nil, err
			}
			cctx, st := m.start(ctx, c)
			stop = st
			return c, cctx, nil
		}})
	if stop == nil {
		return ctx.Err() // closed before enrolment: nothing ran
	}
	return stop()
}

// enrolWith enrols the kiosk with code (keycab-kiosk enroll's work) and
// says in plain words what went wrong, if anything did.
func (m *Main) enrolWith(ctx context.Context, code wire.EnrolCode) error {
	m.Config.HQ, m.Config.Token = code.HQ, code.Token
	err := m.enroll(ctx)
	var op *net.OpError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &op):
		return fmt.Errorf("HQ at %s cannot be reached (%v). Check the address and the network", code.HQ, op.Err)
	default:
		return errors.New(strings.TrimPrefix(err.Error(), "enrol: "))
	}
}

// readScans reads every scanner until ctx ends and sends the codes read;
// done is closed once no Read runs any more (the controller reads them
// next).
func readScans(ctx context.Context, scanners []kiosk.Scanner, m *Main) (codes <-chan string, done <-chan struct{}) {
	out := make(chan string)
	done = kiosk.ReadScanners(ctx, scanners, m.log, func(b badge.Badge) {
		select {
		case out <- b.Code:
		case <-ctx.Done():
		}
	})
	return out, done
}
