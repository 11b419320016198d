package kioskapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

var testNotesKey = bytes.Repeat([]byte{7}, hqstore.NotesKeySize)

func withNotesKey(o *hqstore.Options) { o.NotesKey = testNotesKey }

// rawPush sends the kiosk's entries [start, end) with texts as a push
// signed by the kiosk, after edit has changed the JSON body; it returns
// the status and HQ's error code (if any).
func rawPush(t *testing.T, h *hq, k *kiosk, start, end int64, texts []wire.PersonalText, edit func([]byte) []byte) (int, string) {
	t.Helper()
	ctx := context.Background()
	leaves := must[[][]byte](t)(k.db.ReadEntries(start, end))
	root := must[tlog.Hash](t)(k.db.TreeRoot(ctx, end))
	cp := must[[]byte](t)(audit.SignCheckpoint(audit.Checkpoint{Origin: k.peer.Origin, Size: end, Root: root}, k.key.Signer))
	body := must[[]byte](t)(json.Marshal(wire.PushRequest{V: wire.Minor, OldSize: start, Entries: leaves, Checkpoint: cp, Texts: texts}))
	if edit != nil {
		body = edit(body)
	}
	req := must[*http.Request](t)(http.NewRequest(http.MethodPost, h.srv.URL+wire.PathPush, bytes.NewReader(body)))
	wire.SignRequest(req, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
	res := must[*http.Response](t)(http.DefaultClient.Do(req))
	defer res.Body.Close()
	var eb keycab.ErrorBody
	json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&eb)
	return res.StatusCode, eb.Error.Code
}

// keptTexts returns the texts the kiosk keeps for the entries [start,
// end), as the agent sends them.
func keptTexts(t *testing.T, k *kiosk, start, end int64) []wire.PersonalText {
	t.Helper()
	var out []wire.PersonalText
	for i, leaf := range must[[][]byte](t)(k.db.ReadEntries(start, end)) {
		ev := must[*audit.Event](t)(audit.Decode(leaf))
		for _, f := range []struct {
			name string
			ref  []byte
		}{{"recipient", ev.Recipient}, {"notes", ev.Notes}} {
			if f.ref == nil {
				continue
			}
			kt, ok, err := k.db.KeptText(context.Background(), f.ref)
			MustNoErr(t, err)
			if ok {
				out = append(out, wire.PersonalText{Index: start + int64(i), Field: f.name, Salt: kt.Salt, Text: kt.Text})
			}
		}
	}
	return out
}

