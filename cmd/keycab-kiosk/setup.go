package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

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
	// An enrolment may still run when the window closes (Fyne then runs
	// what the screen hands it on the enrolling goroutine): the window's
	// end waits for it, and starts nothing after.
	var (
		mu      sync.Mutex
		closed  bool
		stop    func() error
		enrols  sync.WaitGroup
		errGone = errors.New("the kiosk is shutting down")
	)
	m.setupUI(ctx, setupFlow{HQ: w.HQ, Scans: scans,
		Enrol: func(_ context.Context, code wire.EnrolCode) error {
			mu.Lock()
			if closed {
				mu.Unlock()
				return errGone
			}
			enrols.Add(1)
			mu.Unlock()
			defer enrols.Done()
			return m.enrolWith(ctx, code)
		},
		Start: func() (*kiosk.Controller, context.Context, error) {
			mu.Lock()
			defer mu.Unlock()
			if closed {
				return nil, nil, errGone
			}
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
	mu.Lock()
	closed = true
	mu.Unlock()
	enrols.Wait()
	mu.Lock()
	defer mu.Unlock()
	if stop == nil {
		return ctx.Err() // closed before the kiosk started: nothing ran
	}
	return stop()
}

// enrolWith enrols the kiosk with code (keycab-kiosk enroll's work) and
// says in plain words what went wrong, if anything did.
func (m *Main) enrolWith(ctx context.Context, code wire.EnrolCode) error {
	// An earlier try that HQ took but that failed after (its first config,
	// say) left the kiosk enrolled: take it up rather than enrol again,
	// which on an enrolled kiosk would rotate its key.
	switch err := m.openStore(ctx, false); {
	case err == nil:
		if err := m.firstConfig(ctx); err != nil {
			m.log.Warn("no config yet: until HQ sends one nobody can take keys", "err", err)
		}
		return nil
	case !errors.Is(err, errNotEnrolled):
		return err
	}
	m.Config.HQ, m.Config.Token = code.HQ, code.Token
	err := m.enroll(ctx)
	if err != nil && m.db != nil {
		m.db.Close()
		m.db, m.key, m.agent = nil, nil, nil
	}
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
