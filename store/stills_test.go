package store_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// fakeJPEG is a still's bytes for the store's tests: the store keeps and
// hashes whatever the camera gives (kiosk tests use real JPEGs).
func fakeJPEG(tag string) []byte {
	return append([]byte("\xff\xd8\xff\xe0 still "+tag+" "), bytes.Repeat([]byte(tag), 64)...)
}

// entryAt decodes the entry at index.
func entryAt(t *testing.T, d *store.DB, index int64) *audit.Event {
	t.Helper()
	leaves, err := d.ReadEntries(index, index+1)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := audit.Decode(leaves[0])
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestStills: a take's, a return's and an alarm's camera stills are kept
// beside the log, each entry holding its JPEG's SHA-256; verify checks
// every kept JPEG against its entry and names an edited, swapped or
// deleted one by entry; erasing the member removes their stills from
// the files and the log still verifies; retention removes stills as it
// removes texts.
func TestStills(t *testing.T) {
	clock := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	d := storetest.MustOpen(t, storetest.MustSigner(t, "kiosk.test/stills"), func(o *store.Options) {
		o.Now = func() time.Time { return clock }
	})
	if err := d.ApplyConfig(ctx, storetest.Config(1)); err != nil {
		t.Fatal(err)
	}
	takeJPEG, returnJPEG, alarmJPEG := fakeJPEG("TAKE-Ben"), fakeJPEG("RETURN-Ben"), fakeJPEG("ALARM")
	co := keycab.Checkout{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1, Still: takeJPEG}
	if err := d.Take(ctx, &co); err != nil {
		t.Fatal(err)
	}
	ret, err := d.ReturnKey(ctx, store.Returned{KeySet: "ks-1", Member: "m-ben", Slot: 1, Still: returnJPEG})
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAlarmRaised, Detail: map[string]string{"alarm": keycab.AlarmDoorForced}}, Still: alarmJPEG})
	if err != nil {
		t.Fatal(err)
	}
	alarm := a[0].Index
	// Without a camera frame the entry says so, and holds no hash.
	a, err = d.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAlarmRaised, Detail: map[string]string{"alarm": keycab.AlarmDoorForced}}, StillMissing: "unavailable"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := entryAt(t, d, a[0].Index); ev.Detail[audit.StillMissingKey] != "unavailable" || ev.StillRef() != nil {
		t.Fatalf("entry without a still: detail %v", ev.Detail)
	}
	for index, jpeg := range map[int64][]byte{co.LogIndex: takeJPEG, ret: returnJPEG, alarm: alarmJPEG} {
		ev := entryAt(t, d, index)
		if want := hex.EncodeToString(audit.StillHash(jpeg)); ev.Detail[audit.StillKey] != want {
			t.Fatalf("entry %d (%s) holds still %q, want the JPEG's SHA-256 %s", index, ev.Kind, ev.Detail[audit.StillKey], want)
		}
		kept, ok, err := d.KeptStill(ctx, index)
		if err != nil || !ok || !bytes.Equal(kept, jpeg) {
			t.Fatalf("entry %d: kept still %d bytes, %v, %v", index, len(kept), ok, err)
		}
		if !store.MayHoldStill(mustLeaf(t, d, index)) {
			t.Fatalf("entry %d: MayHoldStill is false", index)
		}
	}
	res := storetest.MustVerifyResult(t, d)
	if res.Stills != 3 {
		t.Fatalf("verify: %d stills match, want 3", res.Stills)
	}

	// Tampering, each undone after: the take's JPEG edited; the take's
	// and the return's swapped; the take's deleted without erasure.
	raw := storetest.MustRawSQL(t, d.Path())
	for _, c := range []struct {
		name, do, undo, want string
		args                 []any
	}{
		{"edited", "UPDATE stills SET jpeg = CAST(? AS BLOB) WHERE idx = ?", "UPDATE stills SET jpeg = ? WHERE idx = ?", "still: camera still tampered with", []any{append(bytes.Clone(takeJPEG), 0), co.LogIndex}},
		{"swapped", "UPDATE stills SET jpeg = (SELECT jpeg FROM stills WHERE idx = ?) WHERE idx = ?", "UPDATE stills SET jpeg = ? WHERE idx = ?", "still: camera still tampered with", []any{ret, co.LogIndex}},
		{"deleted", "DELETE FROM stills WHERE idx = ? AND ? IS NOT NULL", "INSERT INTO stills (jpeg, idx, ref, subject, at_ms, keyset) VALUES (?1, ?2, ?3, 'm-ben', 0, 'ks-1')", "still: camera still missing", []any{co.LogIndex, 1}},
		{"inserted", "INSERT INTO stills (idx, ref, subject, at_ms, keyset, jpeg) VALUES (?, ?, 'm-ben', 0, '', x'00')", "DELETE FROM stills WHERE idx = ?2 - 1 AND ?1 IS NOT NULL", "a camera still of m-ben is kept for an entry that holds no still hash", []any{co.LogIndex - 1, audit.StillHash([]byte{0})}},
	} {
		want := co.LogIndex
		if c.name == "inserted" {
			want = co.LogIndex - 1
		}
		if _, err := raw.Exec(c.do, c.args...); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err := d.Verify(ctx, nil)
		var p *audit.Problem
		if !errors.As(err, &p) || p.Index != want || !strings.Contains(p.What, c.want) {
			t.Fatalf("%s still: verify says %v, want entry %d: %q", c.name, err, want, c.want)
		}
		if _, err := raw.Exec(c.undo, takeJPEG, co.LogIndex, audit.StillHash(takeJPEG)); err != nil {
			t.Fatalf("%s: undo: %v", c.name, err)
		}
	}
	storetest.MustVerify(t, d)

	// Erasure: Ben's stills (take and return) gone from every file, the
	// alarm's (no actor) kept, and the log verifies with them counted
	// as erased.
	size := d.Size()
	if err := d.Erase(ctx, "m-ben", "m-ana"); err != nil {
		t.Fatal(err)
	}
	for index, jpeg := range map[int64][]byte{co.LogIndex: takeJPEG, ret: returnJPEG} {
		if where := inFiles(t, d, jpeg[:24]); len(where) > 0 {
			t.Errorf("erased still %q still in %v", jpeg[:24], where)
		}
		if _, ok, _ := d.KeptStill(ctx, index); ok {
			t.Errorf("erased still %q still kept", jpeg[:24])
		}
	}
	if _, ok, _ := d.KeptStill(ctx, alarm); !ok {
		t.Error("the alarm's still went with Ben's erasure")
	}
	if entry := entryAt(t, d, co.LogIndex); entry.Detail[audit.StillKey] == "" {
		t.Error("the take's entry lost its hash")
	}
	res = storetest.MustVerifyResult(t, d)
	if res.Stills != 1 || res.Erased != 2 || d.Size() != size+1 {
		t.Fatalf("after erasure: %d stills match, %d erased, %d entries appended; want 1, 2, 1", res.Stills, res.Erased, d.Size()-size)
	}

	// Retention: the alarm's still goes 31 days on, counted as expired.
	cfg := storetest.Config(2)
	cfg.PersonalTextDays = 30
	if err := d.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(31 * 24 * time.Hour)
	if n, err := d.ExpirePersonal(ctx); err != nil || n != 1 {
		t.Fatalf("retention: expired %d (%v), want 1 (the alarm's still)", n, err)
	}
	if where := inFiles(t, d, alarmJPEG[:24]); len(where) > 0 {
		t.Errorf("expired still in %v", where)
	}
	res = storetest.MustVerifyResult(t, d)
	if res.Stills != 0 || res.Expired != 1 || res.Erased != 2 {
		t.Fatalf("after retention: %d stills, %d expired, %d erased; want 0, 1, 2", res.Stills, res.Expired, res.Erased)
	}
}

func mustLeaf(t *testing.T, d *store.DB, index int64) []byte {
	t.Helper()
	leaves, err := d.ReadEntries(index, index+1)
	if err != nil {
		t.Fatal(err)
	}
	return leaves[0]
}
