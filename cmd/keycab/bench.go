package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	_ "modernc.org/sqlite"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/store"
)

func benchCommand() *command {
	return &command{
		name:    "bench",
		summary: "Measure keycab's performance on this machine.",
		sub:     []*command{benchAuditCommand()},
	}
}

func benchAuditCommand() *command {
	return &command{
		name: "audit",
		summary: "Build a log of N realistic synthetic events and print append and verify figures.\n\n" +
			"The first --synced events are appended one per transaction with fsync, side by side\n" +
			"with plain SQLite inserts of the same bytes under the same pragmas (alternating rounds,\n" +
			"so both see the same disk); the rest are appended in batches to reach N quickly.\n" +
			"Then the whole log is verified and its size on disk measured.",
		usage: "--db FILE -n N [--synced M] [--batch B]",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			db := fs.String("db", "", "database `file` to create (must not exist)")
			n := fs.Int64("n", 100000, "events in the log")
			synced := fs.Int("synced", 2000, "events appended one transaction (one fsync) each, and inserted plainly for the comparison")
			batch := fs.Int("batch", 1000, "events per transaction for the rest")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 || *db == "" || *n < 1 || *synced < 0 || *batch < 1 {
					fs.Usage()
					return errUsage
				}
				return benchAudit(ctx, e, *db, *n, int64(min(int64(*synced), *n)), *batch)
			}
		},
	}
}

func benchAudit(ctx context.Context, e *env, path string, n, synced int64, batch int) error {
	plainPath := path + ".plain"
	for _, p := range []string{path, plainPath} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists; give a new file", p)
		}
	}
	_, signer, err := audit.GenerateSigner("bench.keycab/kiosk")
	if err != nil {
		return err
	}
	// The store's own timer would sign heads whenever it fired, in a
	// plain round too; the bench signs them itself, as often as the timer
	// would, inside the signed rounds, so their whole cost is counted
	// there.
	d, err := store.Open(ctx, path, store.Options{Signer: signer, Create: true, SealDelay: time.Hour})
	if err != nil {
		return err
	}
	defer d.Close()
	plain, err := openPlain(ctx, plainPath)
	if err != nil {
		return err
	}
	defer func() {
		plain.Close()
		os.Remove(plainPath)
		os.Remove(plainPath + "-wal")
		os.Remove(plainPath + "-shm")
	}()

	w := workload.New(1)
	fmt.Fprintf(e.stdout, "keycab bench audit: %d events, %d appended with fsync each, batches of %d after\n", n, synced, batch)

	// Synced appends against plain inserts of the same bytes, in short
	// alternating rounds so that both meet the same disk weather; the
	// ratio is of the median rounds, which a stray slow fsync cannot skew,
	// and beside it of the totals, which count every head signed.
	const perRound = 20
	var signedRounds, plainRounds []time.Duration
	var signedTotal, plainTotal time.Duration
	var done int64
	seals, lastSeal := 0, time.Now()
	for done < synced {
		k := min(perRound, synced-done)
		leaves := make([][]byte, 0, k)
		t0 := time.Now()
		for i := int64(0); i < k; i++ {
			a, err := d.Append(ctx, w.Next())
			if err != nil {
				return err
			}
			leaves = append(leaves, a[0].Leaf)
			if time.Since(lastSeal) >= store.DefaultSealDelay || done+i+1 == synced {
				if err := d.Seal(ctx); err != nil {
					return err
				}
				seals, lastSeal = seals+1, time.Now()
			}
		}
		signedTotal += time.Since(t0)
		signedRounds = append(signedRounds, time.Since(t0)/time.Duration(k))
		t0 = time.Now()
		for i, leaf := range leaves {
			if _, err := plain.ExecContext(ctx, "INSERT INTO plain (idx, leaf) VALUES (?, ?)", done+int64(i), leaf); err != nil {
				return fmt.Errorf("plain insert: %w", err)
			}
		}
		plainTotal += time.Since(t0)
		plainRounds = append(plainRounds, time.Since(t0)/time.Duration(k))
		done += k
	}
	if synced > 0 {
		sm, pm := median(signedRounds), median(plainRounds)
		fmt.Fprintf(e.stdout, "append (signed, fsync each):  %10.0f appends/s  %8.1f µs each (median of %d rounds)\n", 1/sm.Seconds(), float64(sm.Nanoseconds())/1e3, len(signedRounds))
		fmt.Fprintf(e.stdout, "plain SQLite insert (same):   %10.0f inserts/s  %8.1f µs each\n", 1/pm.Seconds(), float64(pm.Nanoseconds())/1e3)
		fmt.Fprintf(e.stdout, "ratio signed/plain time:      %10.2f  (goal: at most 1.30)\n", sm.Seconds()/pm.Seconds())
		fmt.Fprintf(e.stdout, "ratio of the totals:          %10.2f  (%d heads signed, one per %v as the store does, and the last)\n", signedTotal.Seconds()/plainTotal.Seconds(), seals, store.DefaultSealDelay)
	}

	// Fill the rest in batches.
	t0 := time.Now()
	for done < n {
		k := min(int64(batch), n-done)
		recs := make([]store.Record, k)
		for i := range recs {
			recs[i] = w.Next()
		}
		if _, err := d.Append(ctx, recs...); err != nil {
			return err
		}
		done += k
	}
	if fill := n - synced; fill > 0 {
		fmt.Fprintf(e.stdout, "append (signed, batched):     %10.0f appends/s\n", float64(fill)/time.Since(t0).Seconds())
	}

	res, err := d.Verify(ctx, nil)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	fmt.Fprintf(e.stdout, "verify:                       %10.0f entries/s  (%d entries, %d checkpoints, %s; goal: at least 500000/s)\n",
		float64(res.Entries)/res.Elapsed.Seconds(), res.Entries, res.Checkpoints, res.Elapsed.Round(time.Millisecond))

	if err := d.Compact(ctx); err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "on disk:                      %10.1f bytes/entry  (%d bytes after VACUUM)\n", float64(st.Size())/float64(n), st.Size())
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// openPlain opens the baseline database: one table of (index, bytes)
// under the same pragmas as the kiosk store.
func openPlain(ctx context.Context, path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", store.DSN(path, false, 5*time.Second))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "CREATE TABLE plain (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL) STRICT"); err != nil {
		db.Close()
		return nil, errors.Join(fmt.Errorf("create baseline %s", path), err)
	}
	return db, nil
}
