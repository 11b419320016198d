package kioskapi_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// touchCode is the RFID code an admin links at the kiosk's touchscreen:
// ten hex digits, the ~40 bits that brute force would find from a hash
// and the organisation's salt.
const touchCode = "0A7F3C91E2"

// badgeSecrets are the forms a linked badge could be found in: its
// code, its hash raw and in hex (either case).
func badgeSecrets(salt []byte, code string) map[string][]byte {
	h := keycab.BadgeHash(salt, code)
	return map[string][]byte{"code": []byte(code), "raw hash": h,
		"hex hash": []byte(hex.EncodeToString(h)), "HEX hash": []byte(strings.ToUpper(hex.EncodeToString(h)))}
}

// filesHolding returns the files of the SQLite database at path (with its
// -wal and -journal) whose raw bytes contain b.
func filesHolding(t *testing.T, path string, b []byte) []string {
	t.Helper()
	var out []string
	for _, f := range []string{path, path + "-wal", path + "-journal"} {
		raw, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, b) {
			out = append(out, filepath.Base(f))
		}
	}
	return out
}

// sqlitePath is the file of an HQ SQLite DSN, "" for PostgreSQL.
func sqlitePath(dsn string) string {
	p, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok {
		return ""
	}
	p, _, _ = strings.Cut(p, "?")
	return p
}

// badgeEntry returns the kiosk's newest badge.linked entry and its index.
func badgeEntry(t *testing.T, k *kiosk) (int64, *audit.Event) {
	t.Helper()
	leaves := must[[][]byte](t)(k.db.ReadEntries(0, k.db.Size()))
	for i := len(leaves) - 1; i >= 0; i-- {
		ev := must[*audit.Event](t)(audit.Decode(leaves[i]))
		if ev.Kind == keycab.EventAdminChange && ev.Detail["change"] == keycab.ChangeBadgeLinked {
			return int64(i), ev
		}
	}
	t.Fatal("no badge.linked entry in the kiosk's log")
	return 0, nil
}

