package kioskapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// BenchmarkPush measures HQ's ingest with verification through its HTTP
// edge: a kiosk's backlog of b.N entries sent to a loopback server in
// pushes of agent.DefaultBatchSize, each checked (request signature,
// checkpoint signature, the root recomputed from HQ's tree and the
// leaves, each resent index against the stored event), stored as leaves
// and recorded as history and custody.
//
// The pushes are made and signed (gzipped JSON, as the agent sends them)
// before the timer starts, so the kiosk's work is not counted; what is
// timed is sending them and HQ taking them. ns/op is wall time per entry.
// events/cpu-s is entries per CPU-second of this process (HQ's handler
// and store, and the HTTP client sending the prepared bodies, which is
// counted against HQ) plus, on PostgreSQL, the server's: the postmaster
// and its backends from /proc, before and after (HQ-cpu-s and PG-cpu-s
// give the parts, for the whole run).
//
//	go test -run '^$' -bench Push -benchtime 20000x ./hq/kioskapi
func BenchmarkPush(b *testing.B) {
	for _, e := range pg.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			dsn := e.DSN(b)
			h := MustHQ(b, dsn)
			k := MustKiosk(b, h, h.srv.URL, func(c *agent.Config) { c.BatchSize = agent.DefaultBatchSize })
			MustAppend(b, k.db, h, b.N, "bench")
			reqs := pushRequests(b, h, k, agent.DefaultBatchSize)
			pgPID := 0
			if e.Name == "postgres" {
				pgPID = must[int](b)(pg.Must(b).PID())
			}
			runtime.GC() // the preparation's garbage is not HQ's
			hq0, pg0 := selfCPU(b), treeCPU(b, pgPID)
			b.ResetTimer()
			for _, r := range reqs {
				if status, body := r.send(b); status != http.StatusOK {
					b.Fatalf("push: %d %s", status, body)
				}
			}
			b.StopTimer()
			hqCPU, pgCPU := selfCPU(b)-hq0, treeCPU(b, pgPID)-pg0
			b.ReportMetric(float64(b.N)/(hqCPU+pgCPU).Seconds(), "events/cpu-s")
			b.ReportMetric(hqCPU.Seconds(), "HQ-cpu-s")
			b.ReportMetric(pgCPU.Seconds(), "PG-cpu-s")
			// The agent takes HQ's size and cosignature (a resend of what
			// HQ holds: 409 with them), so the kiosk's log can be checked.
			_, err := k.a.Push(context.Background())
			MustNoErr(b, err)
			MustSameHistory(b, h, k)
		})
	}
}

// pushRequest is a push made ahead: its gzipped body and headers.
type pushRequest struct {
	url    string
	body   []byte
	header http.Header
}

func (r pushRequest) send(tb testing.TB) (int, string) {
	req := must[*http.Request](tb)(http.NewRequest(http.MethodPost, r.url, bytes.NewReader(r.body)))
	req.Header = r.header.Clone()
	res := must[*http.Response](tb)(http.DefaultClient.Do(req))
	defer res.Body.Close()
	raw := must[[]byte](tb)(io.ReadAll(res.Body))
	return res.StatusCode, string(raw)
}

// pushRequests makes the pushes of the kiosk's whole log, batch entries
// each, as the agent would send them: a signed checkpoint per push, the
// JSON gzipped, the request signed.
func pushRequests(tb testing.TB, h *hq, k *kiosk, batch int64) []pushRequest {
	tb.Helper()
	ctx := context.Background()
	size := k.db.Size()
	var out []pushRequest
	for start := int64(0); start < size; start += batch {
		end := min(size, start+batch)
		entries := must[[][]byte](tb)(k.db.ReadEntries(start, end))
		root := must[[32]byte](tb)(k.db.TreeRoot(ctx, end))
		cp := must[[]byte](tb)(audit.SignCheckpoint(audit.Checkpoint{Origin: k.peer.Origin, Size: end, Root: root}, k.key.Signer))
		js := must[[]byte](tb)(json.Marshal(wire.PushRequest{V: wire.Minor, OldSize: start, Entries: entries, Checkpoint: cp}))
		var gz bytes.Buffer
		zw := must[*gzip.Writer](tb)(gzip.NewWriterLevel(&gz, gzip.BestSpeed))
		zw.Write(js)
		MustNoErr(tb, zw.Close())
		req := must[*http.Request](tb)(http.NewRequest(http.MethodPost, h.srv.URL+wire.PathPush, bytes.NewReader(gz.Bytes())))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		wire.SignRequest(req, gz.Bytes(), k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
		out = append(out, pushRequest{url: req.URL.String(), body: gz.Bytes(), header: req.Header})
	}
	return out
}

// selfCPU returns the user and system CPU time of this process.
func selfCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	MustNoErr(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// treeCPU returns the CPU time of process pid (PostgreSQL's postmaster)
// and of its children, those running and those it has reaped, from /proc
// (in clock ticks of 10 ms); 0 for pid 0.
func treeCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	if pid == 0 {
		return 0
	}
	self, reaped, _, err := procCPU(pid)
	MustNoErr(tb, err)
	total := self + reaped
	dirs := must[[]os.DirEntry](tb)(os.ReadDir("/proc"))
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if cs, _, ppid, err := procCPU(child); err == nil && ppid == pid {
			total += cs // a backend that exited meanwhile is counted by reaped, if waited for
		}
	}
	return total
}

// procCPU reads /proc/PID/stat: user+system time of the process and of
// its waited-for children, and its parent.
func procCPU(pid int) (self, reaped time.Duration, ppid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// After the command (in parentheses): the parent is the 2nd field;
	// utime, stime, cutime and cstime the 12th to 15th, in ticks of
	// 1/100 s.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var v [4]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return 0, 0, 0, err
		}
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, 0, err
	}
	tick := 10 * time.Millisecond
	return time.Duration(v[0]+v[1]) * tick, time.Duration(v[2]+v[3]) * tick, ppid, nil
}
