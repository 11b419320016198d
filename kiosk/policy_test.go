package kiosk_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/sync/wire"

	hqstore "keycab.dev/keycab/hq/store"
)

// The policy flow tests: each policy field is set at HQ (HQ's store, on
// SQLite, at the organisation, site and cabinet levels), travels to the
// kiosk in the bundle HQ makes for it, and changes what the running
// controller does.

func ptr[T any](v T) *T { return &v }

// hqPolicy sets the levels at an HQ of its own (organisation, then the
// site, then the kiosk's cabinet) and returns cfg with the policy and
// branding of the bundle HQ makes for the kiosk, after a trip through
// the bundle's wire encoding.
func hqPolicy(t *testing.T, cfg *keycab.Config, org, site, cabinet keycab.PolicyOverride) *keycab.Config {
	t.Helper()
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "hq.db")
	if err := hqstore.Migrate(ctx, dsn, hqstore.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := hqstore.Open(ctx, dsn, hqstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o, owner, err := s.CreateOrg(ctx, hqstore.NewOrg{Name: "Policy Org", Caps: keycab.Caps{KeySets: 5, Sites: 1, Cabinets: 1, Members: 5},
		Owner: keycab.Member{Name: "Olive Owner", Email: "owner@policy.test"}})
	if err != nil {
		t.Fatal(err)
	}
	sc := hqstore.MemberScope(o.ID, owner.ID)
	st, err := s.CreateSite(ctx, sc, hqstore.Site{Site: keycab.Site{Name: "Site", TimeZone: cfg.Site.TimeZone}})
	if err != nil {
		t.Fatal(err)
	}
	cab, err := s.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: st.ID, Name: "Cabinet", Kind: cfg.Cabinet.Kind})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.CreateKiosk(ctx, sc, hqstore.Kiosk{CabinetID: cab.ID, Name: "kiosk"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		level hqstore.PolicyLevel
		id    string
		o     keycab.PolicyOverride
	}{{hqstore.PolicyOrg, "", org}, {hqstore.PolicySite, st.ID, site}, {hqstore.PolicyCabinet, cab.ID, cabinet}} {
		if _, err := s.SetPolicy(ctx, sc, l.level, l.id, l.o); err != nil {
			t.Fatalf("set the %s policy: %v", l.level, err)
		}
	}
	bundle, err := s.KioskConfig(ctx, hqstore.KioskScope(o.ID, k.ID))
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "hq.policy.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := wire.SignBundle(wire.Bundle{KioskID: k.ID, Version: bundle.Version, Config: bundle}, signer)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := wire.OpenBundle(signed, vkey)
	if err != nil {
		t.Fatal(err)
	}
	got := opened.Config
	cfg.Policy, cfg.Branding = got.Policy, got.Branding
	return cfg
}

// withStaff adds a second staff member, Dan, and a site manager, Sam,
// with badges.
func withStaff(cfg *keycab.Config) *keycab.Config {
	cfg.Members = append(cfg.Members,
		keycab.Member{ID: "m-dan", Name: "Dan Staff", Role: keycab.RoleStaff},
		keycab.Member{ID: "m-sam", Name: "Sam Manager", Role: keycab.RoleSiteManager})
	cfg.Badges = append(cfg.Badges,
		keycab.Badge{Hash: keycab.BadgeHash(cfg.BadgeSalt, "BADGE-DAN"), MemberID: "m-dan", Kind: keycab.BadgeRFID},
		keycab.Badge{Hash: keycab.BadgeHash(cfg.BadgeSalt, "BADGE-SAM"), MemberID: "m-sam", Kind: keycab.BadgeRFID})
	return cfg
}

func TestPolicyPINForRoleAndAlways(t *testing.T) {
	// Staff asked for a PIN by role; contractors not.
	cfg := hqPolicy(t, testConfig(t), keycab.PolicyOverride{PINRoles: &[]keycab.Role{keycab.RoleStaff}}, keycab.PolicyOverride{}, keycab.PolicyOverride{})
	r := newRig(t, cfg)
	r.badge("BADGE-BEN")
	if s := r.await(kiosk.EnterPIN); !strings.HasPrefix(s.Title, "Enter your PIN") {
		t.Fatalf("staff with pin_roles [staff]: %+v", s)
	}
	r.do(kiosk.PIN{Digits: "2468"})
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	r.await(kiosk.Reason)
	r.do(kiosk.Cancel{})
	r.toIdle()
	r.badge("BADGE-CARA") // a contractor: not asked
	r.await(kiosk.Menu)

	// pin_always at the cabinet level: the contractor too.
	r2 := newRig(t, hqPolicy(t, testConfig(t), keycab.PolicyOverride{}, keycab.PolicyOverride{}, keycab.PolicyOverride{PINAlways: ptr(true)}))
	r2.badge("BADGE-CARA")
	r2.await(kiosk.EnterPIN)
}

