package kiosk_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// hqKey is an HQ config key: the signer HQ signs bundles and passes with,
// and the verifier key the kiosk pins at enrolment.
type hqKey struct {
	signer *audit.Signer
	vkey   string
}

func newHQKey(t *testing.T) hqKey {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "hq.test/config")
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.ParseSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return hqKey{s, vkey}
}

// pinned is a newRig tweak that enrols the kiosk's database with an HQ
// whose config key is k, before the controller starts.
func pinned(t *testing.T, k hqKey) func(*kiosk.Config) {
	return func(kc *kiosk.Config) {
		if err := kc.Store.PinHQ(context.Background(), store.HQPeer{URL: "https://hq.test", KioskID: "k1", OrgID: "org-1",
			Origin: mustOrigin(t, kc.Store), ConfigKey: k.vkey}); err != nil {
			t.Fatal(err)
		}
	}
}

// contractorPass is a pass for Cara (a contractor with no job) to key set
// ks-1, from an hour before the rig's clock starts until two hours after.
func contractorPass() wire.Pass {
	at := rigStart()
	return wire.Pass{ID: "ps_1", OrgID: "org-1", MemberID: "m-cara", KeySetIDs: []string{"ks-1"},
		NotBefore: at.Add(-time.Hour).Unix(), NotAfter: at.Add(2 * time.Hour).Unix(), IssuedAt: at.Add(-2 * time.Hour).Unix()}
}

