package hq_test

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"keycab.dev/keycab/hq/store"
)

const (
	scimUser  = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimGroup = "urn:ietf:params:scim:schemas:core:2.0:Group"
	scimPatch = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimError = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// scimClient is an identity provider's SCIM client: it speaks SCIM over
// HTTP to HQ's /scim/v2/ with a bearer token, as Okta or Entra ID do.
type scimClient struct {
	e     *env
	token string
}

// mustSCIMToken makes a SCIM token of u's organisation.
func (e *env) mustSCIMToken(t *testing.T, u *user, name string) (id string, c *scimClient) {
	t.Helper()
	r := MustStatus(t, e.do(t, "POST", "/v1/scim-tokens", u.access, map[string]any{"name": name}), 201)
	if !strings.HasPrefix(r.str("token"), "kcs_"+u.orgID+"."+r.str("id")+".") || !strings.HasSuffix(r.str("base_url"), "/scim/v2/") {
		t.Fatalf("SCIM token: %s", r.raw)
	}
	return r.str("id"), &scimClient{e: e, token: r.str("token")}
}

// raw sends body as it is with content type ct.
func (c *scimClient) raw(t *testing.T, method, path, ct, body string) resp {
	t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+"/scim/v2/"+path, strings.NewReader(body))
	MustNoErr(t, err)
	if body != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/scim+json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	MustNoErr(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	MustNoErr(t, err)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(b)}
	if res.StatusCode == http.StatusNoContent {
		return r
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/scim+json" {
		t.Fatalf("%s %s: content type %q: %s", method, path, res.Header.Get("Content-Type"), b)
	}
	if err := json.Unmarshal(b, &r.body); err != nil {
		t.Fatalf("%s %s: bad JSON %q", method, path, b)
	}
	if res.StatusCode >= 400 {
		if s, _ := r.body["schemas"].([]any); len(s) != 1 || s[0] != scimError || r.str("status") != strconv.Itoa(res.StatusCode) {
			t.Fatalf("%s %s: not a SCIM error: %s", method, path, b)
		}
	}
	return r
}

