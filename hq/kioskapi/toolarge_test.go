package kioskapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/sync/wire"
)

// TestBundleTooLarge: an answer to a config pull larger than
// wire.MaxBody (a bundle too large, or a hostile middlebox streaming
// bytes) is refused whole with ETOOLARGE: the kiosk keeps the config it
// runs and parses nothing of the answer; the next good bundle applies.
func TestBundleTooLarge(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		real, _ := url.Parse(h.srv.URL)
		proxy := httputil.NewSingleHostReverseProxy(real)
		var huge atomic.Bool
		huge.Store(true)
		mitm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if huge.Load() && r.URL.Path == wire.PathConfig {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"v":3,"bundle":"`))
				chunk := []byte(strings.Repeat("A", 1<<20))
				for range wire.MaxBody>>20 + 1 {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
				w.Write([]byte(`"}`))
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		defer mitm.Close()
		k := MustKiosk(t, h, mitm.URL)
		before := must[int64](t)(k.db.ConfigVersion(ctx))
		_, err := k.a.PullConfig(ctx, 0)
		if keycab.ErrorCode(err) != keycab.ETOOLARGE || !strings.Contains(err.Error(), "larger than 32 MiB") {
			t.Fatalf("an oversized answer: %v", err)
		}
		if v := must[int64](t)(k.db.ConfigVersion(ctx)); v != before {
			t.Fatalf("config version %d after the oversized answer, want %d", v, before)
		}
		huge.Store(false)
		if applied := must[bool](t)(k.a.PullConfig(ctx, 0)); !applied {
			t.Fatal("the good bundle after it was not applied")
		}
	})
}
