package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware/sim"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/wiring"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// TestSetupEnrol: the setup screen's enrolment says in plain words why it
// failed (HQ unreachable; a token HQ refuses) and leaves the data
// directory as it was, so that the next try, with a good token, enrols the
// kiosk: its database pins HQ and its sync agent is ready.
func TestSetupEnrol(t *testing.T) {
	ctx := context.Background()
	h := newTestHQ(t)
	m := NewMain(io.Discard, io.Discard)
	m.log = slog.New(slog.DiscardHandler)
	m.Config.DataDir = filepath.Join(t.TempDir(), "kiosk")
	t.Cleanup(func() { m.Close() })

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	err = m.enrolWith(ctx, wire.EnrolCode{HQ: closed, Token: h.token(t)})
	if err == nil || !strings.Contains(err.Error(), "HQ at "+closed+" cannot be reached") {
		t.Fatalf("HQ not listening: %v", err)
	}
	err = m.enrolWith(ctx, wire.EnrolCode{HQ: h.url, Token: "org_nonesuch.abcdefgh"})
	if err == nil || strings.HasPrefix(err.Error(), "enrol:") || !strings.Contains(err.Error(), "HQ answered") {
		t.Fatalf("a token HQ refuses: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.Config.DataDir, "kiosk.key")); !os.IsNotExist(err) {
		t.Fatalf("a failed enrolment left a key behind: %v", err)
	}
	if m.db != nil || m.agent != nil {
		t.Fatal("a failed enrolment opened the kiosk")
	}

	if err := m.enrolWith(ctx, wire.EnrolCode{HQ: h.url, Token: h.token(t)}); err != nil {
		t.Fatalf("enrol after two failures: %v", err)
	}
	if m.db == nil || m.agent == nil {
		t.Fatal("enrolled, but no database or agent")
	}
	p, err := m.db.HQPeer(ctx)
	if err != nil || p.URL != h.url {
		t.Fatalf("the kiosk pinned %+v (%v), want HQ at %s", p, err, h.url)
	}
	if kl, err := h.s.KioskLogs().GetKioskLog(ctx, h.own, p.KioskID); err != nil || kl.Origin != p.Origin {
		t.Fatalf("HQ holds %+v (%v) for the kiosk", kl, err)
	}
}

// TestReadScans: while the setup screen shows, every scanner's codes
// arrive; once stopped, no Read runs any more, so the controller that
// reads the scanners next loses no code.
func TestReadScans(t *testing.T) {
	m := &Main{log: slog.New(slog.DiscardHandler)}
	a, b := sim.NewBadges(), sim.NewBadges()
	ctx, stop := context.WithCancel(context.Background())
	codes, done := readScans(ctx, []kiosk.Scanner{a, b}, m)
	code := wire.EnrolCode{HQ: "https://hq.example", Token: "org_a.b"}.String()
	b.Present(code, "qr")
	a.Present("0004829301", "rfid")
	got := map[string]bool{}
	for range 2 {
		select {
		case c := <-codes:
			got[c] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("codes read: %v", got)
		}
	}
	if !got[code] || !got["0004829301"] {
		t.Fatalf("codes read: %v", got)
	}
	stop()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the scanners were still read after stop")
	}
	a.Present("0004829302", "rfid")
	ctx2, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if x, err := a.Read(ctx2); err != nil || x.Code != "0004829302" {
		t.Fatalf("the next reader got %+v, %v", x, err)
	}
}

