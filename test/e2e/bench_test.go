package e2e_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

var speedup = flag.Float64("kiosks.speedup", 1, "BenchmarkManyKiosks: how many times faster than real time the kiosks sync")

// counter is a RoundTripper that counts the request bodies it sends.
type counter struct {
	bytes, requests atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.bytes.Add(max(r.ContentLength, 0))
	c.requests.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// BenchmarkSyncBacklog measures a kiosk's 100,000-event backlog reaching
// a keycab-hq process over loopback, on SQLite and on PostgreSQL: the
// time the agent takes to push it all (goal: 10 s), the request bytes
// per event on the wire (goal: 80), and so HQ's ingest rate with
// verification (signature, root recomputed, leaves decoded into history).
// Run it once:
//
//	go test -run '^$' -bench SyncBacklog -benchtime 1x -timeout 30m ./test/e2e
func BenchmarkSyncBacklog(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				dsn, appDSN := engineDSN(b, engine)
				dir := b.TempDir()
				h, env := startHQ(b, dsn, dir)
				st, sc := openHQ(b, appDSN, env)
				k := &kiosk{name: "kiosk1", dir: filepath.Join(dir, "kiosk1")}
				db, key := enrolInProcess(b, dsn, env, h.url(), k.dir)
				db.Close()
				recordWeek(b, st, sc, k, time.Now().Add(-7*24*time.Hour))
				ctx := context.Background()
				db, err := store.Open(ctx, filepath.Join(k.dir, "kiosk.db"), store.Options{Signer: key.Signer})
				if err != nil {
					b.Fatal(err)
				}
				c := &counter{}
				a, err := agent.New(ctx, agent.Config{DB: db, Key: key, Client: &http.Client{Transport: c, Timeout: time.Minute}})
				if err != nil {
					b.Fatal(err)
				}
				backlog := db.Size()
				hq0, kiosk0 := cpuTime(b, h.p.cmd.Process.Pid), cpuTime(b, os.Getpid())
				pgPID, pg0 := 0, time.Duration(0)
				if engine == "postgres" {
					if pgPID, err = pgServer.PID(); err != nil {
						b.Fatal(err)
					}
					pg0 = treeCPUTime(b, pgPID)
				}
				b.StartTimer()
				t0 := time.Now()
				n, err := a.Push(ctx)
				d := time.Since(t0)
				b.StopTimer()
				hqCPU, kioskCPU := cpuTime(b, h.p.cmd.Process.Pid)-hq0, cpuTime(b, os.Getpid())-kiosk0
				var pgCPU time.Duration
				if pgPID != 0 {
					pgCPU = treeCPUTime(b, pgPID) - pg0
				}
				if err != nil {
					b.Fatal(err)
				}
				// The agent logs HQ's first cosignature time (clock.anchored)
				// and pushes that entry too.
				size := db.Size()
				if n != offlineEvents+(size-backlog) || size-backlog > 1 {
					b.Fatalf("pushed %d entries, want %d and the anchor, if one (log %d, backlog %d)", n, offlineEvents, size, backlog)
				}
				kl, err := st.KioskLogs().GetKioskLog(ctx, sc, a.Peer().KioskID)
				if err != nil || kl.Size != size {
					b.Fatalf("HQ holds %d entries (%v), the kiosk %d", kl.Size, err, size)
				}
				leaves, err := db.ReadEntries(0, backlog)
				if err != nil {
					b.Fatal(err)
				}
				var leafBytes int
				for _, l := range leaves {
					leafBytes += len(l)
				}
				db.Close()
				b.ReportMetric(float64(leafBytes)/float64(len(leaves)), "leaf-B/event")
				b.ReportMetric(d.Seconds(), "s/100k-backlog")
				b.ReportMetric(float64(c.bytes.Load())/float64(n), "B/event")
				b.ReportMetric(float64(n)/d.Seconds(), "events/s")
				b.ReportMetric(float64(c.requests.Load()), "pushes")
				b.ReportMetric(hqCPU.Seconds(), "HQ-cpu-s")
				b.ReportMetric(kioskCPU.Seconds(), "kiosk-cpu-s")
				if pgPID != 0 {
					b.ReportMetric(pgCPU.Seconds(), "PG-cpu-s")
				}
				b.Logf("%s: %d events pushed in %v, %d request bytes in %d pushes (%.1f B/event), %.0f events/s ingested; CPU time: keycab-hq %v, the kiosk's agent %v, PostgreSQL %v",
					engine, n, d.Round(time.Millisecond), c.bytes.Load(), c.requests.Load(), float64(c.bytes.Load())/float64(n), float64(n)/d.Seconds(),
					hqCPU.Round(time.Millisecond), kioskCPU.Round(time.Millisecond), pgCPU.Round(time.Millisecond))
			}
		})
	}
}

