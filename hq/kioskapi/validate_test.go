package kioskapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// signedDo sends a signed kiosk request and returns its status and the
// message of an error answer.
func signedDo(t *testing.T, h *hq, k *kiosk, method, uri string, body []byte) (int, string) {
	t.Helper()
	req := must[*http.Request](t)(http.NewRequest(method, h.srv.URL+uri, bytes.NewReader(body)))
	wire.SignRequest(req, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
	res, err := http.DefaultClient.Do(req)
	MustNoErr(t, err)
	defer res.Body.Close()
	raw := must[[]byte](t)(io.ReadAll(res.Body))
	var e keycab.ErrorBody
	json.Unmarshal(raw, &e)
	return res.StatusCode, e.Error.Message
}

// TestHeartbeatChecked: HQ stores a heartbeat only when every field is
// in range: sizes not negative, the cosigned size within the log and
// within what HQ has cosigned, a config version HQ issued, door and
// alarms from their known values (a kind may be open more than once),
// bounded text. Anything else is 400
// naming the field, and the heartbeat HQ holds stays as it was.
func TestHeartbeatChecked(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		if _, err := k.a.PullConfig(ctx, 0); err != nil {
			t.Fatal(err)
		}
		MustAppend(t, k.db, h, 5, "hb")
		if _, err := k.a.Push(ctx); err != nil {
			t.Fatal(err)
		}
		size := k.db.Size()
		cv := must[int64](t)(k.db.ConfigVersion(ctx))
		good := wire.Heartbeat{V: wire.Minor, Door: "closed", Alarms: []string{keycab.AlarmDoorHeld, keycab.AlarmTamper}, LogSize: size + 2,
			CosignedSize: size, ConfigVersion: cv, Software: "keycab-kiosk 1.4.2 (linux/arm64)", DiskFree: 1 << 30, TemperatureMC: -5000}
		beat := func(hb wire.Heartbeat) (int, string) {
			t.Helper()
			return signedDo(t, h, k, http.MethodPost, wire.PathHeartbeat, must[[]byte](t)(json.Marshal(hb)))
		}
		if code, msg := beat(good); code != http.StatusOK {
			t.Fatalf("good heartbeat: %d %s", code, msg)
		}
		stored := func() hqstore.Heartbeat {
			return must[[]hqstore.KioskHealth](t)(h.s.KioskLogs().ListKioskHealth(ctx, h.own(), time.Minute))[0].Heartbeat
		}
		want := stored()
		for _, c := range []struct {
			name, field string
			change      func(*wire.Heartbeat)
		}{
			{"negative log size", "log_size", func(hb *wire.Heartbeat) { hb.LogSize = -7 }},
			{"negative cosigned size", "cosigned_size", func(hb *wire.Heartbeat) { hb.CosignedSize = -1 }},
			{"cosigned beyond the log", "cosigned_size", func(hb *wire.Heartbeat) { hb.LogSize, hb.CosignedSize = size, size+1 }},
			{"cosigned beyond HQ's cosignatures", "cosigned_size", func(hb *wire.Heartbeat) { hb.LogSize, hb.CosignedSize = size+10, size+5 }},
			{"negative config version", "config_version", func(hb *wire.Heartbeat) { hb.ConfigVersion = -1 }},
			{"config version HQ never issued", "config_version", func(hb *wire.Heartbeat) { hb.ConfigVersion = cv + 1 }},
			{"unknown door", "door", func(hb *wire.Heartbeat) { hb.Door = "ajar" }},
			{"5,000-character door", "door", func(hb *wire.Heartbeat) { hb.Door = strings.Repeat("o", 5000) }},
			{"unknown alarm", "alarms", func(hb *wire.Heartbeat) { hb.Alarms = []string{keycab.AlarmDoorHeld, "fire"} }},
			{"too many alarms", "alarms", func(hb *wire.Heartbeat) {
				hb.Alarms = slices.Repeat([]string{keycab.AlarmWrongSlot}, wire.MaxAlarms+1)
			}},
			{"empty alarm", "alarms", func(hb *wire.Heartbeat) { hb.Alarms = []string{""} }},
			{"long software", "software", func(hb *wire.Heartbeat) { hb.Software = strings.Repeat("v", 5000) }},
			{"software with a newline", "software", func(hb *wire.Heartbeat) { hb.Software = "keycab\nkiosk" }},
			{"software with a bell", "software", func(hb *wire.Heartbeat) { hb.Software = "keycab\a" }},
			{"negative disk free", "disk_free", func(hb *wire.Heartbeat) { hb.DiskFree = -1 }},
			{"temperature above any Pi's", "temperature_mc", func(hb *wire.Heartbeat) { hb.TemperatureMC = 1_000_000 }},
			{"temperature below absolute zero", "temperature_mc", func(hb *wire.Heartbeat) { hb.TemperatureMC = -300_000 }},
			{"negative version", "v", func(hb *wire.Heartbeat) { hb.V = -1 }},
		} {
			hb := good
			c.change(&hb)
			code, msg := beat(hb)
			if code != http.StatusBadRequest || !strings.Contains(msg, c.field) {
				t.Errorf("%s: %d %q, want 400 naming %s", c.name, code, msg, c.field)
			}
		}
		if got := stored(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("refused heartbeats changed the stored one:\n got %+v\nwant %+v", got, want)
		}
		// The bounds themselves are allowed.
		edge := good
		edge.LogSize, edge.CosignedSize, edge.ConfigVersion, edge.Door, edge.Alarms, edge.DiskFree = size, size, 0, "", nil, 0
		edge.Software = strings.Repeat("v", wire.MaxSoftware)
		edge.TemperatureMC = wire.MaxTemperatureMC
		if code, msg := beat(edge); code != http.StatusOK {
			t.Errorf("heartbeat at the bounds: %d %s", code, msg)
		}
		edge.Alarms = keycab.Alarms // every alarm a kiosk can raise, log_failed (a kiosk out of service) among them
		if code, msg := beat(edge); code != http.StatusOK {
			t.Errorf("heartbeat with every alarm kind: %d %s", code, msg)
		}
		edge.Alarms = slices.Repeat([]string{keycab.AlarmWrongSlot}, wire.MaxAlarms) // two keys in wrong slots are two alarms
		edge.TemperatureMC = wire.MinTemperatureMC
		if code, msg := beat(edge); code != http.StatusOK {
			t.Errorf("heartbeat at the bounds: %d %s", code, msg)
		}
	})
}