func mustSignPass(t *testing.T, p wire.Pass, k hqKey) string {
	t.Helper()
	code, err := wire.SignPass(p, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestPassOpensItsKeySets: a contractor with no job shows a pass HQ
// signed at the camera: the kiosk checks it offline, greets them, offers
// only the pass's key set, refuses another, and lets them take theirs; the
// use is logged in plain words.
func TestPassOpensItsKeySets(t *testing.T) {
	hq := newHQKey(t)
	r := newRig(t, testConfig(t), pinned(t, hq))
	// Without the pass, Cara's badge gets her nothing: she has no job.
	code := mustSignPass(t, contractorPass(), hq)
	r.showQR(code)
	m := r.await(kiosk.Menu)
	if m.Member == nil || m.Member.ID != "m-cara" || !has(m.Take, "ks-1") || has(m.Take, "ks-2") || has(m.Unavailable, "ks-2") {
		t.Fatalf("menu %+v", m)
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-2"}) // not on the pass: refused even if asked for
	s := r.await(kiosk.Menu)
	if s.Message != "Your pass is not for 2 High St." {
		t.Fatalf("take of another key set: %+v", s)
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	r.await(kiosk.Reason)
	r.giveReasonAndTake(kiosk.GiveReason{Reason: "maintenance"}, 1)
	out := r.keysOut()
	if len(out) != 1 || out[0].KeySetID != "ks-1" || out[0].MemberID != "m-cara" {
		t.Fatalf("keys out %+v", out)
	}
	used := r.events(keycab.EventPassUsed)
	if len(used) != 1 || used[0].Actor != "m-cara" || used[0].Detail[keycab.PassID] != "ps_1" || used[0].Detail[keycab.PassKeySets] != "ks-1" {
		t.Fatalf("pass.used %+v", used)
	}
	if got := keycab.Describe(used[0].Kind, used[0].Detail); got != "Signed in with a pass" {
		t.Errorf("described as %q", got)
	}
	r.verify()
}

// TestPassRefused: a pass outside its window, of another organisation,
// revoked, forged, altered, damaged or naming someone the kiosk does not
// know opens nothing; each refusal is a signed log entry saying why, and
// the screen says it in plain words.
func TestPassRefused(t *testing.T) {
	hq, rogue := newHQKey(t), newHQKey(t)
	cfg := testConfig(t)
	r := newRig(t, cfg, pinned(t, hq))
	good := contractorPass()
	with := func(f func(*wire.Pass)) wire.Pass {
		p := good
		p.KeySetIDs = append([]string{}, good.KeySetIDs...)
		f(&p)
		return p
	}
	at := rigStart()
	valid := mustSignPass(t, good, hq)
	body, sig, _ := strings.Cut(strings.TrimPrefix(valid, wire.PassPrefix), ".")
	js, _ := base64.RawURLEncoding.DecodeString(body)
	altered := wire.PassPrefix + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(js), `"ks-1"`, `"ks-3"`, 1))) + "." + sig
	cases := []struct {
		name, code, reason, screen string
	}{
		{"not yet", mustSignPass(t, with(func(p *wire.Pass) { p.ID, p.NotBefore = "ps_2", at.Add(time.Hour).Unix() }), hq),
			"not valid yet", "This pass is valid from "},
		{"expired", mustSignPass(t, with(func(p *wire.Pass) { p.ID, p.NotAfter = "ps_3", at.Add(-time.Minute).Unix() }), hq),
			"expired", "This pass ended "},
		{"another organisation", mustSignPass(t, with(func(p *wire.Pass) { p.ID, p.OrgID = "ps_4", "org-2" }), hq),
			"another organisation", "This pass is for another organisation."},
		{"forged", mustSignPass(t, good, rogue), "signature does not verify", "This pass is damaged or was not issued by HQ."},
		{"altered", altered, "signature does not verify", "This pass is damaged or was not issued by HQ."},
		{"truncated", valid[:len(valid)/2], "damaged or cut short", "This pass is damaged or was not issued by HQ."},
		{"NUL byte", valid[:20] + "\x00" + valid[21:], "damaged or cut short", "This pass is damaged or was not issued by HQ."},
		{"garbage", wire.PassPrefix + "not.a pass at all", "damaged or cut short", "This pass is damaged or was not issued by HQ."},
		{"unknown holder", mustSignPass(t, with(func(p *wire.Pass) { p.ID, p.MemberID = "ps_5", "m-zed" }), hq),
			"holder has no access", "The holder of this pass has no access here."},
		{"no key set here", mustSignPass(t, with(func(p *wire.Pass) { p.ID, p.KeySetIDs = "ps_6", []string{"ks-elsewhere"} }), hq),
			"no key set in this cabinet", "This pass is for no key in this cabinet."},
	}
	for i, c := range cases {
		r.showQR(c.code)
		s := r.await(kiosk.Message)
		if s.Title != "Pass not accepted" || !strings.HasPrefix(s.Message, c.screen) {
			t.Errorf("%s: screen %q / %q", c.name, s.Title, s.Message)
		}
		ref := r.events(keycab.EventPassRefused)
		if len(ref) != i+1 || !strings.Contains(ref[i].Detail["reason"], c.reason) {
			t.Fatalf("%s: refusals %+v", c.name, ref)
		}
		forged := strings.Contains(c.reason, "signature") || strings.Contains(c.reason, "damaged")
		if forged != (ref[i].Detail[keycab.PassID] == "") {
			t.Errorf("%s: a refusal names pass %q (only a verified pass is named)", c.name, ref[i].Detail[keycab.PassID])
		}
		r.toIdle()
	}
	// Revoked at HQ: the next bundle lists it, and the pass that worked
	// no longer does.
	cfg.RevokedPasses = []string{"ps_1"}
	r.apply(cfg)
	r.showQR(valid)
	if s := r.await(kiosk.Message); !strings.HasPrefix(s.Message, "This pass has been withdrawn.") {
		t.Fatalf("revoked: %+v", s)
	}
	ref := r.events(keycab.EventPassRefused)
	if last := ref[len(ref)-1]; last.Detail["reason"] != "the pass was revoked at HQ" || last.Detail[keycab.PassID] != "ps_1" {
		t.Fatalf("revoked: %+v", last)
	}
	if got := keycab.Describe(ref[len(ref)-1].Kind, ref[len(ref)-1].Detail); got != "Pass refused: the pass was revoked at HQ" {
		t.Errorf("described as %q", got)
	}
	if len(r.events(keycab.EventPassUsed)) != 0 || len(r.events(keycab.EventIdentified)) != 0 {
		t.Fatal("a refused pass identified someone")
	}
	r.verify()
}

// TestPassCoolDown: a pass identifies once per keycab.PassCoolDown at a
// kiosk. Shown again inside it (a copy passed on) it is refused and
// logged (the use is kept in the kiosk's database, so a restart does not
// reset it); after it, it opens a session again.
func TestPassCoolDown(t *testing.T) {
	hq := newHQKey(t)
	r := newRig(t, testConfig(t), pinned(t, hq))
	code := mustSignPass(t, contractorPass(), hq)
	r.showQR(code)
	r.await(kiosk.Menu)
	r.do(kiosk.Cancel{})
	r.toIdle()
	r.advance(20*time.Second - r.showDone) // well past the scan cool-down, inside the pass's
	r.showQR(code)
	s := r.await(kiosk.Message)
	if !strings.HasPrefix(s.Message, "This pass was used a moment ago. Please try again in 40 seconds") {
		t.Fatalf("replay: %+v", s)
	}
	ref := r.events(keycab.EventPassRefused)
	if len(ref) != 1 || !strings.Contains(ref[0].Detail["reason"], "used 20 s ago") {
		t.Fatalf("refusals %+v", ref)
	}
	r.toIdle()
	if at, err := r.db.PassUsedAt(context.Background(), "ps_1"); err != nil || at.IsZero() {
		t.Fatalf("the pass's use is not kept: %v %v", at, err)
	}
	r.advance(keycab.PassCoolDown)
	r.showQR(code)
	if m := r.await(kiosk.Menu); m.Member == nil || m.Member.ID != "m-cara" {
		t.Fatalf("after the cool-down: %+v", m)
	}
	if n := len(r.events(keycab.EventPassUsed)); n != 2 {
		t.Fatalf("%d uses logged", n)
	}
}

// TestPassRevokedDuringSession: a bundle revoking the pass signs its
// holder out before they take anything.
func TestPassRevokedDuringSession(t *testing.T) {
	hq := newHQKey(t)
	cfg := testConfig(t)
	r := newRig(t, cfg, pinned(t, hq))
	r.showQR(mustSignPass(t, contractorPass(), hq))
	r.await(kiosk.Menu)
	cfg.RevokedPasses = []string{"ps_1"}
	r.apply(cfg)
	if s := r.await(kiosk.Message); s.Title != "Signed out" {
		t.Fatalf("after revocation: %+v", s)
	}
}

// TestPassNotEnrolled: a kiosk that pinned no HQ key refuses every pass,
// saying why.
func TestPassNotEnrolled(t *testing.T) {
	hq := newHQKey(t)
	r := newRig(t, testConfig(t))
	r.showQR(mustSignPass(t, contractorPass(), hq))
	if s := r.await(kiosk.Message); s.Message != "This kiosk cannot check passes yet: it is not enrolled with HQ." {
		t.Fatalf("screen %+v", s)
	}
	if ref := r.events(keycab.EventPassRefused); len(ref) != 1 {
		t.Fatalf("refusals %+v", ref)
	}
}

// TestPassThroughTheCamera shows a pass to the simulated camera: real
// frames of its QR code, the kiosk's own decoder, and the session it
// opens (a pass is larger than a fob's label: it must still read).
func TestPassThroughTheCamera(t *testing.T) {
	hq := newHQKey(t)
	r := newRigWith(t, testConfig(t), simulator.Options{Camera: true}, pinned(t, hq))
	p := contractorPass()
	p.KeySetIDs = []string{"ks-1", "ks-2", "ks-3"}
	r.showQR(mustSignPass(t, p, hq))
	m := r.await(kiosk.Menu)
	if m.Member == nil || m.Member.ID != "m-cara" || !has(m.Take, "ks-1") || !has(m.Take, "ks-2") {
		t.Fatalf("menu %+v", m)
	}
	if used := r.events(keycab.EventPassUsed); len(used) != 1 || used[0].Detail["via"] != "qr" {
		t.Fatalf("pass.used %+v", used)
	}
}

// TestPassInGerman: a German site's kiosk says a pass's refusals, and the
// limits of its session, in German.
func TestPassInGerman(t *testing.T) {
	hq, rogue := newHQKey(t), newHQKey(t)
	cfg := testConfig(t)
	cfg.Site.Language = "de"
	r := newRig(t, cfg, pinned(t, hq))
	r.showQR(mustSignPass(t, contractorPass(), rogue))
	if s := r.await(kiosk.Message); s.Title != "Zugangspass nicht angenommen" || s.Message != "Dieser Zugangspass ist beschädigt oder stammt nicht von der Zentrale." {
		t.Fatalf("forged, in German: %q / %q", s.Title, s.Message)
	}
	r.toIdle()
	r.showQR(mustSignPass(t, contractorPass(), hq))
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseTake{KeySetID: "ks-2"})
	if s := r.await(kiosk.Menu); s.Message != "Ihr Zugangspass gilt nicht für 2 High St." {
		t.Fatalf("another key set, in German: %q", s.Message)
	}
	for kind, want := range map[keycab.EventKind]string{keycab.EventPassUsed: "Mit Zugangspass angemeldet", keycab.EventPassRefused: "Zugangspass abgelehnt"} {
		if got := keycab.EventTitleIn(i18n.For("de"), kind); got != want {
			t.Errorf("%s in German: %q", kind, got)
		}
	}
}

