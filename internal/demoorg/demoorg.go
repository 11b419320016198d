// Package demoorg is the demo organisation: a letting agent's front office
// with a slotted cabinet of six key sets, four members with badges, a
// contractor's job and a reservation. The kiosk simulator runs on it
// offline, and keycab-hq demo-seed writes the same organisation into HQ,
// so that an enrolled simulated kiosk receives it back from HQ in a signed
// config bundle with the same slots, locks, sensors and badges.
package demoorg

import (
	"fmt"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/passhash"
)

// Badge is a badge of the demo organisation, printed for people trying
// the simulator.
type Badge struct {
	Code   string
	Member string
	Role   keycab.Role
	PIN    string // empty when the member has none
	Email  string // the member's email at HQ
}

// Config returns the demo organisation's config snapshot (a slotted cabinet
// of six key sets at a letting agent's front office, four members, a
// contractor's job, a reservation) and its badges. now anchors the job and
// the reservation; the PINs are hashed with the given parameters.
func Config(now time.Time, p passhash.Params) (*keycab.Config, []Badge, error) {
	salt := []byte("keycab demo badge salt")
	badges := []Badge{
		{Code: "0A00B1C2D3", Member: "Ana Silva", Role: keycab.RoleAdmin, PIN: "1234", Email: "ana@demo.keycab.test"},
		{Code: "0A00B1C2D4", Member: "Ben Okafor", Role: keycab.RoleStaff, Email: "ben@demo.keycab.test"},
		{Code: "0A00B1C2D5", Member: "Chloe Martin", Role: keycab.RoleStaff, PIN: "2580", Email: "chloe@demo.keycab.test"},
		{Code: "0A00B1C2D6", Member: "Dev Patel", Role: keycab.RoleContractor, Email: "dev@demo.keycab.test"},
	}
	ids := []string{"m-ana", "m-ben", "m-chloe", "m-dev"}
	cfg := &keycab.Config{
		Version:   1,
		Org:       keycab.Org{ID: "org-demo", Name: "Harbour Lettings"},
		Site:      keycab.Site{ID: "site-front", Name: "Front office", TimeZone: "Europe/London"},
		Cabinet:   keycab.Cabinet{ID: "cab-front", Name: "Front office cabinet", Kind: keycab.Slotted, DoorLock: "DOOR_LOCK", DoorSensor: "DOOR_SENSE"},
		Policy:    keycab.DefaultPolicy(),
		BadgeSalt: salt,
	}
	labels := []string{"12 High St, front door", "3 Mill Lane, all keys", "Flat 4, 9 Quay Rd", "27 Park Ave, garage", "Plant room", "Office spare"}
	for i, l := range labels {
		id := fmt.Sprintf("ks-%d", i+1)
		ks := keycab.KeySet{ID: id, OrgID: cfg.Org.ID, SiteID: cfg.Site.ID, Label: l}
		if l == "Plant room" {
			ks.Sensitive = true
		}
		cfg.KeySets = append(cfg.KeySets, ks)
		cfg.Slots = append(cfg.Slots, keycab.Slot{CabinetID: cfg.Cabinet.ID, Number: i + 1, Lock: fmt.Sprintf("SLOT%d_LOCK", i+1), Sensor: fmt.Sprintf("SLOT%d_SENSE", i+1), KeySetID: id})
		cfg.Tokens = append(cfg.Tokens, keycab.QRToken{KeySetID: id, Hash: keycab.TokenHash(Token(i + 1)), IssuedAt: now})
	}
	for i, b := range badges {
		m := keycab.Member{ID: ids[i], OrgID: cfg.Org.ID, Name: b.Member, Role: b.Role}
		if b.PIN != "" {
			h, err := passhash.Hash(b.PIN, p)
			if err != nil {
				return nil, nil, err
			}
			m.PINHash = h
		}
		cfg.Members = append(cfg.Members, m)
		cfg.Badges = append(cfg.Badges, keycab.Badge{Hash: keycab.BadgeHash(salt, b.Code), MemberID: m.ID, Kind: keycab.BadgeRFID})
	}
	cfg.Jobs = []keycab.Job{{ID: "job-1", OrgID: cfg.Org.ID, MemberID: "m-dev", KeySetIDs: []string{"ks-3", "ks-4"}, From: now.Add(-time.Hour), Until: now.Add(3 * time.Hour), Descriptor: "WO-1042 boiler service"}}
	cfg.Reservations = []keycab.Reservation{{ID: "res-1", OrgID: cfg.Org.ID, KeySetID: "ks-2", MemberID: "m-chloe", From: now.Add(-30 * time.Minute), Until: now.Add(2 * time.Hour)}}
	return cfg, badges, nil
}

// Token is the QR text printed on demo key fob n's label.
func Token(n int) string { return fmt.Sprintf("KCB1-DEMO-FOB-%02d", n) }
