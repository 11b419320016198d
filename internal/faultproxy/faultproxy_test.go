package faultproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"keycab.dev/keycab/internal/faultproxy"
)

// backend counts the requests that reach it whole, and those cut short.
type backend struct{ whole, cut atomic.Int64 }

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || int64(len(body)) != r.ContentLength {
		b.cut.Add(1)
		http.Error(w, "cut short", http.StatusBadRequest)
		return
	}
	b.whole.Add(1)
	io.WriteString(w, "committed "+string(body))
}

func mustServers(t *testing.T) (*backend, *faultproxy.Proxy, string) {
	t.Helper()
	b := &backend{}
	hq := httptest.NewServer(b)
	t.Cleanup(hq.Close)
	p := faultproxy.New(hq.URL, 1)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return b, p, srv.URL
}

func post(url, body string) (string, error) {
	res, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

// TestFaults checks what each fault does to the request and its answer,
// as the backend and the client see them.
func TestFaults(t *testing.T) {
	b, p, url := mustServers(t)
	p.SetRate(1)
	const n = 300
	var ok int
	for range n {
		if got, err := post(url+"/x", "abc"); err == nil {
			if got != "committed abc" {
				t.Fatalf("answer %q passed on whole", got)
			}
			ok++
		}
	}
	c := p.Counts()
	if c[faultproxy.Pass] != 0 {
		t.Fatalf("rate 1 let %d requests pass untouched", c[faultproxy.Pass])
	}
	for f := faultproxy.DropRequest; f < faultproxy.NFaults; f++ {
		if c[f] == 0 {
			t.Errorf("%s never happened in %d requests", f, n)
		}
	}
	// The client gets an answer only when it was delayed or duplicated.
	if want := c[faultproxy.Delay] + c[faultproxy.Duplicate]; ok != want {
		t.Errorf("%d answers reached the client, want %d (delayed and duplicated)", ok, want)
	}
	// HQ sees every request but the dropped and cut ones, a duplicated
	// one twice.
	if want := int64(c[faultproxy.DropResponse] + 2*c[faultproxy.Duplicate] + c[faultproxy.Delay] + c[faultproxy.TruncateResponse]); b.whole.Load() != want {
		t.Errorf("HQ got %d whole requests, want %d", b.whole.Load(), want)
	}
	if b.cut.Load() > int64(c[faultproxy.TruncateRequest]) {
		t.Errorf("HQ got %d cut requests, more than the %d cut", b.cut.Load(), c[faultproxy.TruncateRequest])
	}
}

// TestHold holds a request before HQ and another after HQ answered.
func TestHold(t *testing.T) {
	b, p, url := mustServers(t)
	p.SetRate(1) // held requests suffer no random fault
	ch := p.Hold("/push", faultproxy.BeforeHQ)
	done := make(chan error, 1)
	go func() { _, err := post(url+"/push", "one"); done <- err }()
	h := <-ch
	if b.whole.Load() != 0 {
		t.Fatal("a request held before HQ reached it")
	}
	if st := h.Release(faultproxy.Pass); st != http.StatusOK {
		t.Fatalf("released request: HQ answered %d", st)
	}
	if err := <-done; err != nil {
		t.Fatalf("released request: %v", err)
	}

	ch = p.Hold("/push", faultproxy.AfterHQ)
	go func() { _, err := post(url+"/push", "two"); done <- err }()
	h = <-ch
	if h.Status != http.StatusOK || b.whole.Load() != 2 {
		t.Fatalf("held after HQ: status %d, HQ saw %d requests", h.Status, b.whole.Load())
	}
	h.Release(faultproxy.DropResponse)
	if err := <-done; err == nil {
		t.Fatal("the answer of a request held and dropped after HQ reached the client")
	}
}
