package kioskapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"keycab.dev/keycab/internal/faultproxy"
	"keycab.dev/keycab/sync/agent"
)

// TestFaults pushes through a proxy that drops, duplicates, delays and
// truncates requests and answers, while the kiosk keeps appending: HQ ends
// with exactly the kiosk's log, every event once.
func TestFaults(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		p := faultproxy.New(h.srv.URL, 1)
		srv := httptest.NewServer(p)
		defer srv.Close()
		k := MustKiosk(t, h, srv.URL, func(c *agent.Config) {
			c.BatchSize = 150
			c.Client = &http.Client{Timeout: 5 * time.Second}
		})
		p.SetRate(0.5)
		// At least six rounds, and on until every fault has happened
		// (bounded).
		allSeen := func() bool {
			counts := p.Counts()
			for _, n := range counts[faultproxy.DropRequest:] {
				if n == 0 {
					return false
				}
			}
			return true
		}
		for round := 0; round < 6 || (round < 40 && !allSeen()); round++ {
			MustAppend(t, k.db, h, 400, "r")
			for try := 0; ; try++ {
				if try > 200 {
					t.Fatalf("round %d: no progress through the faults", round)
				}
				if _, err := k.a.Push(ctx); err == nil {
					break
				}
			}
			// Config pulls and heartbeats go through the same faults.
			for try := 0; try < 20; try++ {
				if _, err := k.a.PullConfig(ctx, 0); err == nil {
					break
				}
			}
			k.a.Heartbeat(ctx)
		}
		p.SetRate(0)
		counts := p.Counts()
		for f, n := range counts {
			t.Logf("%s: %d", faultproxy.Fault(f), n)
		}
		for f := faultproxy.DropRequest; f < faultproxy.NFaults; f++ {
			if counts[f] == 0 {
				t.Errorf("fault %q never happened", f)
			}
		}
		_, err := k.a.Push(ctx)
		MustNoErr(t, err)
		MustSameHistory(t, h, k)
	})
}
