package hq_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/sync/wire"
)

var wildcard = regexp.MustCompile(`\{([^}.]+)(\.\.\.)?\}`)

// routeCases are the requests to send to every registered pattern:
// method, path with each wildcard filled by fill, and the pattern's path.
func routeCases(patterns []string, fill string) [][3]string {
	var out [][3]string
	for _, p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		path = strings.TrimSuffix(path, "{$}")
		paths := []string{path}
		if path == wire.PathPrefix {
			// The kiosk API's own routes.
			paths = []string{wire.PathEnrol, wire.PathPush, wire.PathConfig, wire.PathHeartbeat}
		}
		methods := []string{method}
		if method == "" {
			methods = []string{"GET", "POST"}
		}
		for _, m := range methods {
			for _, p := range paths {
				out = append(out, [3]string{m, wildcard.ReplaceAllString(p, fill), p})
			}
		}
	}
	return out
}

// Text HQ cannot store (NUL, which PostgreSQL's text cannot hold, and
// invalid UTF-8) is refused with 400 on every route of HQ, on both
// engines, wherever it comes: in the path, in the query, in a JSON body,
// in a dashboard form. The routes are HQ's own table, so a new route is
// covered without changing the test. Nothing answers 5xx or logs an
// ERROR.
func TestInvalidTextRefused(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			var srv *hq.Server
			e := newEnv(t, eng, func(_ *auth.Config, s *hq.Server) { srv = s })
			patterns, err := srv.Patterns()
			MustNoErr(t, err)
			if len(patterns) < 100 {
				t.Fatalf("only %d patterns: %v", len(patterns), patterns)
			}
			// The API routes that read a JSON body, from the API's own
			// description.
			var api struct {
				Paths map[string]map[string]struct {
					RequestBody any `json:"requestBody"`
				} `json:"paths"`
			}
			MustNoErr(t, json.Unmarshal([]byte(MustStatus(t, e.do(t, "GET", "/openapi.json", "", nil), 200).raw), &api))
			withBody := map[string]bool{}
			for path, ops := range api.Paths {
				for method, op := range ops {
					if op.RequestBody != nil {
						withBody[strings.ToUpper(method)+" "+path] = true
					}
				}
			}
			if len(withBody) < 20 {
				t.Fatalf("only %d API routes with a body: %v", len(withBody), withBody)
			}
			w := e.MustWorld(t, "Acme")
			// A dashboard session for the form posts.
			dash := e.web()
			p := dash.post(t, "/login", url.Values{"email": {w.owner.email}, "password": {goodPassword}})
			if p.status != http.StatusSeeOther {
				t.Fatalf("dashboard sign-in: %d", p.status)
			}
			dash.get(t, "/settings")

			send := func(method, target, ctype string, body []byte, html bool) (int, string) {
				t.Helper()
				req, err := http.NewRequest(method, e.srv.URL+target, bytes.NewReader(body))
				MustNoErr(t, err)
				if ctype != "" {
					req.Header.Set("Content-Type", ctype)
				}
				req.Header.Set("Authorization", "Bearer "+w.owner.access)
				if html {
					req.Header.Set("Accept", "text/html")
					for name, v := range dash.cookies {
						req.AddCookie(&http.Cookie{Name: name, Value: v})
					}
				}
				res, err := http.DefaultTransport.RoundTrip(req)
				MustNoErr(t, err)
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(b)
			}
			want400 := func(what, method, target string, status int, body string) {
				t.Helper()
				if status != http.StatusBadRequest {
					t.Errorf("%s: %s %s: %d, want 400: %.200s", what, method, target, status, body)
				} else if !strings.Contains(body, "NUL") {
					t.Errorf("%s: %s %s: 400 for another reason: %.200s", what, method, target, body)
				}
			}
			for _, bad := range []string{"%00", "a%00b", "%FF", "a%C0%AFb"} {
				for _, c := range routeCases(patterns, "x") {
					method, path := c[0], c[1]
					for _, html := range []bool{false, true} {
						// In the path: every wildcard, or else appended.
						target := path + bad
						if wildcard.MatchString(c[1]) || strings.Contains(path, "/x") {
							target = strings.Replace(path, "/x", "/"+bad, 1)
						}
						if !strings.Contains(target, bad) {
							target = path + bad
						}
						status, body := send(method, target, "", nil, html)
						want400("path", method, target, status, body)
						// In the query, as a value and as a key.
						for _, q := range []string{"?q=" + bad, "?" + bad + "=1", "?site_id=" + bad + "&cursor=1"} {
							status, body := send(method, path+q, "", nil, html)
							want400("query", method, path+q, status, body)
						}
					}
				}
			}
			jsonRoutes, formRoutes := 0, 0
			for _, c := range routeCases(patterns, w.site.ID) {
				method, path := c[0], c[1]
				if method == "GET" || method == "DELETE" {
					continue
				}
				if strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, wire.PathPrefix) {
					if !withBody[method+" "+c[2]] {
						continue // the route reads no body
					}
					jsonRoutes++
					// A JSON body: the field names of the route's schema
					// do not matter, the text is refused before them.
					for _, body := range []string{`{"name":"a\u0000b"}`, `{"a\u0000":1}`, "{\"name\":\"a\xffb\"}", `["\u0000"]`, `{"x":{"y":["\\", "\u0000"]}}`} {
						status, resp := send(method, path, "application/json", []byte(body), false)
						want400("JSON body "+body, method, path, status, resp)
					}
					continue
				}
				if strings.HasPrefix(path, wire.PathPrefix) {
					continue // the kiosk API's bodies: hq/kioskapi's TestInvalidText
				}
				// A dashboard form, URL-encoded and multipart.
				formRoutes++
				for _, bad := range []string{"a%00b", "%FF"} {
					form := "csrf=" + url.QueryEscape(dash.csrf) + "&name=" + bad
					status, resp := send(method, path, "application/x-www-form-urlencoded", []byte(form), true)
					want400("form", method, path, status, resp)
					form = "csrf=" + url.QueryEscape(dash.csrf) + "&" + bad + "=1"
					status, resp = send(method, path, "application/x-www-form-urlencoded", []byte(form), true)
					want400("form key", method, path, status, resp)
				}
				mp := "--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + dash.csrf + "\r\n--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\na\x00b\r\n--b--\r\n"
				status, resp := send(method, path, "multipart/form-data; boundary=b", []byte(mp), true)
				want400("multipart form", method, path, status, resp)
			}
			if jsonRoutes != len(withBody) || formRoutes < 30 {
				t.Errorf("sent bodies to %d of the %d API routes that read one, forms to %d dashboard routes", jsonRoutes, len(withBody), formRoutes)
			}
			// Ordinary text still goes through: the same pages and
			// resources with good values.
			MustStatus(t, e.do(t, "GET", "/v1/sites/"+w.site.ID, w.owner.access, nil), 200)
			MustStatus(t, e.do(t, "GET", "/v1/cabinets?site_id="+url.QueryEscape(w.site.ID), w.owner.access, nil), 200)
			MustStatus(t, e.do(t, "POST", "/v1/sites", w.owner.access, map[string]string{"name": "Café «Zürich» 東京", "time_zone": "UTC"}), 201)
			MustPage(t, dash.post(t, "/sites/new", url.Values{"name": {"Ünïcode site"}, "time_zone": {"UTC"}}), http.StatusSeeOther)
			for _, line := range strings.Split(e.logText(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) {
					t.Errorf("logged: %s", line)
				}
			}
		})
	}
}
