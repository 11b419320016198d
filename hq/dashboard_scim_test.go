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

var scimPageToken = regexp.MustCompile(`data-testid="token">(kcs_[^<]+)<`)

// The SCIM page over HTTP, on both engines: linked from Settings, an
// owner makes a token and sees it once with the base URL, the token
// works at /scim/v2/ and not on the API or as the dashboard's session;
// staff get 403; another organisation cannot revoke it; revoking it on
// the page refuses it; an empty name is refused on the form.
func TestDashboardSCIM(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newDashEnv(t, eng, nil, false)
			a, b := e.web(), e.web()
			a.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
			b.MustSignupWeb(t, "Bolt", "Bob", "bob@bolt.test")
			staff := e.MustJoinWeb(t, a, "staff@acme.test", keycab.RoleStaff)

			MustPage(t, a.get(t, "/settings"), 200, `href="/scim-tokens"`)
			MustPage(t, a.get(t, "/scim-tokens"), 200, "No SCIM tokens yet", e.auth.BaseURL()+"/scim/v2/")
			p := MustPage(t, a.post(t, "/scim-tokens", url.Values{"name": {"Okta"}}), 200, "SCIM token made", "Okta")
			m := scimPageToken.FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("no token on the page:\n%s", p.body)
			}
			c := &scimClient{e: e, token: html.UnescapeString(m[1])}
			if strings.Contains(a.get(t, "/scim-tokens").body, c.token) {
				t.Fatal("the token is shown again")
			}
			c.call(t, "GET", "Users", nil, 200)
			MustStatus(t, e.do(t, "GET", "/v1/members", c.token, nil), 401)
			req, _ := http.NewRequest("GET", e.srv.URL+"/people", nil)
			req.AddCookie(&http.Cookie{Name: "__Host-keycab_session", Value: c.token})
			res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			MustNoErr(t, err)
			res.Body.Close()
			if res.StatusCode == 200 {
				t.Fatal("the dashboard took a SCIM token as its session")
			}
			if strings.Contains(a.get(t, "/api-keys").body, "Okta") {
				t.Fatal("the API keys page lists a SCIM token")
			}

			MustPage(t, a.post(t, "/scim-tokens", url.Values{"name": {""}}), 400, "name")
			MustPage(t, staff.get(t, "/scim-tokens"), 403)
			MustPage(t, staff.post(t, "/scim-tokens", url.Values{"name": {"mine"}}), 403)

			id := regexp.MustCompile(`data-token="(scim_[a-z0-9]+)"`).FindStringSubmatch(a.get(t, "/scim-tokens").body)[1]
			MustPage(t, b.post(t, "/scim-tokens/"+id+"/revoke", nil), 404)
			c.call(t, "GET", "Users", nil, 200)
			MustPage(t, a.post(t, "/scim-tokens/"+id+"/revoke", nil), http.StatusSeeOther)
			MustPage(t, a.get(t, "/scim-tokens?notice=scim-token-revoked"), 200, "SCIM token revoked", "Revoked")
			if r := c.raw(t, "GET", "Users", "", ""); r.status != 401 {
				t.Fatalf("revoked token: %d %s", r.status, r.raw)
			}
		})
	}
}
