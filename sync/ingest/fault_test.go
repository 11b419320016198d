package ingest_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab/sync/agent"
)

// fault is what the proxy does to one request.
type fault int

const (
	pass         fault = iota
	dropRequest        // the request never reaches HQ
	dropResponse       // HQ handles (and commits) it; the answer is lost
	duplicate          // HQ gets it twice; the kiosk sees the first answer
	delay              // it arrives late
	truncate           // the answer is cut off half way
	nFaults
)

var faultNames = [...]string{"pass", "drop request", "drop response", "duplicate", "delay", "truncate"}

// proxy forwards kiosk requests to HQ, injecting faults.
type proxy struct {
	target string
	mu     sync.Mutex
	rng    *rand.Rand
	rate   float64 // chance of a fault per request
	counts [nFaults]int
}

func (p *proxy) pick() fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := pass
	if p.rng.Float64() < p.rate {
		f = fault(1 + p.rng.IntN(int(nFaults)-1))
	}
	p.counts[f]++
	return f
}

func (p *proxy) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header = r.Header.Clone()
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f := p.pick()
	switch f {
	case dropRequest:
		panic(http.ErrAbortHandler)
	case delay:
		time.Sleep(time.Duration(20+rand.IntN(150)) * time.Millisecond)
	}
	res, rb, err := p.forward(r, body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	switch f {
	case dropResponse:
		panic(http.ErrAbortHandler)
	case duplicate:
		p.forward(r, body) // a replay: HQ refuses it, and must not be harmed
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	if f == truncate {
		w.WriteHeader(res.StatusCode)
		w.Write(rb[:len(rb)/2])
		panic(http.ErrAbortHandler)
	}
	w.WriteHeader(res.StatusCode)
	w.Write(rb)
}

// TestFaults pushes through a proxy that drops, duplicates, delays and
// truncates requests and answers, while the kiosk keeps appending: HQ ends
// with exactly the kiosk's log, every event once.
func TestFaults(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		p := &proxy{target: h.srv.URL, rng: rand.New(rand.NewPCG(1, 2))}
		srv := httptest.NewServer(p)
		defer srv.Close()
		k := MustKiosk(t, h, srv.URL, func(c *agent.Config) {
			c.BatchSize = 150
			c.Client = &http.Client{Timeout: 5 * time.Second}
		})
		p.mu.Lock()
		p.rate = 0.5
		p.mu.Unlock()
		for round := range 6 {
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
		p.mu.Lock()
		p.rate = 0
		for f, n := range p.counts {
			t.Logf("%s: %d", faultNames[f], n)
		}
		for f := dropRequest; f < nFaults; f++ {
			if p.counts[f] == 0 {
				t.Errorf("fault %q never happened", faultNames[f])
			}
		}
		p.mu.Unlock()
		_, err := k.a.Push(ctx)
		MustNoErr(t, err)
		MustSameHistory(t, h, k)
	})
}
