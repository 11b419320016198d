package hqload

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

// historyCase is one filtered read of the history page.
type historyCase struct {
	name string
	as   func(i int) store.Scope
	f    func(i int) store.EventFilter
	page int // 1 for the first page; more walks the cursor first
}

func historyCases(o Org, now time.Time) []historyCase {
	own := func(int) store.Scope { return store.MemberScope(o.ID, o.Owner) }
	var keySets []string
	for _, s := range o.Sites {
		keySets = append(keySets, o.KeySets[s.ID]...)
	}
	kinds := []keycab.EventKind{keycab.EventKeyTaken, keycab.EventDoorOpened, keycab.EventIdentifyFail, keycab.EventAlarmRaised}
	day := func(i int) time.Time {
		return now.Add(-time.Duration((i*7919)%700) * 24 * time.Hour).Truncate(24 * time.Hour)
	}
	site := func(i int) string { return o.Sites[i%len(o.Sites)].ID }
	// members[0] is the site manager; the others are staff.
	member := func(i int) string { return o.Members[1+(i*31)%(len(o.Members)-1)].ID }
	return []historyCase{
		{"no filter", own, func(int) store.EventFilter { return store.EventFilter{} }, 1},
		{"site (each of 20, busy to sparse)", own, func(i int) store.EventFilter { return store.EventFilter{SiteID: site(i)} }, 1},
		{"key set", own, func(i int) store.EventFilter { return store.EventFilter{KeySetID: keySets[(i*7)%len(keySets)]} }, 1},
		{"member", own, func(i int) store.EventFilter { return store.EventFilter{ActorID: member(i)} }, 1},
		{"kind (taken, door, failed, alarm)", own, func(i int) store.EventFilter { return store.EventFilter{Kind: kinds[i%len(kinds)]} }, 1},
		{"one day", own, func(i int) store.EventFilter {
			return store.EventFilter{Since: day(i), Until: day(i).Add(24 * time.Hour)}
		}, 1},
		{"site + kind + 30 days", own, func(i int) store.EventFilter {
			return store.EventFilter{SiteID: site(i), Kind: kinds[i%2], Since: day(i).Add(-29 * 24 * time.Hour), Until: day(i).Add(24 * time.Hour)}
		}, 1},
		{"member + 30 days", own, func(i int) store.EventFilter {
			return store.EventFilter{ActorID: member(i), Since: day(i).Add(-29 * 24 * time.Hour), Until: day(i).Add(24 * time.Hour)}
		}, 1},
		{"key set, page 2", own, func(i int) store.EventFilter { return store.EventFilter{KeySetID: keySets[(i*7)%len(keySets)]} }, 2},
		{"no filter, page 10", own, func(int) store.EventFilter { return store.EventFilter{} }, 10},
		{"site manager (2 sites + own)", func(int) store.Scope { return store.MemberScope(o.ID, o.Members[0].ID) },
			func(int) store.EventFilter { return store.EventFilter{} }, 1},
		{"staff (own only)", func(i int) store.Scope { return store.MemberScope(o.ID, member(i)) },
			func(int) store.EventFilter { return store.EventFilter{} }, 1},
	}
}