// TestConfigQueryChecked: a config poll's after and wait must be
// numbers in range; anything else is 400, not a full bundle.
func TestConfigQueryChecked(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		for _, q := range []string{"after=abc", "after=-1", "after=1.5", "after=", "after=0x10", "after=99999999999999999999",
			"wait=abc", "wait=-1", "wait=NaN", "wait=Inf", "after=0&wait=1e400", "after=1&after=2"} {
			if code, msg := signedDo(t, h, k, http.MethodGet, wire.PathConfig+"?"+q, nil); code != http.StatusBadRequest {
				t.Errorf("config?%s: %d %q, want 400", q, code, msg)
			}
		}
		for _, q := range []string{"", "after=0", "after=0&wait=0", "wait=0.5&after=0"} {
			if code, msg := signedDo(t, h, k, http.MethodGet, wire.PathConfig+"?"+q, nil); code != http.StatusOK {
				t.Errorf("config?%s: %d %q, want 200", q, code, msg)
			}
		}
	})
}

// TestInvalidText: every kiosk message holding text HQ cannot store (a
// \u0000 escape, which PostgreSQL's text cannot hold, or invalid UTF-8)
// is refused with 400 on both engines, enrolment included, before
// anything is stored.
func TestInvalidText(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		tok, _, err := h.s.CreateEnrolToken(context.Background(), h.own(), h.cab.ID, 0)
		MustNoErr(t, err)
		key := `"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`
		for _, c := range []struct{ path, body string }{
			{wire.PathEnrol, `{"v":0,"token":"` + tok + `",` + key + `,"name":"kiosk\u0000"}`},
			{wire.PathEnrol, `{"v":0,"token":"a\u0000b",` + key + `}`},
			{wire.PathEnrol, "{\"v\":0,\"token\":\"" + tok + "\"," + key + ",\"name\":\"k\xffiosk\"}"},
			{wire.PathPush, `{"v":0,"old_size":0,"entries":[],"checkpoint":"","note\u0000":1}`},
			{wire.PathHeartbeat, `{"v":0,"software":"keycab\u0000"}`},
			{wire.PathHeartbeat, "{\"v\":0,\"software\":\"keycab \xff\"}"},
		} {
			var code int
			var msg string
			if c.path == wire.PathEnrol {
				res, err := http.Post(h.srv.URL+c.path, "application/json", strings.NewReader(c.body))
				MustNoErr(t, err)
				var e keycab.ErrorBody
				json.NewDecoder(res.Body).Decode(&e)
				res.Body.Close()
				code, msg = res.StatusCode, e.Error.Message
			} else {
				code, msg = signedDo(t, h, k, http.MethodPost, c.path, []byte(c.body))
			}
			if code != http.StatusBadRequest || !strings.Contains(msg, "NUL") {
				t.Errorf("POST %s %q: %d %q, want 400 naming NUL", c.path, c.body, code, msg)
			}
		}
		// The token was not burnt by the refused enrolments.
		res, err := http.Post(h.srv.URL+wire.PathEnrol, "application/json", strings.NewReader(`{"v":0,"token":"`+tok+`",`+key+`,"name":"kiosk"}`))
		MustNoErr(t, err)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("enrolment after the refused ones: %d", res.StatusCode)
		}
	})
}

