package hq_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// custodyWorld is an organisation with a key set that lives in no
// cabinet (a lockbox) and its label's text, beside MustWorld's three
// cabinet key sets.
type custodyWorld struct {
	*world
	lockbox keycab.KeySet
	token   string
}

func (e *env) mustCustodyWorld(tb testing.TB, name string) custodyWorld {
	tb.Helper()
	w := custodyWorld{world: e.MustWorld(tb, name)}
	sc := store.MemberScope(w.owner.orgID, w.owner.memberID)
	var err error
	w.lockbox, err = e.st.CreateKeySet(context.Background(), sc, keycab.KeySet{SiteID: w.site.ID, Label: "Lockbox 7"})
	MustNoErr(tb, err)
	r := MustStatus(tb, e.do(tb, "POST", "/v1/key-sets/"+w.lockbox.ID+"/tokens", w.owner.access, nil), 201)
	w.token = r.str("token")
	if !strings.HasPrefix(w.token, "kc1.") {
		tb.Fatalf("issued token %q", w.token)
	}
	return w
}

// requestID makes a request id unique to the test.
func requestID(t testing.TB, n int) string {
	return fmt.Sprintf("req-%s-%04d", strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")[:min(30, len(t.Name()))], n)
}

// Taking and returning a key set at HQ, as a phone does: a scan says
// where it is and what the member may do; a take with a reason and
// personal text is an entry of the organisation's HQ log, in history and
// custody; the same request again answers its first outcome; a scan again
// within the cool-down is ignored; the HQ log verifies with keycab audit
// verify --tiles, and a changed leaf fails naming its index.
func TestCustodyAtHQ(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			var dsn string
			e := newEnv(t, engine{eng.name, func(tb testing.TB) string { dsn = eng.dsn(tb); return dsn }}, nil)
			w := e.mustCustodyWorld(t, "Acme")
			auditor := e.MustJoin(t, w.owner, "auditor@acme.test", "auditor")

			scan := MustStatus(t, e.do(t, "POST", "/v1/scan", w.staff.access, map[string]string{"token": w.token}), 200)
			if scan.body["home"] != "none" || scan.body["out"] != nil || fmt.Sprint(scan.body["actions"]) != "[take]" {
				t.Fatalf("scan of a lockbox key at home: %s", scan.raw)
			}
			take := map[string]string{"request_id": requestID(t, 1), "token": w.token, "action": "take", "reason": "viewing",
				"recipient": "Mrs Quill", "notes": "lockbox code 4471", "via": "phone"}
			r := MustStatus(t, e.do(t, "POST", "/v1/custody", w.staff.access, take), 200)
			status, _ := r.body["status"].(map[string]any)
			out, _ := status["out"].(map[string]any)
			if r.str("outcome") != "done" || r.body["log_index"] != float64(0) || out["member_id"] != w.staff.memberID || out["due"] == nil {
				t.Fatalf("take: %s", r.raw)
			}
			again := MustStatus(t, e.do(t, "POST", "/v1/custody", w.staff.access, take), 200)
			if again.str("outcome") != "done" || again.body["replayed"] != true || again.body["log_index"] != float64(0) {
				t.Fatalf("the same request again: %s", again.raw)
			}
			take2 := map[string]string{"request_id": requestID(t, 2), "token": w.token, "action": "take", "reason": "viewing"}
			ign := MustStatus(t, e.do(t, "POST", "/v1/custody", w.owner.access, take2), 200)
			if ign.str("outcome") != "ignored" || ign.body["log_index"] != float64(-1) || !strings.Contains(ign.str("message"), "ignored") {
				t.Fatalf("a second scan within the cool-down: %s", ign.raw)
			}
			e.clock.Advance(5 * time.Second)
			ret := MustStatus(t, e.do(t, "POST", "/v1/custody", w.staff.access,
				map[string]string{"request_id": requestID(t, 3), "token": w.token, "action": "return", "via": "phone"}), 200)
			if ret.str("outcome") != "done" || ret.body["log_index"] != float64(1) {
				t.Fatalf("return: %s", ret.raw)
			}
			if st, _ := ret.body["status"].(map[string]any); st["out"] != nil {
				t.Fatalf("returned, still out: %s", ret.raw)
			}

			// History: both, from HQ (no kiosk), the personal text for the owner.
			h := MustStatus(t, e.do(t, "GET", "/v1/events?key_set_id="+w.lockbox.ID, w.owner.access, nil), 200)
			evs, _ := h.body["events"].([]any)
			if len(evs) != 2 {
				t.Fatalf("history of the lockbox: %s", h.raw)
			}
			first, _ := evs[1].(map[string]any)
			if first["kind"] != "key.taken" || first["kiosk_id"] != "" || first["recipient"] != "Mrs Quill" || first["notes"] != "lockbox code 4471" ||
				first["reason"] != "viewing" || first["via"] != "phone" {
				t.Fatalf("the take in history: %v", first)
			}

			// The HQ log.
			lg := MustStatus(t, e.do(t, "GET", "/v1/org/log", auditor.access, nil), 200)
			vkey := lg.str("verifier_key")
			if lg.body["size"] != float64(2) || lg.str("origin") != "hq.test/org/"+w.owner.orgID || !strings.HasPrefix(vkey, lg.str("origin")+"+") {
				t.Fatalf("org log: %s", lg.raw)
			}
			MustStatus(t, e.do(t, "GET", "/v1/org/log", w.staff.access, nil), 403)
			url := e.srv.URL + "/v1/org/log"
			code, text := verifyTool(t, []string{"KEYCAB_TOKEN=" + auditor.access}, "--tiles", url, "--key", vkey)
			if code != 0 || !strings.HasPrefix(text, "ok: 2 entries") {
				t.Fatalf("verify the HQ log: exit %d: %s", code, text)
			}
			for _, personal := range []string{"Mrs Quill", "4471"} {
				bundle := e.do(t, "GET", "/v1/org/log/tile/entries/000.p/2", auditor.access, nil)
				if bundle.status != 200 || strings.Contains(bundle.raw, personal) {
					t.Fatalf("entry bundle: %d, holds %q: %v", bundle.status, personal, strings.Contains(bundle.raw, personal))
				}
			}

			if eng.name != "sqlite" {
				return // tampering needs the database owner; the check is the same code on both engines
			}
			raw, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:"))
			MustNoErr(t, err)
			defer raw.Close()
			ctx := context.Background()
			var leaf []byte
			MustNoErr(t, raw.QueryRowContext(ctx, "SELECT leaf FROM org_log_leaves WHERE idx = 0").Scan(&leaf))
			leaf[len(leaf)-3] ^= 0x01
			_, err = raw.ExecContext(ctx, "DROP TRIGGER org_log_leaves_no_update")
			MustNoErr(t, err)
			_, err = raw.ExecContext(ctx, "UPDATE org_log_leaves SET leaf = ? WHERE idx = 0", leaf)
			MustNoErr(t, err)
			code, text = verifyTool(t, []string{"KEYCAB_TOKEN=" + auditor.access}, "--tiles", url, "--key", vkey)
			if code != 1 || !strings.Contains(text, "FAILED at entry 0:") {
				t.Fatalf("tampered leaf: exit %d: %s", code, text)
			}
		})
	}
}

