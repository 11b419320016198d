package e2e_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab/internal/testenv"
)

// TestRemoteActions: HQ and a running kiosk as separate processes. A
// remote release asked through HQ's API reaches the kiosk and is refused
// there, since its policy does not allow remote release (the default);
// a key set marked returned at HQ is no longer out at the kiosk nor at
// HQ. Both outcomes are at HQ, and both are in the kiosk's log and in
// HQ's history with who asked.
func TestRemoteActions(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end test runs HQ and a kiosk")
	}
	engines(t, func(t *testing.T, dsn, appDSN string) {
		_, h, _, k, c := oneKiosk(t, dsn)
		var kiosks struct {
			Kiosks []struct{ ID string } `json:"kiosks"`
		}
		c.call(t, "GET", "/v1/kiosks", nil, 200, &kiosks)
		if len(kiosks.Kiosks) != 1 {
			t.Fatalf("kiosks: %+v", kiosks)
		}
		actions := "/v1/kiosks/" + kiosks.Kiosks[0].ID + "/actions"

		// Ben takes key set 1 out of slot 1.
		ben := "0A00B1C2D4"
		k.say(t, "badge "+ben, "Hello")
		k.say(t, "take 1", "reasons:")
		k.say(t, "reason viewing", "Slot 1 is open")
		k.say(t, "slot 1 out", "Taken:")
		k.say(t, "cancel", "Scan your badge")
		var custody struct {
			Custody []struct {
				KeySetID string `json:"key_set_id"`
			} `json:"custody"`
		}
		testenv.Eventually(t, 10*time.Second, "HQ shows the key set out", func() bool {
			custody.Custody = nil
			c.call(t, "GET", "/v1/custody", nil, 200, &custody)
			return len(custody.Custody) == 1
		})
		keySet := custody.Custody[0].KeySetID

		type action struct {
			ID, Outcome, Refusal, Kind string
			LogIndex                   int64 `json:"log_index"`
		}
		var rel, ret action
		c.call(t, "POST", actions, map[string]any{"kind": "release_slot", "slot": 1, "reason": "courier"}, 201, &rel)
		c.call(t, "POST", actions, map[string]any{"kind": "mark_returned", "key_set_id": keySet, "reason": "found on the desk"}, 201, &ret)
		outcomes := map[string]action{}
		testenv.Eventually(t, 10*time.Second, "the kiosk answers both actions", func() bool {
			var list struct{ Actions []action }
			c.call(t, "GET", actions, nil, 200, &list)
			for _, a := range list.Actions {
				outcomes[a.ID] = a
			}
			return outcomes[rel.ID].Outcome != "pending" && outcomes[ret.ID].Outcome != "pending"
		})
		if o := outcomes[rel.ID]; o.Outcome != "refused" || !strings.Contains(o.Refusal, "policy") || o.LogIndex < 0 {
			t.Fatalf("release: %+v", o)
		}
		if o := outcomes[ret.ID]; o.Outcome != "done" || o.LogIndex < 0 {
			t.Fatalf("mark returned: %+v", o)
		}
		testenv.Eventually(t, 10*time.Second, "HQ shows the key set back", func() bool {
			custody.Custody = nil
			c.call(t, "GET", "/v1/custody", nil, 200, &custody)
			return len(custody.Custody) == 0
		})
		// Remote release allowed at HQ, for the kiosk's cabinet: the
		// running kiosk reloads its policy and honours the next release.
		var cabinets struct {
			Cabinets []struct{ ID string } `json:"cabinets"`
		}
		c.call(t, "GET", "/v1/cabinets", nil, 200, &cabinets)
		before := strings.Count(k.p.errb.String(), "config reloaded")
		c.call(t, "PUT", "/v1/cabinets/"+cabinets.Cabinets[0].ID+"/policy", map[string]any{"remote_release": true}, 200, nil)
		testenv.Eventually(t, liveWithin, "the kiosk reloading the policy", func() bool {
			return strings.Count(k.p.errb.String(), "config reloaded") > before
		})
		var rel2 action
		c.call(t, "POST", actions, map[string]any{"kind": "release_slot", "slot": 2, "reason": "engineer collecting"}, 201, &rel2)
		testenv.Eventually(t, 10*time.Second, "the kiosk answers the allowed release", func() bool {
			var list struct{ Actions []action }
			c.call(t, "GET", actions, nil, 200, &list)
			for _, a := range list.Actions {
				outcomes[a.ID] = a
			}
			return outcomes[rel2.ID].Outcome != "pending"
		})
		if o := outcomes[rel2.ID]; o.Outcome != "done" || o.LogIndex < 0 {
			t.Fatalf("release allowed by HQ's policy: %+v", o)
		}
		var released struct {
			Events []struct{ Kind string } `json:"events"`
		}
		testenv.Eventually(t, 10*time.Second, "HQ's history shows remote.release", func() bool {
			released.Events = nil
			c.call(t, "GET", "/v1/events?kind=remote.release", nil, 200, &released)
			return len(released.Events) == 1
		})

		// HQ's history holds the kiosk's entries.
		var refused, returned struct {
			Events []struct {
				Kind, Detail string
				ActorID      string `json:"actor_id"`
			} `json:"events"`
		}
		testenv.Eventually(t, 10*time.Second, "HQ's history shows remote.refused", func() bool {
			c.call(t, "GET", "/v1/events?kind=remote.refused", nil, 200, &refused)
			return len(refused.Events) == 1
		})
		c.call(t, "GET", "/v1/events?kind=key.returned", nil, 200, &returned)
		if len(returned.Events) != 1 || returned.Events[0].ActorID == "" {
			t.Fatalf("returned: %+v", returned)
		}
		// At the kiosk: Ben has nothing to return.
		// (once the scan cool-down of the take's badge has passed)
		time.Sleep(3500 * time.Millisecond)
		k.say(t, "badge "+ben, "Hello")
		if strings.Contains(k.p.out.String()[k.mark:], "return 1:") {
			t.Fatalf("the kiosk still offers the key set back: %s", k.p.out.String()[k.mark:])
		}
		k.say(t, "cancel", "")
		k.quit(t)
		out := program(t, "keycab", "audit", "show", "--db", filepath.Join(k.dir, "kiosk.db"))
		for _, want := range []string{"remote.refused", "remote.release", "key.returned", rel.ID, ret.ID, rel2.ID} {
			if !strings.Contains(out, want) {
				t.Fatalf("the kiosk's log has no %s:\n%s", want, out)
			}
		}
		h.p.stop(t, syscall.SIGTERM)
	})
}
