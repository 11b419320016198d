package store_test

import (
	"context"
	"testing"

	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// BenchmarkVerify measures verification of a 100,000-entry log; it reports
// entries per second. The 1,000,000-entry figure in docs/PERFORMANCE.md
// comes from keycab bench audit.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	d := storetest.MustOpen(b, nil)
	w := workload.New(1)
	const n = 100000
	for done := 0; done < n; done += 1000 {
		recs := make([]store.Record, 1000)
		for i := range recs {
			recs[i] = w.Next()
		}
		if _, err := d.Append(ctx, recs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Verify(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkAppend measures one signed append per transaction (each with
// its fsync); BenchmarkPlainInsert the same bytes into a plain table
// under the same pragmas. keycab bench audit prints both side by side.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	d := storetest.MustOpen(b, nil)
	w := workload.New(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Append(ctx, w.Next()); err != nil {
			b.Fatal(err)
		}
	}
}
