package hq_test

import (
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestHistoryWholeRecord: every field HQ keeps of a custody change beyond
// who, what and when (the reason, the second and third approver, the
// slot, the reader that identified the member, a wrong-slot return's
// circumstances and home slot, an alarm's context) is on the history
// page, in the CSV export, in the API's events and in the JSON Lines
// export, on SQLite and PostgreSQL.
func TestHistoryWholeRecord(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newDashEnv(t, eng, nil, false)
			w := e.web()
			w.MustSignupWeb(t, "Acme", "Ann Owner", "ann@acme.test")
			now := e.clock.Now()
			s := MustSeed(t, e, w, now, 0)
			sc := store.MemberScope(s.orgID, s.ownerID)
			third, err := e.st.CreateMember(t.Context(), sc, keycab.Member{Name: "Theo Third", Email: "theo@example.test", Role: keycab.RoleAdmin})
			MustNoErr(t, err)
			// MustSeed's kiosk A holds entries 0 and 1; ksFront is mapped to
			// slot 1 of its cabinet.
			MustNoErr(t, e.st.RecordEvents(t.Context(), store.KioskScope(s.orgID, s.kioskA.ID), []store.Event{
				{LogIndex: 2, Kind: keycab.EventIdentified, ActorID: s.dana.ID, At: now.Add(-4 * time.Minute), EventRecord: store.EventRecord{Via: "wiegand"}},
				{LogIndex: 3, Kind: keycab.EventKeyTaken, ActorID: s.dana.ID, KeySetID: s.ksFront.ID, At: now.Add(-3 * time.Minute),
					EventRecord: store.EventRecord{Reason: "inspection", SecondID: s.ownerID, ThirdID: third.ID, Slot: 1}},
				{LogIndex: 4, Kind: keycab.EventKeyReturned, ActorID: s.ownerID, KeySetID: s.ksFront.ID, At: now.Add(-2 * time.Minute),
					EventRecord: store.EventRecord{Slot: 7, Context: "wrong slot; for " + s.dana.ID}},
				{LogIndex: 5, Kind: keycab.EventAlarmRaised, At: now.Add(-time.Minute), Detail: keycab.AlarmKeyRemoved,
					EventRecord: store.EventRecord{Context: "Front door from slot 1"}},
			}))

			// The history page.
			body := htmlUnescape(MustPage(t, w.get(t, "/history"), 200).body)
			for _, want := range []string{`data-testid="reason">inspection<`, "with Ann Owner and Theo Third", "slot 1<", "slot 7<",
				`data-testid="via">by wiegand<`, "wrong slot; for " + s.dana.ID, `data-testid="home-slot">home slot 1<`, "Front door from slot 1"} {
				if !strings.Contains(body, want) {
					t.Errorf("the history page lacks %q", want)
				}
			}

			// The CSV export.
			link := htmlUnescape(regexp.MustCompile(`href="(/export/history.csv\?[^"]+)"`).FindStringSubmatch(MustPage(t, w.get(t, "/history/export"), 200).body)[1])
			rows, err := csv.NewReader(strings.NewReader(e.web().get(t, link).body)).ReadAll()
			MustNoErr(t, err)
			col := map[string]int{}
			for i, c := range rows[0] {
				col[c] = i
			}
			byIndex := map[string]map[string]string{}
			for _, r := range rows[1:] {
				m := map[string]string{}
				for c, i := range col {
					m[c] = r[i]
				}
				byIndex[m["log_index"]] = m
			}
			want := map[string]map[string]string{
				"2": {"kind": string(keycab.EventIdentified), "via": "wiegand"},
				"3": {"reason": "inspection", "second_id": s.ownerID, "second": "Ann Owner", "third_id": third.ID, "third": "Theo Third", "slot": "1"},
				"4": {"slot": "7", "context": "wrong slot; for " + s.dana.ID, "home_slot": "1"},
				"5": {"detail": keycab.AlarmKeyRemoved, "context": "Front door from slot 1"},
			}
			for idx, fields := range want {
				for c, v := range fields {
					if got := byIndex[idx][c]; got != v {
						t.Errorf("CSV entry %s: %s = %q, want %q", idx, c, got, v)
					}
				}
			}

			// The API's events and the JSON Lines export.
			u := &user{email: "ann@acme.test", password: goodPassword}
			e.MustLogin(t, u)
			var list struct{ Events []map[string]any }
			MustNoErr(t, json.Unmarshal([]byte(MustStatus(t, e.do(t, "GET", "/v1/events", u.access, nil), 200).raw), &list))
			jl := MustStatus(t, e.do(t, "GET", "/v1/events.jsonl", u.access, nil), 200)
			var lines []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(jl.raw), "\n") {
				var m map[string]any
				MustNoErr(t, json.Unmarshal([]byte(l), &m))
				lines = append(lines, m)
			}
			wantAPI := map[float64]map[string]any{
				2: {"via": "wiegand"},
				3: {"reason": "inspection", "second_id": s.ownerID, "third_id": third.ID, "slot": float64(1)},
				4: {"slot": float64(7), "context": "wrong slot; for " + s.dana.ID, "home_slot": float64(1)},
				5: {"detail": keycab.AlarmKeyRemoved, "context": "Front door from slot 1"},
			}
			for name, evs := range map[string][]map[string]any{"events": list.Events, "events.jsonl": lines} {
				got := map[float64]map[string]any{}
				for _, ev := range evs {
					if ev["kiosk_id"] == s.kioskA.ID {
						got[ev["log_index"].(float64)] = ev
					}
				}
				for idx, fields := range wantAPI {
					for k, v := range fields {
						if got[idx][k] != v {
							t.Errorf("%s entry %v: %s = %v, want %v", name, idx, k, got[idx][k], v)
						}
					}
				}
			}
		})
	}
}