// Attacks on custody at HQ, on both engines: another organisation's
// label, a forged one and a replaced one; a member of another site; a
// contractor outside their job's window; another member replaying a
// request's id; a cabinet's key taken by phone; concurrent takes of one
// key set, of which exactly one wins.
func TestCustodyAtHQAttacks(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		w := e.mustCustodyWorld(t, "Acme")
		other := e.mustCustodyWorld(t, "Other")
		own := store.MemberScope(w.owner.orgID, w.owner.memberID)
		post := func(u *user, body map[string]string) resp { return e.do(t, "POST", "/v1/custody", u.access, body) }
		n := 0
		take := func(token string) map[string]string {
			n++
			return map[string]string{"request_id": requestID(t, n), "token": token, "action": "take", "reason": "viewing"}
		}

		// Labels: another organisation's, a forged one, one replaced since.
		for name, tok := range map[string]string{"other org's": other.token, "forged": "kc1.aaaabbbbccccddddeeeeffffgggghhhh"} {
			r := post(w.staff, take(tok))
			if r.status != 404 || !strings.Contains(r.raw, "not one of your organisation's key sets") {
				t.Errorf("%s label: %d %s", name, r.status, r.raw)
			}
			MustStatus(t, e.do(t, "POST", "/v1/scan", w.staff.access, map[string]string{"token": tok}), 404)
		}
		MustStatus(t, post(w.staff, take("kc1.\x00nul")), 400)
		old := w.token
		rot := MustStatus(t, e.do(t, "POST", "/v1/key-sets/"+w.lockbox.ID+"/tokens/rotate", w.owner.access, nil), 201)
		if r := post(w.staff, take(old)); r.status != 403 || !strings.Contains(r.raw, "replaced by a newer one") {
			t.Errorf("replaced label: %d %s", r.status, r.raw)
		}
		w.token = rot.str("token")

		// A member scoped to another site does not find it.
		site2, err := e.st.CreateSite(ctx, own, store.Site{Site: keycab.Site{Name: "Acme two"}})
		MustNoErr(t, err)
		away := e.MustJoinAt(t, w.owner, "away@acme.test", "staff", site2.ID)
		if r := post(away, take(w.token)); r.status != 404 {
			t.Errorf("staff of another site: %d %s", r.status, r.raw)
		}

		// A contractor whose job has ended.
		con := e.MustJoin(t, w.owner, "con@acme.test", "contractor")
		now := e.clock.Now()
		_, err = e.st.CreateJob(ctx, own, keycab.Job{MemberID: con.memberID, KeySetIDs: []string{w.lockbox.ID}, From: now.Add(-3 * time.Hour), Until: now.Add(-time.Hour), Descriptor: "WO-9"})
		MustNoErr(t, err)
		if r := post(con, take(w.token)); r.status != 404 {
			t.Errorf("contractor after the window: %d %s", r.status, r.raw)
		}
		_, err = e.st.CreateJob(ctx, own, keycab.Job{MemberID: con.memberID, KeySetIDs: []string{w.lockbox.ID}, From: now.Add(time.Hour), Until: now.Add(2 * time.Hour), Descriptor: "WO-10"})
		MustNoErr(t, err)
		if r := post(con, take(w.token)); r.status != 404 {
			t.Errorf("contractor before the window: %d %s", r.status, r.raw)
		}

		// A cabinet's key: not out of its cabinet by phone.
		if r := post(w.staff, map[string]string{"request_id": requestID(t, 900), "key_set_id": w.ks[1].ID, "action": "take", "reason": "viewing"}); r.status != 409 || !strings.Contains(r.raw, "take it at its kiosk") {
			t.Errorf("a cabinet key by phone: %d %s", r.status, r.raw)
		}

		// A key set of a site with an open shelf lives on it: the same.
		shelfSite, err := e.st.CreateSite(ctx, own, store.Site{Site: keycab.Site{Name: "Acme shelf"}})
		MustNoErr(t, err)
		_, err = e.st.CreateCabinet(ctx, own, keycab.Cabinet{SiteID: shelfSite.ID, Name: "Front desk", Kind: keycab.OpenShelf})
		MustNoErr(t, err)
		shelved, err := e.st.CreateKeySet(ctx, own, keycab.KeySet{SiteID: shelfSite.ID, Label: "Shelf keys"})
		MustNoErr(t, err)
		sc := MustStatus(t, e.do(t, "POST", "/v1/scan", w.owner.access, map[string]string{"key_set_id": shelved.ID}), 200)
		if sc.body["home"] != "shelf" || sc.body["cabinet_name"] != "Front desk" || fmt.Sprint(sc.body["actions"]) != "[]" {
			t.Errorf("a shelf's key set: %s", sc.raw)
		}
		if r := post(w.owner, map[string]string{"request_id": requestID(t, 901), "key_set_id": shelved.ID, "action": "take", "reason": "viewing"}); r.status != 409 || !strings.Contains(r.raw, "the open shelf Front desk") {
			t.Errorf("a shelf's key by phone: %d %s", r.status, r.raw)
		}

		// Concurrent takes of one key set by two members: exactly one wins.
		owner, staff := w.owner, w.staff
		bodies := []map[string]string{take(w.token), take(w.token), take(w.token), take(w.token)}
		results := make([]resp, len(bodies))
		var wg sync.WaitGroup
		for i := range bodies {
			u := owner
			if i%2 == 1 {
				u = staff
			}
			wg.Go(func() { results[i] = post(u, bodies[i]) })
		}
		wg.Wait()
		done := 0
		for i, r := range results {
			switch {
			case r.status == 200 && r.str("outcome") == "done":
				done++
			case r.status == 200 && r.str("outcome") == "ignored", r.status == 409:
			default:
				t.Errorf("concurrent take %d: %d %s", i, r.status, r.raw)
			}
		}
		lg := MustStatus(t, e.do(t, "GET", "/v1/org/log", w.owner.access, nil), 200)
		if done != 1 || lg.body["size"] != float64(1) {
			t.Fatalf("concurrent takes: %d done, HQ log of %v entries", done, lg.body["size"])
		}

		// Another member replaying a request id is refused; the id's owner
		// gets the first answer.
		if r := post(w.staff, bodies[0]); r.status != 409 && r.body["replayed"] != true {
			t.Errorf("replayed request: %d %s", r.status, r.raw)
		}
		for i, b := range bodies {
			r := post(owner, b)
			if i%2 == 1 && r.status != 409 {
				t.Errorf("owner replaying staff's request %d: %d %s", i, r.status, r.raw)
			}
		}
		// Nothing of another organisation's log.
		theirs := MustStatus(t, e.do(t, "GET", "/v1/org/log", other.owner.access, nil), 200)
		if theirs.body["size"] != float64(0) || theirs.str("origin") == lg.str("origin") {
			t.Fatalf("the other organisation's log: %s", theirs.raw)
		}
	})
}