// TestTouchBadgeErasure (issue 15, erasure): a badge linked at a kiosk's
// touchscreen leaves only a salted reference in its signed entry; its
// hash travels beside the push (sync/wire minor 8), HQ checks it against
// the reference and applies the link, and the badge works at HQ and at
// another kiosk of the site. Once HQ erases the member and the kiosk
// applies the erasure, neither the code nor the hash (raw or hex) is in
// the kiosk's database or WAL, nor in HQ's SQLite files, and both logs
// still verify, the badge's value counted as erased.
func TestTouchBadgeErasure(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn, withNotesKey)
		admin := must[keycab.Member](t)(h.s.CreateMember(ctx, h.own(), keycab.Member{Name: "Ada", Email: "ada@org.test", Role: keycab.RoleAdmin}))
		k := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))
		var salt []byte
		MustNoErr(t, k.db.SQL().QueryRowContext(ctx, "SELECT badge_salt FROM config").Scan(&salt))
		secrets := badgeSecrets(salt, touchCode)

		MustNoErr(t, k.db.LinkBadge(ctx, admin.ID, h.staff.ID, keycab.BadgeRFID, touchCode))
		index, ev := badgeEntry(t, k)
		if _, ok := ev.Detail["badge_hash"]; ok || len(ev.Detail[audit.BadgeRefKey]) != 64 {
			t.Fatalf("the badge.linked entry's detail: %v, want a reference and no hash", ev.Detail)
		}
		leaf := must[[][]byte](t)(k.db.ReadEntries(index, index+1))[0]
		for what, s := range secrets {
			if bytes.Contains(leaf, s) {
				t.Fatalf("the signed entry holds the badge's %s", what)
			}
		}
		must[int64](t)(k.a.Push(ctx))

		// It works at HQ, and at a second kiosk of the site through its
		// bundle.
		if m, err := h.s.FindBadge(ctx, h.own(), touchCode); err != nil || m.ID != h.staff.ID {
			t.Fatalf("HQ finds the badge linked at the kiosk as %+v, %v", m, err)
		}
		bs := must[[]keycab.Badge](t)(h.s.ListBadges(ctx, h.own(), h.staff.ID))
		if len(bs) != 2 || bs[1].Kiosk != "kiosk" {
			t.Fatalf("HQ's badges of the member: %+v", bs)
		}
		k2 := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k2.a.PullConfig(ctx, 0))
		if m, err := k2.db.MemberByBadge(ctx, touchCode); err != nil || m.ID != h.staff.ID {
			t.Fatalf("a second kiosk reads the badge as %v, %v", m, err)
		}
		MustNoErr(t, k2.db.Close())
		must[bool](t)(k.a.PullConfig(ctx, 0))
		if m, err := k.db.MemberByBadge(ctx, touchCode); err != nil || m.ID != h.staff.ID {
			t.Fatalf("the kiosk reads its badge after HQ's bundle as %v, %v", m, err)
		}
		// Before erasure the hash is in both sides' files (the badges
		// rows), so the check after it proves something.
		if len(filesHolding(t, k.path, secrets["raw hash"])) == 0 {
			t.Fatal("the kiosk's files hold no badge hash before erasure")
		}
		if p := sqlitePath(dsn); p != "" && len(filesHolding(t, p, secrets["raw hash"])) == 0 {
			t.Fatal("HQ's files hold no badge hash before erasure")
		}

		// Erased at HQ; the kiosk's next bundle erases it there.
		MustNoErr(t, h.s.EraseMember(ctx, h.own(), h.staff.ID))
		must[bool](t)(k.a.PullConfig(ctx, 0))
		if _, err := k.db.MemberByBadge(ctx, touchCode); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("the erased member's badge at the kiosk: %v", err)
		}
		must[int64](t)(k.a.Push(ctx)) // the kiosk's member.erased
		for what, s := range secrets {
			if where := filesHolding(t, k.path, s); len(where) > 0 {
				t.Errorf("the badge's %s is still in the kiosk's %v after erasure", what, where)
			}
			if p := sqlitePath(dsn); p != "" {
				if where := filesHolding(t, p, s); len(where) > 0 {
					t.Errorf("the badge's %s is still in HQ's %v after erasure", what, where)
				}
			}
		}
		MustSameHistory(t, h, k)
		res := must[store.VerifyResult](t)(k.db.VerifyStrict(ctx, nil))
		if res.Erased != 1 {
			t.Fatalf("the kiosk's verify after erasure: %+v, want the badge value counted as erased", res)
		}
	})
}