// cpuTime returns the user and system CPU time process pid has used
// (Linux /proc), so that figures taken on a busy machine can be read
// against its load.
func cpuTime(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	st, err := readStat(pid)
	if err != nil {
		tb.Fatal(err)
	}
	return st.self
}

// treeCPUTime returns the CPU time of process pid and its children, those
// running and those it has reaped (PostgreSQL's postmaster and its
// backends).
func treeCPUTime(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	st, err := readStat(pid)
	if err != nil {
		tb.Fatal(err)
	}
	total := st.self + st.reaped
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if cs, err := readStat(child); err == nil && cs.ppid == pid {
			total += cs.self // a child that exited meanwhile is missed
		}
	}
	return total
}

// procStat is what readStat takes from /proc/PID/stat.
type procStat struct {
	ppid         int
	self, reaped time.Duration // user+system: own, and of waited-for children
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The fields after the command (in parentheses): the parent is the
	// 2nd; utime, stime, cutime and cstime the 12th to 15th, in clock
	// ticks (100 a second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var v [4]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return procStat{}, err
		}
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, err
	}
	tick := 10 * time.Millisecond
	return procStat{ppid: ppid, self: time.Duration(v[0]+v[1]) * tick, reaped: time.Duration(v[2]+v[3]) * tick}, nil
}

// enrolInProcess enrols a kiosk whose database is in dir with the HQ at
// url through agent.Enrol, and returns its database (log opened) and key.
func enrolInProcess(tb testing.TB, dsn string, env map[string]string, url, dir string) (*store.DB, *agent.Key) {
	tb.Helper()
	ctx := context.Background()
	token := strings.TrimSpace(program(tb, "keycab-hq", "enrol-token", "--db", dsn, "--as", env["KEYCAB_DEMO_EMAIL"], "--cabinet", env["KEYCAB_DEMO_CABINET"]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "kiosk.db")
	db, err := store.Open(ctx, path, store.Options{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	_, key, err := agent.Enrol(ctx, db, agent.EnrolOptions{HQ: url, Token: token, KeyFile: filepath.Join(dir, "kiosk.key"), Name: "bench"})
	db.Close()
	if err != nil {
		tb.Fatal(err)
	}
	if db, err = store.Open(ctx, path, store.Options{Signer: key.Signer}); err != nil {
		tb.Fatal(err)
	}
	return db, key
}

// simKiosk is a kiosk reduced to what HQ sees: its key, its log (the
// frontier of its tree and the leaves HQ does not hold yet) and its
// requests, sent with the protocol's messages and signatures.
type simKiosk struct {
	peer  wire.EnrolResponse
	key   *agent.Key
	f     *audit.Frontier
	acked int64
	// cosigned is the size of HQ's last cosignature.
	cosigned int64
	pending  [][]byte
	busy     sync.Mutex
}

// enrolSim enrols a simulated kiosk with token at the HQ at url.
func enrolSim(hc *http.Client, url, token string) (*simKiosk, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(wire.EnrolRequest{V: wire.Minor, Token: token, PublicKey: pub, Name: "sim"})
	res, err := hc.Post(url+wire.PathEnrol, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	k := &simKiosk{f: &audit.Frontier{}}
	if err := json.NewDecoder(res.Body).Decode(&k.peer); err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("enrol: %d %v", res.StatusCode, err)
	}
	vkey, err := note.NewEd25519VerifierKey(k.peer.Origin, pub)
	if err != nil {
		return nil, err
	}
	hash := strings.SplitN(vkey, "+", 3)[1]
	k.key, err = agent.ParseKey("PRIVATE+KEY+" + k.peer.Origin + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)))
	return k, err
}

// record appends n events to the simulated log.
func (k *simKiosk) record(n int, actor string, now time.Time) error {
	for i := range n {
		e := &audit.Event{Kind: keycab.EventDoorOpened, Time: now.UnixMilli() + int64(i), Mono: int64(k.f.Size()), Actor: actor}
		leaf, err := audit.Encode(e)
		if err != nil {
			return err
		}
		hs, err := k.f.Next(leaf)
		if err != nil {
			return err
		}
		k.f.Advance(hs)
		k.pending = append(k.pending, leaf)
	}
	return nil
}

// send makes one signed request and reads the answer.
func (k *simKiosk) send(hc *http.Client, url, method, path string, msg any) (int, []byte, error) {
	var body []byte
	if msg != nil {
		body, _ = json.Marshal(msg)
	}
	req, err := http.NewRequest(method, url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	wire.SignRequest(req, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(res.Body)
	return res.StatusCode, rb, err
}

// push sends the pending leaves with a signed checkpoint and checks HQ's
// answer: the size pushed, cosigned by HQ's key, never an older size
// than the last cosignature.
func (k *simKiosk) push(hc *http.Client, url string) error {
	cp, err := audit.SignCheckpoint(audit.Checkpoint{Origin: k.peer.Origin, Size: k.f.Size(), Root: k.f.Root()}, k.key.Signer)
	if err != nil {
		return err
	}
	status, rb, err := k.send(hc, url, http.MethodPost, wire.PathPush, wire.PushRequest{V: wire.Minor, OldSize: k.acked, Entries: k.pending, Checkpoint: cp})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("push: %d %s", status, rb)
	}
	var pr wire.PushResponse
	if err := json.Unmarshal(rb, &pr); err != nil {
		return fmt.Errorf("push answer: %v", err)
	}
	if _, err := wire.VerifyCosignature(pr.Cosigned, k.peer.CosignerKey); err != nil || pr.Size != k.f.Size() || pr.Size < k.cosigned {
		return fmt.Errorf("cosignature: size %d after %d, want %d: %v", pr.Size, k.cosigned, k.f.Size(), err)
	}
	k.acked, k.cosigned, k.pending = k.f.Size(), pr.Size, nil
	return nil
}

// BenchmarkManyKiosks runs 1,000 simulated kiosks against one keycab-hq
// process, on SQLite and on PostgreSQL, over loopback, each syncing once a minute (five new
// events pushed, a heartbeat, a config check without waiting), for three
// minutes; the kiosks' starts are spread evenly over the minute. Time
// may be compressed with -kiosks.speedup (the minute then lasts 60 s /
// speedup). It reports the p50, p99 and largest latency of the requests
// and the number of errors (goal: none), a sync that is still running
// when the kiosk's next one is due counting as one.
//
//	go test -run '^$' -bench ManyKiosks -benchtime 1x -timeout 30m ./test/e2e [-args -kiosks.speedup=10]
func BenchmarkManyKiosks(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) { fleet(b, engine, 1000, 3, 1) })
	}
}

