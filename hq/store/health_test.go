package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestKioskHealthQueries: ListKioskHealth runs the same number of
// statements for one kiosk as for forty, and answers for each kiosk its
// newest heartbeat (zero when none came), whether its log is
// quarantined and whether it is online, in name order, only for the
// sites the principal sees.
func TestKioskHealthQueries(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			app, _ := e.New(t)
			var counting atomic.Bool
			var statements atomic.Int64
			s, err := store.Open(ctx, app, store.Options{NotesKey: testNotesKey(), Trace: func(q string) {
				if why := checkScoped(q); why != "" {
					t.Errorf("unscoped statement (%s):\n%s", why, q)
				}
				if counting.Load() {
					statements.Add(1)
				}
			}})
			MustNoErr(t, err)
			t.Cleanup(func() { s.Close() })
			a, b := MustTenant(t, s, "A"), MustTenant(t, s, "B")
			health := func(sc store.Scope) ([]store.KioskHealth, int64) {
				t.Helper()
				statements.Store(0)
				counting.Store(true)
				hs, err := s.KioskLogs().ListKioskHealth(ctx, sc, time.Minute)
				counting.Store(false)
				MustNoErr(t, err)
				return hs, statements.Load()
			}
			hs, few := health(a.as(a.admin))
			if len(hs) != 1 || hs[0].ID != a.kiosk1.ID || hs[0].Online || hs[0].Quarantined || !hs[0].Heartbeat.At.IsZero() {
				t.Fatalf("one kiosk, never seen: %+v", hs)
			}

			// 40 more kiosks at A's two cabinets; every third sends a
			// heartbeat, every fifth is quarantined. B has one that is
			// both, which A never sees.
			type want struct {
				site        string
				hb          *store.Heartbeat
				quarantined bool
			}
			wants := map[string]want{a.kiosk1.ID: {site: a.site1.ID}}
			enrol := func(tn tenant, i int, cab keycab.Cabinet, site string, beat, quarantine bool) {
				tok, _, err := s.CreateEnrolToken(ctx, tn.as(tn.owner), cab.ID, 0)
				MustNoErr(t, err)
				k, _, err := s.Enrol(ctx, tok, make([]byte, 32), fmt.Sprintf("kiosk %02d", i), newLog)
				MustNoErr(t, err)
				sc := store.KioskScope(tn.org.ID, k.ID)
				w := want{site: site, quarantined: quarantine}
				if beat {
					hb := store.Heartbeat{Door: []string{"open", "closed", ""}[i%3], LogSize: int64(100 + i), CosignedSize: int64(90 + i),
						ConfigVersion: int64(i), Software: fmt.Sprintf("keycab-kiosk 1.%d", i), DiskFree: int64(i) << 20, TemperatureMC: int64(40000 + i)}
					if i%2 == 0 {
						hb.Alarms = []string{keycab.AlarmDoorHeld, keycab.AlarmTamper}
					}
					MustNoErr(t, s.KioskLogs().RecordHeartbeat(ctx, sc, hb))
					w.hb = &hb
				}
				if quarantine {
					MustNoErr(t, s.KioskLogs().UpdateKioskLog(ctx, sc, func(ctx context.Context, l *store.LogTx) error {
						return l.Quarantine(ctx, "test fork", 0, []byte("theirs"), []byte("ours"))
					}))
				}
				if tn.org.ID == a.org.ID {
					wants[k.ID] = w
				}
			}
			for i := range 40 {
				cab, site := a.cab1, a.site1.ID
				if i%2 == 1 {
					cab, site = a.cab2, a.site2.ID
				}
				enrol(a, i, cab, site, i%3 == 0, i%5 == 0)
			}
			enrol(b, 99, b.cab1, b.site1.ID, true, true)

			hs, many := health(a.as(a.admin))
			if many != few {
				t.Errorf("ListKioskHealth ran %d statements for 41 kiosks, %d for one", many, few)
			}
			check := func(who string, hs []store.KioskHealth, sites ...string) {
				t.Helper()
				n := 0
				for id, w := range wants {
					if slices.Contains(sites, w.site) {
						n++
					} else if slices.ContainsFunc(hs, func(h store.KioskHealth) bool { return h.ID == id }) {
						t.Errorf("%s sees kiosk %s of another site", who, id)
					}
				}
				if len(hs) != n {
					t.Fatalf("%s: %d kiosks, want %d", who, len(hs), n)
				}
				if !slices.IsSortedFunc(hs, func(x, y store.KioskHealth) int {
					if x.Name != y.Name {
						return strings.Compare(x.Name, y.Name)
					}
					return strings.Compare(x.ID, y.ID)
				}) {
					t.Errorf("%s: not in name order", who)
				}
				for _, h := range hs {
					w, ok := wants[h.ID]
					if !ok {
						t.Fatalf("%s sees kiosk %s of another organisation", who, h.ID)
					}
					got := h.Heartbeat
					if h.Quarantined != w.quarantined {
						t.Errorf("%s: kiosk %s quarantined %v, want %v", who, h.Name, h.Quarantined, w.quarantined)
					}
					if w.hb == nil {
						if !got.At.IsZero() || h.Online || got.Door != "" || got.Alarms != nil || got.LogSize != 0 || got.Software != "" {
							t.Errorf("%s: kiosk %s never beat: %+v online %v", who, h.Name, got, h.Online)
						}
						continue
					}
					hb := *w.hb
					hb.At, hb.ConfigAppliedAt = got.At, got.At // its first report of the version
					if got.At.IsZero() || time.Since(got.At) > time.Hour || !h.Online || fmt.Sprint(got) != fmt.Sprint(hb) {
						t.Errorf("%s: kiosk %s heartbeat %+v online %v, want %+v", who, h.Name, got, h.Online, hb)
					}
				}
			}
			check("admin", hs, a.site1.ID, a.site2.ID)
			hs, n := health(a.as(a.manager))
			if n != few {
				t.Errorf("ListKioskHealth ran %d statements for a site manager, %d for one kiosk", n, few)
			}
			check("site manager", hs, a.site1.ID)
		})
	}
}