func TestPolicyCoolDownAndLockOut(t *testing.T) {
	cfg := hqPolicy(t, testConfig(t), keycab.PolicyOverride{ScanCoolDownSeconds: ptr[int64](10), MaxFailedPINs: ptr(2), LockOutSeconds: ptr[int64](120)},
		keycab.PolicyOverride{}, keycab.PolicyOverride{})
	if cfg.Policy.ScanCoolDown != 10*time.Second {
		t.Fatalf("cool-down in the bundle: %s", cfg.Policy.ScanCoolDown)
	}
	r := newRig(t, cfg)
	r.present("BADGE-BEN", "sim")
	r.await(kiosk.Menu)
	r.do(kiosk.Cancel{})
	r.advance(9 * time.Second)
	r.present("BADGE-BEN", "sim")
	if n := len(r.events(keycab.EventIdentified)); n != 1 {
		t.Fatalf("a read 9 s after, inside HQ's 10 s cool-down, counted (%d identifications)", n)
	}
	r.advance(time.Second)
	r.present("BADGE-BEN", "sim")
	r.await(kiosk.Menu)
	r.do(kiosk.Cancel{})
	r.toIdle()

	// Two wrong PINs lock Ana out for HQ's 120 s.
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
	r.do(kiosk.PIN{Digits: "1111"})
	r.do(kiosk.PIN{Digits: "1111"})
	if s := r.await(kiosk.Message); s.Title != "Locked out" {
		t.Fatalf("after 2 wrong PINs: %+v", s)
	}
	r.toIdle()
	r.advance(100 * time.Second)
	r.badge("BADGE-ANA")
	if s := r.await(kiosk.Message); s.Title != "Locked out" {
		t.Fatalf("100 s into a 120 s lock-out: %+v", s)
	}
	r.toIdle()
	r.advance(20 * time.Second)
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
}

