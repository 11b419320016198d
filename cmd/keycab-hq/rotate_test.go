package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
)

// TestRotateNotesKey: keycab-hq rotate-notes-key re-seals site notes, a
// TOTP secret, retried mail and a kiosk's personal texts under the new
// key, on SQLite and PostgreSQL; afterwards the old key is refused and
// the new one reads everything. Without the new key, with the current
// key wrong or the same as the new, it refuses and changes nothing.
func TestRotateNotesKey(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "hq.db")
		if _, _, _, err := run(t, ctx, "migrate", "--db", dsn); err != nil {
			t.Fatal(err)
		}
		testRotate(t, dsn, dsn)
	})
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: PostgreSQL tests skipped")
		}
		srv, err := pgtest.Start(ctx)
		if err != nil {
			t.Fatalf("PostgreSQL is needed for this test: %v", err)
		}
		t.Cleanup(func() { srv.Close() })
		d := srv.MustDatabase(t)
		if _, _, _, err := run(t, ctx, "migrate", "--db", d.OwnerDSN, "--app-role", pgtest.AppRole); err != nil {
			t.Fatal(err)
		}
		testRotate(t, d.AppDSN, d.AppDSN)
	})
}

func testRotate(t *testing.T, dsn, appDSN string) {
	ctx := context.Background()
	dir := t.TempDir()
	oldKey, newKey := bytes.Repeat([]byte{1}, store.NotesKeySize), bytes.Repeat([]byte{2}, store.NotesKeySize)
	oldFile, newFile, wrongFile := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key"), filepath.Join(dir, "wrong.key")
	for f, k := range map[string][]byte{oldFile: oldKey, newFile: newKey, wrongFile: bytes.Repeat([]byte{3}, store.NotesKeySize)} {
		if err := os.WriteFile(f, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(ctx, appDSN, store.Options{NotesKey: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	org, owner, err := st.CreateOrg(ctx, store.NewOrg{Name: "Org", Caps: keycab.Caps{KeySets: 5, Sites: 5, Cabinets: 5, Members: 5},
		Owner: keycab.Member{Name: "Owner", Email: "owner@org.test"}})
	if err != nil {
		t.Fatal(err)
	}
	own := store.MemberScope(org.ID, owner.ID)
	site, err := st.CreateSite(ctx, own, store.Site{Site: keycab.Site{Name: "Site"}, Notes: "alarm code 4711"})
	if err != nil {
		t.Fatal(err)
	}
	cab, err := st.CreateCabinet(ctx, own, keycab.Cabinet{SiteID: site.ID, Name: "cab", Kind: keycab.Slotted})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := st.Accounts().CreateAccount(ctx, store.Account{Email: "mfa@org.test", Name: "MFA"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Accounts().SetPendingTOTP(ctx, acc.ID, []byte("totp secret")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Outbox().QueueMailRetry(ctx, store.NoticeMail{Kind: "reset", To: "y@org.test", Subject: "s", Body: "reset link"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	tok, _, err := st.CreateEnrolToken(ctx, own, cab.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := st.Enrol(ctx, tok, make([]byte, 32), "kiosk", func(id string) (string, string, error) { return "test/" + id, "test/" + id + "+00000000+AQ==", nil })
	if err != nil {
		t.Fatal(err)
	}
	salt := audit.NewSalt()
	leaf, err := audit.Encode(&audit.Event{Kind: keycab.EventKeyTaken, Actor: owner.ID, Notes: audit.PersonalRef(salt, "left by the gate")})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.KioskLogs().UpdateKioskLog(ctx, store.KioskScope(org.ID, k.ID), func(ctx context.Context, l *store.LogTx) error {
		if err := l.Append(ctx, 0, [][]byte{leaf}, [][]byte{make([]byte, 32)}); err != nil {
			return err
		}
		if err := l.RecordEvents(ctx, []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: owner.ID, At: time.Now()}}); err != nil {
			return err
		}
		if err := l.RecordTexts(ctx, 0, [][]byte{leaf}, []store.PersonalText{{LogIndex: 0, Field: store.FieldNotes, Salt: salt, Text: "left by the gate"}}); err != nil {
			return err
		}
		return l.SetHead(ctx, 1, []byte("cp"), []byte("cosigned"))
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Refusals change nothing.
	if _, _, _, err := run(t, ctx, "rotate-notes-key", "--db", dsn, "--notes-key-file", oldFile); err == nil || !strings.Contains(err.Error(), "--new-key-file") {
		t.Fatalf("without --new-key-file: %v", err)
	}
	if _, _, _, err := run(t, ctx, "rotate-notes-key", "--db", dsn, "--new-key-file", newFile); err == nil || !strings.Contains(err.Error(), "current key") {
		t.Fatalf("without the current key: %v", err)
	}
	if _, _, _, err := run(t, ctx, "rotate-notes-key", "--db", dsn, "--old-key-file", oldFile, "--new-key-file", oldFile); err == nil || !strings.Contains(err.Error(), "is the current key") {
		t.Fatalf("to the same key: %v", err)
	}
	if _, _, _, err := run(t, ctx, "rotate-notes-key", "--db", dsn, "--old-key-file", wrongFile, "--new-key-file", newFile); err == nil || !strings.Contains(err.Error(), "not the one") {
		t.Fatalf("with a wrong current key: %v", err)
	}

	out, _, _, err := run(t, ctx, "rotate-notes-key", "--db", dsn, "--old-key-file", oldFile, "--new-key-file", newFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "generation 2: 1 site notes, 1 TOTP secrets, 1 mail bodies, 1 personal texts re-sealed"; !strings.Contains(out, want) {
		t.Fatalf("rotate-notes-key printed %q, want %q", out, want)
	}
	if _, _, _, err := run(t, ctx, "rotate-notes-key", "--db", dsn, "--old-key-file", oldFile, "--new-key-file", wrongFile); err == nil || !strings.Contains(err.Error(), "generation 2") {
		t.Fatalf("rotating again from the old key: %v", err)
	}

	st, err = store.Open(ctx, appDSN, store.Options{NotesKey: newKey})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s, err := st.GetSite(ctx, own, site.ID); err != nil || s.Notes != "alarm code 4711" {
		t.Fatalf("site notes under the new key: %q %v", s.Notes, err)
	}
	if _, pending, err := st.Accounts().TOTPSecrets(ctx, acc.ID); err != nil || string(pending) != "totp secret" {
		t.Fatalf("totp under the new key: %q %v", pending, err)
	}
	if ms, err := st.Outbox().TakeMailRetries(ctx, time.Minute, 10); err != nil || len(ms) != 1 || ms[0].Body != "reset link" {
		t.Fatalf("mail under the new key: %+v %v", ms, err)
	}
	es, err := st.ListEvents(ctx, own, store.EventFilter{})
	if err != nil || len(es) != 1 || es[0].Notes != "left by the gate" {
		t.Fatalf("personal text under the new key: %+v %v", es, err)
	}
}
