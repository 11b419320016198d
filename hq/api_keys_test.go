package hq_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// mustKey creates an API key of u's organisation and returns its token.
func (e *env) mustKey(t *testing.T, u *user, name string, scopes ...string) (id, token string) {
	t.Helper()
	r := MustStatus(t, e.do(t, "POST", "/v1/api-keys", u.access, map[string]any{"name": name, "scopes": scopes}), 201)
	if !strings.HasPrefix(r.str("token"), "kck_"+u.orgID+"."+r.str("id")+".") {
		t.Fatalf("key token %q", r.str("token"))
	}
	return r.str("id"), r.str("token")
}

// API keys call only the routes their scopes grant, are bounded by their
// role in the store too, act for members only with custody:write, are
// attributed in the admin log, and are refused once expired or revoked,
// for another organisation, on the dashboard, and malformed.
func TestAPIKeys(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		acme, other := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		readID, read := e.mustKey(t, acme.owner, "access control", "history:read")
		peopleID, people := e.mustKey(t, acme.owner, "HR feed", "people:write")
		_, cabinets := e.mustKey(t, acme.owner, "estates", "cabinets:write")
		custodyID, custody := e.mustKey(t, acme.owner, "front desk", "custody:write")

		// The token is shown once: the list has no secret.
		list := MustStatus(t, e.do(t, "GET", "/v1/api-keys", acme.owner.access, nil), 200)
		if strings.Contains(list.raw, strings.Split(read, ".")[2]) || len(list.body["api_keys"].([]any)) != 4 {
			t.Fatalf("key list: %s", list.raw)
		}

		// Scopes decide the routes.
		for _, c := range []struct {
			token, method, path string
			body                any
			want                int
		}{
			{read, "GET", "/v1/events", nil, 200},
			{read, "GET", "/v1/custody", nil, 200},
			{read, "GET", "/v1/members", nil, 200},
			{read, "POST", "/v1/members", map[string]any{"name": "Mo", "role": "staff"}, 403},
			{read, "POST", "/v1/sites", map[string]any{"name": "Annex"}, 403},
			{read, "GET", "/v1/admin-log", nil, 403},
			{read, "GET", "/v1/me", nil, 403},
			{read, "GET", "/v1/members/" + acme.staff.memberID + "/subject-access", nil, 403},
			{people, "POST", "/v1/members", map[string]any{"name": "Mo Member", "role": "staff"}, 201},
			{people, "GET", "/v1/events", nil, 403},
			{people, "POST", "/v1/sites", map[string]any{"name": "Annex"}, 403},
			{people, "POST", "/v1/members/" + acme.staff.memberID + "/erase", map[string]any{"confirm": acme.staff.memberID}, 403},
			{cabinets, "POST", "/v1/sites", map[string]any{"name": "Annex"}, 201},
			{cabinets, "POST", "/v1/members", map[string]any{"name": "Mo", "role": "staff"}, 403},
			{custody, "GET", "/v1/events", nil, 403},
			{custody, "POST", "/v1/scan", map[string]any{"key_set_id": acme.ks[0].ID}, 403},
			// A key makes no keys and changes no organisation settings.
			{people, "POST", "/v1/api-keys", map[string]any{"name": "more", "scopes": []string{"people:write"}}, 403},
			{cabinets, "PUT", "/v1/org/public-logs", map[string]any{"public_logs": true}, 403},
			{cabinets, "POST", "/v1/org/deletion", map[string]any{"confirm": "Acme"}, 403},
			// Another organisation's rows are as unknown to a key as to
			// its owner.
			{read, "GET", "/v1/members/" + other.staff.memberID, nil, 404},
			{people, "PATCH", "/v1/members/" + other.staff.memberID, map[string]any{"role": "admin"}, 404},
			{cabinets, "PATCH", "/v1/sites/" + other.site.ID, map[string]any{"name": "mine"}, 404},
		} {
			if r := e.do(t, c.method, c.path, c.token, c.body); r.status != c.want {
				t.Errorf("%s %s with %.20s...: %d %s, want %d", c.method, c.path, c.token, r.status, r.raw, c.want)
			}
		}

		// The store bounds a key by its role whatever the API lets
		// through: a read-only key is an auditor there.
		if _, err := e.st.CreateSite(ctx, store.APIKeyScope(acme.owner.orgID, readID), store.Site{Site: keycab.Site{Name: "Sneaky"}}); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
			t.Errorf("a read-only key created a site in the store: %v", err)
		}
		// Another organisation's scope with this key's id is no principal.
		if _, err := e.st.ListSites(ctx, store.APIKeyScope(other.owner.orgID, readID)); keycab.ErrorCode(err) != keycab.EUNAUTHORIZED {
			t.Errorf("a key read in another organisation: %v", err)
		}

		// Custody on behalf of a member, decided by their rules, in the
		// HQ log and the admin log with the key.
		site := MustStatus(t, e.do(t, "POST", "/v1/key-sets", cabinets, map[string]any{"site_id": acme.site.ID, "label": "lockbox"}), 201).str("id")
		take := func(member, rid string) resp {
			return e.do(t, "POST", "/v1/custody", custody, map[string]any{"request_id": rid, "key_set_id": site, "action": "take", "reason": "viewing", "member_id": member})
		}
		MustStatus(t, e.do(t, "POST", "/v1/custody", custody, map[string]any{"request_id": "key-take-0000000001", "key_set_id": site, "action": "take", "reason": "viewing"}), 400)
		MustStatus(t, take(other.staff.memberID, "key-take-0000000002"), 404)
		if r := MustStatus(t, take(acme.staff.memberID, "key-take-0000000003"), 200); r.str("outcome") != "done" {
			t.Fatalf("take for staff: %s", r.raw)
		}
		// A member names nobody else.
		MustStatus(t, e.do(t, "POST", "/v1/custody", acme.owner.access, map[string]any{"request_id": "own-take-000000004", "key_set_id": site,
			"action": "return", "member_id": acme.staff.memberID}), 400)
		evs, err := e.st.ListEvents(ctx, store.MemberScope(acme.owner.orgID, acme.owner.memberID), store.EventFilter{KeySetID: site})
		MustNoErr(t, err)
		if len(evs) != 1 || evs[0].ActorID != acme.staff.memberID {
			t.Fatalf("HQ log events of the lockbox: %+v", evs)
		}
		log := MustStatus(t, e.do(t, "GET", "/v1/admin-log?limit=50", acme.owner.access, nil), 200).raw
		for _, want := range []string{`"actor_id": "` + custodyID + `"`, `"action": "api_key.custody"`, `"actor_id": "` + peopleID + `"`, `"action": "member.create"`, `"action": "api_key.create"`} {
			if !strings.Contains(log, want) {
				t.Errorf("admin log lacks %s:\n%s", want, log)
			}
		}

		// last_used is kept.
		for _, k := range MustStatus(t, e.do(t, "GET", "/v1/api-keys", acme.owner.access, nil), 200).body["api_keys"].([]any) {
			m := k.(map[string]any)
			if m["id"] == readID && m["last_used_at"] == nil {
				t.Errorf("read key used but no last_used_at: %v", m)
			}
		}

		// Forged, malformed, moved to another organisation: one 401.
		parts := strings.SplitN(strings.TrimPrefix(read, "kck_"), ".", 3)
		for _, bad := range []string{
			"kck_", "kck_" + parts[0], "kck_" + parts[0] + "." + parts[1], "kck_" + parts[0] + "." + parts[1] + ".WRONGSECRET",
			"kck_" + other.owner.orgID + "." + parts[1] + "." + parts[2], "kck_" + parts[0] + "." + peopleID + "." + parts[2],
			"kck_" + parts[0] + "é." + parts[1] + "." + parts[2], "kck_" + parts[0] + "." + parts[1] + "." + parts[2] + ".extra",
		} {
			if r := e.do(t, "GET", "/v1/events", bad, nil); r.status != 401 {
				t.Errorf("token %q: %d %s", bad, r.status, r.raw)
			}
		}

		// A NUL in the token, as no client would send it: refused, not
		// a server error.
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		MustNoErr(t, err)
		fmt.Fprintf(conn, "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer kck_%s\x00.%s.%s\r\nConnection: close\r\n\r\n", parts[0], parts[1], parts[2])
		status, _ := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if !strings.Contains(status, " 400 ") && !strings.Contains(status, " 401 ") {
			t.Errorf("a NUL in the key: %q", status)
		}

		// Not on the dashboard, as a header or as its cookie.
		for _, hdr := range [][]string{{"Authorization", "Bearer " + read}, {"Cookie", "__Host-keycab_session=" + read}} {
			req, _ := http.NewRequest("GET", e.srv.URL+"/keys", nil)
			req.Header.Set(hdr[0], hdr[1])
			res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			MustNoErr(t, err)
			res.Body.Close()
			if res.StatusCode == 200 {
				t.Errorf("the dashboard served /keys to an API key in %s", hdr[0])
			}
		}

		// Only owners and admins make or revoke keys.
		MustStatus(t, e.do(t, "POST", "/v1/api-keys", acme.staff.access, map[string]any{"name": "mine", "scopes": []string{"history:read"}}), 403)
		MustStatus(t, e.do(t, "POST", "/v1/api-keys/"+readID+"/revoke", other.owner.access, nil), 404)
		MustStatus(t, e.do(t, "POST", "/v1/api-keys", acme.owner.access, map[string]any{"name": "none", "scopes": []string{}}), 400)
		MustStatus(t, e.do(t, "POST", "/v1/api-keys", acme.owner.access, map[string]any{"name": "root", "scopes": []string{"admin"}}), 400)

		// Revoked: refused at once.
		MustStatus(t, e.do(t, "POST", "/v1/api-keys/"+peopleID+"/revoke", acme.owner.access, nil), 200)
		MustStatus(t, e.do(t, "POST", "/v1/members", people, map[string]any{"name": "Late", "role": "staff"}), 401)

		// Expired: refused from its expiry on.
		r := MustStatus(t, e.do(t, "POST", "/v1/api-keys", acme.owner.access, map[string]any{"name": "temp", "scopes": []string{"history:read"},
			"expires_at": e.clock.Now().Add(time.Hour).Format(time.RFC3339)}), 201)
		MustStatus(t, e.do(t, "GET", "/v1/events", r.str("token"), nil), 200)
		e.clock.Advance(2 * time.Hour)
		MustStatus(t, e.do(t, "GET", "/v1/events", r.str("token"), nil), 401)
		MustStatus(t, e.do(t, "GET", "/v1/events", read, nil), 200)
	})
}
