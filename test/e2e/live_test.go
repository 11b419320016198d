package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab/internal/testenv"
)

// liveWithin is how soon a change at HQ must be refused at a running
// kiosk (issue 14).
const liveWithin = 5 * time.Second

// TestLiveConfig: HQ and a kiosk as separate processes, the kiosk kept
// running. A group's right to the key sets removed, a badge revoked at
// HQ, a member removed and a contractor's job ended are each refused at the kiosk within liveWithin of the change
// (the kiosk's long poll brings the bundle, the agent applies it, the
// controller reloads it); the kiosk logs config.applied for each, and
// HQ's kiosks list shows the version the kiosk applied.
func TestLiveConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end test runs HQ and a kiosk")
	}
	engines(t, func(t *testing.T, dsn, appDSN string) {
		_, h, _, k, c := oneKiosk(t, dsn)
		k.reloads = strings.Count(k.p.errb.String(), "config reloaded")
		members := demoMembers(t, c)
		ben, chloe, dev := "0A00B1C2D4", "0A00B1C2D5", "0A00B1C2D6"

		// Every key set in a key-set group that Ben's member group may
		// take: Ben still takes them.
		var keySets struct {
			KeySets []struct{ ID string } `json:"key_sets"`
		}
		c.call(t, "GET", "/v1/key-sets", nil, 200, &keySets)
		var ids []string
		for _, ks := range keySets.KeySets {
			ids = append(ids, ks.ID)
		}
		var kg, mg, rule struct{ ID string }
		c.call(t, "POST", "/v1/groups", map[string]any{"kind": "key_sets", "name": "Front office keys"}, 201, &kg)
		c.call(t, "PUT", "/v1/groups/"+kg.ID+"/entries", map[string]any{"ids": ids}, 200, nil)
		c.call(t, "POST", "/v1/groups", map[string]any{"kind": "members", "name": "Lettings team"}, 201, &mg)
		c.call(t, "PUT", "/v1/groups/"+mg.ID+"/entries", map[string]any{"ids": []string{members["Ben"].ID}}, 200, nil)
		c.call(t, "POST", "/v1/access-rules", map[string]any{"member_group_id": mg.ID, "key_set_group_id": kg.ID}, 201, &rule)
		testenv.Eventually(t, liveWithin, "the kiosk reloading the groups", func() bool {
			return strings.Count(k.p.errb.String(), "config reloaded") >= k.reloads+1
		})
		time.Sleep(time.Second) // the last of the four changes, if it came apart
		k.reloads = strings.Count(k.p.errb.String(), "config reloaded")
		k.say(t, "badge "+ben, "take 1:")
		k.say(t, "cancel", "Cancelled")
		// Chloe, in no group, takes none of them.
		k.say(t, "badge "+chloe, "no keys you may take now")
		k.say(t, "cancel", "")

		// The group's right removed: Ben is refused.
		c.call(t, "DELETE", "/v1/access-rules/"+rule.ID, nil, 204, nil)
		k.refusedWithin(t, "badge "+ben, "no keys you may take now")
		c.call(t, "DELETE", "/v1/groups/"+kg.ID, nil, 204, nil)
		testenv.Eventually(t, liveWithin, "the kiosk reloading without the group", func() bool {
			return strings.Count(k.p.errb.String(), "config reloaded") > k.reloads
		})
		k.reloads = strings.Count(k.p.errb.String(), "config reloaded")

		k.say(t, "badge "+dev, "take 1:")
		k.say(t, "cancel", "Cancelled")

		// Ben's badge revoked.
		var badges struct {
			Badges []struct{ ID string } `json:"badges"`
		}
		c.call(t, "GET", "/v1/members/"+members["Ben"].ID+"/badges", nil, 200, &badges)
		for _, b := range badges.Badges {
			c.call(t, "DELETE", "/v1/members/"+members["Ben"].ID+"/badges/"+b.ID, nil, 204, nil)
		}
		k.refusedWithin(t, "badge "+ben, "Badge not recognised")

		// Chloe removed from the organisation.
		c.call(t, "DELETE", "/v1/members/"+members["Chloe"].ID, nil, 204, nil)
		k.refusedWithin(t, "badge "+chloe, "Badge not recognised")

		// Dev's job ended: he is still known, with nothing to take.
		var jobs struct {
			Jobs []struct{ ID string } `json:"jobs"`
		}
		c.call(t, "GET", "/v1/jobs?member_id="+members["Dev"].ID, nil, 200, &jobs)
		for _, j := range jobs.Jobs {
			c.call(t, "DELETE", "/v1/jobs/"+j.ID, nil, 204, nil)
		}
		k.refusedWithin(t, "badge "+dev, "no keys you may take now")

		// HQ shows the version the kiosk applied (its heartbeat, every
		// second here), and the kiosk's log holds each config.applied.
		var kiosks struct {
			Kiosks []struct {
				ConfigVersion int64  `json:"config_version"`
				ConfigNewest  int64  `json:"config_newest"`
				Behind        string `json:"config_behind_since"`
			} `json:"kiosks"`
		}
		testenv.Eventually(t, 10*time.Second, "HQ shows the kiosk's applied config", func() bool {
			kiosks.Kiosks = nil // a field the answer leaves out must not keep an older value
			c.call(t, "GET", "/v1/kiosks", nil, 200, &kiosks)
			return len(kiosks.Kiosks) == 1 && kiosks.Kiosks[0].ConfigNewest > 0 &&
				kiosks.Kiosks[0].ConfigVersion == kiosks.Kiosks[0].ConfigNewest && kiosks.Kiosks[0].Behind == ""
		})
		k.quit(t)
		out := program(t, "keycab", "audit", "show", "--db", filepath.Join(k.dir, "kiosk.db"))
		if n := strings.Count(out, "config.applied"); n < 6 {
			t.Fatalf("the kiosk logged config.applied %d times, want the enrolment's and five more:\n%s", n, out)
		}
		h.p.stop(t, syscall.SIGTERM)
	})
}