// TestPersonalTexts: a take's recipient and notes travel beside the push
// (sync/wire minor 4) and are kept at HQ, sealed, where owners see them
// and the staff member who took the key sees them only while holding a
// key of that site. Every push with a text that does not match its
// entry's commitment (text, salt, field or entry changed), or that is
// malformed (NUL, invalid UTF-8, too long, a field HQ does not know, sent
// twice) is refused with 400 and stores nothing. A push without texts
// (an older kiosk) still lands.
func TestPersonalTexts(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn, withNotesKey)
		k := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))
		co := keycab.Checkout{KeySetID: h.ks.ID, MemberID: h.staff.ID, Slot: 1, TakenAt: time.Now(), DueAt: time.Now().Add(time.Hour),
			Reason: "viewing", Recipient: "Dana Buyer", Notes: "buyer waits at the back door"}
		MustNoErr(t, k.db.Take(ctx, &co))
		_, size := mustHead(t, k)
		good := keptTexts(t, k, 0, size)
		if len(good) != 2 {
			t.Fatalf("the kiosk keeps %d texts for the take, want 2", len(good))
		}
		alter := func(f func(ts []wire.PersonalText) []wire.PersonalText) []wire.PersonalText {
			ts := make([]wire.PersonalText, len(good))
			for i, x := range good {
				x.Salt = bytes.Clone(x.Salt)
				ts[i] = x
			}
			return f(ts)
		}
		for _, c := range []struct {
			name  string
			texts []wire.PersonalText
			edit  func([]byte) []byte
		}{
			{"text edited", alter(func(ts []wire.PersonalText) []wire.PersonalText { ts[0].Text += "!"; return ts }), nil},
			{"salt edited", alter(func(ts []wire.PersonalText) []wire.PersonalText { ts[1].Salt[0] ^= 1; return ts }), nil},
			{"fields swapped", alter(func(ts []wire.PersonalText) []wire.PersonalText {
				ts[0].Field, ts[1].Field = ts[1].Field, ts[0].Field
				return ts
			}), nil},
			{"moved to another entry", alter(func(ts []wire.PersonalText) []wire.PersonalText { ts[0].Index--; return ts }), nil},
			{"outside the push", alter(func(ts []wire.PersonalText) []wire.PersonalText { ts[0].Index = size; return ts }), nil},
			{"unknown field", alter(func(ts []wire.PersonalText) []wire.PersonalText { ts[0].Field = "reason"; return ts }), nil},
			{"sent twice", alter(func(ts []wire.PersonalText) []wire.PersonalText { return append(ts, ts[0]) }), nil},
			{"short salt", alter(func(ts []wire.PersonalText) []wire.PersonalText { ts[0].Salt = ts[0].Salt[:16]; return ts }), nil},
			{"too long", alter(func(ts []wire.PersonalText) []wire.PersonalText {
				ts[0].Text = strings.Repeat("x", audit.MaxPersonalText+1)
				return ts
			}), nil},
			{"NUL", good, func(b []byte) []byte { return bytes.Replace(b, []byte("Dana"), []byte(`Da\u0000a`), 1) }},
			{"invalid UTF-8", good, func(b []byte) []byte { return bytes.Replace(b, []byte("Dana"), []byte("Da\xffa"), 1) }},
		} {
			code, ecode := rawPush(t, h, k, 0, size, c.texts, c.edit)
			if code != http.StatusBadRequest || ecode != keycab.EINVALID {
				t.Fatalf("%s: %d %s, want 400 %s", c.name, code, ecode, keycab.EINVALID)
			}
			if kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID)); kl.Size != 0 {
				t.Fatalf("%s: HQ took %d entries of the refused push", c.name, kl.Size)
			}
		}
		if es := must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{})); len(es) != 0 {
			t.Fatalf("HQ recorded %d events of refused pushes", len(es))
		}

		// The agent sends the texts; HQ keeps them.
		must[int64](t)(k.a.Push(ctx))
		take := func(sc hqstore.Scope) hqstore.Event {
			t.Helper()
			for _, e := range must[[]hqstore.Event](t)(h.s.ListEvents(ctx, sc, hqstore.EventFilter{Kind: keycab.EventKeyTaken})) {
				return e
			}
			t.Fatal("no take at HQ")
			return hqstore.Event{}
		}
		if e := take(h.own()); e.Recipient != "Dana Buyer" || e.Notes != "buyer waits at the back door" || e.Reason != "viewing" {
			t.Fatalf("owner reads the take as %+v", e.EventRecord)
		}
		staff := hqstore.MemberScope(h.org.ID, h.staff.ID)
		if e := take(staff); e.Recipient != "Dana Buyer" || e.Notes == "" {
			t.Fatalf("staff holding a key of the site reads the take as %+v", e.EventRecord)
		}
		// An identical resend with an edited text is refused all the same.
		if code, _ := rawPush(t, h, k, 0, size, alter(func(ts []wire.PersonalText) []wire.PersonalText { ts[0].Text = "Eve"; return ts }), nil); code != http.StatusBadRequest {
			t.Fatalf("a resend with an edited text: %d, want 400", code)
		}
		if e := take(h.own()); e.Recipient != "Dana Buyer" {
			t.Fatalf("after the refused resend the owner reads %q", e.Recipient)
		}
		if strings.HasPrefix(dsn, "sqlite:") {
			path := strings.TrimPrefix(dsn, "sqlite:")
			path, _, _ = strings.Cut(path, "?")
			for _, f := range []string{path, path + "-wal"} {
				b, err := os.ReadFile(f)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte("Dana Buyer")) || bytes.Contains(b, []byte("back door")) {
					t.Fatalf("%s holds a personal text in the clear", f)
				}
			}
		}

		// The key back: the staff member holds no key of the site and
		// sees no text, even of their own take.
		must[int64](t)(k.db.Return(ctx, h.ks.ID, h.staff.ID, 1, false))
		must[int64](t)(k.a.Push(ctx))
		if e := take(staff); e.Recipient != "" || e.Notes != "" {
			t.Fatalf("staff without a key of the site reads %+v", e.EventRecord)
		}

		// An older kiosk's push, with no texts, lands; its take has none.
		from := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID)).Size
		co2 := keycab.Checkout{KeySetID: h.ks.ID, MemberID: h.staff.ID, Slot: 1, TakenAt: time.Now(), Recipient: "Old Kiosk Buyer"}
		MustNoErr(t, k.db.Take(ctx, &co2))
		_, end := mustHead(t, k)
		if code, ecode := rawPush(t, h, k, from, end, nil, nil); code != http.StatusOK {
			t.Fatalf("a push without texts: %d %s", code, ecode)
		}
		if kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID)); kl.Size != end {
			t.Fatalf("HQ holds %d entries after the push without texts, want %d", kl.Size, end)
		}
		if e := take(h.own()); e.Recipient != "" {
			t.Fatalf("the take pushed without texts reads recipient %q", e.Recipient)
		}
	})
}

