package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// TestPersonalTexts: HQ and a kiosk as separate processes. A take with a
// reason, a recipient and notes at the kiosk reaches HQ with all of them:
// in the API, the JSON Lines export, the dashboard's history and its CSV
// export. The staff member who took the key sees the texts while holding
// it and none once it is back; another organisation sees nothing. A push
// whose note was edited after the kiosk logged it is refused and stores
// nothing; the genuine push then lands.
func TestPersonalTexts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end test runs HQ and a kiosk")
	}
	engines(t, func(t *testing.T, dsn, appDSN string) {
		dir := t.TempDir()
		envFile := filepath.Join(dir, "demo.env")
		program(t, "keycab-hq", "demo-seed", "--db", dsn, "--out", envFile)
		env := testenv.ReadEnvFile(t, envFile)
		keyFile, mailDir := filepath.Join(dir, "notes.key"), filepath.Join(dir, "mail")
		key := make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(mailDir, 0o700); err != nil {
			t.Fatal(err)
		}
		h := &hq{dsn: dsn, addr: freePort(t), keys: filepath.Join(dir, "hq.keys")}
		h.extra = []string{"--notes-key-file", keyFile, "--mail-dir", mailDir, "--base-url", h.url()}
		h.start(t)
		owner := signIn(t, h, env)

		// Sam joins as staff of the demo site, with a badge.
		var sites struct {
			Sites []struct{ ID string } `json:"sites"`
		}
		owner.call(t, "GET", "/v1/sites", nil, 200, &sites)
		owner.call(t, "POST", "/v1/invites", map[string]any{"email": "sam@example.test", "role": "staff", "site_ids": []string{sites.Sites[0].ID}}, 201, nil)
		sam := &apiClient{base: h.url()}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		sam.call(t, "POST", "/v1/invites/accept", map[string]any{"token": mailToken(t, mailDir, "sam@example.test"), "name": "Sam Staff", "password": "correct horse battery staple 42"}, 200, &tok)
		sam.token = tok.AccessToken
		var me struct {
			Member struct{ ID string } `json:"member"`
		}
		sam.call(t, "GET", "/v1/me", nil, 200, &me)
		samBadge := "0A00B1C2F7"
		owner.call(t, "POST", "/v1/members/"+me.Member.ID+"/badges", map[string]any{"kind": "rfid", "code": samBadge}, 201, nil)

		k := enrolKiosk(t, dsn, env, h.url(), "kiosk1", filepath.Join(dir, "kiosk1"))
		k.start(t)
		recipient, notes := "Dana Buyer, 07700 900123", "buyer waits at the back door; gate code 4711"
		k.say(t, "badge "+samBadge, "Hello")
		k.say(t, "take 1", "reasons:")
		k.say(t, "reason viewing|"+recipient+"|"+notes, "Slot 1 is open")
		k.say(t, "slot 1 out", "Taken:")
		k.say(t, "cancel", "Scan your badge")

		type event struct {
			Kind      string `json:"kind"`
			ActorID   string `json:"actor_id"`
			Reason    string `json:"reason"`
			Slot      int    `json:"slot"`
			Recipient string `json:"recipient"`
			Notes     string `json:"notes"`
		}
		takes := func(c *apiClient) []event {
			var list struct{ Events []event }
			c.call(t, "GET", "/v1/events?kind=key.taken", nil, 200, &list)
			return list.Events
		}
		testenv.Eventually(t, 15*time.Second, "the take at HQ", func() bool { return len(takes(owner)) == 1 })
		want := event{Kind: "key.taken", ActorID: me.Member.ID, Reason: "viewing", Slot: 1, Recipient: recipient, Notes: notes}
		if got := takes(owner); got[0] != want {
			t.Fatalf("the owner reads the take as %+v, want %+v", got[0], want)
		}
		if got := takes(sam); len(got) != 1 || got[0] != want {
			t.Fatalf("Sam, holding the key, reads %+v", got)
		}
		if got := jsonLines(t, owner, "/v1/events.jsonl?kind=key.taken"); len(got) != 1 || got[0]["recipient"] != recipient || got[0]["notes"] != notes ||
			got[0]["reason"] != "viewing" || got[0]["slot"] != float64(1) || got[0]["actor_id"] != me.Member.ID || got[0]["hq_not_after"] == nil {
			t.Fatalf("events.jsonl: %v", got)
		}

		// The dashboard: the history page and its CSV export.
		web := dashLogin(t, h, env)
		if body := web.get(t, "/history"); !strings.Contains(body, html.EscapeString(recipient)) || !strings.Contains(body, html.EscapeString(notes)) {
			t.Fatalf("the history page lacks the texts:\n%s", tail(body, 3000))
		}
		link := html.UnescapeString(regexp.MustCompile(`href="(/export/history.csv\?[^"]+)"`).FindStringSubmatch(web.get(t, "/history/export"))[1])
		rows, err := csv.NewReader(strings.NewReader(web.get(t, link))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, c := range rows[0] {
			col[c] = i
		}
		found := false
		for _, r := range rows[1:] {
			if r[col["kind"]] == "key.taken" {
				found = r[col["recipient"]] == recipient && r[col["notes"]] == notes && r[col["reason"]] == "viewing" && r[col["slot"]] == "1"
			}
		}
		if !found {
			t.Fatalf("the CSV export lacks the take's texts: %v", rows)
		}

		// Another organisation sees nothing of it.
		other := &apiClient{base: h.url()}
		other.call(t, "POST", "/v1/signup", map[string]any{"org_name": "Other", "name": "Eve", "email": "eve@other.test", "password": "correct horse battery staple 43"}, 200, &tok)
		other.token = tok.AccessToken
		other.call(t, "POST", "/v1/auth/verify", map[string]any{"token": mailToken(t, mailDir, "eve@other.test")}, 200, nil)
		if got := takes(other); len(got) != 0 {
			t.Fatalf("another organisation reads %+v", got)
		}
		if got := jsonLines(t, other, "/v1/events.jsonl"); len(got) != 0 {
			t.Fatalf("another organisation's export: %v", got)
		}

		// The key back: Sam holds no key of the site and reads no text.
		time.Sleep(3100 * time.Millisecond) // the scan cool-down ignores the same badge for 3 s
		k.say(t, "badge "+samBadge, "return 1:")
		k.say(t, "return 1", "Slot 1 is open")
		k.say(t, "slot 1 in", "Returned:")
		k.say(t, "cancel", "Scan your badge")
		var rets struct{ Events []event }
		testenv.Eventually(t, 15*time.Second, "the return at HQ", func() bool {
			owner.call(t, "GET", "/v1/events?kind=key.returned", nil, 200, &rets)
			return len(rets.Events) == 1
		})
		if got := takes(sam); len(got) != 1 || got[0].Recipient != "" || got[0].Notes != "" || got[0].Reason != "viewing" {
			t.Fatalf("Sam, the key returned, reads %+v", got)
		}
		for _, l := range jsonLines(t, sam, "/v1/events.jsonl") {
			if l["recipient"] != nil || l["notes"] != nil {
				t.Fatalf("Sam's export holds a text: %v", l)
			}
		}
		if got := takes(owner); got[0].Notes != notes {
			t.Fatalf("the owner reads %+v after the return", got[0])
		}
		k.quit(t)

		// A push with an edited note is refused whole; the genuine one lands.
		ctx := context.Background()
		kkey, err := agent.LoadKey(filepath.Join(k.dir, "kiosk.key"))
		if err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(ctx, filepath.Join(k.dir, "kiosk.db"), store.Options{Signer: kkey.Signer})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		peer, err := db.HQPeer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := db.SyncState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		from := st.AckedSize
		if _, err := db.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAlarmCleared, Actor: me.Member.ID}, Notes: "false alarm, door checked"}); err != nil {
			t.Fatal(err)
		}
		end := db.Size()
		leaves, err := db.ReadEntries(from, end)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := audit.Decode(leaves[len(leaves)-1])
		if err != nil {
			t.Fatal(err)
		}
		kt, ok, err := db.KeptText(ctx, ev.Notes)
		if err != nil || !ok {
			t.Fatalf("the kiosk's note: %v %v", ok, err)
		}
		root, err := db.TreeRoot(ctx, end)
		if err != nil {
			t.Fatal(err)
		}
		status, code := signedPush(t, h, peer, kkey, from, end, leaves, root, []wire.PersonalText{{Index: end - 1, Field: "notes", Salt: kt.Salt, Text: "nothing happened"}})
		if status != http.StatusBadRequest || code != keycab.EINVALID {
			t.Fatalf("a push with an edited note: %d %s, want 400 %s", status, code, keycab.EINVALID)
		}
		var logs struct {
			Kiosks []struct {
				ID      string `json:"id"`
				LogSize int64  `json:"log_size"`
			} `json:"kiosks"`
		}
		owner.call(t, "GET", "/v1/kiosks", nil, 200, &logs)
		if len(logs.Kiosks) != 1 || logs.Kiosks[0].LogSize != from {
			t.Fatalf("HQ after the refused push: %+v, want size %d", logs.Kiosks, from)
		}
		a, err := agent.New(ctx, agent.Config{DB: db, Key: kkey})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Push(ctx); err != nil {
			t.Fatal(err)
		}
		var cleared struct{ Events []event }
		owner.call(t, "GET", "/v1/events?kind=alarm.cleared", nil, 200, &cleared)
		if len(cleared.Events) != 1 || cleared.Events[0].Notes != "false alarm, door checked" {
			t.Fatalf("the genuine note at HQ: %+v", cleared.Events)
		}
		h.p.stop(t, syscall.SIGTERM)
	})
}

