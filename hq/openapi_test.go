package hq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
	kstore "keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// labelDecoders has openapi3filter read the labels' media types as
// files, like application/octet-stream.
var labelDecoders sync.Once

// apiCheck sends requests to HQ and validates each request and its
// answer against HQ's OpenAPI document, remembering the operations done.
type apiCheck struct {
	e      *env
	doc    *openapi3.T
	router routers.Router
	done   map[string]bool // "METHOD /path/{template}"
}

// MustLoadOpenAPI reads /openapi.json and checks it is a valid OpenAPI
// document.
func (e *env) MustLoadOpenAPI(tb testing.TB) *apiCheck {
	tb.Helper()
	labelDecoders.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder)
		openapi3filter.RegisterBodyDecoder("image/png", openapi3filter.FileBodyDecoder)
		openapi3filter.RegisterBodyDecoder("image/jpeg", openapi3filter.FileBodyDecoder)
	})
	raw := MustStatus(tb, e.do(tb, "GET", "/openapi.json", "", nil), 200).raw
	doc, err := openapi3.NewLoader().LoadFromData([]byte(raw))
	MustNoErr(tb, err)
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	MustNoErr(tb, err)
	return &apiCheck{e: e, doc: doc, router: router, done: map[string]bool{}}
}

// credentialsSent is the requests' authentication for openapi3filter:
// the security scheme's credential is there (HQ itself checks it).
func credentialsSent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	switch in.SecuritySchemeName {
	case "bearer":
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			return nil
		}
	case "cookie":
		if _, err := r.Cookie(hq.SessionCookie); err == nil {
			return nil
		}
	}
	return errors.New("no " + in.SecuritySchemeName + " credential")
}

// MustCall sends a request with an optional bearer token and JSON body,
// fails unless HQ answers status want, and validates the request and the
// answer (status, content type, body) against the document.
func (c *apiCheck) MustCall(tb testing.TB, method, path, token string, body any, want int) resp {
	tb.Helper()
	var raw []byte
	if body != nil {
		var err error
		raw, err = json.Marshal(body)
		MustNoErr(tb, err)
	}
	newReq := func() *http.Request {
		req, err := http.NewRequest(method, c.e.srv.URL+path, bytes.NewReader(raw))
		MustNoErr(tb, err)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return req
	}
	ctx := context.Background()
	vreq := newReq()
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		tb.Fatalf("%s %s: not in the OpenAPI document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: credentialsSent}}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		tb.Fatalf("%s %s: the request does not match the document: %v", method, path, err)
	}
	c.done[method+" "+route.Path] = true

	res, err := http.DefaultClient.Do(newReq())
	MustNoErr(tb, err)
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	MustNoErr(tb, err)
	if res.StatusCode != want {
		tb.Fatalf("%s %s: status %d, want %d; body %s", method, path, res.StatusCode, want, got)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(got)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		tb.Fatalf("%s %s: the answer does not match the document: %v\nbody: %.2000s", method, path, err, got)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: string(got)}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt == "application/json" {
		MustNoErr(tb, json.Unmarshal(got, &r.body))
	}
	return r
}

// items returns the list under key of a list answer.
func items(tb testing.TB, r resp, key string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, v := range r.body[key].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// mustItems fails unless the list under key has at least n items.
func mustItems(tb testing.TB, r resp, key string, n int) []map[string]any {
	tb.Helper()
	out := items(tb, r, key)
	if len(out) < n {
		tb.Fatalf("%s: %d items, want at least %d: %s", key, len(out), n, r.raw)
	}
	return out
}

// newKioskEnv is an HQ with its kiosk API, as TestKioskLogTiles builds
// it, and its server for its route patterns.
func newKioskEnv(t *testing.T, eng engine) (*env, *hq.Server) {
	var srv *hq.Server
	mount := withKioskAPI(t, nil)
	e := newEnv(t, eng, func(c *auth.Config, s *hq.Server) {
		srv = s
		mount(c, s)
	})
	return e, srv
}

// The OpenAPI document says what HQ's handlers do: every operation it
// documents is done here through the assembled server with a request
// that succeeds, each request is valid by the document, and each answer
// (status, content type, body: no field the schema lacks, none it
// requires missing, every type right) is one the document allows. The
// lists answer items, so their item schemas are checked too. An
// operation of the document left out here, or a route HQ serves under
// /v1/ that the document lacks, fails the test.
func TestOpenAPIDrift(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e, srv := newKioskEnv(t, eng)
			c := e.MustLoadOpenAPI(t)
			testOpenAPIDrift(t, e, c)

			var ops []string
			for path, item := range c.doc.Paths.Map() {
				for method := range item.Operations() {
					ops = append(ops, method+" "+path)
				}
			}
			slices.Sort(ops)
			if len(ops) < 60 {
				t.Fatalf("only %d operations documented", len(ops))
			}
			for _, op := range ops {
				if !c.done[op] {
					t.Errorf("%s is documented but the test did not do it", op)
				}
			}
			patterns, err := srv.Patterns()
			MustNoErr(t, err)
			served := 0
			for _, p := range patterns {
				method, path, ok := strings.Cut(p, " ")
				if !ok || !strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, wire.PathPrefix) {
					continue // the dashboard, the kiosk API (sync/wire), /openapi.json
				}
				served++
				path = strings.ReplaceAll(path, "...}", "}")
				if item := c.doc.Paths.Value(path); item == nil || item.GetOperation(method) == nil {
					t.Errorf("HQ serves %s, which the OpenAPI document lacks", p)
				}
			}
			if served != len(ops) {
				t.Errorf("HQ serves %d API routes, the document has %d operations", served, len(ops))
			}
			t.Logf("%d operations done and validated", len(c.done))
		})
	}
}

