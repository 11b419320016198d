package hq

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBehindProxies(t *testing.T) {
	trusted, err := ParseTrustedProxies("127.0.0.1, 10.0.0.0/8, ::1")
	if err != nil {
		t.Fatal(err)
	}
	h := behindProxies(trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(ClientIP(r)))
	}))
	for _, c := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct client forging the header", "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"through the proxy", "127.0.0.1:40000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client forged a hop before the proxy", "127.0.0.1:40000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"two trusted proxies", "10.1.2.3:40000", []string{"198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"headers split over lines", "10.1.2.3:40000", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"IPv6 proxy and client", "[::1]:40000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"only trusted hops", "127.0.0.1:40000", []string{"10.0.0.1"}, "127.0.0.1"},
		{"no header", "127.0.0.1:40000", nil, "127.0.0.1"},
		{"malformed hop", "127.0.0.1:40000", []string{"198.51.100.7, not-an-ip"}, "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Body.String(); got != c.want {
				t.Errorf("client %q, want %q", got, c.want)
			}
		})
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "1.2.3"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
