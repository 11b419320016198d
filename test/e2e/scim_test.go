package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

// TestSCIMDeactivate: HQ and a kiosk as separate processes, the kiosk
// kept running. An identity provider's SCIM client, with a SCIM token
// the owner made, finds a member by userName and deactivates them
// (PATCH active false): the running kiosk refuses their badge within
// liveWithin; HQ's admin log names the SCIM token.
func TestSCIMDeactivate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end test runs HQ and a kiosk")
	}
	engines(t, func(t *testing.T, dsn, appDSN string) {
		_, h, _, k, c := oneKiosk(t, dsn)
		k.reloads = strings.Count(k.p.errb.String(), "config reloaded")
		chloe := demoMembers(t, c)["Chloe"]
		const badge = "0A00B1C2D5"
		k.say(t, "badge "+badge, "take 1:")
		k.say(t, "cancel", "Cancelled")

		var tok struct{ ID, Token string }
		c.call(t, "POST", "/v1/scim-tokens", map[string]any{"name": "Okta"}, 201, &tok)
		idp := &scimClient{base: h.url() + "/scim/v2/", token: tok.Token}

		// The IdP links its user to the member by userName (the email of
		// a member SCIM never named), then deactivates them.
		var found struct {
			TotalResults int `json:"totalResults"`
			Resources    []struct {
				ID     string `json:"id"`
				Active bool   `json:"active"`
			} `json:"Resources"`
		}
		idp.call(t, "GET", "Users?filter="+url.QueryEscape(`userName eq "`+chloe.Email+`"`), "", 200, &found)
		if found.TotalResults != 1 || found.Resources[0].ID != chloe.ID || !found.Resources[0].Active {
			t.Fatalf("SCIM filter for %s: %+v", chloe.Email, found)
		}
		idp.call(t, "PATCH", "Users/"+chloe.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"active","value":false}]}`, 200, nil)
		k.refusedWithin(t, "badge "+badge, "Badge not recognised")

		var log struct {
			Actions []struct {
				ActorID string `json:"actor_id"`
				Action  string `json:"action"`
				Target  string `json:"target"`
			} `json:"actions"`
		}
		c.call(t, "GET", "/v1/admin-log", nil, 200, &log)
		disabled := false
		for _, a := range log.Actions {
			disabled = disabled || (a.Action == "member.disable" && a.Target == chloe.ID && a.ActorID == tok.ID)
		}
		if !disabled {
			t.Fatalf("no member.disable of %s by the SCIM token %s in the admin log: %+v", chloe.ID, tok.ID, log.Actions)
		}
		k.quit(t)
		h.p.stop(t, syscall.SIGTERM)
	})
}

// scimClient is an identity provider's SCIM client.
type scimClient struct{ base, token string }

func (c *scimClient) call(tb testing.TB, method, path, body string, want int, out any) {
	tb.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		tb.Fatalf("SCIM %s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("SCIM %s %s: %v: %s", method, path, err, b)
		}
	}
}
