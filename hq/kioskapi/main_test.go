package kioskapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/kioskapi"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// One PostgreSQL server for the package's tests; a database per test.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// engines runs fn on SQLite and on PostgreSQL, each with a fresh,
// migrated database as the service connects to it.
func engines(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, e := range pg.Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e.DSN(t)) })
	}
}

func MustNoErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

// hq is a running HQ: store, handler and a loopback HTTP server.
type hq struct {
	s       *hqstore.Store
	h       *kioskapi.Handler
	srv     *httptest.Server
	org     keycab.Org
	owner   keycab.Member
	staff   keycab.Member
	cab     keycab.Cabinet
	ks      keycab.KeySet
	badge   keycab.Badge
	cosign  *wire.Cosigner
	cfgSign *audit.Signer
	// cosignAhead moves the cosigner's clock ahead of the real one (ns).
	cosignAhead atomic.Int64
}

const badgeCode = "0004829301"

func (h *hq) own() hqstore.Scope { return hqstore.MemberScope(h.org.ID, h.owner.ID) }

// MustHQ starts an HQ on the migrated database dsn with one organisation,
// a site, a cabinet, a key set and a staff member with a badge; opts
// change the store's options.
func MustHQ(tb testing.TB, dsn string, opts ...func(*hqstore.Options)) *hq {
	tb.Helper()
	ctx := context.Background()
	h := &hq{}
	var o hqstore.Options
	for _, f := range opts {
		f(&o)
	}
	h.s = must[*hqstore.Store](tb)(hqstore.Open(ctx, dsn, o))
	tb.Cleanup(func() { h.s.Close() })
	var err error
	h.org, h.owner, err = h.s.CreateOrg(ctx, hqstore.NewOrg{Name: "Org", Caps: keycab.Caps{KeySets: 10, Sites: 10, Cabinets: 10, Members: 10},
		Owner: keycab.Member{Name: "Owner", Email: "owner@org.test"}})
	MustNoErr(tb, err)
	site := must[hqstore.Site](tb)(h.s.CreateSite(ctx, h.own(), hqstore.Site{Site: keycab.Site{Name: "HQ site", TimeZone: "UTC"}}))
	h.cab = must[keycab.Cabinet](tb)(h.s.CreateCabinet(ctx, h.own(), keycab.Cabinet{SiteID: site.ID, Name: "cab", Kind: keycab.Slotted}))
	h.ks = must[keycab.KeySet](tb)(h.s.CreateKeySet(ctx, h.own(), keycab.KeySet{SiteID: site.ID, Label: "front door"}))
	h.staff = must[keycab.Member](tb)(h.s.CreateMember(ctx, h.own(), keycab.Member{Name: "Sam", Email: "sam@org.test", Role: keycab.RoleStaff, SiteIDs: []string{site.ID}}))
	h.badge = must[keycab.Badge](tb)(h.s.AddBadge(ctx, h.own(), h.staff.ID, keycab.BadgeRFID, badgeCode))
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	h.cosign = must[*wire.Cosigner](tb)(wire.NewCosigner("hq.test/cosigner", priv, func() time.Time {
		return time.Now().Add(time.Duration(h.cosignAhead.Load()))
	}))
	skey, _, err := note.GenerateKey(rand.Reader, "hq.test/config")
	MustNoErr(tb, err)
	h.cfgSign = must[*audit.Signer](tb)(audit.ParseSignerKey(skey))
	h.h = must[*kioskapi.Handler](tb)(kioskapi.New(kioskapi.Config{Store: h.s, Cosigner: h.cosign, ConfigSigner: h.cfgSign,
		OriginPrefix: "hq.test/kiosk/", PollInterval: 200 * time.Millisecond}))
	h.srv = httptest.NewServer(h.h)
	tb.Cleanup(h.srv.Close)
	return h
}

// kiosk is an enrolled kiosk: its database on disk, key and agent.
type kiosk struct {
	db   *store.DB
	key  *agent.Key
	peer store.HQPeer
	a    *agent.Agent
	path string
}

// MustKiosk enrols a new kiosk with h through url (the HQ or a proxy).
func MustKiosk(tb testing.TB, h *hq, url string, opts ...func(*agent.Config)) *kiosk {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	token, _, err := h.s.CreateEnrolToken(ctx, h.own(), h.cab.ID, 0)
	MustNoErr(tb, err)
	path := filepath.Join(dir, "kiosk.db")
	db := must[*store.DB](tb)(store.Open(ctx, path, store.Options{Create: true}))
	peer, key, err := agent.Enrol(ctx, db, agent.EnrolOptions{HQ: url, Token: token, KeyFile: filepath.Join(dir, "kiosk.key"), Name: "kiosk"})
	MustNoErr(tb, err)
	MustNoErr(tb, db.Close())
	k := &kiosk{key: key, peer: peer, path: path}
	k.db = must[*store.DB](tb)(store.Open(ctx, path, store.Options{Signer: key.Signer}))
	tb.Cleanup(func() { k.db.Close() })
	k.a = MustAgent(tb, k.db, key, opts...)
	return k
}