// mailToken returns the token of the one invitation mailed to mailDir.
func mailToken(t *testing.T, mailDir, to string) string {
	t.Helper()
	var token string
	testenv.Eventually(t, 10*time.Second, "the mail to "+to, func() bool {
		files, _ := filepath.Glob(filepath.Join(mailDir, "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			// The body may be quoted-printable: undo soft line breaks.
			s := strings.ReplaceAll(strings.ReplaceAll(string(b), "=\r\n", ""), "=\n", "")
			if !strings.Contains(s, "To: "+to) {
				continue
			}
			if m := regexp.MustCompile(`#token=([A-Za-z0-9%._~-]+)`).FindStringSubmatch(s); m != nil {
				token, _ = url.QueryUnescape(strings.ReplaceAll(m[1], "=3D", "="))
				return true
			}
		}
		return false
	})
	return token
}

// jsonLines GETs a JSON Lines export and parses each line.
func jsonLines(t *testing.T, c *apiClient, path string) []map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/jsonl") {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s: %s", path, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	var out []map[string]any
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// signedPush sends a push of leaves [from, end) with texts, signed by the
// kiosk's key, and returns HQ's status and error code.
func signedPush(t *testing.T, h *hq, peer store.HQPeer, key *agent.Key, from, end int64, leaves [][]byte, root tlog.Hash, texts []wire.PersonalText) (int, string) {
	t.Helper()
	cp, err := audit.SignCheckpoint(audit.Checkpoint{Origin: peer.Origin, Size: end, Root: root}, key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(wire.PushRequest{V: wire.Minor, OldSize: from, Entries: leaves, Checkpoint: cp, Texts: texts})
	req, err := http.NewRequest(http.MethodPost, h.url()+wire.PathPush, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	wire.SignRequest(req, body, peer.OrgID, peer.KioskID, key.Private, time.Now())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var eb keycab.ErrorBody
	json.NewDecoder(res.Body).Decode(&eb)
	return res.StatusCode, eb.Error.Code
}

// dashWeb is a signed-in dashboard client (it keeps the __Host- cookies
// itself: they are Secure, and HQ runs on plain HTTP here).
type dashWeb struct {
	base    string
	cookies map[string]string
}

func dashLogin(t *testing.T, h *hq, env map[string]string) *dashWeb {
	t.Helper()
	w := &dashWeb{base: h.url(), cookies: map[string]string{}}
	w.do(t, "POST", "/login", url.Values{"email": {env["KEYCAB_DEMO_EMAIL"]}, "password": {env["KEYCAB_DEMO_PASSWORD"]}})
	if len(w.cookies) == 0 {
		t.Fatal("no session cookie from the dashboard's sign-in")
	}
	return w
}

func (w *dashWeb) get(t *testing.T, path string) string {
	t.Helper()
	status, body := w.do(t, "GET", path, nil)
	if status != 200 {
		t.Fatalf("GET %s: %d: %s", path, status, tail(body, 2000))
	}
	return body
}

func (w *dashWeb) do(t *testing.T, method, path string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, w.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for name, v := range w.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, ck := range res.Cookies() {
		if ck.Value != "" && ck.MaxAge >= 0 {
			w.cookies[ck.Name] = ck.Value
		}
	}
	return res.StatusCode, string(b)
}