// TestPersonalTextsWithoutKey: an HQ without a notes key takes the push
// whole and keeps no text (it cannot protect it); a tampered one is
// refused all the same.
func TestPersonalTextsWithoutKey(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))
		MustNoErr(t, k.db.Take(ctx, &keycab.Checkout{KeySetID: h.ks.ID, MemberID: h.staff.ID, Slot: 1, TakenAt: time.Now(), Notes: "by the gate"}))
		_, size := mustHead(t, k)
		bad := keptTexts(t, k, 0, size)
		bad[0].Text = "by the fence"
		if code, _ := rawPush(t, h, k, 0, size, bad, nil); code != http.StatusBadRequest {
			t.Fatalf("a tampered text to an HQ without a key: %d, want 400", code)
		}
		must[int64](t)(k.a.Push(ctx))
		es := must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{Kind: keycab.EventKeyTaken}))
		if len(es) != 1 || es[0].Notes != "" {
			t.Fatalf("HQ without a notes key: %+v", es)
		}
		// The kiosk still holds its text.
		if kt := keptTexts(t, k, 0, size); len(kt) != 1 || kt[0].Text != "by the gate" {
			t.Fatalf("the kiosk's texts: %+v", kt)
		}
	})
}

func mustHead(t *testing.T, k *kiosk) ([]byte, int64) {
	t.Helper()
	root, size, err := k.db.Head(context.Background())
	MustNoErr(t, err)
	return root, size
}

// TestPersonalTextsErasedOrEdited: the agent leaves out a text erased at
// the kiosk (store.Erase) and one edited in the kiosk's personal table
// (which its audit verify names as tampering), so the push lands and
// HQ keeps neither; the references alone travel.
func TestPersonalTextsErasedOrEdited(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn, withNotesKey)
		k := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))
		MustNoErr(t, k.db.Take(ctx, &keycab.Checkout{KeySetID: h.ks.ID, MemberID: h.staff.ID, Slot: 1, TakenAt: time.Now(), Recipient: "Erased Person"}))
		must[[]store.Appended](t)(k.db.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAlarmCleared, Actor: h.owner.ID}, Notes: "genuine note"}))
		MustNoErr(t, k.db.Erase(ctx, h.staff.ID, h.owner.ID))
		raw := must[*sql.DB](t)(sql.Open("sqlite", k.path))
		defer raw.Close()
		if _, err := raw.ExecContext(ctx, "UPDATE personal SET text = 'edited note' WHERE subject = ?", h.owner.ID); err != nil {
			t.Fatal(err)
		}
		must[int64](t)(k.a.Push(ctx))
		_, size := mustHead(t, k)
		if kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID)); kl.Size != size {
			t.Fatalf("HQ holds %d entries, the kiosk %d", kl.Size, size)
		}
		for _, e := range must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{})) {
			if e.Recipient != "" || e.Notes != "" {
				t.Fatalf("HQ kept a text the agent should have left out: %+v", e)
			}
		}
	})
}