func (c *scimClient) call(t *testing.T, method, path string, body any, want int) resp {
	t.Helper()
	var s string
	if body != nil {
		b, err := json.Marshal(body)
		MustNoErr(t, err)
		s = string(b)
	}
	r := c.raw(t, method, path, "application/scim+json", s)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

// list GETs path with query q and returns the resources.
func (c *scimClient) list(t *testing.T, path string, q url.Values) (resp, []map[string]any) {
	t.Helper()
	r := c.call(t, "GET", path+"?"+q.Encode(), nil, 200)
	var out []map[string]any
	for _, v := range r.body["Resources"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return r, out
}

func patchOp(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{scimPatch}, "Operations": ops}
}

func scimType(r resp) string { return r.str("scimType") }

// TestSCIMProvisioning is an identity provider's SCIM client against
// HQ over HTTP, on both engines: discovery, create, get, filter and
// pagination, PATCH and PUT, groups and their membership, deactivate
// (the member disabled at HQ and out of the kiosks' bundles), delete;
// all of it in the admin log under the SCIM token; another
// organisation's token sees and changes nothing (the same 404 as a
// missing id), a revoked token is refused, neither sessions nor API
// keys are taken and a SCIM token is no API key.
func TestSCIMProvisioning(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		acme, other := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		admin := e.MustJoin(t, acme.owner, "admin@acme.test", "admin")
		tokID, c := e.mustSCIMToken(t, acme.owner, "Okta")
		_, otherC := e.mustSCIMToken(t, other.owner, "Entra")
		adminTokID, _ := e.mustSCIMToken(t, admin, "spare")
		MustStatus(t, e.do(t, "POST", "/v1/scim-tokens", acme.staff.access, map[string]any{"name": "mine"}), 403)
		MustStatus(t, e.do(t, "POST", "/v1/scim-tokens", acme.owner.access, map[string]any{"name": ""}), 400)

		// Neither a session nor an API key is a SCIM token, nor a SCIM
		// token an API key; the API key list has none.
		_, key := e.mustKey(t, acme.owner, "HR feed", "people:write")
		for _, tok := range []string{acme.owner.access, key, "", "kcs_" + acme.owner.orgID + ".nope.nope", "Basic x"} {
			if r := (&scimClient{e: e, token: tok}).raw(t, "GET", "Users", "", ""); r.status != 401 {
				t.Fatalf("token %q: %d %s", tok, r.status, r.raw)
			}
		}
		MustStatus(t, e.do(t, "GET", "/v1/members", c.token, nil), 401)
		keys := MustStatus(t, e.do(t, "GET", "/v1/api-keys", acme.owner.access, nil), 200)
		if strings.Contains(keys.raw, tokID) {
			t.Fatalf("the API key list holds a SCIM token: %s", keys.raw)
		}
		MustStatus(t, e.do(t, "POST", "/v1/api-keys/"+tokID+"/revoke", acme.owner.access, nil), 404)
		MustStatus(t, e.do(t, "GET", "/v1/scim-tokens", key, nil), 403)

		// Discovery.
		spc := c.call(t, "GET", "ServiceProviderConfig", nil, 200)
		if p, _ := spc.body["patch"].(map[string]any); p["supported"] != true {
			t.Fatalf("ServiceProviderConfig: %s", spc.raw)
		}
		if rt := c.call(t, "GET", "ResourceTypes", nil, 200); rt.body["totalResults"] != 2.0 {
			t.Fatalf("ResourceTypes: %s", rt.raw)
		}
		c.call(t, "GET", "ResourceTypes/User", nil, 200)
		if s := c.call(t, "GET", "Schemas", nil, 200); s.body["totalResults"] != 2.0 {
			t.Fatalf("Schemas: %s", s.raw)
		}
		c.call(t, "GET", "Schemas/"+scimGroup, nil, 200)

		// Create and get.
		ada := c.call(t, "POST", "Users", map[string]any{"schemas": []string{scimUser}, "userName": "Ada@Acme.test", "externalId": "okta-1",
			"name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"}, "title": "engineer", "active": true,
			"emails": []map[string]any{{"value": "ada@acme.test", "type": "work", "primary": true}},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "ops"}}, 201)
		adaID := ada.str("id")
		if ada.header.Get("Location") != e.auth.BaseURL()+"/scim/v2/Users/"+adaID || ada.str("userName") != "ada@acme.test" ||
			ada.str("displayName") != "Ada Lovelace" || ada.body["active"] != true {
			t.Fatalf("created: %v %s", ada.header, ada.raw)
		}
		m, err := e.st.GetMember(ctx, store.MemberScope(acme.owner.orgID, acme.owner.memberID), adaID)
		MustNoErr(t, err)
		if m.Role != "staff" || m.Email != "ada@acme.test" || m.Name != "Ada Lovelace" || m.Disabled {
			t.Fatalf("member: %+v", m)
		}
		got := c.call(t, "GET", "Users/"+adaID, nil, 200)
		if got.str("externalId") != "okta-1" || got.body["meta"].(map[string]any)["resourceType"] != "User" {
			t.Fatalf("get: %s", got.raw)
		}
		// userName is unique, case-insensitively, and a member SCIM never
		// named is known by their email.
		for _, name := range []string{"ADA@acme.test", "staff@acme.test"} {
			if r := c.call(t, "POST", "Users", map[string]any{"schemas": []string{scimUser}, "userName": name}, 409); scimType(r) != "uniqueness" {
				t.Fatalf("duplicate %s: %s", name, r.raw)
			}
		}
		bob := c.call(t, "POST", "Users", map[string]any{"schemas": []string{scimUser}, "userName": "bob", "displayName": "Bob Baker",
			"emails": []map[string]any{{"value": "bob@acme.test"}}, "externalId": "okta-2"}, 201)
		bobID := bob.str("id")
		c.call(t, "POST", "Users", map[string]any{"schemas": []string{scimUser}, "userName": "cy@acme.test", "active": false}, 201)

		// Filters and pages.
		for _, f := range []struct {
			filter string
			want   []string
		}{
			{`userName eq "ADA@acme.test"`, []string{adaID}},
			{`externalId eq "okta-2"`, []string{bobID}},
			{`externalId eq "OKTA-2"`, nil},
			{`userName eq "staff@acme.test"`, []string{acme.staff.memberID}},
			{`userName eq "nobody"`, nil},
			{`emails[type eq "work" and value co "ada"]`, []string{adaID}},
			{`externalId pr and not (userName sw "ada")`, []string{bobID}},
			{`active eq false`, nil}, // cy, checked below by count
		} {
			r, res := c.list(t, "Users", url.Values{"filter": {f.filter}})
			var ids []string
			for _, u := range res {
				ids = append(ids, u["id"].(string))
			}
			if f.filter == `active eq false` {
				if len(ids) != 1 || r.body["totalResults"] != 1.0 {
					t.Fatalf("%s: %s", f.filter, r.raw)
				}
				continue
			}
			if !slices.Equal(ids, f.want) || r.body["totalResults"] != float64(len(f.want)) {
				t.Fatalf("%s: %v, want %v", f.filter, ids, f.want)
			}
		}
		all, res := c.list(t, "Users", nil)
		total := int(all.body["totalResults"].(float64))
		if total != 6 || len(res) != 6 { // owner, staff, admin, ada, bob, cy
			t.Fatalf("all users: %s", all.raw)
		}
		p, res := c.list(t, "Users", url.Values{"startIndex": {"2"}, "count": {"2"}})
		if p.body["startIndex"] != 2.0 || p.body["itemsPerPage"] != 2.0 || p.body["totalResults"] != 6.0 || res[0]["id"] != all.body["Resources"].([]any)[1].(map[string]any)["id"] {
			t.Fatalf("page: %s", p.raw)
		}
		if p, res := c.list(t, "Users", url.Values{"startIndex": {"6"}, "count": {"5"}}); len(res) != 1 || p.body["totalResults"] != 6.0 {
			t.Fatalf("last page: %s", p.raw)
		}
		if p, res := c.list(t, "Users", url.Values{"count": {"0"}}); len(res) != 0 || p.body["totalResults"] != 6.0 {
			t.Fatalf("count 0: %s", p.raw)
		}

		// PATCH (Entra ID's capitalised ops and pathless values too) and PUT.
		pa := c.call(t, "PATCH", "Users/"+adaID, patchOp(
			map[string]any{"op": "Replace", "path": "name.familyName", "value": "King"},
			map[string]any{"op": "replace", "value": map[string]any{"externalId": "okta-1b", "title": "countess"}},
			map[string]any{"op": "add", "path": `emails[type eq "work"].value`, "value": "ada.king@acme.test"},
			map[string]any{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "eng"},
		), 200)
		if pa.str("displayName") != "Ada King" || pa.str("externalId") != "okta-1b" || pa.body["emails"].([]any)[0].(map[string]any)["value"] != "ada.king@acme.test" {
			t.Fatalf("patched: %s", pa.raw)
		}
		put := c.call(t, "PUT", "Users/"+adaID, map[string]any{"schemas": []string{scimUser}, "userName": "ada.l@acme.test",
			"displayName": "Ada L", "externalId": "okta-1", "emails": []map[string]any{{"value": "ada.l@acme.test", "primary": true}}}, 200)
		if put.str("userName") != "ada.l@acme.test" || put.str("displayName") != "Ada L" || put.body["active"] != true {
			t.Fatalf("replaced: %s", put.raw)
		}
		// An owner is beyond a SCIM token, which is an admin.
		if r := c.call(t, "PATCH", "Users/"+acme.owner.memberID, patchOp(map[string]any{"op": "replace", "path": "active", "value": false}), 403); r.str("detail") == "" {
			t.Fatal(r.raw)
		}

		// Groups: create with a member, then membership by PATCH.
		g := c.call(t, "POST", "Groups", map[string]any{"schemas": []string{scimGroup}, "displayName": "Night shift", "externalId": "grp-1",
			"members": []map[string]any{{"value": adaID}}}, 201)
		gID := g.str("id")
		if u := c.call(t, "GET", "Users/"+adaID, nil, 200); !strings.Contains(u.raw, `"value":"`+gID+`"`) || !strings.Contains(u.raw, `"display":"Night shift"`) {
			t.Fatalf("user's groups: %s", u.raw)
		}
		c.call(t, "PATCH", "Groups/"+gID, patchOp(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": bobID}}}), 200)
		gp := c.call(t, "PATCH", "Groups/"+gID, patchOp(
			map[string]any{"op": "remove", "path": `members[value eq "` + adaID + `"]`},
			map[string]any{"op": "replace", "path": "displayName", "value": "Nights"}), 200)
		if ms := gp.body["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["value"] != bobID || gp.str("displayName") != "Nights" {
			t.Fatalf("group patched: %s", gp.raw)
		}
		kg, err := e.st.GetGroup(ctx, store.MemberScope(acme.owner.orgID, acme.owner.memberID), gID)
		MustNoErr(t, err)
		if kg.Kind != "members" || kg.Name != "Nights" || !slices.Equal(kg.MemberIDs, []string{bobID}) {
			t.Fatalf("keycab group: %+v", kg)
		}
		if _, res := c.list(t, "Groups", url.Values{"filter": {`displayName eq "nights"`}}); len(res) != 1 {
			t.Fatalf("group filter: %v", res)
		}
		c.call(t, "PUT", "Groups/"+gID, map[string]any{"schemas": []string{scimGroup}, "displayName": "Nights",
			"members": []map[string]any{{"value": adaID}, {"value": bobID}}}, 200)
		c.call(t, "PATCH", "Groups/"+gID, patchOp(map[string]any{"op": "remove", "path": "members", "value": []map[string]any{{"value": adaID}}}), 200)

		// Deactivate: the member is disabled at HQ and out of the bundles.
		de := c.call(t, "PATCH", "Users/"+bobID, patchOp(map[string]any{"op": "replace", "path": "active", "value": "False"}), 200)
		if de.body["active"] != false {
			t.Fatalf("deactivated: %s", de.raw)
		}
		m, err = e.st.GetMember(ctx, store.MemberScope(acme.owner.orgID, acme.owner.memberID), bobID)
		MustNoErr(t, err)
		if !m.Disabled {
			t.Fatalf("deactivated member not disabled: %+v", m)
		}
		// A PUT that leaves active out keeps bob deactivated.
		if r := c.call(t, "PUT", "Users/"+bobID, map[string]any{"schemas": []string{scimUser}, "userName": "bob", "displayName": "Bob Baker"}, 200); r.body["active"] != false {
			t.Fatalf("PUT without active: %s", r.raw)
		}
		cfg, err := e.st.KioskConfig(ctx, store.KioskScope(acme.owner.orgID, acme.kiosk.ID))
		MustNoErr(t, err)
		for _, km := range cfg.Members {
			if km.ID == bobID {
				t.Fatal("a deactivated member is in the kiosk's bundle")
			}
		}

		// Another organisation's token sees and changes nothing: the same
		// 404 as an id that never was.
		missing := otherC.call(t, "GET", "Users/mem_nosuch", nil, 404)
		for _, call := range []struct {
			method, path string
			body         any
		}{
			{"GET", "Users/" + adaID, nil},
			{"PUT", "Users/" + adaID, map[string]any{"schemas": []string{scimUser}, "userName": "x"}},
			{"PATCH", "Users/" + adaID, patchOp(map[string]any{"op": "replace", "path": "active", "value": false})},
			{"DELETE", "Users/" + adaID, nil},
			{"GET", "Groups/" + gID, nil},
			{"PATCH", "Groups/" + gID, patchOp(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": adaID}}})},
			{"DELETE", "Groups/" + gID, nil},
		} {
			r := otherC.call(t, call.method, call.path, call.body, 404)
			id := call.path[strings.Index(call.path, "/")+1:]
			if strings.ReplaceAll(r.str("detail"), id, "mem_nosuch") != missing.str("detail") && !strings.Contains(call.path, "Groups") {
				t.Fatalf("%s %s: %s, a missing one %s", call.method, call.path, r.raw, missing.raw)
			}
		}
		if _, res := otherC.list(t, "Users", url.Values{"filter": {`userName eq "bob"`}}); len(res) != 0 {
			t.Fatalf("another organisation sees bob: %v", res)
		}
		if r, _ := otherC.list(t, "Groups", nil); r.body["totalResults"] != 0.0 {
			t.Fatalf("another organisation's groups: %s", r.raw)
		}
		// otherC's PATCH of an acme member with an acme group refused:
		// nothing changed.
		if u := c.call(t, "GET", "Users/"+adaID, nil, 200); u.body["active"] != true {
			t.Fatalf("ada changed by another organisation: %s", u.raw)
		}
		otherC.call(t, "POST", "Groups", map[string]any{"schemas": []string{scimGroup}, "displayName": "Theirs",
			"members": []map[string]any{{"value": adaID}}}, 400)

		// Erasing a member at HQ erases their SCIM user name with them.
		cyID := c.call(t, "GET", "Users?filter="+url.QueryEscape(`userName eq "cy@acme.test"`), nil, 200).body["Resources"].([]any)[0].(map[string]any)["id"].(string)
		MustStatus(t, e.do(t, "POST", "/v1/members/"+cyID+"/erase", acme.owner.access, map[string]any{"confirm": cyID}), 200)
		c.call(t, "GET", "Users/"+cyID, nil, 404)
		if _, res := c.list(t, "Users", url.Values{"filter": {`userName eq "cy@acme.test"`}}); len(res) != 0 {
			t.Fatalf("an erased member's user name: %v", res)
		}
		c.call(t, "POST", "Users", map[string]any{"schemas": []string{scimUser}, "userName": "cy@acme.test"}, 201)

		// Delete.
		c.call(t, "DELETE", "Users/"+adaID, nil, 204)
		c.call(t, "GET", "Users/"+adaID, nil, 404)
		c.call(t, "DELETE", "Groups/"+gID, nil, 204)
		c.call(t, "GET", "Groups/"+gID, nil, 404)

		// Every change is the SCIM token's in the admin log.
		log, err := e.st.ListAdminLog(ctx, store.MemberScope(acme.owner.orgID, acme.owner.memberID), 1000)
		MustNoErr(t, err)
		byToken := map[string]int{}
		for _, a := range log {
			if a.ActorID == tokID {
				byToken[a.Action]++
			}
			if a.Action == "scim_token.create" && a.Target == tokID && a.ActorID != acme.owner.memberID {
				t.Fatalf("token made by %s", a.ActorID)
			}
		}
		for _, want := range []string{"member.create", "scim.user", "member.disable", "member.remove", "group.create", "group.entries", "group.rename", "group.delete"} {
			if byToken[want] == 0 {
				t.Errorf("no %s by the SCIM token in the admin log: %v", want, byToken)
			}
		}

		// Revoked: refused at once; listed as revoked.
		MustStatus(t, e.do(t, "POST", "/v1/scim-tokens/"+adminTokID+"/revoke", acme.staff.access, nil), 403)
		MustStatus(t, e.do(t, "POST", "/v1/scim-tokens/"+tokID+"/revoke", acme.owner.access, nil), 200)
		if r := c.raw(t, "GET", "Users", "", ""); r.status != 401 {
			t.Fatalf("revoked token: %d %s", r.status, r.raw)
		}
		MustStatus(t, e.do(t, "POST", "/v1/scim-tokens/"+tokID+"/revoke", other.owner.access, nil), 404)
		list := MustStatus(t, e.do(t, "GET", "/v1/scim-tokens", acme.owner.access, nil), 200)
		if ts := list.body["scim_tokens"].([]any); len(ts) != 2 || !strings.Contains(list.raw, `"revoked_at"`) || strings.Contains(list.raw, strings.Split(c.token, ".")[2]) {
			t.Fatalf("token list: %s", list.raw)
		}
	})
}

// TestSCIMBadInput: malformed bodies, bad filters, bad paths and
// unknown endpoints get SCIM errors with the right scimType, never a 500.
func TestSCIMBadInput(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		acme := e.MustWorld(t, "Acme")
		_, c := e.mustSCIMToken(t, acme.owner, "Okta")
		u := c.call(t, "POST", "Users", map[string]any{"schemas": []string{scimUser}, "userName": "ada@acme.test"}, 201).str("id")
		c.call(t, "POST", "Groups", map[string]any{"schemas": []string{scimGroup}, "displayName": "Days"}, 201)
		user := func(extra string) string { return `{"schemas":["` + scimUser + `"]` + extra + `}` }
		patch := func(ops string) string { return `{"schemas":["` + scimPatch + `"],"Operations":` + ops + `}` }
		const js = "application/scim+json"
		for _, bad := range []struct {
			method, path, ct, body string
			status                 int
			scimType               string
		}{
			{"GET", "Users?filter=" + url.QueryEscape(`userName eq`), "", "", 400, "invalidFilter"},
			{"GET", "Users?filter=" + url.QueryEscape(`nosuch eq "x"`), "", "", 400, "invalidFilter"},
			{"GET", "Users?filter=" + url.QueryEscape(`userName gt true`), "", "", 400, "invalidFilter"},
			{"GET", "Users?filter=" + url.QueryEscape(`((((userName eq "a"`), "", "", 400, "invalidFilter"},
			{"GET", "Users?filter=" + url.QueryEscape(`urn:x:y:userName eq "a"`), "", "", 400, "invalidFilter"},
			{"GET", "Users?filter=" + url.QueryEscape(strings.Repeat(`userName eq "a" or `, 100)+`userName eq "a"`), "", "", 400, "invalidFilter"},
			{"GET", "Groups?filter=" + url.QueryEscape(`userName eq "a"`), "", "", 400, "invalidFilter"},
			{"GET", "Users?startIndex=abc", "", "", 400, "invalidValue"},
			{"GET", "Users?count=1e9", "", "", 400, "invalidValue"},
			{"POST", "Users", js, `{`, 400, "invalidSyntax"},
			{"POST", "Users", js, `[]`, 400, "invalidSyntax"},
			{"POST", "Users", js, `{"userName":"x"}`, 400, "invalidSyntax"},
			{"POST", "Users", js, user(`,"userName":42`), 400, "invalidSyntax"},
			{"POST", "Users", js, user(`,"active":"yes"`), 400, "invalidSyntax"},
			{"POST", "Users", js, user(`,"userName":""`), 400, "invalidValue"},
			{"POST", "Users", js, user(`,"userName":"a","emails":[{"value":"not an address"}]`), 400, "invalidValue"},
			{"POST", "Users", js, user(`,"userName":"a\u0000b"`), 400, "invalidSyntax"},
			{"POST", "Users", js, user(`,"userName":"` + strings.Repeat("a", 300) + `"`), 400, "invalidValue"},
			{"POST", "Users", js, user(`,"userName":"` + strings.Repeat("a", 70<<10) + `"`), 413, "tooMany"},
			{"POST", "Users", "text/plain", user(`,"userName":"a"`), 415, "invalidSyntax"},
			{"PUT", "Users/" + u, js, user(``), 400, "invalidValue"},
			{"PUT", "Users/mem_nosuch", js, user(`,"userName":"a"`), 404, ""},
			{"PATCH", "Users/" + u, js, patch(`[]`), 400, "invalidSyntax"},
			{"PATCH", "Users/" + u, js, patch(`"x"`), 400, "invalidSyntax"},
			{"PATCH", "Users/" + u, js, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, 400, "invalidSyntax"},
			{"PATCH", "Users/" + u, js, patch(`[{"op":"frobnicate","path":"active","value":false}]`), 400, "invalidSyntax"},
			{"PATCH", "Users/" + u, js, patch(`[{"op":"replace","path":"name[[","value":"x"}]`), 400, "invalidPath"},
			{"PATCH", "Users/" + u, js, patch(`[{"op":"replace","path":"active","value":"maybe"}]`), 400, "invalidValue"},
			{"PATCH", "Users/" + u, js, patch(`[{"op":"replace","path":"active"}]`), 400, "invalidValue"},
			{"PATCH", "Users/" + u, js, patch(`[{"op":"remove"}]`), 400, "noTarget"},
			{"PATCH", "Users/" + u, js, patch(`[{"op":"remove","path":"userName"}]`), 400, "mutability"},
			{"PATCH", "Users/" + u, js, patch(`[{"op":"replace","value":"x"}]`), 400, "invalidValue"},
			{"PATCH", "Users/" + u, js, patch(`[{"op":"replace","path":"userName","value":{"a":1}}]`), 400, "invalidValue"},
			{"PATCH", "Users/" + u, js, patch(`[{"op":"replace","path":"emails","value":"x"}]`), 400, "invalidValue"},
			{"POST", "Groups", js, `{"schemas":["` + scimGroup + `"],"displayName":""}`, 400, "invalidValue"},
			{"POST", "Groups", js, `{"schemas":["` + scimGroup + `"],"displayName":"Days"}`, 409, "uniqueness"},
			{"POST", "Groups", js, `{"schemas":["` + scimGroup + `"],"displayName":"Eves","members":[{"value":"mem_nosuch"}]}`, 400, "invalidValue"},
			{"POST", "Groups", js, `{"schemas":["` + scimGroup + `"],"displayName":"Eves","members":"x"}`, 400, "invalidSyntax"},
			{"PATCH", "Groups/grp_nosuch", js, patch(`[{"op":"add","path":"members","value":[]}]`), 404, ""},
			{"GET", "Nope", "", "", 404, ""},
			{"GET", "Users/a/b", "", "", 404, ""},
			{"DELETE", "Users", "", "", 405, ""},
			{"POST", "ServiceProviderConfig", js, `{}`, 405, ""},
			{"GET", "Schemas/urn:nope", "", "", 404, ""},
			{"GET", "Users?filter=" + url.QueryEscape("userName eq \"a\x00\""), "", "", 400, "invalidValue"},
			{"GET", "Users?filter=%ff", "", "", 400, "invalidValue"},
		} {
			r := c.raw(t, bad.method, bad.path, bad.ct, bad.body)
			if r.status != bad.status || scimType(r) != bad.scimType {
				t.Errorf("%s %s %.80s: %d %s, want %d %s", bad.method, bad.path, bad.body, r.status, r.raw, bad.status, bad.scimType)
			}
		}
		if r := c.call(t, "GET", "Users/"+u, nil, 200); r.str("userName") != "ada@acme.test" {
			t.Fatalf("changed by bad input: %s", r.raw)
		}
		if strings.Contains(e.logText(), "scim request failed") {
			t.Fatalf("an internal error: %s", e.logText())
		}
	})
}

