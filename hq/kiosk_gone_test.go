package hq_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/kioskapi"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/sync/wire"
)

// A kiosk that goes away during its config long poll is no server
// error: HQ logs nothing at ERROR and counts no 5xx, but 499 (nginx's
// "client closed request"), wherever the poll was when the client left:
// before its signature's nonce was stored, before the first read of its
// config, or while waiting for a change.
func TestKioskLeavesLongPoll(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		ctx := context.Background()
		// The kiosk API's clock is the hook: on its n-th reading in a
		// request the test's client goes away, and the clock returns once
		// HQ has seen it go. The handler reads it in this order: the
		// request's date check, the poll's deadline, then once per wait.
		var (
			mu        sync.Mutex
			armAt     int
			calls     int
			serverCtx context.Context
			leave     context.CancelFunc
		)
		now := func() time.Time {
			mu.Lock()
			calls++
			fire := armAt != 0 && calls == armAt
			sc, cancel := serverCtx, leave
			mu.Unlock()
			if fire {
				cancel()
				<-sc.Done()
			}
			return time.Now()
		}
		e := newEnv(t, eng, func(_ *auth.Config, s *hq.Server) {
			kc := kioskAPIConfig(t, s)
			kc.Now, kc.PollInterval = now, time.Hour
			h, err := kioskapi.New(kc)
			MustNoErr(t, err)
			s.KioskAPI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				serverCtx = r.Context()
				mu.Unlock()
				h.ServeHTTP(w, r)
			})
		})
		w := e.MustWorld(t, "Acme")
		k := e.MustEnrolKiosk(t, store.MemberScope(w.owner.orgID, w.owner.memberID), w.cab.ID, "kiosk")
		peer, key := k.peer, k.key

		counted := regexp.MustCompile(`keycab_hq_http_requests_total\{code="(\d+)",method="GET",route="/v1/kiosk/config"\} (\d+)`)
		for i, at := range []int{1, 2, 3} {
			cctx, cancel := context.WithCancel(ctx)
			uri := wire.PathConfig + "?after=" + strconv.FormatInt(1<<62, 10) + "&wait=30"
			req, err := http.NewRequestWithContext(cctx, http.MethodGet, e.srv.URL+uri, nil)
			MustNoErr(t, err)
			wire.SignRequest(req, nil, peer.OrgID, peer.KioskID, key.Private, time.Now())
			mu.Lock()
			armAt, calls, leave = at, 0, cancel
			mu.Unlock()
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
				t.Fatalf("clock reading %d: the poll answered %d to a client that left", at, res.StatusCode)
			}
			mu.Lock()
			armAt = 0
			mu.Unlock()
			// HQ counts the request once its handler returns.
			var codes map[string]int
			for wait := time.Now().Add(30 * time.Second); ; {
				codes = map[string]int{}
				total := 0
				for _, m := range counted.FindAllStringSubmatch(MustStatus(t, e.do(t, "GET", "/metrics", "", nil), 200).raw, -1) {
					n, _ := strconv.Atoi(m[2])
					codes[m[1]] += n
					total += n
				}
				if total == i+1 {
					break
				}
				if time.Now().After(wait) {
					t.Fatalf("after 30 s the metrics count %d config polls, want %d", total, i+1)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if codes["499"] != i+1 {
				t.Errorf("client gone at clock reading %d: requests counted by status %v, want %d of 499", at, codes, i+1)
			}
		}
		logs := e.logText()
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Errorf("ERROR logged for a client that went away: %s", line)
			}
			if strings.Contains(line, `"path":"/v1/kiosk/config"`) && !strings.Contains(line, `"status":499`) {
				t.Errorf("request logged without status 499: %s", line)
			}
		}
		if !strings.Contains(logs, fmt.Sprintf(`"status":%d`, 499)) {
			t.Errorf("no request logged with status 499:\n%s", logs)
		}
	})
}

// forEachEngine runs fn as a parallel subtest on each engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, eng engine)) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			fn(t, eng)
		})
	}
}
