package hq_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"keycab.dev/keycab"
)

var pageToken = regexp.MustCompile(`data-testid="token">(kck_[^<]+)<`)

// The API keys page over HTTP, on both engines: an owner makes a key and
// sees its token once, the token works on the API and not on the
// dashboard, revoking it on the page refuses it; staff get 403; another
// organisation cannot revoke it; a bad expiry or no scope is refused on
// the form.
func TestDashboardAPIKeys(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newDashEnv(t, eng, nil, false)
			a, b := e.web(), e.web()
			a.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
			b.MustSignupWeb(t, "Bolt", "Bob", "bob@bolt.test")
			staff := e.MustJoinWeb(t, a, "staff@acme.test", keycab.RoleStaff)

			MustPage(t, a.get(t, "/settings"), 200, `href="/api-keys"`)
			MustPage(t, a.get(t, "/api-keys"), 200, "No API keys yet", `value="history:read" checked`)
			p := MustPage(t, a.post(t, "/api-keys", url.Values{"name": {"Genetec"}, "scope": {"history:read", "custody:write"}, "expires": {"2099-12-31"}}),
				200, "API key made", "Genetec", "history:read, custody:write", "31 Dec 2099 23:59 UTC")
			m := pageToken.FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("no token on the page:\n%s", p.body)
			}
			token := html.UnescapeString(m[1])
			if strings.Contains(a.get(t, "/api-keys").body, token) {
				t.Fatal("the token is shown again")
			}
			MustStatus(t, e.do(t, "GET", "/v1/events", token, nil), 200)
			// Not a dashboard sign-in.
			req, _ := http.NewRequest("GET", e.srv.URL+"/keys", nil)
			req.AddCookie(&http.Cookie{Name: "__Host-keycab_session", Value: token})
			res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			MustNoErr(t, err)
			res.Body.Close()
			if res.StatusCode == 200 {
				t.Fatal("the dashboard took an API key as its session")
			}

			MustPage(t, a.post(t, "/api-keys", url.Values{"name": {"x"}, "scope": {"history:read"}, "expires": {"next year"}}), 400, "YYYY-MM-DD")
			MustPage(t, a.post(t, "/api-keys", url.Values{"name": {"x"}}), 400, "at least one scope")
			MustPage(t, staff.get(t, "/api-keys"), 403)
			MustPage(t, staff.post(t, "/api-keys", url.Values{"name": {"mine"}, "scope": {"history:read"}}), 403)

			id := regexp.MustCompile(`data-key="(apikey_[a-z0-9]+)"`).FindStringSubmatch(a.get(t, "/api-keys").body)[1]
			MustPage(t, b.post(t, "/api-keys/"+id+"/revoke", nil), 404)
			MustStatus(t, e.do(t, "GET", "/v1/events", token, nil), 200)
			MustPage(t, a.post(t, "/api-keys/"+id+"/revoke", nil), http.StatusSeeOther)
			MustPage(t, a.get(t, "/api-keys?notice=api-key-revoked"), 200, "API key revoked", "Revoked")
			MustStatus(t, e.do(t, "GET", "/v1/events", token, nil), 401)
		})
	}
}