// TestSCIMConcurrentPatch: PATCHes of one group at once, each adding a
// member, as identity providers send them: none is lost (each is applied
// to the group as it stands, in the store's transaction).
func TestSCIMConcurrentPatch(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		acme := e.MustWorld(t, "Acme")
		_, c := e.mustSCIMToken(t, acme.owner, "Okta")
		const n = 8
		var ids []string
		for i := range n {
			ids = append(ids, c.call(t, "POST", "Users", map[string]any{"schemas": []string{scimUser}, "userName": "u" + strconv.Itoa(i)}, 201).str("id"))
		}
		g := c.call(t, "POST", "Groups", map[string]any{"schemas": []string{scimGroup}, "displayName": "All"}, 201).str("id")
		errs := make(chan string, n)
		for _, id := range ids {
			go func() {
				r := c.raw(t, "PATCH", "Groups/"+g, "application/scim+json",
					`{"schemas":["`+scimPatch+`"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`)
				if r.status != 200 {
					errs <- r.raw
					return
				}
				errs <- ""
			}()
		}
		for range n {
			if e := <-errs; e != "" {
				t.Errorf("PATCH: %s", e)
			}
		}
		if ms := c.call(t, "GET", "Groups/"+g, nil, 200).body["members"].([]any); len(ms) != n {
			t.Fatalf("%d members of %d added at once", len(ms), n)
		}
	})
}
