package kioskapi_test

import (
	"context"
	"testing"

	"keycab.dev/keycab/sync/agent"
)

// BenchmarkPush measures HQ's ingest with verification in process: a
// kiosk's backlog of b.N entries pushed through a loopback server in
// pushes of agent.DefaultBatchSize, each checked (request signature,
// checkpoint signature, the root recomputed), stored as leaves and
// recorded as history. ns/op is per entry; it includes the kiosk's agent.
// The end-to-end figure, with HQ as its own process, is test/e2e's
// BenchmarkSyncBacklog.
//
//	go test -run '^$' -bench Push -benchtime 20000x ./hq/kioskapi
func BenchmarkPush(b *testing.B) {
	for _, e := range pg.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			dsn := e.DSN(b)
			h := MustHQ(b, dsn)
			k := MustKiosk(b, h, h.srv.URL, func(c *agent.Config) { c.BatchSize = agent.DefaultBatchSize })
			MustAppend(b, k.db, h, b.N, "bench")
			b.ResetTimer()
			n, err := k.a.Push(context.Background())
			b.StopTimer()
			MustNoErr(b, err)
			if n < int64(b.N) {
				b.Fatalf("pushed %d entries of %d", n, b.N)
			}
			MustSameHistory(b, h, k)
		})
	}
}
