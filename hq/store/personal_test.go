package store_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/store"
)

// pushedTake is a take a kiosk of a tenant pushed with its texts.
type pushedTake struct {
	kiosk string
	leaf  []byte
	texts []store.PersonalText
}

// mustPushTake enrols a kiosk at tn's cabinet 1 and pushes a take of key
// set 1 by member with a recipient and notes, and the texts (a return
// after it when returned).
func mustPushTake(t *testing.T, s *store.Store, tn tenant, member keycab.Member, recipient, notes string, returned bool) pushedTake {
	t.Helper()
	ctx := context.Background()
	tok, _, err := s.CreateEnrolToken(ctx, tn.as(tn.owner), tn.cab1.ID, 0)
	MustNoErr(t, err)
	k, _, err := s.Enrol(ctx, tok, make([]byte, 32), "kiosk", newLog)
	MustNoErr(t, err)
	rs, ns := audit.NewSalt(), audit.NewSalt()
	now := time.Now()
	leaf := must[[]byte](t)(audit.Encode(&audit.Event{Kind: keycab.EventKeyTaken, Time: now.UnixMilli(), Actor: member.ID, KeySet: tn.ks1.ID,
		Recipient: audit.PersonalRef(rs, recipient), Notes: audit.PersonalRef(ns, notes)}))
	leaves := [][]byte{leaf}
	events := []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: member.ID, KeySetID: tn.ks1.ID, At: now}}
	if returned {
		leaves = append(leaves, must[[]byte](t)(audit.Encode(&audit.Event{Kind: keycab.EventKeyReturned, Time: now.UnixMilli() + 1, Actor: member.ID, KeySet: tn.ks1.ID})))
		events = append(events, store.Event{LogIndex: 1, Kind: keycab.EventKeyReturned, ActorID: member.ID, KeySetID: tn.ks1.ID, At: now.Add(time.Millisecond)})
	}
	texts := []store.PersonalText{{LogIndex: 0, Field: store.FieldRecipient, Salt: rs, Text: recipient}, {LogIndex: 0, Field: store.FieldNotes, Salt: ns, Text: notes}}
	MustNoErr(t, s.KioskLogs().UpdateKioskLog(ctx, store.KioskScope(tn.org.ID, k.ID), func(ctx context.Context, l *store.LogTx) error {
		hashes := make([][]byte, len(leaves))
		for i := range hashes {
			hashes[i] = make([]byte, 32)
		}
		if err := l.Append(ctx, 0, leaves, hashes); err != nil {
			return err
		}
		if err := l.RecordEvents(ctx, events); err != nil {
			return err
		}
		if err := l.RecordTexts(ctx, 0, leaves, texts); err != nil {
			return err
		}
		return l.SetHead(ctx, int64(len(leaves)), []byte("cp"), []byte("cosigned"))
	}))
	return pushedTake{k.ID, leaf, texts}
}

// takeTexts returns the recipient and notes sc reads of the take.
func takeTexts(t *testing.T, s *store.Store, sc store.Scope, kiosk string) (string, string, bool) {
	t.Helper()
	for _, e := range must[[]store.Event](t)(s.ListEvents(context.Background(), sc, store.EventFilter{Kind: keycab.EventKeyTaken})) {
		if e.KioskID == kiosk {
			return e.Recipient, e.Notes, true
		}
	}
	return "", "", false
}

