package kioskapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"keycab.dev/keycab/hq/kioskapi"
	"keycab.dev/keycab/sync/wire"
)

// TestChangeWakesLongPoll: a change a member makes at HQ (store.OnChange,
// as keycab-hq wires it) wakes the long poll a kiosk has parked, so the
// new bundle comes at once and not at the edge's next poll (an hour
// here): the pull comes back with the bundle long before its wait ends.
func TestChangeWakesLongPoll(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		slow := must[*kioskapi.Handler](t)(kioskapi.New(kioskapi.Config{Store: h.s, Cosigner: h.cosign, ConfigSigner: h.cfgSign,
			OriginPrefix: "hq.test/kiosk/", PollInterval: time.Hour}))
		h.s.OnChange(slow.ConfigChanged)
		parked := make(chan struct{}, 1)
		real := httptest.NewServer(slow)
		defer real.Close()
		u, _ := url.Parse(real.URL)
		proxy := httputil.NewSingleHostReverseProxy(u)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == wire.PathConfig && r.URL.Query().Get("wait") != "0" {
				parked <- struct{}{}
			}
			proxy.ServeHTTP(w, r)
		}))
		defer srv.Close()
		k := MustKiosk(t, h, srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))

		got := make(chan error, 1)
		applied := make(chan bool, 1)
		// The poll may wait 50 s at HQ; the kiosk gives up after 15 s, a
		// bound the wake-up meets by far and the hourly poll never does.
		pollCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		go func() {
			ok, err := k.a.PullConfig(pollCtx, 50*time.Second)
			applied <- ok
			got <- err
		}()
		<-parked
		time.Sleep(300 * time.Millisecond) // let the edge park it (if not, the pull still finds the change)
		MustNoErr(t, h.s.RevokeBadge(ctx, h.own(), h.staff.ID, h.badge.Hash))
		if !<-applied {
			t.Fatal("the long poll ended without the new bundle: the change did not wake it")
		}
		MustNoErr(t, <-got)
		if m, err := k.db.MemberByBadge(ctx, badgeCode); err == nil && m != nil {
			t.Fatalf("the revoked badge still opens for %s", m.ID)
		}
	})
}