// TestTouchBadgeValueChecked: a push whose badge value does not match the
// reference its entry carries (the value or salt edited, moved to an
// entry without a badge reference, sent as another field) is refused
// whole with 400; one without the value (erased before the push) lands
// and HQ refuses the change; an older kiosk's entry that holds the hash
// itself is still applied.
func TestTouchBadgeValueChecked(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		admin := must[keycab.Member](t)(h.s.CreateMember(ctx, h.own(), keycab.Member{Name: "Ada", Email: "ada@org.test", Role: keycab.RoleAdmin}))
		k := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))
		var salt []byte
		MustNoErr(t, k.db.SQL().QueryRowContext(ctx, "SELECT badge_salt FROM config").Scan(&salt))
		MustNoErr(t, k.db.LinkBadge(ctx, admin.ID, h.staff.ID, keycab.BadgeRFID, touchCode))
		index, ev := badgeEntry(t, k)
		size := k.db.Size()
		ref := must[[]byte](t)(hex.DecodeString(ev.Detail[audit.BadgeRefKey]))
		kt, ok, err := k.db.KeptText(ctx, ref)
		if err != nil || !ok || kt.Text != hex.EncodeToString(keycab.BadgeHash(salt, touchCode)) {
			t.Fatalf("the kiosk keeps %+v, %v, %v for the badge's reference", kt, ok, err)
		}
		good := wire.PersonalText{Index: index, Field: "badge", Salt: kt.Salt, Text: kt.Text}
		other := hex.EncodeToString(keycab.BadgeHash(salt, "0A7F3C91E3"))
		for _, c := range []struct {
			name string
			edit func(p *wire.PersonalText)
		}{
			{"another badge's hash", func(p *wire.PersonalText) { p.Text = other }},
			{"salt edited", func(p *wire.PersonalText) { p.Salt = bytes.Clone(p.Salt); p.Salt[3] ^= 1 }},
			{"moved to another entry", func(p *wire.PersonalText) { p.Index-- }},
			{"as notes", func(p *wire.PersonalText) { p.Field = "notes" }},
		} {
			p := good
			c.edit(&p)
			if code, ecode := rawPush(t, h, k, 0, size, []wire.PersonalText{p}, nil); code != http.StatusBadRequest || ecode != keycab.EINVALID {
				t.Fatalf("%s: %d %s, want 400 %s", c.name, code, ecode, keycab.EINVALID)
			}
			if kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID)); kl.Size != 0 {
				t.Fatalf("%s: HQ took %d entries of the refused push", c.name, kl.Size)
			}
		}
		if _, err := h.s.FindBadge(ctx, h.own(), "0A7F3C91E3"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("the edited value's badge at HQ: %v", err)
		}

		// Without its value (as after an erasure at the kiosk) the push
		// lands and the change is refused.
		if code, ecode := rawPush(t, h, k, 0, size, nil, nil); code != http.StatusOK {
			t.Fatalf("a push without the badge's value: %d %s", code, ecode)
		}
		if _, err := h.s.FindBadge(ctx, h.own(), touchCode); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("a badge linked without its value at HQ: %v", err)
		}
		rs := must[[]hqstore.KioskRefusal](t)(h.s.KioskLogs().ListKioskRefusals(ctx, h.own(), k.peer.KioskID))
		if len(rs) != 1 || rs[0].Index != index || !strings.Contains(rs[0].Reason, "did not come") {
			t.Fatalf("HQ's refusals: %+v", rs)
		}

		// An older kiosk's entry, the hash in its detail, is applied.
		old := hex.EncodeToString(keycab.BadgeHash(salt, "OLD-KIOSK-CARD"))
		must[[]store.Appended](t)(k.db.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAdminChange, Actor: admin.ID,
			Detail: map[string]string{"change": keycab.ChangeBadgeLinked, "member": h.staff.ID, "badge_hash": old, "badge_kind": "rfid"}}}))
		if code, ecode := rawPush(t, h, k, size, k.db.Size(), nil, nil); code != http.StatusOK {
			t.Fatalf("an older kiosk's badge.linked: %d %s", code, ecode)
		}
		if m, err := h.s.FindBadge(ctx, h.own(), "OLD-KIOSK-CARD"); err != nil || m.ID != h.staff.ID {
			t.Fatalf("an older kiosk's badge at HQ: %+v, %v", m, err)
		}
		// The same old-style link again, to another member: refused, and
		// the admin log's record of the refusal names no hash.
		must[[]store.Appended](t)(k.db.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAdminChange, Actor: admin.ID,
			Detail: map[string]string{"change": keycab.ChangeBadgeLinked, "member": admin.ID, "badge_hash": old, "badge_kind": "rfid"}}}))
		from := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID)).Size
		if code, ecode := rawPush(t, h, k, from, k.db.Size(), nil, nil); code != http.StatusOK {
			t.Fatalf("an older kiosk's conflicting badge.linked: %d %s", code, ecode)
		}
		refused := 0
		for _, a := range must[[]hqstore.AdminAction](t)(h.s.ListAdminLog(ctx, h.own(), 1000)) {
			if a.Action != "kiosk.change.refused" {
				continue
			}
			refused++
			if strings.Contains(strings.ToLower(a.Detail), old) {
				t.Fatalf("the admin log's refusal names the badge's hash: %s", a.Detail)
			}
		}
		if refused != 2 {
			t.Fatalf("the admin log holds %d refusals, want 2", refused)
		}
	})
}