// personalCases are the contract cases of personal texts (personal.go).
func personalCases() []contractCase {
	ctx := context.Background()
	return []contractCase{
		{"personal texts: by role and custody", func(t *testing.T, f *fixture) {
			a := f.a
			p := mustPushTake(t, f.s, a, a.staff, "Dana Buyer", "waits at the back door", false)
			for _, m := range []keycab.Member{a.owner, a.admin} {
				if r, n, _ := takeTexts(t, f.s, a.as(m), p.kiosk); r != "Dana Buyer" || n != "waits at the back door" {
					t.Fatalf("%s reads %q %q", m.Role, r, n)
				}
			}
			// The staff member holds key set 1 of site 1: the take's texts.
			if r, n, ok := takeTexts(t, f.s, a.as(a.staff), p.kiosk); !ok || r != "Dana Buyer" || n == "" {
				t.Fatalf("staff holding a key of the site reads %q %q (%v)", r, n, ok)
			}
			// The manager of site 1 sees the take, holds no key: no text.
			if r, n, ok := takeTexts(t, f.s, a.as(a.manager), p.kiosk); !ok || r != "" || n != "" {
				t.Fatalf("a site manager without a key reads %q %q (%v)", r, n, ok)
			}
			// Auditors read the record but for its personal text.
			if r, n, ok := takeTexts(t, f.s, a.as(a.auditor), p.kiosk); !ok || r != "" || n != "" {
				t.Fatalf("an auditor reads %q %q (%v)", r, n, ok)
			}
			// Another organisation sees nothing of it.
			if _, _, ok := takeTexts(t, f.s, f.b.as(f.b.owner), p.kiosk); ok {
				t.Fatal("org B reads A's take")
			}
			// B's owner deleting A's staff member's texts deletes nothing.
			if n := must[int64](t)(f.s.DeleteMemberTexts(ctx, f.b.as(f.b.owner), a.staff.ID)); n != 0 {
				t.Fatalf("org B deleted %d of A's texts", n)
			}
			// Staff may not delete texts; the owner may.
			wantCode(t, must2(f.s.DeleteMemberTexts(ctx, a.as(a.staff), a.staff.ID)), keycab.EFORBIDDEN)
			if r, _, _ := takeTexts(t, f.s, a.as(a.owner), p.kiosk); r != "Dana Buyer" {
				t.Fatalf("after refused deletions the owner reads %q", r)
			}
			if n := must[int64](t)(f.s.DeleteMemberTexts(ctx, a.as(a.owner), a.staff.ID)); n != 2 {
				t.Fatalf("deleted %d texts, want 2", n)
			}
			if r, n, _ := takeTexts(t, f.s, a.as(a.owner), p.kiosk); r != "" || n != "" {
				t.Fatalf("after deletion the owner reads %q %q", r, n)
			}
		}},
		{"personal texts: no custody, no text", func(t *testing.T, f *fixture) {
			a := f.a
			p := mustPushTake(t, f.s, a, a.staff, "Dana Buyer", "waits at the back door", true)
			if r, n, ok := takeTexts(t, f.s, a.as(a.staff), p.kiosk); !ok || r != "" || n != "" {
				t.Fatalf("staff who returned the key reads %q %q (%v)", r, n, ok)
			}
			if r, _, _ := takeTexts(t, f.s, a.as(a.owner), p.kiosk); r != "Dana Buyer" {
				t.Fatalf("the owner reads %q", r)
			}
		}},
		{"personal texts: rows are the tenant's (RLS)", func(t *testing.T, f *fixture) {
			mustPushTake(t, f.s, f.a, f.a.staff, "Dana Buyer", "notes", false)
			var n int
			MustNoErr(t, openRaw(t, f.owner, f.b.org.ID).QueryRowContext(ctx, "SELECT count(*) FROM personal_texts WHERE org_id = '"+f.a.org.ID+"'").Scan(&n))
			if n != 0 && !strings.HasPrefix(f.owner, "sqlite:") {
				t.Fatalf("org B's session sees %d of A's personal texts", n)
			}
			var sealed []byte
			MustNoErr(t, openRaw(t, f.owner, f.a.org.ID).QueryRowContext(ctx, "SELECT sealed FROM personal_texts WHERE org_id = '"+f.a.org.ID+"' AND field = 'recipient'").Scan(&sealed))
			if bytes.Contains(sealed, []byte("Dana")) || sealed[0] != 1 {
				t.Fatalf("sealed text %x", sealed)
			}
		}},
		{"personal texts: sealed bound to their row", func(t *testing.T, f *fixture) {
			p := mustPushTake(t, f.s, f.a, f.a.staff, "Dana Buyer", "the gate code", false)
			q := mustPushTake(t, f.s, f.b, f.b.staff, "B's Buyer", "B's gate", false)
			// The recipient's sealed value copied over the notes of the same
			// entry, and B's over A's recipient: neither opens there.
			raw := openRaw(t, f.owner, f.a.org.ID)
			sealedOf := func(org, kiosk, field string) []byte {
				var b []byte
				MustNoErr(t, openRaw(t, f.owner, org).QueryRowContext(ctx, "SELECT sealed FROM personal_texts WHERE org_id = $1 AND kiosk_id = $2 AND field = $3",
					org, kiosk, field).Scan(&b))
				return b
			}
			for _, c := range []struct {
				from  []byte
				field string
			}{{sealedOf(f.a.org.ID, p.kiosk, "recipient"), "notes"}, {sealedOf(f.b.org.ID, q.kiosk, "recipient"), "recipient"}} {
				_, err := raw.ExecContext(ctx, "UPDATE personal_texts SET sealed = $1 WHERE org_id = $2 AND kiosk_id = $3 AND field = $4", c.from, f.a.org.ID, p.kiosk, c.field)
				MustNoErr(t, err)
			}
			if r, n, ok := takeTexts(t, f.s, f.a.as(f.a.owner), p.kiosk); !ok || r != "" || n != "" {
				t.Fatalf("moved sealed values opened: %q %q (%v)", r, n, ok)
			}
			if r, _, _ := takeTexts(t, f.s, f.b.as(f.b.owner), q.kiosk); r != "B's Buyer" {
				t.Fatalf("B's own text: %q", r)
			}
		}},
	}
}

