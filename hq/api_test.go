package hq_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// world is an organisation with a site, a cabinet, key sets, a kiosk and
// some history.
type world struct {
	owner, staff *user
	site         store.Site
	cab          keycab.Cabinet
	ks           []keycab.KeySet
	kiosk        store.Kiosk
}

func (e *env) MustWorld(tb testing.TB, name string) *world {
	tb.Helper()
	ctx := context.Background()
	w := &world{owner: e.MustSignup(tb, name, "owner@"+strings.ToLower(name)+".test")}
	w.staff = e.MustJoin(tb, w.owner, "staff@"+strings.ToLower(name)+".test", "staff")
	sc := store.MemberScope(w.owner.orgID, w.owner.memberID)
	var err error
	w.site, err = e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{OrgID: w.owner.orgID, Name: name + " site"}, Notes: "alarm code 1234"})
	MustNoErr(tb, err)
	w.cab, err = e.st.CreateCabinet(ctx, sc, keycab.Cabinet{OrgID: w.owner.orgID, SiteID: w.site.ID, Name: "front", Kind: keycab.Slotted})
	MustNoErr(tb, err)
	for i := range 3 {
		k, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{OrgID: w.owner.orgID, SiteID: w.site.ID, Label: "keys " + string(rune('A'+i))})
		MustNoErr(tb, err)
		MustNoErr(tb, e.st.SetSlot(ctx, sc, keycab.Slot{CabinetID: w.cab.ID, Number: i + 1, KeySetID: k.ID}))
		w.ks = append(w.ks, k)
	}
	w.kiosk, err = e.st.CreateKiosk(ctx, sc, store.Kiosk{CabinetID: w.cab.ID, Name: "kiosk 1"})
	MustNoErr(tb, err)
	t0 := e.clock.Now().Add(-time.Hour)
	var evs []store.Event
	for i := range 7 {
		k := w.ks[i%3]
		kind := keycab.EventKeyTaken
		if i >= 3 && i < 6 {
			kind = keycab.EventKeyReturned
		}
		evs = append(evs, store.Event{LogIndex: int64(i), Kind: kind, ActorID: w.staff.memberID, KeySetID: k.ID, CabinetID: w.cab.ID, At: t0.Add(time.Duration(i) * time.Minute)})
	}
	evs = append(evs, store.Event{LogIndex: 7, Kind: keycab.EventAlarmRaised, CabinetID: w.cab.ID, Detail: keycab.AlarmDoorHeld, At: t0.Add(10 * time.Minute)})
	MustNoErr(tb, e.st.RecordEvents(ctx, store.KioskScope(w.owner.orgID, w.kiosk.ID), evs))
	return w
}

// History pages with a keyset cursor, and filters apply.
func TestEventsPagination(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		w := e.MustWorld(t, "Acme")
		var seen []string
		cursor := ""
		for page := 0; ; page++ {
			q := "/v1/events?limit=3"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			r := MustStatus(t, e.do(t, "GET", q, w.owner.access, nil), 200)
			for _, ev := range r.body["events"].([]any) {
				m := ev.(map[string]any)
				seen = append(seen, m["kind"].(string)+"@"+m["at"].(string))
			}
			cursor = r.str("next_cursor")
			if cursor == "" {
				break
			}
			if page > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if len(seen) != 8 {
			t.Fatalf("%d events over the pages, want 8: %v", len(seen), seen)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] == seen[i-1] {
				t.Fatalf("event repeated across pages: %v", seen)
			}
		}
		r := MustStatus(t, e.do(t, "GET", "/v1/events?kind=key.returned", w.owner.access, nil), 200)
		if n := len(r.body["events"].([]any)); n != 3 {
			t.Errorf("kind filter: %d events", n)
		}
		r = MustStatus(t, e.do(t, "GET", "/v1/events?key_set_id="+w.ks[0].ID, w.owner.access, nil), 200)
		if n := len(r.body["events"].([]any)); n != 3 {
			t.Errorf("key set filter: %d events", n)
		}
		since := e.clock.Now().Add(-time.Hour + 150*time.Second).Format(time.RFC3339)
		r = e.do(t, "GET", "/v1/events?since="+url.QueryEscape(since), w.owner.access, nil)
		if r.status != 200 {
			t.Fatalf("since: %s\n%s", r.raw, e.logText())
		}
		if n := len(r.body["events"].([]any)); n != 5 {
			t.Errorf("since filter: %d events", n)
		}
		MustStatus(t, e.do(t, "GET", "/v1/events?cursor=bm90LWEtY3Vyc29y", w.owner.access, nil), 400)
		MustStatus(t, e.do(t, "GET", "/v1/events?limit=5000", w.owner.access, nil), 400)
		MustStatus(t, e.do(t, "GET", "/v1/events?since=yesterday", w.owner.access, nil), 400)
	})
}

