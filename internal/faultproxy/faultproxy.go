// Package faultproxy is an HTTP proxy that tests put between a kiosk and
// HQ to inject network faults: requests dropped or cut short, answers
// dropped after HQ committed or cut short, requests duplicated and
// delayed. Faults are drawn from a seeded generator at a rate the test
// sets, and a test can hold one request in flight (before HQ sees it, or
// after HQ answered) while it kills or restarts a process, then decide
// what becomes of it. It is used by the in-process fault test of
// hq/kioskapi and the multi-process test of test/e2e.
package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Fault is what the proxy does to one request.
type Fault int

const (
	Pass             Fault = iota
	DropRequest            // the request never reaches HQ
	TruncateRequest        // HQ gets half the body, then the connection breaks
	DropResponse           // HQ handles (and commits) it; the answer is lost
	Duplicate              // HQ gets it twice; the kiosk sees the first answer
	Delay                  // it arrives late
	TruncateResponse       // the answer is cut off half way
	NFaults
)

var names = [...]string{"pass", "drop request", "truncate request", "drop response", "duplicate", "delay", "truncate response"}

func (f Fault) String() string {
	if f < 0 || f >= NFaults {
		return "fault?"
	}
	return names[f]
}

// Stage is where a held request waits.
type Stage int

const (
	BeforeHQ Stage = iota // received from the kiosk, not yet forwarded
	AfterHQ               // HQ answered; the answer not yet passed on
)

// Held is a request the proxy holds for the test. Status is HQ's answer
// when held AfterHQ (0 if HQ could not be reached).
type Held struct {
	Status  int
	release chan Fault
	done    chan int
}

// Release lets the held request go on with fault f (Pass, DropRequest or
// DropResponse are the ones that make sense) and returns HQ's status once
// the proxy is done with it: 0 when HQ was not reached or not asked.
func (h *Held) Release(f Fault) int {
	h.release <- f
	return <-h.done
}

// Abandon lets the held request go, dropped, unless it was released
// already: a test registers it as a cleanup, so that a test that failed
// while holding a request does not leave the proxy (and the server's
// Close) waiting for ever.
func (h *Held) Abandon() {
	select {
	case h.release <- DropRequest:
	default:
	}
}

type hold struct {
	path  string
	stage Stage
	ch    chan *Held
}

// Proxy forwards requests to a target URL, injecting faults.
type Proxy struct {
	target string
	client *http.Client

	mu     sync.Mutex
	rng    *rand.Rand
	rate   float64
	counts [NFaults]int
	holds  []hold
}

var _ http.Handler = (*Proxy)(nil)

// New returns a proxy to target (a base URL) that injects no faults until
// SetRate; seed makes the faults it picks repeatable.
func New(target string, seed uint64) *Proxy {
	return &Proxy{
		target: target,
		client: &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}},
		rng:    rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)),
	}
}

// SetRate sets the chance that a request suffers a fault (each fault
// equally likely).
func (p *Proxy) SetRate(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = rate
}

// Counts returns how many requests met each fault so far.
func (p *Proxy) Counts() [NFaults]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// Hold arranges for the next request to path to be held at stage; the
// channel delivers it when it arrives there. Held requests suffer no
// random fault.
func (p *Proxy) Hold(path string, stage Stage) <-chan *Held {
	ch := make(chan *Held, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holds = append(p.holds, hold{path: path, stage: stage, ch: ch})
	return ch
}

// pick decides the fate of a request to path.
func (p *Proxy) pick(path string) (Fault, *hold) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, h := range p.holds {
		if h.path == path {
			p.holds = append(p.holds[:i:i], p.holds[i+1:]...)
			return Pass, &h
		}
	}
	f := Pass
	if p.rng.Float64() < p.rate {
		f = Fault(1 + p.rng.IntN(int(NFaults)-1))
	}
	p.counts[f]++
	return f, nil
}

// wait delivers a held request to the test and returns the test's choice.
func (h *hold) wait(status int) (*Held, Fault) {
	held := &Held{Status: status, release: make(chan Fault, 1), done: make(chan int, 1)}
	h.ch <- held
	return held, <-held.release
}

// errCut breaks a request body half way.
var errCut = errors.New("faultproxy: request cut short")

type cutReader struct{ r io.Reader }

func (c cutReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err == io.EOF {
		return n, errCut
	}
	return n, err
}

// forward sends the request to the target and reads the whole answer.
func (p *Proxy) forward(ctx context.Context, r *http.Request, body []byte, cut bool) (*http.Response, []byte, error) {
	var rd io.Reader = bytes.NewReader(body)
	if cut {
		rd = cutReader{bytes.NewReader(body[:len(body)/2])}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, p.target+r.URL.RequestURI(), rd)
	if err != nil {
		return nil, nil, err
	}
	req.ContentLength = int64(len(body))
	req.Header = r.Header.Clone()
	res, err := p.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	// The request goes on to HQ even if the kiosk hangs up (or is
	// killed) meanwhile: that is the point of holding it.
	ctx := context.WithoutCancel(r.Context())
	f, h := p.pick(r.URL.Path)
	var held *Held
	if h != nil && h.stage == BeforeHQ {
		held, f = h.wait(0)
	}
	status := 0
	defer func() {
		if held != nil {
			held.done <- status
		}
	}()
	switch f {
	case DropRequest:
		panic(http.ErrAbortHandler)
	case TruncateRequest:
		p.forward(ctx, r, body, true)
		panic(http.ErrAbortHandler)
	case Delay:
		time.Sleep(time.Duration(20+rand.IntN(150)) * time.Millisecond)
	}
	res, rb, err := p.forward(ctx, r, body, false)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	status = res.StatusCode
	if h != nil && h.stage == AfterHQ {
		held, f = h.wait(status)
	}
	switch f {
	case DropResponse:
		panic(http.ErrAbortHandler)
	case Duplicate:
		p.forward(ctx, r, body, false) // a replay: HQ refuses it, and must not be harmed
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	if f == TruncateResponse {
		w.Write(rb[:len(rb)/2])
		panic(http.ErrAbortHandler)
	}
	w.Write(rb)
}
