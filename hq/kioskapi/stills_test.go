package kioskapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"image/jpeg"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hq/export"
	hqstore "keycab.dev/keycab/hq/store"
	kioskpkg "keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// testStill is a real JPEG still as a kiosk's camera gives it: a grey
// 640 x 480 frame with a pattern of tone, encoded by kiosk.EncodeStill.
func testStill(t *testing.T, tone byte) []byte {
	t.Helper()
	f := camera.Frame{Width: 640, Height: 480, Stride: 640, Y: make([]byte, 640*480)}
	for i := range f.Y {
		f.Y[i] = tone + byte(i%640/5)
	}
	b, err := kioskpkg.EncodeStill(f)
	MustNoErr(t, err)
	if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("the still is no JPEG: %v", err)
	}
	return b
}

// rawPushStills sends the kiosk's entries [start, end) with texts and
// stills as a push signed by the kiosk; it returns the status and HQ's
// error code.
func rawPushStills(t *testing.T, h *hq, k *kiosk, start, end int64, texts []wire.PersonalText, stills []wire.Still) (int, string) {
	t.Helper()
	ctx := context.Background()
	leaves := must[[][]byte](t)(k.db.ReadEntries(start, end))
	root := must[tlog.Hash](t)(k.db.TreeRoot(ctx, end))
	cp := must[[]byte](t)(audit.SignCheckpoint(audit.Checkpoint{Origin: k.peer.Origin, Size: end, Root: root}, k.key.Signer))
	body := must[[]byte](t)(json.Marshal(wire.PushRequest{V: wire.Minor, OldSize: start, Entries: leaves, Checkpoint: cp, Texts: texts, Stills: stills}))
	req := must[*http.Request](t)(http.NewRequest(http.MethodPost, h.srv.URL+wire.PathPush, bytes.NewReader(body)))
	wire.SignRequest(req, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
	res := must[*http.Response](t)(http.DefaultClient.Do(req))
	defer res.Body.Close()
	var eb keycab.ErrorBody
	json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&eb)
	return res.StatusCode, eb.Error.Code
}