func MustAgent(tb testing.TB, db *store.DB, key *agent.Key, opts ...func(*agent.Config)) *agent.Agent {
	tb.Helper()
	cfg := agent.Config{DB: db, Key: key, BatchSize: 500, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	return must[*agent.Agent](tb)(agent.New(context.Background(), cfg))
}

// MustAppend appends n events to the kiosk's log: door, identification,
// and takes and returns of the HQ's key set by its staff member.
func MustAppend(tb testing.TB, db *store.DB, h *hq, n int, seed string) {
	tb.Helper()
	var recs []store.Record
	for i := range n {
		var e audit.Event
		switch i % 4 {
		case 0:
			e = audit.Event{Kind: keycab.EventIdentified, Actor: h.staff.ID, Detail: map[string]string{"seed": seed}}
		case 1:
			e = audit.Event{Kind: keycab.EventKeyTaken, Actor: h.staff.ID, KeySet: h.ks.ID, Slot: 1, Due: time.Now().Add(time.Hour).UnixMilli()}
		case 2:
			e = audit.Event{Kind: keycab.EventKeyReturned, Actor: h.staff.ID, KeySet: h.ks.ID, Slot: 1}
		case 3:
			e = audit.Event{Kind: keycab.EventDoorClosed}
		}
		recs = append(recs, store.Record{Event: &e})
		if len(recs) == 500 {
			_, err := db.Append(context.Background(), recs...)
			MustNoErr(tb, err)
			recs = nil
		}
	}
	if len(recs) > 0 {
		_, err := db.Append(context.Background(), recs...)
		MustNoErr(tb, err)
	}
}

// MustSameHistory checks that HQ holds exactly the kiosk's log, that it
// recorded one event per entry, and that the kiosk's log still verifies
// with HQ's cosignatures stored in it.
func MustSameHistory(tb testing.TB, h *hq, k *kiosk) {
	tb.Helper()
	ctx := context.Background()
	size := k.db.Size()
	kl := must[hqstore.KioskLog](tb)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID))
	if kl.Size != size {
		tb.Fatalf("HQ holds %d entries, the kiosk %d", kl.Size, size)
	}
	theirs := must[[][]byte](tb)(h.s.KioskLogs().KioskLeaves(ctx, h.own(), k.peer.KioskID, 0, size))
	ours := must[[][]byte](tb)(k.db.ReadEntries(0, size))
	if len(theirs) != len(ours) {
		tb.Fatalf("HQ returned %d leaves, want %d", len(theirs), len(ours))
	}
	for i := range ours {
		if string(theirs[i]) != string(ours[i]) {
			tb.Fatalf("leaf %d differs at HQ", i)
		}
	}
	// HQ's own copy verifies as a log: its leaves recompute the root of
	// the kiosk-signed checkpoint HQ holds.
	v := must[note.Verifier](tb)(k.db.Verifier())
	c := audit.NewChecker(v, true)
	MustNoErr(tb, c.Checkpoint(kl.Checkpoint))
	f := &audit.Frontier{}
	for i, leaf := range theirs {
		hs := must[[]tlog.Hash](tb)(f.Next(leaf))
		MustNoErr(tb, c.Entry(int64(i), leaf, audit.EncodeHashes(hs)))
		f.Advance(hs)
	}
	_, _, err := c.Finish()
	MustNoErr(tb, err)
	if _, err := k.db.VerifyStrict(ctx, nil); err != nil {
		tb.Fatalf("kiosk log does not verify: %v", err)
	}
	// One history event per entry, none twice.
	var n int
	var before *hqstore.Event
	seen := map[int64]bool{}
	for {
		evs := must[[]hqstore.Event](tb)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{Limit: 1000, Before: before}))
		for _, e := range evs {
			if e.KioskID != k.peer.KioskID {
				continue
			}
			if seen[e.LogIndex] {
				tb.Fatalf("event %d recorded twice", e.LogIndex)
			}
			seen[e.LogIndex] = true
			n++
		}
		if len(evs) < 1000 {
			break
		}
		before = &evs[len(evs)-1]
	}
	if int64(n) != size {
		tb.Fatalf("HQ history has %d events of the kiosk, its log %d", n, size)
	}
}
