package hq

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses a comma-separated list of the addresses or
// CIDR prefixes of the reverse proxies in front of HQ ("127.0.0.1,
// 10.0.0.0/8").
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an address or a CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// behindProxies replaces the request's RemoteAddr with the client's
// address from X-Forwarded-For when, and only when, the connection comes
// from a trusted proxy: the address taken is the right-most one that is
// not itself a trusted proxy, so a client cannot choose its address by
// sending the header itself. Rate limits and logs then see each client,
// not the proxy.
func behindProxies(trusted []netip.Prefix, next http.Handler) http.Handler {
	isTrusted := func(s string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil || !isTrusted(host) {
			next.ServeHTTP(w, r)
			return
		}
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			hop := strings.TrimSpace(hops[i])
			if isTrusted(hop) {
				continue
			}
			a, err := netip.ParseAddr(hop)
			if err != nil {
				break // a malformed hop: keep the proxy's own address
			}
			r2 := r.Clone(r.Context())
			r2.RemoteAddr = netip.AddrPortFrom(a.Unmap(), 0).String()
			next.ServeHTTP(w, r2)
			return
		}
		next.ServeHTTP(w, r)
	})
}