func testOpenAPIDrift(t *testing.T, e *env, c *apiCheck) {
	ctx := context.Background()
	now := e.clock.Now()
	rfc := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }

	// Signing up and in.
	r := c.MustCall(t, "POST", "/v1/signup", "", map[string]any{"org_name": "Drift", "name": "Olive Owner", "email": "owner@drift.test", "password": goodPassword}, 200)
	owner := &user{email: "owner@drift.test", password: goodPassword}
	owner.set(r)
	c.MustCall(t, "POST", "/v1/me/verify/resend", owner.access, nil, 202)
	c.MustCall(t, "POST", "/v1/auth/verify", "", map[string]any{"token": e.mail.MustToken(t, "verify", owner.email)}, 200)
	owner.set(c.MustCall(t, "POST", "/v1/auth/login", "", map[string]any{"email": owner.email, "password": goodPassword}, 200))
	owner.set(c.MustCall(t, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": owner.refresh}, 200))
	o := owner.access
	c.MustCall(t, "GET", "/v1/me", o, nil, 200)
	c.MustCall(t, "GET", "/v1/org", o, nil, 200)

	// Sites, cabinets, slots, key sets.
	site := c.MustCall(t, "POST", "/v1/sites", o, map[string]any{"name": "Depot", "address": "1 Dock Road", "time_zone": "Europe/London", "notes": "gate 4321"}, 201).str("id")
	c.MustCall(t, "PATCH", "/v1/sites/"+site, o, map[string]any{"notes": "gate 9876", "address": "2 Dock Road"}, 200)
	c.MustCall(t, "GET", "/v1/sites/"+site, o, nil, 200)
	spare := c.MustCall(t, "POST", "/v1/sites", o, map[string]any{"name": "Spare"}, 201).str("id")
	mustItems(t, c.MustCall(t, "GET", "/v1/sites", o, nil, 200), "sites", 2)
	cab := c.MustCall(t, "POST", "/v1/cabinets", o, map[string]any{"site_id": site, "name": "front", "kind": "slotted", "door_lock": "GPIO5", "door_sensor": "GPIO6"}, 201).str("id")
	c.MustCall(t, "PATCH", "/v1/cabinets/"+cab, o, map[string]any{"name": "front desk"}, 200)
	shelf := c.MustCall(t, "POST", "/v1/cabinets", o, map[string]any{"site_id": site, "name": "shelf", "kind": "open-shelf"}, 201).str("id")
	var ks []string
	for i, label := range []string{"van keys", "plant room", "spare"} {
		ks = append(ks, c.MustCall(t, "POST", "/v1/key-sets", o, map[string]any{"site_id": site, "label": label,
			"sensitive": i == 1, "pin_required": i == 0, "max_out_seconds": 3600 * (i + 1)}, 201).str("id"))
	}
	c.MustCall(t, "PATCH", "/v1/key-sets/"+ks[0], o, map[string]any{"label": "van keys (blue)", "max_out_seconds": 7200}, 200)
	c.MustCall(t, "GET", "/v1/key-sets/"+ks[0], o, nil, 200)
	mustItems(t, c.MustCall(t, "GET", "/v1/key-sets?site_id="+site, o, nil, 200), "key_sets", 3)
	c.MustCall(t, "PUT", "/v1/cabinets/"+cab+"/slots/1", o, map[string]any{"lock": "GPIO17", "sensor": "GPIO27", "key_set_id": ks[0]}, 200)
	c.MustCall(t, "PUT", "/v1/cabinets/"+cab+"/slots/2", o, map[string]any{"lock": "GPIO22", "key_set_id": ks[1]}, 200)
	c.MustCall(t, "PUT", "/v1/cabinets/"+cab+"/slots/3", o, map[string]any{}, 200)
	c.MustCall(t, "DELETE", "/v1/cabinets/"+cab+"/slots/3", o, nil, 204)
	if cr := c.MustCall(t, "GET", "/v1/cabinets/"+cab, o, nil, 200); len(items(t, cr, "slots")) != 2 {
		t.Fatalf("cabinet: %s", cr.raw)
	}
	mustItems(t, c.MustCall(t, "GET", "/v1/cabinets?site_id="+site, o, nil, 200), "cabinets", 2)

	// QR tokens and labels.
	c.MustCall(t, "POST", "/v1/key-sets/"+ks[0]+"/tokens", o, nil, 201)
	c.MustCall(t, "POST", "/v1/key-sets/"+ks[0]+"/tokens/rotate", o, nil, 201)
	if tr := c.MustCall(t, "GET", "/v1/key-sets/"+ks[0]+"/tokens", o, nil, 200); len(items(t, tr, "tokens")) != 2 || items(t, tr, "tokens")[0]["revoked_at"] == nil && items(t, tr, "tokens")[1]["revoked_at"] == nil {
		t.Fatalf("want a valid and a revoked token: %s", tr.raw)
	}
	c.MustCall(t, "POST", "/v1/key-sets/"+ks[2]+"/tokens", o, nil, 201)
	c.MustCall(t, "DELETE", "/v1/key-sets/"+ks[2]+"/tokens", o, nil, 204)
	if lr := c.MustCall(t, "POST", "/v1/labels", o, map[string]any{"cabinet_id": cab, "format": "pdf"}, 200); !strings.HasPrefix(lr.raw, "%PDF-") {
		t.Fatalf("labels: %.100q", lr.raw)
	}

	// People: invitations, members, PINs, badges.
	c.MustCall(t, "POST", "/v1/invites", o, map[string]any{"email": "staff@drift.test", "role": "staff", "site_ids": []string{site}}, 201)
	gone := c.MustCall(t, "POST", "/v1/invites", o, map[string]any{"email": "late@drift.test", "role": "auditor"}, 201).str("id")
	mustItems(t, c.MustCall(t, "GET", "/v1/invites", o, nil, 200), "invites", 2)
	c.MustCall(t, "DELETE", "/v1/invites/"+gone, o, nil, 204)
	staff := &user{email: "staff@drift.test", password: goodPassword}
	staff.set(c.MustCall(t, "POST", "/v1/invites/accept", "", map[string]any{"token": e.mail.MustToken(t, "invite", staff.email),
		"name": "Sam Staff", "password": goodPassword}, 200))
	contractor := c.MustCall(t, "POST", "/v1/members", o, map[string]any{"name": "Cleo Contractor", "email": "cleo@example.test", "role": "contractor", "site_ids": []string{site}}, 201).str("id")
	c.MustCall(t, "PATCH", "/v1/members/"+contractor, o, map[string]any{"role": "contractor", "site_ids": []string{site}}, 200)
	c.MustCall(t, "PUT", "/v1/members/"+contractor+"/pin", o, map[string]any{"pin": "482913"}, 204)
	c.MustCall(t, "GET", "/v1/members/"+contractor, o, nil, 200)
	c.MustCall(t, "DELETE", "/v1/members/"+contractor+"/pin", o, nil, 204)
	kinds := keycab.BadgeKinds()
	c.MustCall(t, "POST", "/v1/members/"+contractor+"/badges", o, map[string]any{"kind": kinds[0], "code": "0004213377"}, 201)
	lost := c.MustCall(t, "POST", "/v1/members/"+contractor+"/badges", o, map[string]any{"kind": kinds[len(kinds)-1], "code": "LOST-CARD-1"}, 201).str("id")
	c.MustCall(t, "DELETE", "/v1/members/"+contractor+"/badges/"+lost, o, nil, 204)
	mustItems(t, c.MustCall(t, "GET", "/v1/members/"+contractor+"/badges", o, nil, 200), "badges", 2)
	leaver := c.MustCall(t, "POST", "/v1/members", o, map[string]any{"role": "staff"}, 201).str("id")
	if ar := c.MustCall(t, "GET", "/v1/members/"+leaver+"/subject-access", o, nil, 200); !strings.HasPrefix(ar.raw, "PK") {
		t.Fatalf("subject access archive is no zip: %q", ar.raw[:min(len(ar.raw), 20)])
	}
	mustItems(t, c.MustCall(t, "GET", "/v1/members", o, nil, 200), "members", 4)

	// Jobs and reservations.
	c.MustCall(t, "POST", "/v1/jobs", o, map[string]any{"member_id": contractor, "key_set_ids": []string{ks[1]}, "descriptor": "boiler service",
		"from": rfc(time.Hour), "until": rfc(5 * time.Hour)}, 201)
	ended := c.MustCall(t, "POST", "/v1/jobs", o, map[string]any{"member_id": contractor, "key_set_ids": []string{ks[0]},
		"from": rfc(24 * time.Hour), "until": rfc(26 * time.Hour)}, 201).str("id")
	mustItems(t, c.MustCall(t, "GET", "/v1/jobs?member_id="+contractor, o, nil, 200), "jobs", 2)
	c.MustCall(t, "DELETE", "/v1/jobs/"+ended, o, nil, 204)
	c.MustCall(t, "POST", "/v1/reservations", o, map[string]any{"key_set_id": ks[0], "member_id": staff.memberID, "from": rfc(48 * time.Hour), "until": rfc(50 * time.Hour)}, 201)
	cancelled := c.MustCall(t, "POST", "/v1/reservations", o, map[string]any{"key_set_id": ks[0], "from": rfc(72 * time.Hour), "until": rfc(73 * time.Hour)}, 201).str("id")
	mustItems(t, c.MustCall(t, "GET", "/v1/reservations?key_set_id="+ks[0], o, nil, 200), "reservations", 2)
	c.MustCall(t, "DELETE", "/v1/reservations/"+cancelled, o, nil, 204)

	// Policy at every level, and a member's own limits.
	c.MustCall(t, "PUT", "/v1/policy", o, map[string]any{"pin_always": true, "curfew": "18:00", "reasons": []string{"viewing", "repair"},
		"brand_name": "Drift Lettings", "accent": "#1f6feb", "approver_role": "site_manager", "remote_release": false}, 200)
	c.MustCall(t, "GET", "/v1/policy", o, nil, 200)
	c.MustCall(t, "PUT", "/v1/sites/"+site+"/policy", o, map[string]any{"scan_cool_down_seconds": 5, "max_keys_out": 2}, 200)
	c.MustCall(t, "GET", "/v1/sites/"+site+"/policy", o, nil, 200)
	c.MustCall(t, "PUT", "/v1/cabinets/"+cab+"/policy", o, map[string]any{"door_held_seconds": 90, "door_held_warning_seconds": 20}, 200)
	if ef := c.MustCall(t, "GET", "/v1/cabinets/"+cab+"/policy", o, nil, 200).body["effective"].(map[string]any); ef["door_held_seconds"] != 90.0 || ef["max_keys_out"] != 2.0 || ef["pin_always"] != true {
		t.Errorf("the cabinet's effective policy does not inherit: %v", ef)
	}
	c.MustCall(t, "DELETE", "/v1/cabinets/"+cab+"/policy", o, nil, 200)
	c.MustCall(t, "DELETE", "/v1/sites/"+site+"/policy", o, nil, 200)
	c.MustCall(t, "DELETE", "/v1/policy", o, nil, 200)
	// Groups and access rules.
	people := c.MustCall(t, "POST", "/v1/groups", o, map[string]any{"kind": "members", "name": "Engineers"}, 201).str("id")
	plant := c.MustCall(t, "POST", "/v1/groups", o, map[string]any{"kind": "key_sets", "name": "Plant rooms", "site_id": site}, 201).str("id")
	c.MustCall(t, "PUT", "/v1/groups/"+people+"/entries", o, map[string]any{"ids": []string{contractor}}, 200)
	c.MustCall(t, "PUT", "/v1/groups/"+plant+"/entries", o, map[string]any{"ids": []string{ks[1]}}, 200)
	c.MustCall(t, "GET", "/v1/groups/"+plant, o, nil, 200)
	mustItems(t, c.MustCall(t, "GET", "/v1/groups", o, nil, 200), "groups", 2)
	rule := c.MustCall(t, "POST", "/v1/access-rules", o, map[string]any{"member_group_id": people, "key_set_group_id": plant,
		"schedule": []map[string]any{{"days": []int{1, 2, 3, 4, 5}, "from": "07:00", "until": "19:00"}}}, 201).str("id")
	mustItems(t, c.MustCall(t, "GET", "/v1/access-rules", o, nil, 200), "rules", 1)
	c.MustCall(t, "GET", "/v1/members/"+contractor+"/may-take/"+ks[1], o, nil, 200)
	c.MustCall(t, "DELETE", "/v1/access-rules/"+rule, o, nil, 204)
	c.MustCall(t, "DELETE", "/v1/groups/"+plant, o, nil, 204)
	c.MustCall(t, "DELETE", "/v1/groups/"+people, o, nil, 204)
	c.MustCall(t, "PUT", "/v1/members/"+contractor+"/access", o, map[string]any{"schedule": []map[string]any{{"days": []int{1, 2, 3, 4, 5}, "from": "08:00", "until": "18:00"}},
		"access_until": rfc(30 * 24 * time.Hour), "max_keys_out": 1}, 200)

	// A kiosk enrols with a token from the API and pushes its log.
	tok := c.MustCall(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", o, map[string]any{"ttl_hours": 2}, 201).str("token")
	c.MustCall(t, "POST", "/v1/cabinets/"+shelf+"/enrol-tokens", o, nil, 201)
	k := e.MustEnrolWith(t, tok, "front kiosk")
	db, key, peer := k.db, k.key, k.peer
	for i := range 20 {
		ev := audit.Event{Kind: keycab.EventDoorClosed}
		if i%2 == 0 {
			ev = audit.Event{Kind: keycab.EventIdentified, Actor: staff.memberID}
		}
		_, err := db.Append(ctx, kstore.Record{Event: &ev})
		MustNoErr(t, err)
	}
	// An alarm with a camera still.
	still := stillJPEG(t)
	stillAt, err := db.Append(ctx, kstore.Record{Event: &audit.Event{Kind: keycab.EventAlarmRaised, Detail: map[string]string{"alarm": keycab.AlarmDoorForced}}, Still: still})
	MustNoErr(t, err)
	a, err := agent.New(ctx, agent.Config{DB: db, Key: key})
	MustNoErr(t, err)
	_, err = a.Push(ctx)
	MustNoErr(t, err)
	if r := c.MustCall(t, "GET", fmt.Sprintf("/v1/kiosks/%s/stills/%d", peer.KioskID, stillAt[0].Index), o, nil, 200); r.raw != string(still) {
		t.Fatalf("the still read through the API is %d bytes, not the kiosk's %d", len(r.raw), len(still))
	}
	c.MustCall(t, "GET", fmt.Sprintf("/v1/kiosks/%s/stills/%d", peer.KioskID, stillAt[0].Index-1), o, nil, 404)
	kl := c.MustCall(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log", o, nil, 200)
	size := int64(kl.body["size"].(float64))
	if size != db.Size() {
		t.Fatalf("HQ holds %d entries of %d", size, db.Size())
	}
	c.MustCall(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log/checkpoint", o, nil, 200)
	c.MustCall(t, "GET", "/v1/kiosks/"+peer.KioskID+"/refusals", o, nil, 200)
	c.MustCall(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log/witnesses", o, nil, 200)
	c.MustCall(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log/evidence", o, nil, 200)
	// A path parameter's slashes percent-encoded, as OpenAPI has them.
	c.MustCall(t, "GET", fmt.Sprintf("/v1/kiosks/%s/log/tile/0%%2F000.p%%2F%d", peer.KioskID, size), o, nil, 200)
	c.MustCall(t, "GET", fmt.Sprintf("/v1/kiosks/%s/log/tile/entries%%2F000.p%%2F%d", peer.KioskID, size), o, nil, 200)
	// Published, the log is read without a token.
	c.MustCall(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log/checkpoint", "", nil, 401)
	c.MustCall(t, "PUT", "/v1/org/public-logs", o, map[string]any{"public_logs": true}, 200)
	c.MustCall(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log/checkpoint", "", nil, 200)
	c.MustCall(t, "GET", fmt.Sprintf("/v1/kiosks/%s/log/tile/entries%%2F000.p%%2F%d", peer.KioskID, size), "", nil, 200)
	c.MustCall(t, "PUT", "/v1/org/public-logs", o, map[string]any{"public_logs": false}, 200)

	// Webhooks: registered (the secret once), changed, rotated, tested,
	// the delivery log read and a delivery resent, deleted.
	hook := c.MustCall(t, "POST", "/v1/webhooks", o, map[string]any{"url": "https://hooks.drift.test/keycab", "description": "Access control",
		"events": []string{"custody.changed", "alarm.raised"}}, 201)
	hookID, _ := hook.body["webhook"].(map[string]any)["id"].(string)
	mustItems(t, c.MustCall(t, "GET", "/v1/webhooks", o, nil, 200), "webhooks", 1)
	c.MustCall(t, "GET", "/v1/webhooks/"+hookID, o, nil, 200)
	c.MustCall(t, "PUT", "/v1/webhooks/"+hookID, o, map[string]any{"url": "https://hooks.drift.test/keycab/v2", "events": []string{"key.overdue"}, "enabled": true}, 200)
	c.MustCall(t, "POST", "/v1/webhooks/"+hookID+"/rotate", o, map[string]any{"keep_old_seconds": 3600}, 200)
	msg := c.MustCall(t, "POST", "/v1/webhooks/"+hookID+"/test", o, nil, 202).str("id")
	mustItems(t, c.MustCall(t, "GET", "/v1/webhooks/"+hookID+"/deliveries?limit=10", o, nil, 200), "deliveries", 1)
	c.MustCall(t, "POST", "/v1/webhooks/"+hookID+"/deliveries/"+msg+"/resend", o, nil, 202)
	c.MustCall(t, "DELETE", "/v1/webhooks/"+hookID, o, nil, 204)

	// History with takes, a key out past its due time and an alarm, as a
	// second kiosk recorded them.
	sc := store.MemberScope(owner.orgID, owner.memberID)
	k2, err := e.st.CreateKiosk(ctx, sc, store.Kiosk{CabinetID: cab, Name: "kiosk 2"})
	MustNoErr(t, err)
	t0 := now.Add(-3 * time.Hour)
	MustNoErr(t, e.st.RecordEvents(ctx, store.KioskScope(owner.orgID, k2.ID), []store.Event{
		{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: staff.memberID, KeySetID: ks[0], CabinetID: cab, At: t0, DueAt: t0.Add(time.Hour)},
		{LogIndex: 1, Kind: keycab.EventKeyTaken, ActorID: staff.memberID, KeySetID: ks[1], CabinetID: cab, At: t0.Add(time.Minute)},
		{LogIndex: 2, Kind: keycab.EventKeyReturned, ActorID: staff.memberID, KeySetID: ks[1], CabinetID: cab, At: t0.Add(2 * time.Minute)},
		{LogIndex: 3, Kind: keycab.EventAlarmRaised, CabinetID: cab, Detail: keycab.AlarmDoorHeld, At: t0.Add(3 * time.Minute)},
	}))
	c.MustCall(t, "GET", "/v1/reports/usage?since="+rfc(-24*time.Hour)+"&until="+rfc(time.Hour), o, nil, 200)
	c.MustCall(t, "GET", "/v1/reports/usage?since="+rfc(time.Hour)+"&until="+rfc(-time.Hour), o, nil, 400)
	ev := c.MustCall(t, "GET", "/v1/events?limit=3", o, nil, 200)
	mustItems(t, ev, "events", 3)
	if ev.str("next_cursor") == "" {
		t.Fatalf("a full page without next_cursor: %s", ev.raw)
	}
	mustItems(t, c.MustCall(t, "GET", "/v1/events?kind=key.taken&cursor="+ev.str("next_cursor"), o, nil, 200), "events", 1)
	mustItems(t, c.MustCall(t, "GET", "/v1/events?since="+rfc(-24*time.Hour)+"&until="+rfc(time.Hour)+"&key_set_id="+ks[0]+"&actor_id="+staff.memberID, o, nil, 200), "events", 1)
	if jl := c.MustCall(t, "GET", "/v1/events.jsonl?kind=key.taken", o, nil, 200); strings.Count(jl.raw, "\n") != 2 || !strings.Contains(jl.raw, `"kind":"key.taken"`) {
		t.Fatalf("events.jsonl: %q", jl.raw)
	}
	if cu := mustItems(t, c.MustCall(t, "GET", "/v1/custody", o, nil, 200), "custody", 1); cu[0]["overdue"] != true {
		t.Fatalf("custody: %v", cu)
	}
	mustItems(t, c.MustCall(t, "GET", "/v1/alarms?open=1", o, nil, 200), "alarms", 1)
	mustItems(t, c.MustCall(t, "GET", "/v1/kiosks", o, nil, 200), "kiosks", 2)
	c.MustCall(t, "POST", "/v1/kiosks/"+peer.KioskID+"/actions", o, map[string]any{"kind": "release_door", "reason": "locksmith"}, 201)
	mustItems(t, c.MustCall(t, "GET", "/v1/kiosks/"+peer.KioskID+"/actions", o, nil, 200), "actions", 1)
	c.MustCall(t, "POST", "/v1/kiosks/"+k2.ID+"/revoke", o, nil, 204)
	mustItems(t, c.MustCall(t, "GET", "/v1/admin-log?limit=50", o, nil, 200), "actions", 10)
	pass := c.MustCall(t, "POST", "/v1/passes", o, map[string]any{"member_id": contractor, "key_set_ids": []string{ks[0]},
		"not_before": rfc(-time.Hour), "not_after": rfc(8 * time.Hour), "note": "WO-7"}, 201).str("id")
	mustItems(t, c.MustCall(t, "GET", "/v1/passes?limit=10", o, nil, 200), "passes", 1)
	c.MustCall(t, "POST", "/v1/passes/"+pass+"/revoke", o, nil, 200)
	c.MustCall(t, "POST", "/v1/passes/"+pass+"/revoke", o, nil, 409)

	// MFA, and the sign-in that asks for it.
	setup := c.MustCall(t, "POST", "/v1/me/mfa/setup", staff.access, nil, 200)
	secret, err := decodeKey(setup.str("secret"))
	MustNoErr(t, err)
	c.MustCall(t, "POST", "/v1/me/mfa/enable", staff.access, map[string]any{"code": auth.TOTPCode(secret, e.clock.Now())}, 200)
	e.clock.Advance(30 * time.Second)
	ch := c.MustCall(t, "POST", "/v1/auth/login", "", map[string]any{"email": staff.email, "password": goodPassword}, 200)
	if ch.body["mfa_required"] != true {
		t.Fatalf("no MFA challenge: %s", ch.raw)
	}
	staff.set(c.MustCall(t, "POST", "/v1/auth/mfa", "", map[string]any{"mfa_token": ch.str("mfa_token"), "code": auth.TOTPCode(secret, e.clock.Now())}, 200))

	// Recovery codes and MFA off, with re-authentication; an admin's
	// reset of a member's MFA; the organisation's MFA rule.
	e.clock.Advance(30 * time.Second)
	rc := c.MustCall(t, "POST", "/v1/me/mfa/recovery-codes", staff.access, map[string]any{"password": goodPassword, "code": auth.TOTPCode(secret, e.clock.Now())}, 200)
	codes, _ := rc.body["recovery_codes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %s", rc.raw)
	}
	c.MustCall(t, "POST", "/v1/me/mfa/disable", staff.access, map[string]any{"password": goodPassword, "code": codes[0]}, 200)
	e.MustEnableMFA(t, staff)
	c.MustCall(t, "DELETE", "/v1/members/"+staff.memberID+"/mfa", o, nil, 204)
	staff.set(c.MustCall(t, "POST", "/v1/auth/login", "", map[string]any{"email": staff.email, "password": goodPassword}, 200))
	c.MustCall(t, "PUT", "/v1/org/security", o, map[string]any{"require_mfa": false}, 200)

	// Links by mail, and passwords.
	c.MustCall(t, "POST", "/v1/auth/magic", "", map[string]any{"email": owner.email}, 202)
	owner.set(c.MustCall(t, "POST", "/v1/auth/magic/confirm", "", map[string]any{"token": e.mail.MustToken(t, "magic", owner.email)}, 200))
	const newPassword = "a much longer passphrase now"
	owner.set(c.MustCall(t, "POST", "/v1/auth/password", owner.access, map[string]any{"current_password": goodPassword, "new_password": newPassword}, 200))
	c.MustCall(t, "POST", "/v1/auth/reset", "", map[string]any{"email": owner.email}, 202)
	c.MustCall(t, "POST", "/v1/auth/reset/confirm", "", map[string]any{"token": e.mail.MustToken(t, "reset", owner.email), "password": goodPassword}, 200)
	owner.set(c.MustCall(t, "POST", "/v1/auth/login", "", map[string]any{"email": owner.email, "password": goodPassword}, 200))
	o = owner.access

	// One's sessions, and signing out one of them; a change of address.
	c.MustCall(t, "POST", "/v1/auth/login", "", map[string]any{"email": owner.email, "password": goodPassword}, 200)
	for _, ss := range mustItems(t, c.MustCall(t, "GET", "/v1/me/sessions", o, nil, 200), "sessions", 2) {
		if ss["current"] != true {
			c.MustCall(t, "DELETE", "/v1/me/sessions/"+ss["id"].(string), o, nil, 204)
		}
	}
	e.clock.Advance(16 * time.Minute) // a fresh window of the address's mail limit
	c.MustCall(t, "POST", "/v1/me/email", o, map[string]any{"email": "olive@drift.test", "password": goodPassword}, 202)
	// Lifecycle: retention rules, a legal hold, an erasure it blocks.
	c.MustCall(t, "POST", "/v1/import/people", o, map[string]any{"csv": "name,email\nImogen Import,imogen@drift.test\n", "apply": true}, 200)
	c.MustCall(t, "PUT", "/v1/retention", o, map[string]any{"personal_text_days": 90, "deliveries_days": 30, "sessions_days": 7, "admin_detail_days": 365}, 200)
	c.MustCall(t, "GET", "/v1/retention", o, nil, 200)
	forgotten := c.MustCall(t, "POST", "/v1/members", o, map[string]any{"name": "Frida Forgotten", "role": "staff"}, 201).str("id")
	hold := c.MustCall(t, "POST", "/v1/holds", o, map[string]any{"target": "member", "target_id": forgotten, "reason": "tribunal", "owner_id": owner.memberID, "ends": rfc(240 * time.Hour)}, 201).str("id")
	mustItems(t, c.MustCall(t, "GET", "/v1/holds", o, nil, 200), "holds", 1)
	c.MustCall(t, "POST", "/v1/members/"+forgotten+"/erase", o, map[string]any{"confirm": forgotten}, 409)
	c.MustCall(t, "POST", "/v1/holds/"+hold+"/end", o, nil, 200)
	c.MustCall(t, "POST", "/v1/members/"+forgotten+"/erase", o, map[string]any{"confirm": forgotten}, 200)

	// What is left to delete.
	c.MustCall(t, "DELETE", "/v1/members/"+leaver, o, nil, 204)
	c.MustCall(t, "DELETE", "/v1/key-sets/"+ks[2], o, nil, 204)
	c.MustCall(t, "DELETE", "/v1/cabinets/"+shelf, o, nil, 204)
	c.MustCall(t, "DELETE", "/v1/sites/"+spare, o, nil, 204)

	// Custody at HQ (a phone's scan) and the HQ log it writes, at a site
	// with no open shelf now (a lockbox's key set).
	lockbox := c.MustCall(t, "POST", "/v1/key-sets", o, map[string]any{"site_id": site, "label": "lockbox"}, 201).str("id")
	label := c.MustCall(t, "POST", "/v1/key-sets/"+lockbox+"/tokens", o, nil, 201).str("token")
	c.MustCall(t, "POST", "/v1/scan", o, map[string]any{"token": label}, 200)
	c.MustCall(t, "POST", "/v1/custody", o, map[string]any{"request_id": "drift-take-0000001", "token": label, "action": "take", "reason": "viewing"}, 200)
	c.MustCall(t, "GET", "/v1/org/log", o, nil, 200)
	c.MustCall(t, "GET", "/v1/org/log/checkpoint", o, nil, 200)
	c.MustCall(t, "GET", "/v1/org/log/tile/0%2F000.p%2F1", o, nil, 200)

	// API keys: made, used (reading history, returning the key set for
	// the member who took it), listed, revoked.
	reader := c.MustCall(t, "POST", "/v1/api-keys", o, map[string]any{"name": "access control", "scopes": []string{"history:read"}, "expires_at": rfc(24 * time.Hour)}, 201)
	keeper := c.MustCall(t, "POST", "/v1/api-keys", o, map[string]any{"name": "front desk app", "scopes": []string{"custody:write"}}, 201).str("token")
	c.MustCall(t, "GET", "/v1/events?limit=5", reader.str("token"), nil, 200)
	c.MustCall(t, "POST", "/v1/custody", keeper, map[string]any{"request_id": "drift-return-000001", "token": label, "action": "return", "member_id": owner.memberID}, 200)
	mustItems(t, c.MustCall(t, "GET", "/v1/api-keys", o, nil, 200), "api_keys", 2)
	c.MustCall(t, "POST", "/v1/api-keys/"+reader.str("id")+"/revoke", o, nil, 200)

	// Single sign-on: configured, read (never the secret), changed
	// keeping the secret, a bad issuer refused, removed.
	sso := map[string]any{"issuer": "https://login.drift.test", "client_id": "keycab", "client_secret": "drift-idp-secret",
		"domains": []string{"drift.test"}, "roles": []map[string]any{{"group": "depot", "role": "staff", "site_ids": []string{site}}, {"group": "it", "role": "admin"}}}
	c.MustCall(t, "PUT", "/v1/sso", o, sso, 200)
	if got := c.MustCall(t, "GET", "/v1/sso", o, nil, 200); strings.Contains(got.raw, "drift-idp-secret") {
		t.Fatal("GET /v1/sso answers the client secret")
	}
	delete(sso, "client_secret")
	sso["enforce"] = true
	c.MustCall(t, "PUT", "/v1/sso", o, sso, 200)
	sso["issuer"] = "http://login.drift.test"
	c.MustCall(t, "PUT", "/v1/sso", o, sso, 400)
	c.MustCall(t, "DELETE", "/v1/sso", o, nil, 204)

	// SCIM tokens: made (for an identity provider, at /scim/v2/), listed,
	// revoked.
	scimTok := c.MustCall(t, "POST", "/v1/scim-tokens", o, map[string]any{"name": "Okta"}, 201)
	mustItems(t, c.MustCall(t, "GET", "/v1/scim-tokens", o, nil, 200), "scim_tokens", 1)
	c.MustCall(t, "POST", "/v1/scim-tokens/"+scimTok.str("id")+"/revoke", o, nil, 200)

	// Deleting the organisation, and restoring it.
	c.MustCall(t, "GET", "/v1/org/deletion", o, nil, 200)
	c.MustCall(t, "POST", "/v1/org/deletion", o, map[string]any{"confirm": "Drift", "password": goodPassword}, 202)
	c.MustCall(t, "DELETE", "/v1/org/deletion", o, nil, 200)
	c.MustCall(t, "POST", "/v1/auth/logout", o, nil, 204)
}
