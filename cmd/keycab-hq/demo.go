package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/demoorg"
	"keycab.dev/keycab/internal/passhash"
)

// The demo organisation's owner login.
const demoEmail = "owner@demo.keycab.test"

// demoSeed writes the demo organisation (demoorg.Config: the one the
// kiosk simulator runs on) into HQ with its owner's login: the site, the
// cabinet with its door and slot pins, the key sets with fob QR tokens,
// the members with their PINs and badges, the contractor's job and the
// reservation. It is idempotent: when the demo owner exists it reuses the
// organisation and changes nothing.
func (m *Main) demoSeed(ctx context.Context) error {
	if a, err := m.st.Accounts().AccountByEmail(ctx, demoEmail); err == nil {
		ms, err := m.st.Accounts().Memberships(ctx, a.ID)
		if err != nil || len(ms) == 0 {
			return errors.Join(err, fmt.Errorf("demo account %s has no organisation", demoEmail))
		}
		fmt.Fprintf(m.stdout, "the demo organisation exists already (%s); reusing it\n", ms[0].OrgID)
		if m.Config.DemoOut != "" {
			if _, err := os.Stat(m.Config.DemoOut); err != nil {
				return fmt.Errorf("the demo organisation exists but its login file %s is gone: start over with a fresh database", m.Config.DemoOut)
			}
		}
		return nil
	} else if keycab.ErrorCode(err) != keycab.ENOTFOUND {
		return err
	}
	now := time.Now()
	demo, badges, err := demoorg.Config(now, passhash.OWASP)
	if err != nil {
		return err
	}
	password := "demo-" + strings.ToLower(rand.Text()[:16])
	cfg := m.Config.Auth
	cfg.Limits = auth.Limits{}
	a, err := auth.New(m.st, nil, m.log, nil, cfg)
	if err != nil {
		return err
	}
	// The demo owner's address is no one's inbox: the operator vouches for
	// it, so `make demo` signs in without a verification link.
	t, err := a.SignupTrusted(ctx, auth.Signup{OrgName: demo.Org.Name, Name: "Demo Owner", Email: demoEmail, Password: password}, "127.0.0.1")
	if err != nil {
		return err
	}
	sc := store.MemberScope(t.OrgID, t.MemberID)
	site, err := m.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{OrgID: t.OrgID, Name: demo.Site.Name, Address: "12 High Street, Springfield", TimeZone: demo.Site.TimeZone}})
	if err != nil {
		return err
	}
	c := demo.Cabinet
	c.ID, c.OrgID, c.SiteID = "", t.OrgID, site.ID
	cab, err := m.st.CreateCabinet(ctx, sc, c)
	if err != nil {
		return err
	}
	keySets := map[string]string{} // demo id -> HQ id
	var fobs []string
	for _, k := range demo.KeySets {
		demoID := k.ID
		k.ID, k.OrgID, k.SiteID = "", t.OrgID, site.ID
		k, err := m.st.CreateKeySet(ctx, sc, k)
		if err != nil {
			return err
		}
		keySets[demoID] = k.ID
		text, _, err := m.st.IssueToken(ctx, sc, k.ID)
		if err != nil {
			return err
		}
		fobs = append(fobs, text)
	}
	for _, sl := range demo.Slots {
		sl.CabinetID, sl.KeySetID = cab.ID, keySets[sl.KeySetID]
		if err := m.st.SetSlot(ctx, sc, sl); err != nil {
			return err
		}
	}
	members := map[string]string{}
	for i, dm := range demo.Members {
		mem := keycab.Member{OrgID: t.OrgID, Name: dm.Name, Email: badges[i].Email, Role: dm.Role}
		if dm.Role != keycab.RoleAdmin {
			mem.SiteIDs = []string{site.ID}
		}
		mem, err := m.st.CreateMember(ctx, sc, mem)
		if err != nil {
			return err
		}
		members[dm.ID] = mem.ID
		if dm.PINHash != "" {
			if err := m.st.SetPINHash(ctx, sc, mem.ID, dm.PINHash); err != nil {
				return err
			}
		}
		if _, err := m.st.AddBadge(ctx, sc, mem.ID, keycab.BadgeRFID, badges[i].Code); err != nil {
			return err
		}
	}
	for _, j := range demo.Jobs {
		j.ID, j.OrgID, j.MemberID = "", t.OrgID, members[j.MemberID]
		for i, k := range j.KeySetIDs {
			j.KeySetIDs[i] = keySets[k]
		}
		if _, err := m.st.CreateJob(ctx, sc, j); err != nil {
			return err
		}
	}
	for _, r := range demo.Reservations {
		r.ID, r.OrgID, r.KeySetID, r.MemberID = "", t.OrgID, keySets[r.KeySetID], members[r.MemberID]
		if _, err := m.st.CreateReservation(ctx, sc, r); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.stdout, "demo organisation %q created (%s)\nsign in at %s with\n  email:    %s\n  password: %s\n",
		demo.Org.Name, t.OrgID, m.Config.Auth.BaseURL, demoEmail, password)
	if m.Config.DemoOut != "" {
		text := fmt.Sprintf("KEYCAB_DEMO_ORG=%s\nKEYCAB_DEMO_CABINET=%s\nKEYCAB_DEMO_EMAIL=%s\nKEYCAB_DEMO_PASSWORD=%s\nKEYCAB_DEMO_FOBS=%q\n",
			t.OrgID, cab.ID, demoEmail, password, strings.Join(fobs, " "))
		if err := os.WriteFile(m.Config.DemoOut, []byte(text), 0o600); err != nil {
			return fmt.Errorf("write demo login: %w", err)
		}
	}
	return nil
}
