package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hardware"
	"keycab.dev/keycab/hardware/input"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
)

// TestPassFromHQToKiosk: HQ issues a contractor an offline pass; a kiosk
// enrolled with that HQ, running its controller on the simulated cabinet,
// accepts the pass's code with nothing but the key it pinned at enrolment
// and the bundle it pulled, and refuses it once HQ has revoked it and the
// kiosk has pulled the next bundle (which also signs the session out).
func TestPassFromHQToKiosk(t *testing.T) {
	ctx := context.Background()
	h := newTestHQ(t)
	ks, err := h.s.CreateKeySet(ctx, h.own, keycab.KeySet{SiteID: h.site.ID, Label: "Boiler room"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.s.SetSlot(ctx, h.own, keycab.Slot{CabinetID: h.cab.ID, Number: 1, KeySetID: ks.ID}); err != nil {
		t.Fatal(err)
	}
	plumber, err := h.s.CreateMember(ctx, h.own, keycab.Member{Name: "Pat Plumber", Email: "pat@plumbing.test", Role: keycab.RoleContractor})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p, code, err := h.s.IssuePass(ctx, h.own, keycab.Pass{MemberID: plumber.ID, KeySetIDs: []string{ks.ID}, From: now.Add(-time.Hour), Until: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	// The kiosk: enrolled, its first bundle pulled.
	dir := t.TempDir()
	path := filepath.Join(dir, "kiosk.db")
	db, err := store.Open(ctx, path, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := agent.Enrol(ctx, db, agent.EnrolOptions{HQ: h.url, Token: h.token(t), KeyFile: filepath.Join(dir, "kiosk.key"), Name: "kiosk"})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = store.Open(ctx, path, store.Options{Signer: key.Signer}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ag, err := agent.New(ctx, agent.Config{DB: db, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ag.PullConfig(ctx, 0); err != nil {
		t.Fatal(err)
	}
	conf, err := db.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cab, err := simulator.New(conf.Cabinet, conf.Slots, simulator.Options{Clock: hardware.SystemClock{}, InputClock: hardware.SystemClock{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cab.Close() })
	sensors := make(chan input.Event)
	c, err := kiosk.New(kiosk.Config{Store: db, Locks: cab.Locks, Scanners: cab.Scanners(), Sensors: sensors, Initial: cab.Inputs.States()})
	if err != nil {
		t.Fatal(err)
	}
	run, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(run) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	screen := func(what string, ok func(kiosk.Screen) bool) kiosk.Screen {
		t.Helper()
		var s kiosk.Screen
		testenv.Eventually(t, 30*time.Second, what, func() bool { s = c.Screen(); return ok(s) })
		return s
	}
	screen("the idle screen", func(s kiosk.Screen) bool { return s.State == kiosk.Idle })

	cab.Badges.Present(code, "qr")
	m := screen("the pass holder's menu", func(s kiosk.Screen) bool { return s.State == kiosk.Menu })
	if m.Member == nil || m.Member.ID != plumber.ID || len(m.Take) != 1 || m.Take[0].KeySet.ID != ks.ID {
		t.Fatalf("menu %+v", m)
	}

	// Revoked at HQ: the next bundle ends the session, and the pass opens
	// nothing again.
	if _, err := h.s.RevokePass(ctx, h.own, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ag.PullConfig(ctx, 0); err != nil {
		t.Fatal(err)
	}
	screen("signed out", func(s kiosk.Screen) bool { return s.State == kiosk.Message && s.Title == "Signed out" })
	screen("the idle screen", func(s kiosk.Screen) bool { return s.State == kiosk.Idle })
	cab.Badges.Present(code, "qr")
	s := screen("the pass refused", func(s kiosk.Screen) bool { return s.State == kiosk.Message && s.Title == "Pass not accepted" })
	if !strings.HasPrefix(s.Message, "This pass has been withdrawn.") {
		t.Fatalf("refused with %+v", s)
	}

	// HQ's history has the use and the refusal, in plain words.
	if _, err := ag.Push(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := h.s.ListEvents(ctx, h.own, hqstore.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range evs {
		if e.Kind == keycab.EventPassUsed || e.Kind == keycab.EventPassRefused {
			seen = append(seen, string(e.Kind)+" "+e.ActorID+" "+e.Detail)
		}
	}
	want := []string{"pass.refused  pass " + p.ID + " refused: the pass was revoked at HQ", "pass.used " + plumber.ID + " pass " + p.ID}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("HQ's history of the pass:\n%q\nwant\n%q", seen, want)
	}
}