// TestStills: a take's and a return's camera stills travel beside the
// push (sync/wire minor 11) and HQ keeps them, sealed, only when each
// JPEG's SHA-256 is the hash its entry holds: a push with an edited JPEG,
// one moved to another entry, one for an entry outside the push or with
// no hash, one sent twice or an empty one is refused with 400 EINVALID
// and stores nothing. The owner sees the stills; an auditor, and staff
// holding no key of the site, do not. Erasing the member deletes their
// stills at HQ and at the kiosk, whose log still verifies.
func TestStills(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn, withNotesKey)
		k := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))
		auditor := must[keycab.Member](t)(h.s.CreateMember(ctx, h.own(), keycab.Member{Name: "Audra", Email: "audra@org.test", Role: keycab.RoleAuditor}))
		takeJPEG, returnJPEG := testStill(t, 20), testStill(t, 90)
		co := keycab.Checkout{KeySetID: h.ks.ID, MemberID: h.staff.ID, Slot: 1, TakenAt: time.Now(), Still: takeJPEG}
		MustNoErr(t, k.db.Take(ctx, &co))
		// An alarm without a still (the camera failed): its entry says so.
		must[[]store.Appended](t)(k.db.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAlarmRaised, Detail: map[string]string{"alarm": keycab.AlarmDoorForced}}, StillMissing: "unavailable"}))
		_, size := mustHead(t, k)
		ev := must[*audit.Event](t)(audit.Decode(must[[][]byte](t)(k.db.ReadEntries(co.LogIndex, co.LogIndex+1))[0]))
		if !bytes.Equal(ev.StillRef(), audit.StillHash(takeJPEG)) {
			t.Fatalf("the take's entry holds still %q, not the JPEG's SHA-256", ev.Detail[audit.StillKey])
		}
		good := wire.Still{Index: co.LogIndex, JPEG: takeJPEG}
		edited := bytes.Clone(takeJPEG)
		edited[len(edited)/2] ^= 0x20
		for _, c := range []struct {
			name   string
			stills []wire.Still
		}{
			{"JPEG edited", []wire.Still{{Index: co.LogIndex, JPEG: edited}}},
			{"another JPEG", []wire.Still{{Index: co.LogIndex, JPEG: returnJPEG}}},
			{"moved to an entry with no hash", []wire.Still{{Index: size - 1, JPEG: takeJPEG}}},
			{"outside the push", []wire.Still{{Index: size, JPEG: takeJPEG}}},
			{"sent twice", []wire.Still{good, good}},
			{"empty", []wire.Still{{Index: co.LogIndex}}},
			{"too large", []wire.Still{{Index: co.LogIndex, JPEG: make([]byte, audit.MaxStill+1)}}},
		} {
			code, ecode := rawPushStills(t, h, k, 0, size, nil, c.stills)
			if code != http.StatusBadRequest || ecode != keycab.EINVALID {
				t.Fatalf("%s: %d %s, want 400 %s", c.name, code, ecode, keycab.EINVALID)
			}
			if kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID)); kl.Size != 0 {
				t.Fatalf("%s: HQ took %d entries of the refused push", c.name, kl.Size)
			}
		}
		if _, err := h.s.EventStill(ctx, h.own(), k.peer.KioskID, co.LogIndex); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("after refused pushes HQ has a still: %v", err)
		}

		// The agent sends the still; HQ keeps it.
		must[int64](t)(k.a.Push(ctx))
		takeAt := func(sc hqstore.Scope) hqstore.Event {
			t.Helper()
			for _, e := range must[[]hqstore.Event](t)(h.s.ListEvents(ctx, sc, hqstore.EventFilter{Kind: keycab.EventKeyTaken})) {
				return e
			}
			t.Fatal("no take at HQ")
			return hqstore.Event{}
		}
		if e := takeAt(h.own()); !e.Still {
			t.Fatal("the owner's history shows no still for the take")
		}
		if b, err := h.s.EventStill(ctx, h.own(), k.peer.KioskID, co.LogIndex); err != nil || !bytes.Equal(b, takeJPEG) {
			t.Fatalf("the owner reads the still as %d bytes, %v", len(b), err)
		}
		// A notes key rotation re-seals it.
		if rc := must[hqstore.RotationCount](t)(h.s.RotateNotesKey(ctx, bytes.Repeat([]byte{9}, hqstore.NotesKeySize))); rc.Stills != 1 {
			t.Fatalf("the rotation re-sealed %d stills, want 1", rc.Stills)
		}
		if b, err := h.s.EventStill(ctx, h.own(), k.peer.KioskID, co.LogIndex); err != nil || !bytes.Equal(b, takeJPEG) {
			t.Fatalf("after the rotation the owner reads the still as %d bytes, %v", len(b), err)
		}
		staff := hqstore.MemberScope(h.org.ID, h.staff.ID)
		if e := takeAt(staff); !e.Still {
			t.Fatal("staff holding a key of the site sees no still of their take")
		}
		aud := hqstore.MemberScope(h.org.ID, auditor.ID)
		if e := takeAt(aud); e.Still {
			t.Fatal("an auditor sees the still")
		}
		if _, err := h.s.EventStill(ctx, aud, k.peer.KioskID, co.LogIndex); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("an auditor reads the still: %v, want %s", err, keycab.ENOTFOUND)
		}
		if code, _ := rawPushStills(t, h, k, 0, size, nil, []wire.Still{{Index: co.LogIndex, JPEG: edited}}); code != http.StatusBadRequest {
			t.Fatalf("an identical resend with an edited still: %d, want 400", code)
		}

		// The return, with its still; then staff hold no key of the site
		// and see neither still.
		ret := must[int64](t)(k.db.ReturnKey(ctx, store.Returned{KeySet: h.ks.ID, Member: h.staff.ID, Slot: 1, Still: returnJPEG}))
		must[int64](t)(k.a.Push(ctx))
		if b, err := h.s.EventStill(ctx, h.own(), k.peer.KioskID, ret); err != nil || !bytes.Equal(b, returnJPEG) {
			t.Fatalf("the owner reads the return's still as %d bytes, %v", len(b), err)
		}
		if e := takeAt(staff); e.Still {
			t.Fatal("staff without a key of the site see the still")
		}
		if _, err := h.s.EventStill(ctx, staff, k.peer.KioskID, ret); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("staff without a key read the still: %v", err)
		}

		// The member's subject access archive holds both stills.
		rec := must[hqstore.SubjectRecord](t)(h.s.SubjectAccess(ctx, h.own(), h.staff.ID))
		if len(rec.Stills) != 2 || !bytes.Equal(rec.Stills[0].JPEG, takeJPEG) || !bytes.Equal(rec.Stills[1].JPEG, returnJPEG) {
			t.Fatalf("the subject access record holds %d stills", len(rec.Stills))
		}
		var zb bytes.Buffer
		MustNoErr(t, export.WriteSubjectArchive(&zb, rec))
		zr := must[*zip.Reader](t)(zip.NewReader(bytes.NewReader(zb.Bytes()), int64(zb.Len())))
		jpegs := 0
		for _, f := range zr.File {
			if strings.HasPrefix(f.Name, "stills/") && strings.HasSuffix(f.Name, ".jpg") {
				jpegs++
			}
		}
		if jpegs != 2 {
			t.Fatalf("the subject archive holds %d stills, want 2", jpegs)
		}

		// Erasure: at HQ, and with the next bundle at the kiosk.
		MustNoErr(t, h.s.EraseMember(ctx, h.own(), h.staff.ID))
		for _, index := range []int64{co.LogIndex, ret} {
			if _, err := h.s.EventStill(ctx, h.own(), k.peer.KioskID, index); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("entry %d: HQ still has the erased member's still: %v", index, err)
			}
		}
		if e := takeAt(h.own()); e.Still {
			t.Fatal("history shows an erased member's still")
		}
		must[bool](t)(k.a.PullConfig(ctx, 0)) // the bundle lists the member as erased
		for _, index := range []int64{co.LogIndex, ret} {
			if _, ok, err := k.db.KeptStill(ctx, index); ok || err != nil {
				t.Fatalf("the kiosk keeps an erased still (%v)", err)
			}
		}
		res, err := k.db.VerifyStrict(ctx, nil)
		if err != nil || res.Erased != 2 {
			t.Fatalf("the kiosk's log after erasure: %+v, %v; want it verifying with 2 erased", res, err)
		}
		// The push after erasure lands, the hashes alone in its entries.
		must[int64](t)(k.a.Push(ctx))
	})
}