// A dual release on phones: a sensitive key set's take waits for a
// second member, who confirms on their own phone; not the taker, not a
// contractor, not after the window; then the take is recorded with both
// and the personal text kept. A triple release needs two.
func TestCustodyAtHQDualRelease(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		w := e.mustCustodyWorld(t, "Acme")
		own := store.MemberScope(w.owner.orgID, w.owner.memberID)
		plant, err := e.st.CreateKeySet(ctx, own, keycab.KeySet{SiteID: w.site.ID, Label: "Plant room", Sensitive: true})
		MustNoErr(t, err)
		admin := e.MustJoin(t, w.owner, "admin@acme.test", "admin")
		con := e.MustJoin(t, w.owner, "con@acme.test", "contractor")
		n := 0
		post := func(u *user, action string, extra ...string) resp {
			n++
			body := map[string]string{"request_id": requestID(t, n), "key_set_id": plant.ID, "action": action, "via": "phone"}
			for i := 0; i+1 < len(extra); i += 2 {
				body[extra[i]] = extra[i+1]
			}
			return e.do(t, "POST", "/v1/custody", u.access, body)
		}
		r := MustStatus(t, post(w.staff, "take", "reason", "maintenance", "notes", "boiler fault 7"), 200)
		status, _ := r.body["status"].(map[string]any)
		pending, _ := status["pending"].(map[string]any)
		if r.str("outcome") != "pending" || pending["member_id"] != w.staff.memberID || pending["needed"] != float64(1) || status["out"] != nil {
			t.Fatalf("a sensitive take: %s", r.raw)
		}
		// The taker cannot confirm their own; a contractor may not; another take is refused.
		if r := post(w.staff, "confirm"); r.status != 409 {
			t.Errorf("the taker confirming: %d %s", r.status, r.raw)
		}
		if r := post(con, "confirm"); r.status != 404 && r.status != 403 && r.status != 409 {
			t.Errorf("a contractor confirming: %d %s", r.status, r.raw)
		}
		if r := post(w.owner, "take", "reason", "viewing"); r.status != 409 {
			t.Errorf("another take while one waits: %d %s", r.status, r.raw)
		}
		scan := MustStatus(t, e.do(t, "POST", "/v1/scan", admin.access, map[string]string{"key_set_id": plant.ID}), 200)
		if fmt.Sprint(scan.body["actions"]) != "[confirm]" {
			t.Fatalf("the admin's scan of the waiting take: %s", scan.raw)
		}
		// After the window the take is gone.
		e.clock.Advance(61 * time.Second)
		if r := post(admin, "confirm"); r.status != 409 && r.status != 403 {
			t.Errorf("a confirmation after the window: %d %s", r.status, r.raw)
		}
		// Again, and the admin confirms in time.
		MustStatus(t, post(w.staff, "take", "reason", "maintenance", "notes", "boiler fault 7"), 200)
		e.clock.Advance(10 * time.Second)
		done := MustStatus(t, post(admin, "confirm"), 200)
		status, _ = done.body["status"].(map[string]any)
		out, _ := status["out"].(map[string]any)
		if done.str("outcome") != "done" || out["member_id"] != w.staff.memberID {
			t.Fatalf("the confirmation: %s", done.raw)
		}
		h := MustStatus(t, e.do(t, "GET", "/v1/events?key_set_id="+plant.ID, w.owner.access, nil), 200)
		evs, _ := h.body["events"].([]any)
		if len(evs) != 1 {
			t.Fatalf("history: %s", h.raw)
		}
		ev, _ := evs[0].(map[string]any)
		if ev["kind"] != "key.taken" || ev["actor_id"] != w.staff.memberID || ev["second_id"] != admin.memberID || ev["notes"] != "boiler fault 7" || ev["reason"] != "maintenance" {
			t.Fatalf("the take in history: %v", ev)
		}

		// A triple release: the admin's confirmation leaves one to go, the
		// owner's releases it.
		vault, err := e.st.CreateKeySet(ctx, own, keycab.KeySet{SiteID: w.site.ID, Label: "Vault", Sensitive: true, TripleRelease: true})
		MustNoErr(t, err)
		plant = vault
		e.clock.Advance(10 * time.Second)
		MustStatus(t, post(w.staff, "take", "reason", "inspection"), 200)
		if r := MustStatus(t, post(admin, "confirm"), 200); r.str("outcome") != "pending" {
			t.Fatalf("the first of two confirmations: %s", r.raw)
		}
		if r := post(admin, "confirm"); r.status != 409 {
			t.Errorf("the admin confirming twice: %d %s", r.status, r.raw)
		}
		if r := MustStatus(t, post(w.owner, "confirm"), 200); r.str("outcome") != "done" {
			t.Fatalf("the second confirmation: %s", r.raw)
		}
		h = MustStatus(t, e.do(t, "GET", "/v1/events?key_set_id="+vault.ID, w.owner.access, nil), 200)
		evs, _ = h.body["events"].([]any)
		ev, _ = evs[0].(map[string]any)
		if len(evs) != 1 || ev["second_id"] != admin.memberID || ev["third_id"] != w.owner.memberID {
			t.Fatalf("the triple release in history: %s", h.raw)
		}
	})
}