// TestPassGuards: a pass is refused while the kiosk's clock is behind the
// time HQ issued the config it applied (a clock set back would let an
// ended pass in again), and once its holder is no longer a contractor (a
// pass is no bearer badge for an admin's role).
func TestPassGuards(t *testing.T) {
	hq := newHQKey(t)
	cfg := testConfig(t)
	r := newRig(t, cfg, pinned(t, hq))
	code := mustSignPass(t, contractorPass(), hq)

	ahead := *cfg
	ahead.Version = rigStart().Add(time.Hour).UnixMicro() // issued by an HQ an hour ahead of this kiosk
	if err := r.db.ApplyConfig(context.Background(), &ahead); err != nil {
		t.Fatal(err)
	}
	r.flush()
	r.showQR(code)
	if s := r.await(kiosk.Message); !strings.HasPrefix(s.Message, "This kiosk's clock is behind HQ's") {
		t.Fatalf("clock behind the bundle: %+v", s)
	}
	ref := r.events(keycab.EventPassRefused)
	if len(ref) != 1 || !strings.Contains(ref[0].Detail["reason"], "clock is behind") {
		t.Fatalf("refusals %+v", ref)
	}
	r.toIdle()
	r.advance(time.Hour) // the kiosk's clock catches up: the pass works
	r.showQR(code)
	r.await(kiosk.Menu)
	r.do(kiosk.Cancel{})
	r.toIdle()

	promoted := ahead
	promoted.Members = append([]keycab.Member{}, ahead.Members...)
	for i := range promoted.Members {
		if promoted.Members[i].ID == "m-cara" {
			promoted.Members[i].Role = keycab.RoleAdmin
		}
	}
	promoted.Version = ahead.Version + 1
	if err := r.db.ApplyConfig(context.Background(), &promoted); err != nil {
		t.Fatal(err)
	}
	r.flush()
	r.advance(keycab.PassCoolDown)
	r.showQR(code)
	if s := r.await(kiosk.Message); !strings.HasPrefix(s.Message, "The holder of this pass has no access here.") {
		t.Fatalf("holder now an admin: %+v", s)
	}
	ref = r.events(keycab.EventPassRefused)
	if last := ref[len(ref)-1]; last.Detail["reason"] != "the pass holder is no longer a contractor" {
		t.Fatalf("refusal %+v", last)
	}
	r.verify()
}
