package kioskapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/kioskapi"
	hqstore "keycab.dev/keycab/hq/store"
)

// TestOriginPrefix: an origin domain is a schema-less URL prefix the
// operator controls; anything else is refused.
func TestOriginPrefix(t *testing.T) {
	for _, good := range []string{"keycab.dev", "keys.example.com", "example.com/logs", "hq.example.com:8443/a/b"} {
		if p, err := kioskapi.OriginPrefix(good); err != nil || p != good+"/kiosk/" {
			t.Errorf("OriginPrefix(%q) = %q, %v", good, p, err)
		}
	}
	for _, bad := range []string{"", "https://keys.example.com", "keys.example.com/", "Keys.Example.com", "keys example.com", "keys+x.com", "-x.com", "x..com", "x.com//a"} {
		if _, err := kioskapi.OriginPrefix(bad); keycab.ErrorCode(err) != keycab.EINVALID {
			t.Errorf("OriginPrefix(%q): %v, want EINVALID", bad, err)
		}
	}
}

// TestOriginDomainChange: after the operator names another origin domain,
// kiosks enrolled from then on get origins under it, and a kiosk enrolled
// before keeps its origin (its signed checkpoints name it) and goes on
// syncing.
func TestOriginDomainChange(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		// One address; HQ is restarted with the flag between enrolments.
		var current atomic.Pointer[kioskapi.Handler]
		current.Store(h.h)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { current.Load().ServeHTTP(w, r) }))
		t.Cleanup(srv.Close)
		old := MustKiosk(t, h, srv.URL)
		MustAppend(t, old.db, h, 3, "before")
		must[int64](t)(old.a.Push(ctx))
		if old.peer.Origin != "hq.test/kiosk/"+old.peer.KioskID {
			t.Fatalf("origin %q", old.peer.Origin)
		}

		prefix := must[string](t)(kioskapi.OriginPrefix("keys.example.com"))
		h.h = must[*kioskapi.Handler](t)(kioskapi.New(kioskapi.Config{Store: h.s, Cosigner: h.cosign, ConfigSigner: h.cfgSign,
			OriginPrefix: prefix, PollInterval: 200 * time.Millisecond}))
		current.Store(h.h)

		knew := MustKiosk(t, h, srv.URL)
		if want := "keys.example.com/kiosk/" + knew.peer.KioskID; knew.peer.Origin != want {
			t.Fatalf("new kiosk's origin %q, want %q", knew.peer.Origin, want)
		}
		MustAppend(t, knew.db, h, 2, "new")
		must[int64](t)(knew.a.Push(ctx))
		MustSameHistory(t, h, knew)

		// The old kiosk keeps its origin and goes on syncing.
		MustAppend(t, old.db, h, 2, "after")
		must[int64](t)(old.a.Push(ctx))
		MustSameHistory(t, h, old)
		kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), old.peer.KioskID))
		if kl.Origin != old.peer.Origin || !strings.HasPrefix(kl.Origin, "hq.test/kiosk/") {
			t.Fatalf("the old log's origin became %q", kl.Origin)
		}
	})
}