func TestPolicyCurfewAndDefaultReturnBy(t *testing.T) {
	// The rig's clock starts at 03:04 UTC; a 05:30 curfew comes before
	// the 8-hour default return-by.
	cfg := testConfig(t)
	cfg.Site.TimeZone = "Europe/London"
	cfg = hqPolicy(t, cfg, keycab.PolicyOverride{Curfew: ptr(keycab.Curfew("05:30"))}, keycab.PolicyOverride{}, keycab.PolicyOverride{})
	r := newRig(t, cfg)
	r.take("BADGE-BEN", "ks-1", 1)
	out := r.keysOut()
	london, _ := time.LoadLocation("Europe/London")
	want := time.Date(2026, 1, 2, 5, 30, 0, 0, london)
	if len(out) != 1 || !out[0].DueAt.Equal(want) {
		t.Fatalf("due %v, want the curfew %v", out, want)
	}
	r.advance(want.Sub(r.clock.Now()) + time.Minute)
	r.advance(30 * time.Second) // the next overdue check
	if !r.alarm(keycab.AlarmOverdue) {
		t.Fatalf("no overdue alarm after the curfew: %v", r.kinds(0))
	}

	// No curfew, a one-hour default return-by at the cabinet level.
	r2 := newRig(t, hqPolicy(t, testConfig(t), keycab.PolicyOverride{}, keycab.PolicyOverride{},
		keycab.PolicyOverride{DefaultMaxOutSeconds: ptr[int64](3600)}))
	start := r2.clock.Now()
	r2.take("BADGE-BEN", "ks-1", 1)
	if out := r2.keysOut(); len(out) != 1 || !out[0].DueAt.Equal(start.Add(time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("due %v, want an hour after %v", out, start)
	}
}

// TestOverdueAlarmNamesNoOne: an overdue key's alarm shows its holder's
// name on the screen, and its entry (a leaf, which erasure never
// removes) holds no part of the name: it names the key set, and the
// entry of the take it points to says who.
func TestOverdueAlarmNamesNoOne(t *testing.T) {
	r := newRig(t, hqPolicy(t, testConfig(t), keycab.PolicyOverride{}, keycab.PolicyOverride{},
		keycab.PolicyOverride{DefaultMaxOutSeconds: ptr[int64](3600)}))
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	r.advance(time.Hour + time.Minute)
	r.advance(30 * time.Second) // the next overdue check
	alarms := r.c.Screen().Alarms
	if len(alarms) != 1 || alarms[0].Kind != keycab.AlarmOverdue || !strings.Contains(alarms[0].Text, "with B. Staff") {
		t.Fatalf("the screen's alarms: %+v", alarms)
	}
	raised := r.events(keycab.EventAlarmRaised)
	if len(raised) != 1 || !strings.Contains(raised[0].Detail["detail"], "(entry ") || raised[0].KeySet != "ks-1" {
		t.Fatalf("alarm entries: %+v", raised)
	}
	leaves, err := r.db.ReadEntries(0, r.db.Size())
	if err != nil {
		t.Fatal(err)
	}
	for i, leaf := range leaves {
		if strings.Contains(string(leaf), "Staff") {
			t.Errorf("entry %d holds the holder's name: %q", i, leaf)
		}
	}
}

func TestPolicyLimitAndBlockWhileOverdue(t *testing.T) {
	r := newRig(t, hqPolicy(t, testConfig(t), keycab.PolicyOverride{}, keycab.PolicyOverride{MaxKeysOut: ptr(1)}, keycab.PolicyOverride{}))
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	r.badge("BADGE-BEN")
	s := r.await(kiosk.Menu)
	if has(s.Take, "ks-2") {
		t.Fatalf("the menu offers a second key set over HQ's limit of 1: %+v", s.Take)
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-2"})
	if s := r.c.Screen(); !strings.Contains(s.Message, "your limit") {
		t.Fatalf("taking over the limit: %+v", s)
	}
}

func TestPolicyDualReleaseApprover(t *testing.T) {
	cfg := withStaff(testConfig(t))
	cfg = hqPolicy(t, cfg, keycab.PolicyOverride{ApproverRole: ptr(keycab.RoleSiteManager), DualReleaseWindowSeconds: ptr[int64](30)},
		keycab.PolicyOverride{}, keycab.PolicyOverride{})
	r := newRig(t, cfg)
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseTake{KeySetID: "ks-3"})
	s := r.await(kiosk.Second)
	if d := s.Deadline.Sub(r.clock.Now()); d != 30*time.Second {
		t.Fatalf("dual release window %s, want HQ's 30 s", d)
	}
	r.badge("BADGE-DAN") // staff: below the approver role
	if s := r.c.Screen(); s.State != kiosk.Second || !strings.Contains(s.Message, "Only a site manager or above") {
		t.Fatalf("a staff member as approver: %+v", s)
	}
	r.badge("BADGE-SAM")
	r.await(kiosk.Reason)
	r.giveReasonAndTake(kiosk.GiveReason{Reason: "maintenance"}, 3)
	if out := r.keysOut(); len(out) != 1 || out[0].SecondID != "m-sam" {
		t.Fatalf("custody %+v", out)
	}
}

func TestPolicyApproverGroup(t *testing.T) {
	cfg := withStaff(testConfig(t))
	for i := range cfg.Members {
		if cfg.Members[i].ID == "m-dan" {
			cfg.Members[i].Groups = []string{"grp-keyholders"}
		}
	}
	cfg = hqPolicy(t, cfg, keycab.PolicyOverride{ApproverRole: ptr(keycab.RoleAdmin), ApproverGroup: ptr("grp-keyholders")},
		keycab.PolicyOverride{}, keycab.PolicyOverride{})
	r := newRig(t, cfg)
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseTake{KeySetID: "ks-3"})
	r.await(kiosk.Second)
	r.badge("BADGE-SAM") // a site manager, below admin and not in the group
	if s := r.c.Screen(); s.State != kiosk.Second || !strings.Contains(s.Message, "group grp-keyholders") {
		t.Fatalf("a site manager outside the group as approver: %+v", s)
	}
	r.badge("BADGE-DAN") // staff, but in the group
	r.await(kiosk.Reason)
}