func must2[T any](_ T, err error) error { return err }

// TestPersonalTextsChecked: RecordTexts refuses a text that is not what
// its entry commits to, and the transaction stores nothing.
func TestPersonalTextsChecked(t *testing.T) {
	rs := audit.NewSalt()
	leaf, err := audit.Encode(&audit.Event{Kind: keycab.EventKeyTaken, Actor: "m1", Recipient: audit.PersonalRef(rs, "Dana")})
	MustNoErr(t, err)
	leaves := [][]byte{leaf}
	ok := store.PersonalText{LogIndex: 5, Field: store.FieldRecipient, Salt: rs, Text: "Dana"}
	MustNoErr(t, store.CheckPersonalTexts(5, leaves, []store.PersonalText{ok}))
	for name, c := range map[string]func(p *store.PersonalText){
		"text":   func(p *store.PersonalText) { p.Text = "Dan" },
		"salt":   func(p *store.PersonalText) { p.Salt = audit.NewSalt() },
		"field":  func(p *store.PersonalText) { p.Field = store.FieldNotes },
		"index":  func(p *store.PersonalText) { p.LogIndex = 4 },
		"NUL":    func(p *store.PersonalText) { p.Text = "Da\x00na" },
		"UTF-8":  func(p *store.PersonalText) { p.Text = "Da\xffna" },
		"long":   func(p *store.PersonalText) { p.Text = strings.Repeat("y", audit.MaxPersonalText+1) },
		"empty":  func(p *store.PersonalText) { p.Text = "" },
		"bogus":  func(p *store.PersonalText) { p.Field = "detail" },
		"nosalt": func(p *store.PersonalText) { p.Salt = nil },
	} {
		p := ok
		c(&p)
		if err := store.CheckPersonalTexts(5, leaves, []store.PersonalText{p}); keycab.ErrorCode(err) != keycab.EINVALID {
			t.Errorf("%s: %v, want %s", name, err, keycab.EINVALID)
		}
	}
	if err := store.CheckPersonalTexts(5, leaves, []store.PersonalText{ok, ok}); keycab.ErrorCode(err) != keycab.EINVALID {
		t.Errorf("sent twice: %v", err)
	}
}