// TestPushedEntryWithInvalidText: a signed entry whose actor, key set or
// alarm holds text HQ cannot store (a NUL, invalid UTF-8) is still
// accepted and cosigned, its leaf kept byte for byte; only its history row
// shows the text with U+FFFD in place of what cannot be stored (on
// PostgreSQL the push answered 500 before, for ever after). Refusing
// it would leave the kiosk unable to push anything after it, ever.
func TestPushedEntryWithInvalidText(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		_, err := k.db.Append(ctx,
			store.Record{Event: &audit.Event{Kind: keycab.EventKeyTaken, Actor: "m\x00x", KeySet: "ks\xff", Slot: 1}},
			store.Record{Event: &audit.Event{Kind: keycab.EventAlarmRaised, Detail: map[string]string{"alarm": "door\x00held"}}})
		MustNoErr(t, err)
		MustAppend(t, k.db, h, 4, "after")
		if n, err := k.a.Push(ctx); err != nil || n < 6 {
			t.Fatalf("push with invalid text: %d entries, %v", n, err)
		}
		if hr := must[wire.HeartbeatResponse](t)(k.a.Heartbeat(ctx)); hr.Size != k.db.Size() {
			t.Fatalf("HQ holds %d entries, the kiosk %d", hr.Size, k.db.Size())
		}
		evs := must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{Limit: 100}))
		seen := map[string]bool{}
		for _, e := range evs {
			for _, s := range []string{e.ActorID, e.KeySetID, e.Detail} {
				if !keycab.ValidText(s) {
					t.Errorf("event %d holds text HQ cannot store: %q", e.LogIndex, s)
				}
				seen[s] = true
			}
		}
		// (The take names no member or key set HQ knows, so history, which
		// shows a site's events, has no row for it to show.)
		for _, want := range []string{"door\uFFFDheld"} {
			if !seen[want] {
				t.Errorf("no history row shows %q (rows: %v)", want, seen)
			}
		}
	})
}
