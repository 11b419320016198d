package hq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/passhash"
)

// MustJoinAt invites email as role scoped to sites and accepts.
func (e *env) MustJoinAt(tb testing.TB, inviter *user, email, role string, sites ...string) *user {
	tb.Helper()
	MustStatus(tb, e.do(tb, "POST", "/v1/invites", inviter.access, map[string]any{"email": email, "role": role, "site_ids": sites}), 201)
	tok := e.mail.MustToken(tb, "invite", email)
	r := MustStatus(tb, e.do(tb, "POST", "/v1/invites/accept", "", map[string]string{"token": tok, "name": email, "password": goodPassword}), 200)
	u := &user{email: email, password: goodPassword}
	u.set(r)
	return u
}

// The write endpoints do what they say, as an owner would use them.
func TestWriteEndpoints(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		o := owner.access
		site := MustStatus(t, e.do(t, "POST", "/v1/sites", o, map[string]any{"name": "Depot", "time_zone": "Europe/London", "notes": "gate 4711"}), 201)
		sid := site.str("id")
		r := MustStatus(t, e.do(t, "PATCH", "/v1/sites/"+sid, o, map[string]any{"address": "1 Quay Rd", "notes": "gate 0815"}), 200)
		if r.str("name") != "Depot" || r.str("address") != "1 Quay Rd" || r.str("notes") != "gate 0815" {
			t.Fatalf("patched site: %s", r.raw)
		}
		MustStatus(t, e.do(t, "PATCH", "/v1/sites/"+sid, o, map[string]any{"time_zone": "Mars/Olympus"}), 400)

		cab := MustStatus(t, e.do(t, "POST", "/v1/cabinets", o, map[string]any{"site_id": sid, "name": "front", "kind": "slotted"}), 201).str("id")
		MustStatus(t, e.do(t, "POST", "/v1/cabinets", o, map[string]any{"site_id": sid, "name": "x", "kind": "drawer"}), 400)
		r = MustStatus(t, e.do(t, "PATCH", "/v1/cabinets/"+cab, o, map[string]any{"name": "front door"}), 200)
		if r.str("name") != "front door" || r.str("kind") != "slotted" {
			t.Fatalf("patched cabinet: %s", r.raw)
		}
		ks := MustStatus(t, e.do(t, "POST", "/v1/key-sets", o, map[string]any{"site_id": sid, "label": "12 High St", "max_out_seconds": 3600}), 201).str("id")
		r = MustStatus(t, e.do(t, "PATCH", "/v1/key-sets/"+ks, o, map[string]any{"pin_required": true}), 200)
		if r.body["pin_required"] != true || r.str("label") != "12 High St" || r.body["max_out_seconds"] != 3600.0 {
			t.Fatalf("patched key set: %s", r.raw)
		}
		MustStatus(t, e.do(t, "PUT", "/v1/cabinets/"+cab+"/slots/1", o, map[string]any{"lock": "L1", "sensor": "S1", "key_set_id": ks}), 200)
		r = MustStatus(t, e.do(t, "GET", "/v1/cabinets/"+cab, o, nil), 200)
		if slots := r.body["slots"].([]any); len(slots) != 1 || slots[0].(map[string]any)["key_set_id"] != ks {
			t.Fatalf("slots: %s", r.raw)
		}
		MustStatus(t, e.do(t, "PUT", "/v1/cabinets/"+cab+"/slots/0", o, map[string]any{}), 400)

		tok := MustStatus(t, e.do(t, "POST", "/v1/key-sets/"+ks+"/tokens", o, nil), 201).str("token")
		if !strings.HasPrefix(tok, "kc1.") {
			t.Fatalf("token %q", tok)
		}
		MustStatus(t, e.do(t, "POST", "/v1/key-sets/"+ks+"/tokens", o, nil), 409)
		tok2 := MustStatus(t, e.do(t, "POST", "/v1/key-sets/"+ks+"/tokens/rotate", o, nil), 201).str("token")
		if tok2 == tok || tok2 == "" {
			t.Fatal("rotation kept the token")
		}
		r = MustStatus(t, e.do(t, "GET", "/v1/key-sets/"+ks+"/tokens", o, nil), 200)
		if strings.Contains(r.raw, tok2) || len(r.body["tokens"].([]any)) != 2 {
			t.Fatalf("token list shows a token's text or misses one: %s", r.raw)
		}
		MustStatus(t, e.do(t, "DELETE", "/v1/key-sets/"+ks+"/tokens", o, nil), 204)
		r = MustStatus(t, e.do(t, "GET", "/v1/key-sets/"+ks+"/tokens", o, nil), 200)
		for _, tk := range r.body["tokens"].([]any) {
			if tk.(map[string]any)["revoked"] != true {
				t.Fatalf("a token survived revocation: %s", r.raw)
			}
		}

		m := MustStatus(t, e.do(t, "POST", "/v1/members", o, map[string]any{"name": "Sam", "role": "staff", "site_ids": []string{sid}}), 201).str("id")
		MustStatus(t, e.do(t, "PUT", "/v1/members/"+m+"/pin", o, map[string]any{"pin": "4821"}), 204)
		MustStatus(t, e.do(t, "PUT", "/v1/members/"+m+"/pin", o, map[string]any{"pin": "12a4"}), 400)
		// The kiosk of the cabinet gets the PIN's argon2id hash.
		k, err := e.st.CreateKiosk(context.Background(), store.MemberScope(owner.orgID, owner.memberID), store.Kiosk{CabinetID: cab, Name: "k"})
		MustNoErr(t, err)
		cfg, err := e.st.KioskConfig(context.Background(), store.KioskScope(owner.orgID, k.ID))
		MustNoErr(t, err)
		pinOK := false
		for _, mm := range cfg.Members {
			pinOK = pinOK || (mm.ID == m && passhash.Verify(mm.PINHash, "4821") == nil)
		}
		if !pinOK {
			t.Fatal("the kiosk's config has no PIN hash that takes the PIN set")
		}
		b := MustStatus(t, e.do(t, "POST", "/v1/members/"+m+"/badges", o, map[string]any{"kind": "rfid", "code": "0012345678"}), 201).str("id")
		MustStatus(t, e.do(t, "POST", "/v1/members/"+m+"/badges", o, map[string]any{"kind": "telepathy", "code": "1"}), 400)
		MustStatus(t, e.do(t, "DELETE", "/v1/members/"+m+"/badges/"+b, o, nil), 204)
		MustStatus(t, e.do(t, "DELETE", "/v1/members/"+m+"/badges/"+b, o, nil), 404)
		// Sites and role change together or not at all.
		MustStatus(t, e.do(t, "PATCH", "/v1/members/"+m, o, map[string]any{"site_ids": []string{}, "role": "wizard"}), 400)
		if r := MustStatus(t, e.do(t, "GET", "/v1/members/"+m, o, nil), 200); len(r.body["site_ids"].([]any)) != 1 || r.str("role") != "staff" {
			t.Fatalf("a refused PATCH changed the member: %s", r.raw)
		}
		r = MustStatus(t, e.do(t, "PATCH", "/v1/members/"+m, o, map[string]any{"role": "site_manager"}), 200)
		if r.str("role") != "site_manager" {
			t.Fatalf("role: %s", r.raw)
		}

		c := MustStatus(t, e.do(t, "POST", "/v1/members", o, map[string]any{"name": "Plumber", "role": "contractor"}), 201).str("id")
		now := e.clock.Now()
		job := MustStatus(t, e.do(t, "POST", "/v1/jobs", o, map[string]any{"member_id": c, "key_set_ids": []string{ks},
			"from": now, "until": now.Add(2 * time.Hour), "descriptor": "WO-1"}), 201).str("id")
		MustStatus(t, e.do(t, "POST", "/v1/jobs", o, map[string]any{"member_id": c, "key_set_ids": []string{ks}}), 400)
		if r := MustStatus(t, e.do(t, "GET", "/v1/jobs?member_id="+c, o, nil), 200); len(r.body["jobs"].([]any)) != 1 {
			t.Fatalf("jobs: %s", r.raw)
		}
		res := MustStatus(t, e.do(t, "POST", "/v1/reservations", o, map[string]any{"key_set_id": ks, "member_id": m,
			"from": now.Add(3 * time.Hour), "until": now.Add(4 * time.Hour)}), 201).str("id")
		MustStatus(t, e.do(t, "POST", "/v1/reservations", o, map[string]any{"key_set_id": ks, "member_id": m,
			"from": now.Add(210 * time.Minute), "until": now.Add(5 * time.Hour)}), 409)
		if r := MustStatus(t, e.do(t, "GET", "/v1/reservations?key_set_id="+ks, o, nil), 200); len(r.body["reservations"].([]any)) != 1 {
			t.Fatalf("reservations: %s", r.raw)
		}

		// In use: the site has a cabinet, the key set a slot and a job.
		MustStatus(t, e.do(t, "DELETE", "/v1/sites/"+sid, o, nil), 409)
		MustStatus(t, e.do(t, "DELETE", "/v1/reservations/"+res, o, nil), 204)
		MustStatus(t, e.do(t, "DELETE", "/v1/jobs/"+job, o, nil), 204)
		MustStatus(t, e.do(t, "DELETE", "/v1/cabinets/"+cab+"/slots/1", o, nil), 204)
		MustStatus(t, e.do(t, "DELETE", "/v1/key-sets/"+ks, o, nil), 204)
		MustStatus(t, e.do(t, "DELETE", "/v1/cabinets/"+cab, o, nil), 409) // its kiosk
		MustNoErr(t, e.st.RevokeKiosk(context.Background(), store.MemberScope(owner.orgID, owner.memberID), k.ID))
		MustStatus(t, e.do(t, "DELETE", "/v1/members/"+m, o, nil), 204)
		MustStatus(t, e.do(t, "DELETE", "/v1/members/"+c, o, nil), 204)
		MustStatus(t, e.do(t, "GET", "/v1/sites/"+sid, o, nil), 200)
	})
}

