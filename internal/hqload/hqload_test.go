package hqload_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
	"keycab.dev/keycab/internal/hqload"
)

var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// engines returns, per engine, a fresh database as the bench is given it:
// the DSN measured and the schema owner's.
func engines() []struct {
	name string
	new  func(tb testing.TB) (db, setup string)
} {
	return []struct {
		name string
		new  func(tb testing.TB) (db, setup string)
	}{
		{"sqlite", func(tb testing.TB) (string, string) {
			dsn := "sqlite:" + filepath.Join(tb.TempDir(), "hq-history.db")
			return dsn, dsn
		}},
		{"postgres", func(tb testing.TB) (string, string) {
			d := pg.Must(tb).MustDatabase(tb)
			return d.AppDSN, d.OwnerDSN
		}},
	}
}

// The fill makes what it says, as the store's read methods report it; a
// second run reuses the database; a run asking for another size is
// refused.
func TestFillAndReuse(t *testing.T) {
	const events = 700
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			db, setup := e.new(t)
			cfg := hqload.Config{DB: db, SetupDB: setup, Events: events, Samples: 2}
			var out bytes.Buffer
			b, err := hqload.Open(ctx, cfg, &out)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if b != nil {
					b.Close()
				}
			}()
			if !strings.HasPrefix(out.String(), "filled 700 events in ") || b.Filled == nil {
				t.Fatalf("first run: %q", out.String())
			}
			if len(b.Orgs) != hqload.OrgCount {
				t.Fatalf("%d organisations", len(b.Orgs))
			}
			live := hqload.LiveEventsPerKiosk * len(b.Orgs[0].Kiosks)
			if b.Filled.Events != events+live {
				t.Errorf("filled %d events, want %d", b.Filled.Events, events+live)
			}
			before := checkStore(t, ctx, b.Store, b.Orgs, b.Filled)
			if before.events != events+live {
				t.Errorf("the store holds %d events, want %d", before.events, events+live)
			}
			out.Reset()
			if err := b.Measure(ctx, cfg, &out); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"history through the store (" + e.name + ", 700 events, org of 20 sites, 2 samples, page of 51)", "| no filter | ", "| staff (own only) | ", "plans (first sample"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("measure printed no %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "through HTTP") {
				t.Errorf("measured HTTP without a handler:\n%s", out.String())
			}
			filled := *b.Filled
			b.Close()
			b = nil

			// Again with the same size: reused, nothing recorded.
			out.Reset()
			b, err = hqload.Open(ctx, cfg, &out)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out.String(), "reusing ") || !strings.Contains(out.String(), ": 940 events") || b.Filled != nil {
				t.Errorf("second run: %q (filled %v)", out.String(), b.Filled)
			}
			if after := checkStore(t, ctx, b.Store, b.Orgs, &filled); after != before {
				t.Errorf("the second run changed the database: %+v, then %+v", before, after)
			}
			b.Close()
			b = nil

			// Another size: refused, as the package doc says.
			cfg.Events = events + 1
			if b, err = hqload.Open(ctx, cfg, &out); err == nil || !strings.Contains(err.Error(), "holds 940 events, not 701: remove it") {
				t.Errorf("a run of another size: %v", err)
			}
		})
	}
}

type counts struct{ orgs, kiosks, events, keysOut, alarms int }

// checkStore compares what the store reports, through its read methods,
// with what the fill said it made, and returns the totals.
func checkStore(t *testing.T, ctx context.Context, st *store.Store, orgs []hqload.Org, f *hqload.Filled) counts {
	t.Helper()
	var c counts
	seen := map[string]bool{}
	for i, o := range orgs {
		acct, err := st.Accounts().AccountByEmail(ctx, hqload.Email(i))
		if err != nil {
			t.Fatal(err)
		}
		ms, err := st.Accounts().Memberships(ctx, acct.ID)
		if err != nil || len(ms) != 1 || ms[0].OrgID != o.ID || seen[o.ID] {
			t.Fatalf("owner %d's memberships: %v %+v (org %s)", i, err, ms, o.ID)
		}
		seen[o.ID] = true
		c.orgs++
		sites, kiosks := 5, 5
		if i == 0 {
			sites, kiosks = 20, 20
		}
		ss, err := st.ListSites(ctx, o.Scope())
		if err != nil || len(ss) != sites {
			t.Errorf("org %d: %d sites (%v), want %d", i, len(ss), err, sites)
		}
		ks, err := st.ListKiosks(ctx, o.Scope())
		if err != nil || len(ks) != kiosks {
			t.Errorf("org %d: %d kiosks (%v), want %d", i, len(ks), err, kiosks)
		}
		c.kiosks += len(ks)
		logs := 0
		for _, k := range ks {
			logs += int(k.LogSize)
		}
		// Every event, walked through the history's cursor.
		n := 0
		filter := store.EventFilter{Limit: 500}
		for {
			page, err := st.ListEvents(ctx, o.Scope(), filter)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page)
			if len(page) < filter.Limit {
				break
			}
			filter.Before = &page[len(page)-1]
		}
		if n != logs {
			t.Errorf("org %d: %d events in the history, %d in the kiosks' logs", i, n, logs)
		}
		c.events += n
		hs, err := st.ListCustody(ctx, o.Scope())
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != f.KeysOut[o.ID] {
			t.Errorf("org %d: %d key sets out, the fill said %d", i, len(hs), f.KeysOut[o.ID])
		}
		if i == 0 && len(hs) != 20*10 {
			// The live events take every key set of the measured organisation.
			t.Errorf("org 0: %d key sets out, want all 200", len(hs))
		}
		c.keysOut += len(hs)
		as, err := st.ListAlarms(ctx, o.Scope(), true)
		if err != nil {
			t.Fatal(err)
		}
		if len(as) != f.Alarms[o.ID] || (i == 0 && len(as) < len(ks)) {
			t.Errorf("org %d: %d open alarms, the fill said %d", i, len(as), f.Alarms[o.ID])
		}
		c.alarms += len(as)
	}
	return c
}