// refusedWithin waits for the running kiosk to reload its config (its
// "config reloaded" log line), at most liveWithin after the change at HQ
// made just before, then sends line once and waits for want.
func (k *kiosk) refusedWithin(tb testing.TB, line, want string) {
	tb.Helper()
	start, before := time.Now(), k.reloads
	testenv.Eventually(tb, liveWithin, k.name+" reloading its config", func() bool {
		return strings.Count(k.p.errb.String(), "config reloaded") > before
	})
	k.reloads = strings.Count(k.p.errb.String(), "config reloaded")
	tb.Logf("%s: config reloaded %v after the change at HQ", k.name, time.Since(start).Round(10*time.Millisecond))
	// A scan of the same badge within the scan cool-down of its last is
	// no scan at all: send it again until the console answers.
	for start := time.Now(); ; {
		k.say(tb, line, "")
		time.Sleep(250 * time.Millisecond)
		got := k.p.out.String()[k.mark:]
		if strings.Contains(got, want) {
			break
		}
		if strings.Contains(got, "Hello") || time.Since(start) > 10*time.Second {
			tb.Fatalf("%s: %q after the reload: %s", k.name, line, got)
		}
	}
	k.say(tb, "cancel", "")
}

// oneKiosk starts HQ on dsn with the demo organisation and one enrolled
// kiosk running beside it (kiosk1), and signs the demo owner in; dir is
// the test's directory they live in.
func oneKiosk(t *testing.T, dsn string) (dir string, h *hq, env map[string]string, k *kiosk, c *apiClient) {
	t.Helper()
	dir = t.TempDir()
	h, env = startHQ(t, dsn, dir)
	k = enrolKiosk(t, dsn, env, h.url(), "kiosk1", filepath.Join(dir, "kiosk1"))
	k.start(t)
	return dir, h, env, k, signIn(t, h, env)
}

// demoMember is a member of the demo organisation as HQ lists it.
type demoMember struct{ ID, Name, Email string }

// demoMembers lists the demo organisation's members by first name.
func demoMembers(tb testing.TB, c *apiClient) map[string]demoMember {
	tb.Helper()
	var list struct {
		Members []demoMember `json:"members"`
	}
	c.call(tb, "GET", "/v1/members", nil, 200, &list)
	out := map[string]demoMember{}
	for _, m := range list.Members {
		if f := strings.Fields(m.Name); len(f) > 0 {
			out[f[0]] = m
		}
	}
	return out
}

// apiClient is a signed-in client of HQ's JSON API.
type apiClient struct {
	base, token string
}

// signIn signs the demo organisation's owner in.
func signIn(tb testing.TB, h *hq, env map[string]string) *apiClient {
	tb.Helper()
	c := &apiClient{base: h.url()}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.call(tb, "POST", "/v1/auth/login", map[string]string{"email": env["KEYCAB_DEMO_EMAIL"], "password": env["KEYCAB_DEMO_PASSWORD"]}, 200, &tok)
	if tok.AccessToken == "" {
		tb.Fatal("no access token from the demo owner's sign-in")
	}
	c.token = tok.AccessToken
	return c
}

// call sends a JSON request, fails unless the answer has status want,
// and decodes its body into out (when not nil).
func (c *apiClient) call(tb testing.TB, method, path string, in any, want int, out any) {
	tb.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			tb.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		tb.Fatalf("%s %s: %d, want %d: %s", method, url.PathEscape(path), res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}