// Every documented request body refuses unknown fields, wrong types,
// trailing data and oversized bodies with a 400 that says which.
func TestWriteBodiesValidated(t *testing.T) {
	e := newEnv(t, engines()[0], nil)
	o := e.MustSignup(t, "Acme", "owner@acme.test").access
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody any `json:"requestBody"`
		} `json:"paths"`
	}
	MustNoErr(t, json.Unmarshal([]byte(MustStatus(t, e.do(t, "GET", "/openapi.json", "", nil), 200).raw), &doc))
	n := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.RequestBody == nil {
				continue
			}
			n++
			p := strings.NewReplacer("{id}", "x", "{number}", "1").Replace(path)
			m := strings.ToUpper(method)
			r := e.do(t, m, p, o, map[string]any{"sneaky_field": 1})
			if r.status != 400 || !strings.Contains(r.raw, `unknown field \"sneaky_field\"`) {
				t.Errorf("%s %s with an unknown field: %d %s", m, path, r.status, r.raw)
			}
			// An import carries a file: its limit is the file's and a bit.
			limit := hq.MaxBody
			if path == "/v1/import/{kind}" {
				limit = store.MaxImportBytes + 4<<10
			}
			r = e.doRaw(t, m, p, o, `{"zz": "`+strings.Repeat("a", limit+6<<10)+`"}`)
			if want := fmt.Sprintf("larger than %d KiB", limit>>10); r.status != 413 || !strings.Contains(r.raw, want) {
				t.Errorf("%s %s with %d KiB: %d %s", m, path, (limit+6<<10)>>10, r.status, r.raw)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d routes with a body documented", n)
	}
	r := MustStatus(t, e.do(t, "POST", "/v1/key-sets", o, map[string]any{"label": 7}), 400)
	if !strings.Contains(r.raw, "field label: want string") {
		t.Errorf("wrong type: %s", r.raw)
	}
	r = MustStatus(t, e.doRaw(t, "POST", "/v1/sites", o, `{"name": "a"} {"name": "b"}`), 400)
	if !strings.Contains(r.raw, "data after the object") {
		t.Errorf("two objects: %s", r.raw)
	}
	MustStatus(t, e.doRaw(t, "POST", "/v1/sites", o, `{"name": "ok"}`+"\n"), 201)
}