func TestPolicyTripleRelease(t *testing.T) {
	cfg := withStaff(testConfig(t))
	for i := range cfg.KeySets {
		if cfg.KeySets[i].ID == "ks-3" {
			cfg.KeySets[i].TripleRelease = true
		}
	}
	cfg = hqPolicy(t, cfg, keycab.PolicyOverride{}, keycab.PolicyOverride{}, keycab.PolicyOverride{})
	r := newRig(t, cfg)
	r.badge("BADGE-BEN")
	m := r.await(kiosk.Menu)
	for _, c := range m.Take {
		if c.KeySet.ID == "ks-3" && c.Note != "needs two more people" {
			t.Fatalf("menu note %q", c.Note)
		}
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-3"})
	if s := r.await(kiosk.Second); !strings.Contains(s.Message, "2 more") {
		t.Fatalf("first approver screen %+v", s)
	}
	r.badge("BADGE-DAN")
	s := r.await(kiosk.Second)
	if s.Title != "A third person must confirm" {
		t.Fatalf("after the second person: %+v", s)
	}
	r.badge("BADGE-DAN") // the same approver twice does not count
	if s := r.c.Screen(); s.State != kiosk.Second || !strings.Contains(s.Message, "confirmed already") {
		t.Fatalf("the second approver again: %+v", s)
	}
	r.badge("BADGE-BEN") // nor the taker
	if s := r.c.Screen(); s.State != kiosk.Second || !strings.Contains(s.Message, "cannot be you") {
		t.Fatalf("the taker as third: %+v", s)
	}
	r.badge("BADGE-SAM")
	r.await(kiosk.Reason)
	r.giveReasonAndTake(kiosk.GiveReason{Reason: "maintenance"}, 3)
	taken := r.events(keycab.EventKeyTaken)
	if len(taken) != 1 || taken[0].Second != "m-dan" || taken[0].Detail["third"] != "m-sam" {
		t.Fatalf("take %+v", taken)
	}
	r.verify()
}

func TestPolicyReasonsAndBranding(t *testing.T) {
	reasons := []string{"viewing", "valuation", "repair"}
	cfg := hqPolicy(t, testConfig(t), keycab.PolicyOverride{Reasons: &reasons, BrandName: ptr("Acme Lettings"), Accent: ptr("#1f6feb")},
		keycab.PolicyOverride{}, keycab.PolicyOverride{Accent: ptr("#d9480f")})
	r := newRig(t, cfg)
	if b := r.c.Screen().Branding; b.OrgName != "Acme Lettings" || b.Accent != "#d9480f" {
		t.Fatalf("branding on screen %+v", b)
	}
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	if s := r.await(kiosk.Reason); !slices.Equal(s.Reasons, reasons) {
		t.Fatalf("reasons on screen %v, want HQ's %v", s.Reasons, reasons)
	}
}

func TestPolicyDoorHeldWarning(t *testing.T) {
	cfg := hqPolicy(t, testConfig(t), keycab.PolicyOverride{}, keycab.PolicyOverride{},
		keycab.PolicyOverride{DoorHeldSeconds: ptr[int64](60), DoorHeldWarningSeconds: ptr[int64](15)})
	r := newRig(t, cfg)
	r.door(true)
	r.advance(45*time.Second - time.Nanosecond)
	if w := r.c.Screen().Warning; w != "" {
		t.Fatalf("warning before its time: %q", w)
	}
	r.advance(time.Nanosecond)
	if w := r.c.Screen().Warning; !strings.Contains(w, "15 seconds") {
		t.Fatalf("no pre-warning 15 s before the alarm: %q", w)
	}
	if r.alarm(keycab.AlarmDoorHeld) {
		t.Fatal("door-held alarm at the warning")
	}
	r.door(false)
	if w := r.c.Screen().Warning; w != "" {
		t.Fatalf("warning stays after the door closed: %q", w)
	}
	r.advance(time.Minute)
	if r.alarm(keycab.AlarmDoorHeld) {
		t.Fatal("door-held alarm after the door closed in time")
	}
}

func TestAccessExpiry(t *testing.T) {
	cfg := testConfig(t)
	for i := range cfg.Members {
		if cfg.Members[i].ID == "m-ben" {
			cfg.Members[i].AccessUntil = rigStart().Add(time.Hour)
		}
	}
	r := newRig(t, cfg)
	r.badge("BADGE-BEN")
	if s := r.await(kiosk.Menu); !has(s.Take, "ks-1") {
		t.Fatalf("before the expiry: %+v", s.Take)
	}
	r.do(kiosk.Cancel{})
	r.toIdle()
	r.advance(time.Hour)
	r.badge("BADGE-BEN")
	s := r.await(kiosk.Menu)
	if len(s.Take) != 0 {
		t.Fatalf("after the expiry the menu offers %+v", s.Take)
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	if s := r.c.Screen(); !strings.Contains(s.Message, "Your access ended") {
		t.Fatalf("taking after the expiry: %+v", s)
	}
}

// TestGroupsAtTheKiosk: a key set in a key-set group is offered only to
// the member groups a rule lets take it; the rule removed while the
// kiosk runs, the next take is refused.
func TestGroupsAtTheKiosk(t *testing.T) {
	cfg := withStaff(testConfig(t))
	for i := range cfg.KeySets {
		if cfg.KeySets[i].ID == "ks-1" {
			cfg.KeySets[i].Groups = []string{"kg-front"}
		}
	}
	for i := range cfg.Members {
		if cfg.Members[i].ID == "m-ben" {
			cfg.Members[i].Groups = []string{"mg-lettings"}
		}
	}
	cfg.Rules = []keycab.AccessRule{{ID: "rule-1", MemberGroupID: "mg-lettings", KeySetGroupID: "kg-front"}}
	r := newRig(t, cfg)
	r.badge("BADGE-DAN") // staff, in no group
	if s := r.await(kiosk.Menu); has(s.Take, "ks-1") || !has(s.Take, "ks-2") {
		t.Fatalf("Dan, outside the group, is offered %+v", s.Take)
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	if s := r.c.Screen(); !strings.Contains(s.Message, "Your groups do not give you 1 High St") {
		t.Fatalf("Dan choosing ks-1: %+v", s)
	}
	r.do(kiosk.Cancel{})
	r.toIdle()
	r.badge("BADGE-BEN")
	if s := r.await(kiosk.Menu); !has(s.Take, "ks-1") {
		t.Fatalf("Ben, in the group, is not offered ks-1: %+v", s.Take)
	}
	// The rule removed at HQ while Ben looks at the menu.
	next := withStaff(testConfig(t))
	next.KeySets = cfg.KeySets
	next.Members = cfg.Members
	r.apply(next)
	if s := r.c.Screen(); has(s.Take, "ks-1") {
		t.Fatalf("after the rule's removal the menu still offers ks-1: %+v", s.Take)
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	if s := r.c.Screen(); !strings.Contains(s.Message, "Your groups do not give you") {
		t.Fatalf("Ben choosing ks-1 after the rule's removal: %+v", s)
	}
	if len(r.keysOut()) != 0 {
		t.Fatal("a key went out")
	}
}

// TestPolicyBlockWhileOverdue: keycab blocks a member holding an overdue
// key by default; an organisation that turns it off at HQ lets them take
// another.
func TestPolicyBlockWhileOverdue(t *testing.T) {
	for _, block := range []bool{true, false} {
		cfg := hqPolicy(t, testConfig(t), keycab.PolicyOverride{BlockWhileOverdue: ptr(block), DefaultMaxOutSeconds: ptr[int64](600)},
			keycab.PolicyOverride{}, keycab.PolicyOverride{})
		r := newRig(t, cfg)
		r.take("BADGE-BEN", "ks-1", 1)
		r.toIdle()
		r.advance(11 * time.Minute) // ks-1 overdue
		r.badge("BADGE-BEN")
		s := r.await(kiosk.Menu)
		if has(s.Take, "ks-2") == block {
			t.Fatalf("block_while_overdue %v: the menu offers %+v", block, s.Take)
		}
		if block {
			r.do(kiosk.ChooseTake{KeySetID: "ks-2"})
			if s := r.c.Screen(); !strings.Contains(s.Message, "overdue key you hold") {
				t.Fatalf("taking while overdue: %+v", s)
			}
		}
	}
}
