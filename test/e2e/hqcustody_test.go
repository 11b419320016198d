package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/internal/testenv"
)

// TestPhoneHandOver: Ben takes a key at the cabinet; on a phone (HQ's
// custody API) the owner hands it over to Chloe; the running kiosk learns
// it through its next bundle, logs custody.hq, raises no alarm and shows
// the key with Chloe, who returns it at the cabinet as its holder; HQ ends
// with the key in, and the kiosk's log and HQ's both verify.
func TestPhoneHandOver(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end test runs HQ and a kiosk")
	}
	engines(t, func(t *testing.T, dsn, appDSN string) {
		_, h, env, k, c := oneKiosk(t, dsn)
		st, sc := openHQ(t, appDSN, env)
		chloe := demoMembers(t, c)["Chloe"].ID
		const ben, chloeBadge, chloePIN = "0A00B1C2D4", "0A00B1C2D5", "2580"

		k.say(t, "badge "+ben, "Hello")
		k.say(t, "take 1", "reasons:")
		k.say(t, "reason viewing", "Slot 1 is open")
		k.say(t, "slot 1 out", "Taken:")
		k.say(t, "cancel", "Scan your badge")
		waitSynced(t, st, sc, k, 20*time.Second)

		var out struct {
			Keys []struct {
				KeySetID string `json:"key_set_id"`
				MemberID string `json:"member_id"`
			} `json:"custody"`
		}
		c.call(t, "GET", "/v1/custody", nil, 200, &out)
		if len(out.Keys) != 1 {
			t.Fatalf("keys out at HQ after Ben's take: %+v", out)
		}
		ks := out.Keys[0].KeySetID
		var scan struct {
			Home    string   `json:"home"`
			Actions []string `json:"actions"`
		}
		c.call(t, "POST", "/v1/scan", map[string]string{"key_set_id": ks}, 200, &scan)
		if scan.Home != "cabinet" || !strings.Contains(strings.Join(scan.Actions, " "), "hand_over") {
			t.Fatalf("the owner's scan of Ben's key: %+v", scan)
		}
		// Not back into the cabinet by phone.
		c.call(t, "POST", "/v1/custody", map[string]string{"request_id": "e2e-return-00000001", "key_set_id": ks, "action": "return"}, 409, nil)

		before := strings.Count(k.p.errb.String(), "config reloaded")
		var res struct {
			Outcome string `json:"outcome"`
		}
		c.call(t, "POST", "/v1/custody", map[string]string{"request_id": "e2e-handover-000001", "key_set_id": ks, "action": "hand_over", "to": chloe, "via": "phone"}, 200, &res)
		if res.Outcome != "done" {
			t.Fatalf("hand-over: %+v", res)
		}
		testenv.Eventually(t, liveWithin, "the kiosk adopting the hand-over", func() bool {
			return strings.Contains(k.p.errb.String(), "custody changes made at HQ adopted") &&
				strings.Count(k.p.errb.String(), "config reloaded") > before
		})
		if strings.Contains(k.p.errb.String(), `"msg":"alarm"`) {
			t.Fatalf("the kiosk raised an alarm: %s", k.p.errb.String())
		}

		// Chloe returns it at the cabinet, as its holder.
		k.say(t, "badge "+chloeBadge, "")
		time.Sleep(300 * time.Millisecond)
		if strings.Contains(k.p.out.String()[k.mark:], "PIN") {
			k.say(t, "pin "+chloePIN, "")
		}
		testenv.Eventually(t, 5*time.Second, "Chloe's menu offering the return", func() bool {
			return strings.Contains(k.p.out.String()[k.mark:], "return 1:")
		})
		k.say(t, "return 1", "Slot 1 is open")
		k.say(t, "slot 1 in", "Returned:")
		k.say(t, "cancel", "Scan your badge")
		waitSynced(t, st, sc, k, 20*time.Second)
		c.call(t, "GET", "/v1/custody", nil, 200, &out)
		if len(out.Keys) != 0 {
			t.Fatalf("keys out at HQ after Chloe's return: %+v", out)
		}
		var hist struct {
			Events []struct {
				Kind    string `json:"kind"`
				ActorID string `json:"actor_id"`
				Context string `json:"context"`
				KioskID string `json:"kiosk_id"`
			} `json:"events"`
		}
		c.call(t, "GET", "/v1/events?key_set_id="+ks, nil, 200, &hist)
		var kinds []string
		for _, e := range hist.Events {
			kinds = append(kinds, e.Kind+"@"+map[bool]string{true: "hq", false: "kiosk"}[e.KioskID == ""])
			if e.Kind == "key.returned" && (e.ActorID != chloe || strings.Contains(e.Context, "for ")) {
				t.Errorf("the return: %+v", e)
			}
		}
		if got := strings.Join(kinds, " "); got != "key.returned@kiosk custody.hq@kiosk key.handed_over@hq key.taken@kiosk" {
			t.Errorf("history of the key: %s", got)
		}
		k.quit(t)
		if out := program(t, "keycab", "audit", "verify", "--db", filepath.Join(k.dir, "kiosk.db")); !strings.HasPrefix(out, "ok:") {
			t.Fatalf("audit verify of the kiosk: %s", out)
		}
		hqAuditVerify(t, h, env, k)
	})
}