// TestRotateNotesKey: the rotation re-seals site notes, TOTP secrets,
// retried mail and personal texts under the new key at the next
// generation, in one transaction; the old key is refused afterwards; a
// value that does not open stops it and nothing changes.
func TestRotateNotesKey(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, e)
			p := mustPushTake(t, f.s, f.a, f.a.staff, "Dana Buyer", "by the gate", false)
			acc := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "mfa@a.test", Name: "MFA"}))
			MustNoErr(t, f.s.Accounts().SetPendingTOTP(ctx, acc.ID, []byte("totp secret bytes")))
			must[string](t)(f.s.Outbox().QueueMailRetry(ctx, store.NoticeMail{OrgID: f.a.org.ID, Kind: "invite", To: "x@a.test", Subject: "s", Body: "org link"}, time.Now()))
			must[string](t)(f.s.Outbox().QueueMailRetry(ctx, store.NoticeMail{Kind: "reset", To: "y@a.test", Subject: "s", Body: "account link"}, time.Now()))

			// Any other key is refused at Open.
			other := bytes.Repeat([]byte{9}, store.NotesKeySize)
			if _, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: other}); err == nil || !strings.Contains(err.Error(), "not the one") {
				t.Fatalf("open with another key: %v", err)
			}
			rc := must[store.RotationCount](t)(f.s.RotateNotesKey(ctx, other))
			if rc.Generation != 2 || rc.SiteNotes != 4 || rc.TOTPSecrets != 1 || rc.MailBodies != 2 || rc.PersonalTexts != 2 {
				t.Fatalf("rotation %+v", rc)
			}
			if _, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: testNotesKey()}); err == nil || !strings.Contains(err.Error(), "generation 2") {
				t.Fatalf("open with the old key after the rotation: %v", err)
			}
			s2, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: other})
			MustNoErr(t, err)
			defer s2.Close()
			if st := must[store.Site](t)(s2.GetSite(ctx, f.a.as(f.a.owner), f.a.site1.ID)); st.Notes != "alarm code 1234 at A" {
				t.Fatalf("site notes after rotation: %q", st.Notes)
			}
			if _, pending, err := s2.Accounts().TOTPSecrets(ctx, acc.ID); err != nil || string(pending) != "totp secret bytes" {
				t.Fatalf("totp after rotation: %q %v", pending, err)
			}
			ms := must[[]store.NoticeMail](t)(s2.Outbox().TakeMailRetries(ctx, time.Minute, 10))
			bodies := map[string]bool{}
			for _, m := range ms {
				bodies[m.Body] = true
			}
			if !bodies["org link"] || !bodies["account link"] {
				t.Fatalf("mail after rotation: %+v", ms)
			}
			if r, n, _ := takeTexts(t, s2, f.a.as(f.a.owner), p.kiosk); r != "Dana Buyer" || n != "by the gate" {
				t.Fatalf("texts after rotation: %q %q", r, n)
			}
			// The rotation is in each organisation's admin log.
			found := false
			for _, a := range must[[]store.AdminAction](t)(s2.ListAdminLog(ctx, f.b.as(f.b.owner), 0)) {
				found = found || a.Action == "notes_key.rotate"
			}
			if !found {
				t.Fatal("no notes_key.rotate in org B's admin log")
			}

			// A value that does not open stops the next rotation whole.
			MustNoErr(t, f.s.Close())
			raw := openRaw(t, f.owner, f.b.org.ID)
			_, err = raw.ExecContext(ctx, "UPDATE sites SET notes = $1 WHERE org_id = $2 AND id = $3", append([]byte{2}, make([]byte, 40)...), f.b.org.ID, f.b.site2.ID)
			MustNoErr(t, err)
			third := bytes.Repeat([]byte{3}, store.NotesKeySize)
			if _, err := s2.RotateNotesKey(ctx, third); err == nil || !strings.Contains(err.Error(), f.b.site2.ID) {
				t.Fatalf("rotation over a broken value: %v", err)
			}
			if r, _, _ := takeTexts(t, s2, f.a.as(f.a.owner), p.kiosk); r != "Dana Buyer" {
				t.Fatalf("after the failed rotation: %q", r)
			}
			if _, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: third}); err == nil {
				t.Fatal("the failed rotation's key opens the store")
			}
		})
	}
}