// percentiles returns p50 and p95 of ds (sorted in place).
func percentiles(ds []time.Duration) (p50, p95 time.Duration) {
	slices.Sort(ds)
	return ds[len(ds)*50/100], ds[min(len(ds)-1, len(ds)*95/100)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// Measure reads the history page of the first organisation per filter
// through the store, prints each filter's plan, and then, when
// cfg.Handler is set, measures the same through HTTP and the dashboard's
// pages under load.
func (b *Bench) Measure(ctx context.Context, cfg Config, out io.Writer) error {
	if cfg.Samples < 1 || (cfg.Handler != nil && cfg.HTTPSamples < 1) {
		return errors.New("measure: needs at least one sample per filter")
	}
	st, o := b.Store, b.Orgs[0]
	now := time.Now()
	cases := historyCases(o, now)
	fmt.Fprintf(out, "\nhistory through the store (%s, %d events, org of %d sites, %d samples, page of %d)\n", st.Engine(), b.Events, len(o.Sites), cfg.Samples, pageSize)
	fmt.Fprintf(out, "| filter | p50 ms | p95 ms | max ms | rows/page |\n|---|---|---|---|---|\n")
	for _, c := range cases {
		var ds []time.Duration
		rows := 0
		for i := range cfg.Samples {
			f := c.f(i)
			f.Limit = pageSize
			for range c.page - 1 {
				page, err := st.ListEvents(ctx, c.as(i), f)
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				if len(page) == 0 {
					break
				}
				f.Before = &page[len(page)-1]
			}
			start := time.Now()
			page, err := st.ListEvents(ctx, c.as(i), f)
			ds = append(ds, time.Since(start))
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			rows += len(page)
		}
		p50, p95 := percentiles(ds)
		fmt.Fprintf(out, "| %s | %s | %s | %s | %d |\n", c.name, ms(p50), ms(p95), ms(ds[len(ds)-1]), rows/cfg.Samples)
	}
	fmt.Fprintf(out, "\nplans (first sample of each filter)\n")
	for _, c := range cases {
		plan, err := st.ExplainEvents(ctx, c.as(0), c.f(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "- %s:\n    %s\n", c.name, strings.ReplaceAll(plan, "\n", "\n    "))
	}
	if cfg.Handler == nil {
		return nil
	}
	return measureHTTP(ctx, cfg, st, b.Auth, o, cases, out)
}

// measureHTTP serves the dashboard on loopback, signs the organisation's
// owner in and measures GET /history per filter, then the load.
func measureHTTP(ctx context.Context, cfg Config, st *store.Store, a *auth.Service, o Org, cases []historyCase, out io.Writer) error {
	h, err := cfg.Handler(st, a)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	res, err := a.Login(ctx, Email(0), Password, o.ID, "127.0.0.1")
	if err != nil {
		return err
	}
	if res.Tokens == nil {
		return errors.New("bench owner login asked for MFA")
	}
	if cfg.CPUProfile != "" {
		pf, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	base := "http://" + ln.Addr().String()
	cookie := (&http.Cookie{Name: "__Host-keycab_session", Value: res.Tokens.AccessToken}).String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Conns}, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (string, int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return "", 0, err
		}
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Accept", "text/html")
		resp, err := client.Do(req)
		if err != nil {
			return "", 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), resp.StatusCode, err
	}
	fmt.Fprintf(out, "\nhistory through HTTP (GET /history signed in, loopback, %d samples)\n", cfg.HTTPSamples)
	fmt.Fprintf(out, "| filter | p50 ms | p95 ms | max ms | errors |\n|---|---|---|---|---|\n")
	for _, c := range cases {
		if c.name == "site manager (2 sites + own)" || c.name == "staff (own only)" {
			continue // another session; the store figures cover the scope
		}
		var ds []time.Duration
		errs := 0
		for i := range cfg.HTTPSamples {
			path := historyPath(c.f(i))
			for range c.page - 1 {
				body, code, err := get(path)
				if err != nil || code != http.StatusOK {
					errs++
					break
				}
				m := nextLink.FindStringSubmatch(body)
				if m == nil {
					break
				}
				path = html.UnescapeString(m[1])
			}
			start := time.Now()
			_, code, err := get(path)
			ds = append(ds, time.Since(start))
			if err != nil || code != http.StatusOK {
				errs++
			}
		}
		p50, p95 := percentiles(ds)
		fmt.Fprintf(out, "| %s | %s | %s | %s | %d |\n", c.name, ms(p50), ms(p95), ms(ds[len(ds)-1]), errs)
	}
	if cfg.Load <= 0 {
		return nil
	}
	from := time.Now().Add(-30 * 24 * time.Hour).Format("2006-01-02")
	pages := []string{"/", "/overdue", "/history?kind=key.taken&from=" + from, "/history?site=" + o.Sites[1].ID, "/alarms", "/kiosks"}
	fmt.Fprintf(out, "\ndashboard under load (%d connections, %s a page, load generator in the same process)\n", cfg.Conns, cfg.Load)
	fmt.Fprintf(out, "| page | requests/s | p50 ms | p95 ms | requests | errors |\n|---|---|---|---|---|---|\n")
	for _, p := range pages {
		var n, errs atomic.Int64
		var mu sync.Mutex
		var ds []time.Duration
		lctx, cancel := context.WithTimeout(ctx, cfg.Load)
		var wg sync.WaitGroup
		start := time.Now()
		for range cfg.Conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for lctx.Err() == nil {
					t0 := time.Now()
					_, code, err := get(p)
					if lctx.Err() != nil && err != nil {
						break
					}
					mine = append(mine, time.Since(t0))
					n.Add(1)
					if err != nil || code != http.StatusOK {
						errs.Add(1)
					}
				}
				mu.Lock()
				ds = append(ds, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		cancel()
		el := time.Since(start)
		if len(ds) == 0 {
			return fmt.Errorf("load on %s: no request finished", p)
		}
		p50, p95 := percentiles(ds)
		fmt.Fprintf(out, "| %s | %.0f | %s | %s | %d | %d |\n", strings.Replace(p, o.Sites[1].ID, "SITE", 1), float64(n.Load())/el.Seconds(), ms(p50), ms(p95), n.Load(), errs.Load())
	}
	return nil
}

var nextLink = regexp.MustCompile(`href="(/history\?[^"]*c=[^"]*)"[^>]*>\s*(?:Next|Older)`)

// historyPath is the dashboard's history URL for f.
func historyPath(f store.EventFilter) string {
	v := url.Values{}
	for k, x := range map[string]string{"site": f.SiteID, "key_set": f.KeySetID, "member": f.ActorID, "kind": string(f.Kind)} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if !f.Since.IsZero() {
		v.Set("from", f.Since.UTC().Format("2006-01-02"))
	}
	if !f.Until.IsZero() {
		v.Set("to", f.Until.Add(-time.Nanosecond).UTC().Format("2006-01-02"))
	}
	if len(v) == 0 {
		return "/history"
	}
	return "/history?" + v.Encode()
}
