package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/hardware/sim"
	"keycab.dev/keycab/kiosk"
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
	if kl, err := h.s.GetKioskLog(ctx, h.own, p.KioskID); err != nil || kl.Origin != p.Origin {
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