// The read endpoints answer for the organisation, within roles.
func TestReadEndpoints(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		w := e.MustWorld(t, "Acme")
		other := e.MustWorld(t, "Other")
		o := w.owner.access
		count := func(path, key, tok string) int {
			t.Helper()
			return len(MustStatus(t, e.do(t, "GET", path, tok, nil), 200).body[key].([]any))
		}
		for _, c := range []struct {
			path, key string
			want      int
		}{{"/v1/sites", "sites", 1}, {"/v1/cabinets", "cabinets", 1}, {"/v1/key-sets", "key_sets", 3}, {"/v1/members", "members", 2},
			{"/v1/custody", "custody", 1}, {"/v1/alarms", "alarms", 1}, {"/v1/alarms?open=1", "alarms", 1}, {"/v1/kiosks", "kiosks", 1}} {
			if n := count(c.path, c.key, o); n != c.want {
				t.Errorf("%s: %d, want %d", c.path, n, c.want)
			}
		}
		site := MustStatus(t, e.do(t, "GET", "/v1/sites/"+w.site.ID, o, nil), 200)
		if site.str("notes") != "alarm code 1234" {
			t.Errorf("owner does not see notes: %s", site.raw)
		}
		cab := MustStatus(t, e.do(t, "GET", "/v1/cabinets/"+w.cab.ID, o, nil), 200)
		if n := len(cab.body["slots"].([]any)); n != 3 {
			t.Errorf("%d slots", n)
		}
		// Staff: custody of their own (they hold keys A), notes only while holding a key.
		if n := count("/v1/custody", "custody", w.staff.access); n != 1 {
			t.Errorf("staff custody: %d", n)
		}
		MustStatus(t, e.do(t, "GET", "/v1/alarms", w.staff.access, nil), 403)
		MustStatus(t, e.do(t, "GET", "/v1/members/"+other.staff.memberID, w.staff.access, nil), 404)
		MustStatus(t, e.do(t, "GET", "/v1/events?actor_id="+other.staff.memberID, w.owner.access, nil), 200)
		if n := count("/v1/events?actor_id="+other.staff.memberID, "events", w.owner.access); n != 0 {
			t.Errorf("another organisation's history leaks: %d", n)
		}
		org := MustStatus(t, e.do(t, "GET", "/v1/org", o, nil), 200)
		if org.str("id") != w.owner.orgID {
			t.Error(org.raw)
		}
		// Removing the member ends what their session can do.
		temp := e.MustJoin(t, w.owner, "temp@acme.test", "auditor")
		MustStatus(t, e.do(t, "GET", "/v1/key-sets", temp.access, nil), 200)
		MustNoErr(t, e.st.RemoveMember(context.Background(), store.MemberScope(w.owner.orgID, w.owner.memberID), temp.memberID))
		MustStatus(t, e.do(t, "GET", "/v1/key-sets", temp.access, nil), 401)
	})
}

// /openapi.json documents every route the server serves.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t, engines()[0], nil)
	r := MustStatus(t, e.do(t, "GET", "/openapi.json", "", nil), 200)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	MustNoErr(t, json.Unmarshal([]byte(r.raw), &doc))
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	for _, want := range []string{"POST /v1/signup", "POST /v1/auth/login", "POST /v1/auth/mfa", "POST /v1/auth/refresh", "POST /v1/auth/logout",
		"POST /v1/auth/password", "POST /v1/auth/reset", "POST /v1/auth/reset/confirm", "POST /v1/invites", "POST /v1/invites/accept",
		"GET /v1/me", "GET /v1/events", "GET /v1/custody", "GET /v1/alarms", "GET /v1/kiosks", "GET /v1/key-sets/{id}", "GET /v1/members"} {
		m, p, _ := strings.Cut(want, " ")
		if doc.Paths[p][strings.ToLower(m)] == nil {
			t.Errorf("%s missing from the OpenAPI document", want)
		}
	}
}