var (
	scaleKiosks  = flag.Int("scaleout.kiosks", 1000, "BenchmarkScaleOut: simulated kiosks (issue 19 asks for 5,000)")
	scaleMinutes = flag.Int("scaleout.minutes", 2, "BenchmarkScaleOut: minutes of syncing, one sync a kiosk a minute (issue 19 asks for 10)")
	scaleHQs     = flag.Int("scaleout.hqs", 3, "BenchmarkScaleOut: keycab-hq processes on the one database")
)

// BenchmarkScaleOut runs simulated kiosks against several keycab-hq
// processes on one PostgreSQL database, as a load balancer would spread
// them: every request goes to a process picked at random, so one kiosk's
// pushes land on different processes and only the database orders them.
// Each kiosk syncs once a minute as in BenchmarkManyKiosks; at the end
// every kiosk's log at HQ must be whole (HQ's size and root are the
// kiosk's) and cosigned at its size, and every push's cosignature must
// have verified, at a size no older than the last. The defaults keep
// `make test`'s single run short; issue 19's figure is
//
//	go test -run '^$' -bench ScaleOut -benchtime 1x -timeout 60m ./test/e2e -args -scaleout.kiosks=5000 -scaleout.minutes=10
func BenchmarkScaleOut(b *testing.B) {
	fleet(b, "postgres", *scaleKiosks, *scaleMinutes, *scaleHQs)
}