// TestStillsRetention: HQ's personal-text retention rule deletes the
// stills of entries older than its days, at HQ and (with the bundle) at
// the kiosk, whose log verifies with the still counted as expired.
func TestStillsRetention(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn, withNotesKey)
		k := MustKiosk(t, h, h.srv.URL)
		// The kiosk's clock 40 days back for the take.
		past := time.Now().Add(-40 * 24 * time.Hour)
		var back atomic.Bool
		back.Store(true)
		MustNoErr(t, k.db.Close())
		k.db = must[*store.DB](t)(store.Open(ctx, k.path, store.Options{Signer: k.key.Signer, Now: func() time.Time {
			if back.Load() {
				return past
			}
			return time.Now()
		}}))
		t.Cleanup(func() { k.db.Close() })
		k.a = MustAgent(t, k.db, k.key)
		must[bool](t)(k.a.PullConfig(ctx, 0))
		co := keycab.Checkout{KeySetID: h.ks.ID, MemberID: h.staff.ID, Slot: 1, TakenAt: past, Still: testStill(t, 50)}
		MustNoErr(t, k.db.Take(ctx, &co))
		back.Store(false)
		must[int64](t)(k.a.Push(ctx))
		if _, err := h.s.EventStill(ctx, h.own(), k.peer.KioskID, co.LogIndex); err != nil {
			t.Fatalf("the still before retention: %v", err)
		}
		MustNoErr(t, h.s.SetRetention(ctx, h.own(), hqstore.Retention{PersonalTextDays: 30}))
		MustNoErr(t, h.s.RunRetention(ctx))
		if _, err := h.s.EventStill(ctx, h.own(), k.peer.KioskID, co.LogIndex); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("HQ keeps a still past retention: %v", err)
		}
		must[bool](t)(k.a.PullConfig(ctx, 0))
		if _, ok, err := k.db.KeptStill(ctx, co.LogIndex); ok || err != nil {
			t.Fatalf("the kiosk keeps a still past retention (%v)", err)
		}
		if res := must[store.VerifyResult](t)(k.db.VerifyStrict(ctx, nil)); res.Expired != 1 || res.Stills != 0 {
			t.Fatalf("the kiosk's verify after retention: %+v", res)
		}
	})
}

// TestStillsEditedAtKiosk: the agent leaves out a still edited in the
// kiosk's stills table (its audit verify names it), so the push lands
// and HQ keeps no still; the hash alone travels.
func TestStillsEditedAtKiosk(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn, withNotesKey)
		k := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))
		co := keycab.Checkout{KeySetID: h.ks.ID, MemberID: h.staff.ID, Slot: 1, TakenAt: time.Now(), Still: testStill(t, 10)}
		MustNoErr(t, k.db.Take(ctx, &co))
		raw := must[*sql.DB](t)(sql.Open("sqlite", k.path))
		defer raw.Close()
		if _, err := raw.ExecContext(ctx, "UPDATE stills SET jpeg = ? WHERE idx = ?", testStill(t, 99), co.LogIndex); err != nil {
			t.Fatal(err)
		}
		must[int64](t)(k.a.Push(ctx))
		if kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID)); kl.Size != k.db.Size() {
			t.Fatalf("HQ holds %d entries, the kiosk %d", kl.Size, k.db.Size())
		}
		if _, err := h.s.EventStill(ctx, h.own(), k.peer.KioskID, co.LogIndex); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("HQ kept an edited still: %v", err)
		}
	})
}
