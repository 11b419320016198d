package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
)

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "Create a demo kiosk database with a signed log of a morning's key movements, verify it and show it.",
		usage:   "[--dir DIR]",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			dir := fs.String("dir", "keycab-demo", "directory for the demo database and key (created)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					fs.Usage()
					return errUsage
				}
				return demo(ctx, e, *dir)
			}
		},
	}
}

func demo(ctx context.Context, e *env, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	dbPath := filepath.Join(dir, "kiosk.db")
	keyPath := filepath.Join(dir, "kiosk.key")
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", keyPath} {
		os.Remove(p)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "keycab.kiosk/demo-front-office")
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	signer, err := audit.ParseSignerKey(skey)
	if err != nil {
		return err
	}
	d, err := store.Open(ctx, dbPath, store.Options{Signer: signer, Create: true})
	if err != nil {
		return err
	}
	defer d.Close()
	salt := []byte("demo badge salt")
	cfg := &keycab.Config{
		Version: 1,
		Org:     keycab.Org{ID: "org-demo", Name: "Harbour Lettings"},
		Site:    keycab.Site{ID: "site-1", Name: "Front office", TimeZone: "Europe/London"},
		Cabinet: keycab.Cabinet{ID: "cab-1", Name: "Front office cabinet", Kind: keycab.Slotted, DoorLock: "DOOR_LOCK", DoorSensor: "DOOR_SENSE"},
		KeySets: []keycab.KeySet{
			{ID: "ks-12high", Label: "12 High St, front door"},
			{ID: "ks-3mill", Label: "3 Mill Lane, all keys"},
			{ID: "ks-plant", Label: "Plant room", Sensitive: true},
		},
		Slots: []keycab.Slot{
			{Number: 1, Lock: "SLOT1_LOCK", Sensor: "SLOT1_SENSE", KeySetID: "ks-12high"},
			{Number: 2, Lock: "SLOT2_LOCK", Sensor: "SLOT2_SENSE", KeySetID: "ks-3mill"},
			{Number: 3, Lock: "SLOT3_LOCK", Sensor: "SLOT3_SENSE", KeySetID: "ks-plant"},
		},
		Members: []keycab.Member{
			{ID: "m-ana", Name: "Ana Silva", Role: keycab.RoleAdmin},
			{ID: "m-ben", Name: "Ben Okafor", Role: keycab.RoleStaff},
			{ID: "m-cara", Name: "Cara Jones", Role: keycab.RoleContractor},
		},
		Badges: []keycab.Badge{
			{Hash: keycab.BadgeHash(salt, "0A00B1C2D3"), MemberID: "m-ana", Kind: keycab.BadgeRFID},
			{Hash: keycab.BadgeHash(salt, "0A00B1C2D4"), MemberID: "m-ben", Kind: keycab.BadgeRFID},
		},
		Policy:    keycab.DefaultPolicy(),
		BadgeSalt: salt,
	}
	if err := d.ApplyConfig(ctx, cfg); err != nil {
		return err
	}
	now := time.Now()
	steps := []func() error{
		func() error {
			_, err := d.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventIdentified, Actor: "m-ben", Detail: map[string]string{"via": "rfid"}}})
			return err
		},
		func() error {
			return d.Take(ctx, &keycab.Checkout{KeySetID: "ks-12high", MemberID: "m-ben", Slot: 1, DueAt: now.Add(2 * time.Hour), Reason: "viewing", Recipient: "Mr and Mrs Patel (buyers)"})
		},
		func() error {
			_, err := d.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAlarmRaised, Detail: map[string]string{"alarm": keycab.AlarmDoorHeld, "seconds": "75"}}})
			return err
		},
		func() error {
			return d.Take(ctx, &keycab.Checkout{KeySetID: "ks-plant", MemberID: "m-ana", SecondID: "m-ben", Slot: 3, DueAt: now.Add(time.Hour), Reason: "maintenance", Notes: "boiler service"})
		},
		func() error { _, err := d.Return(ctx, "ks-12high", "m-ben", 1, false); return err },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	res, err := d.Verify(ctx, nil)
	if err != nil {
		return fmt.Errorf("demo log does not verify: %w", err)
	}
	fmt.Fprintf(e.stdout, "Demo kiosk database: %s (signer key %s)\nVerifier key: %s\n\n", dbPath, keyPath, vkey)
	fmt.Fprintf(e.stdout, "Log verified: %d entries, root %s\n\n", res.Entries, res.Root)
	if err := root().run(ctx, e, "keycab", []string{"audit", "show", "--db", dbPath}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nTry:\n  keycab audit verify --db %[1]s --key %[2]q\n  keycab audit prove --db %[1]s --index 2\n  keycab audit export --db %[1]s --out %[3]s\n",
		dbPath, vkey, filepath.Join(dir, "tiles"))
	return nil
}