// fleet runs kiosks simulated kiosks for rounds minutes (compressed by
// -kiosks.speedup) against hqs keycab-hq processes on one database of
// engine, and reports the requests' latency and the errors.
func fleet(b *testing.B, engine string, kiosks, rounds, hqs int) {
	for range b.N {
		b.StopTimer()
		dsn, appDSN := engineDSN(b, engine)
		dir := b.TempDir()
		h, env := startHQ(b, dsn, dir)
		procs := []*hq{h}
		for range hqs - 1 { // the same database and keys: one HQ, more processes
			p := &hq{dsn: dsn, addr: freePort(b), keys: h.keys}
			p.start(b)
			procs = append(procs, p)
		}
		pick := func() string { return procs[mrand.IntN(len(procs))].url() }
		st, sc := openHQ(b, appDSN, env)
		hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * kiosks}}
		ctx := context.Background()
		ks := make([]*simKiosk, kiosks)
		for i := range ks {
			token, _, err := st.CreateEnrolToken(ctx, sc, env["KEYCAB_DEMO_CABINET"], 0)
			if err != nil {
				b.Fatal(err)
			}
			if ks[i], err = enrolSim(hc, pick(), token); err != nil {
				b.Fatal(err)
			}
		}
		period := time.Duration(float64(time.Minute) / *speedup)
		var (
			mu        sync.Mutex
			latencies []time.Duration
			errs      []string
			wg        sync.WaitGroup
		)
		add := func(d time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			if d > 0 {
				latencies = append(latencies, d)
			}
			if err != nil {
				errs = append(errs, err.Error())
			}
		}
		timed := func(fn func() error) {
			t0 := time.Now()
			err := fn()
			add(time.Since(t0), err)
		}
		cycle := func(k *simKiosk) {
			defer wg.Done()
			if !k.busy.TryLock() {
				add(0, errors.New("late: the kiosk was still busy with its last sync"))
				return
			}
			defer k.busy.Unlock()
			if err := k.record(5, "", time.Now()); err != nil {
				add(0, err)
				return
			}
			timed(func() error { return k.push(hc, pick()) })
			timed(func() error {
				hb := wire.Heartbeat{V: wire.Minor, LogSize: k.f.Size(), CosignedSize: k.acked, Software: "bench"}
				status, rb, err := k.send(hc, pick(), http.MethodPost, wire.PathHeartbeat, hb)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("heartbeat: %d %s", status, rb)
				}
				return err
			})
			timed(func() error {
				status, rb, err := k.send(hc, pick(), http.MethodGet, wire.PathConfig+"?after=0&wait=0", nil)
				if err == nil && status != http.StatusOK && status != http.StatusNoContent {
					err = fmt.Errorf("config: %d %s", status, rb)
				}
				return err
			})
		}
		b.StartTimer()
		t0 := time.Now()
		for r := range rounds {
			for i, k := range ks {
				time.Sleep(time.Until(t0.Add(time.Duration(r)*period + time.Duration(i)*period/time.Duration(kiosks))))
				wg.Add(1)
				go cycle(k)
			}
		}
		wg.Wait()
		b.StopTimer()
		// Every kiosk's log at HQ is whole and cosigned at its size.
		for i, k := range ks {
			l, err := st.KioskLogs().GetKioskLog(ctx, sc, k.peer.KioskID)
			if err != nil {
				add(0, fmt.Errorf("log at HQ: kiosk %d: %v", i, err))
				continue
			}
			var root tlog.Hash
			if c, _, err := audit.OpenCheckpoint(l.Checkpoint, k.key.Signer.Verifier()); err == nil {
				root = c.Root
			}
			if _, err := wire.VerifyCosignature(l.Cosigned, k.peer.CosignerKey); err != nil || l.Size != k.f.Size() || root != k.f.Root() {
				add(0, fmt.Errorf("log at HQ: kiosk %d: size %d of %d, root matches %v, cosignature %v", i, l.Size, k.f.Size(), root == k.f.Root(), err))
			}
		}
		slices.Sort(latencies)
		q := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
		b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(q(1).Microseconds())/1000, "max-ms")
		b.ReportMetric(float64(len(errs)), "errors")
		b.Logf("%d kiosks x %d rounds of %v (a minute / %.0f) on %d HQ process(es), %s: %d requests, p50 %v, p99 %v, max %v, %d errors",
			kiosks, rounds, period, *speedup, hqs, engine, len(latencies), q(0.5), q(0.99), q(1), len(errs))
		kinds := map[string]int{}
		for _, e := range errs {
			kinds[strings.Split(e, ":")[0]]++
		}
		for kind, n := range kinds {
			b.Logf("%d errors: %s", n, kind)
		}
		for _, p := range procs {
			p.p.stop(b, syscall.SIGTERM)
		}
	}
}