// doRaw sends body as it is, as JSON.
func (e *env) doRaw(tb testing.TB, method, path, token, body string) resp {
	tb.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	MustNoErr(tb, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	MustNoErr(tb, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	MustNoErr(tb, err)
	return resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
}

// Every request body the OpenAPI document names is one of its schemas,
// and the writes are documented.
func TestOpenAPIWrites(t *testing.T) {
	e := newEnv(t, engines()[0], nil)
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	MustNoErr(t, json.Unmarshal([]byte(MustStatus(t, e.do(t, "GET", "/openapi.json", "", nil), 200).raw), &doc))
	for path, ops := range doc.Paths {
		for method, op := range ops {
			for _, c := range op.RequestBody.Content {
				name := strings.TrimPrefix(c.Schema.Ref, "#/components/schemas/")
				if doc.Components.Schemas[name] == nil {
					t.Errorf("%s %s: body schema %q is not in the document", method, path, c.Schema.Ref)
				}
			}
		}
	}
	for _, want := range []string{"POST /v1/sites", "PATCH /v1/sites/{id}", "DELETE /v1/sites/{id}", "POST /v1/cabinets", "PATCH /v1/cabinets/{id}",
		"PUT /v1/cabinets/{id}/slots/{number}", "POST /v1/key-sets", "PATCH /v1/key-sets/{id}", "POST /v1/key-sets/{id}/tokens",
		"POST /v1/key-sets/{id}/tokens/rotate", "DELETE /v1/key-sets/{id}/tokens", "POST /v1/labels", "POST /v1/members", "PATCH /v1/members/{id}",
		"PUT /v1/members/{id}/pin", "POST /v1/members/{id}/badges", "DELETE /v1/members/{id}/badges/{badge}", "POST /v1/jobs", "DELETE /v1/jobs/{id}",
		"POST /v1/reservations", "DELETE /v1/reservations/{id}", "GET /v1/kiosks/{id}/log/checkpoint", "GET /v1/kiosks/{id}/log/tile/{path}"} {
		m, p, _ := strings.Cut(want, " ")
		if _, ok := doc.Paths[p][strings.ToLower(m)]; !ok {
			t.Errorf("%s missing from the OpenAPI document", want)
		}
	}
}