// TestRunSetup runs a cabinet's kiosk that is not enrolled through
// runSetup, its window replaced by a stand-in that does what the setup
// screen does with the codes the cabinet's scanners read: a badge is not
// an enrolment code; the enrolment code enrols the kiosk with a real HQ;
// then the controller starts on the cabinet's (simulated) pins and reads
// the same scanner, losing no code; ending the context stops it all, with
// the locks secured and boot and shutdown in the kiosk's log.
func TestRunSetup(t *testing.T) {
	h := newTestHQ(t)
	w, err := wiring.Parse(strings.NewReader("[lock door]\npin = SETUP_DOOR_LOCK\n[input door]\nkind = door\npin = SETUP_DOOR\n"), "setup.conf")
	if err != nil {
		t.Fatal(err)
	}
	board := sim.NewBoard("SETUP_DOOR_LOCK", "SETUP_DOOR")
	m := NewMain(io.Discard, io.Discard)
	m.log = slog.New(slog.DiscardHandler)
	m.Config.DataDir = filepath.Join(t.TempDir(), "kiosk")
	t.Cleanup(func() { m.Close() })
	if m.hw, err = w.Open(wiring.Options{Init: func() error { return nil }, Pins: board.ByName}); err != nil {
		t.Fatal(err)
	}
	badges := sim.NewBadges()
	m.hw.Scanners = []kiosk.Scanner{badges}
	if err := m.openStore(context.Background(), false); !errors.Is(err, errNotEnrolled) {
		t.Fatalf("a fresh kiosk: %v, want not enrolled", err)
	}

	code := wire.EnrolCode{HQ: h.url, Token: h.token(t)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := false
	m.setupUI = func(ctx context.Context, f setupFlow) {
		ran = true
		badges.Present("0004829301", "rfid")
		badges.Present(code.String(), "camera")
		var got wire.EnrolCode
		for got == (wire.EnrolCode{}) {
			select {
			case s := <-f.Scans:
				if c, err := wire.ParseEnrolCode(s); err == nil {
					got = c
				}
			case <-time.After(10 * time.Second):
				t.Error("no enrolment code from the scanners")
				return
			}
		}
		if err := f.Enrol(ctx, got); err != nil {
			t.Errorf("enrol: %v", err)
			return
		}
		_, cctx, err := f.Start()
		if err != nil {
			t.Errorf("start: %v", err)
			return
		}
		badges.Present("0004829302", "after-setup")
		for end := time.Now().Add(10 * time.Second); len(logged(t, m, keycab.EventIdentifyFail, "after-setup")) == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Error("the controller did not read the badge shown after enrolment")
				break
			}
		}
		cancel()
		<-cctx.Done()
	}
	if err := m.runSetup(ctx, w); err != nil {
		t.Fatalf("runSetup: %v", err)
	}
	if !ran {
		t.Fatal("runSetup showed no setup screen")
	}
	if p, err := m.db.HQPeer(context.Background()); err != nil || p.URL != h.url {
		t.Fatalf("enrolled with %+v (%v)", p, err)
	}
	if board.Pin("SETUP_DOOR_LOCK").Level() != gpio.Low {
		t.Error("the door lock was left released")
	}
	if len(logged(t, m, keycab.EventBoot, "")) != 1 || len(logged(t, m, keycab.EventShutdown, "")) != 1 {
		t.Error("the kiosk's log lacks its boot or shutdown")
	}
	if n := len(logged(t, m, keycab.EventIdentifyFail, "rfid")); n != 0 {
		t.Errorf("the badge shown during setup reached the controller (%d)", n)
	}
}

// logged returns the kiosk log's entries of kind, read by reader (any
// when empty).
func logged(t *testing.T, m *Main, kind keycab.EventKind, reader string) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	err := m.db.Scan(context.Background(), 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err == nil && ev.Kind == kind && (reader == "" || ev.Detail["reader"] == reader) {
			out = append(out, ev)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSetupTakesUpEnrolment: a kiosk an earlier try enrolled (HQ pinned,
// then the try failed on) is taken up by the next one, whatever code it
// brings, without enrolling again, which would rotate its key; and a key
// left as enrolment's pending file (stopped between pinning HQ and moving
// the key in) is taken up at start.
func TestSetupTakesUpEnrolment(t *testing.T) {
	ctx := context.Background()
	h := newTestHQ(t)
	data := t.TempDir()
	if _, err := runMain(t, "enroll", "--hq", h.url, "--token", h.token(t), "--data", data); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(data, "kiosk.key")
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(keyFile, agent.NewKeyFile(keyFile)); err != nil {
		t.Fatal(err)
	}
	m := NewMain(io.Discard, io.Discard)
	m.log = slog.New(slog.DiscardHandler)
	m.Config.DataDir = data
	t.Cleanup(func() { m.Close() })
	if err := m.enrolWith(ctx, wire.EnrolCode{HQ: h.url, Token: "org_spent.token"}); err != nil {
		t.Fatalf("take up an enrolled kiosk: %v", err)
	}
	after, err := os.ReadFile(keyFile)
	if err != nil || string(after) != string(before) || m.agent == nil {
		t.Fatalf("key changed or not taken up (%v); agent %v", err, m.agent != nil)
	}
}