// TestConfigAppliedAt: a kiosk's heartbeat keeps when HQ first heard it
// report its config version; a heartbeat with a newer version moves it.
// ConfigBehindSince says when HQ issued a version the kiosk has not
// reported applied.
func TestConfigAppliedAt(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, e)
			clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			app := f.appDSN
			s, err := store.Open(ctx, app, store.Options{NotesKey: testNotesKey(), Now: func() time.Time { return clock }})
			MustNoErr(t, err)
			t.Cleanup(func() { s.Close() })
			tok, _, err := s.CreateEnrolToken(ctx, f.a.as(f.a.owner), f.a.cab1.ID, 0)
			MustNoErr(t, err)
			k, _, err := s.Enrol(ctx, tok, make([]byte, 32), "kiosk", newLog)
			MustNoErr(t, err)
			kc := store.KioskScope(f.a.org.ID, k.ID)
			v1, err := s.KioskLogs().IssueConfigVersion(ctx, kc, []byte("one"))
			MustNoErr(t, err)
			health := func() store.KioskHealth {
				t.Helper()
				hs, err := s.KioskLogs().ListKioskHealth(ctx, f.a.as(f.a.admin), time.Hour)
				MustNoErr(t, err)
				for _, h := range hs {
					if h.ID == k.ID {
						return h
					}
				}
				t.Fatal("the kiosk is not listed")
				return store.KioskHealth{}
			}
			if h := health(); !h.ConfigBehindSince().Equal(clock) {
				t.Fatalf("issued and never applied: behind since %v, want %v", h.ConfigBehindSince(), clock)
			}
			applied := clock.Add(time.Minute)
			clock = applied
			MustNoErr(t, s.KioskLogs().RecordHeartbeat(ctx, kc, store.Heartbeat{ConfigVersion: v1}))
			clock = clock.Add(time.Minute)
			MustNoErr(t, s.KioskLogs().RecordHeartbeat(ctx, kc, store.Heartbeat{ConfigVersion: v1}))
			if h := health(); !h.Heartbeat.ConfigAppliedAt.Equal(applied) || !h.ConfigBehindSince().IsZero() {
				t.Fatalf("applied at %v, behind since %v; want %v and up to date", h.Heartbeat.ConfigAppliedAt, h.ConfigBehindSince(), applied)
			}
			clock = clock.Add(time.Minute)
			v2, err := s.KioskLogs().IssueConfigVersion(ctx, kc, []byte("two"))
			MustNoErr(t, err)
			if h := health(); h.ConfigNewest != v2 || !h.ConfigBehindSince().Equal(clock) {
				t.Fatalf("newest %d behind since %v; want %d since %v", h.ConfigNewest, h.ConfigBehindSince(), v2, clock)
			}
			clock = clock.Add(time.Minute)
			MustNoErr(t, s.KioskLogs().RecordHeartbeat(ctx, kc, store.Heartbeat{ConfigVersion: v2}))
			if h := health(); !h.Heartbeat.ConfigAppliedAt.Equal(clock) || !h.ConfigBehindSince().IsZero() {
				t.Fatalf("the newer version applied at %v, behind since %v; want %v", h.Heartbeat.ConfigAppliedAt, h.ConfigBehindSince(), clock)
			}
		})
	}
}
