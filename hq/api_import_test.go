package hq_test

import (
	"strings"
	"testing"
)

// The import at the HTTP edge, on both engines: a preview names each bad
// line and stores nothing; an import with a bad line is refused whole;
// the good file lands; staff, auditors and another organisation's sites
// are refused; a body over the limit is 413 and NUL is 400.
func TestImportAPI(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		a, b := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		auditor := e.MustJoin(t, a.owner, "auditor@acme.test", "auditor")
		people := func() int {
			return len(MustStatus(t, e.do(t, "GET", "/v1/members", a.owner.access, nil), 200).body["members"].([]any))
		}
		before := people()
		file := "name,email,sites\nIvy Import,ivy@acme.test,Acme site\nJon Import,jon@acme.test,Other site\n"

		r := MustStatus(t, e.do(t, "POST", "/v1/import/people", a.owner.access, map[string]any{"csv": file}), 200)
		rows := r.body["rows"].([]any)
		if r.body["applied"] != false || r.body["errors"] != float64(1) || len(rows) != 2 ||
			!strings.Contains(rows[1].(map[string]any)["error"].(string), "Other site") || rows[1].(map[string]any)["line"] != float64(3) {
			t.Fatalf("preview: %s", r.raw)
		}
		MustStatus(t, e.do(t, "POST", "/v1/import/people", a.owner.access, map[string]any{"csv": file, "apply": true}), 400)
		if got := people(); got != before {
			t.Fatalf("a refused import stored %d members", got-before)
		}
		good := strings.Replace(file, "Other site", "Acme site", 1)
		r = MustStatus(t, e.do(t, "POST", "/v1/import/people", a.owner.access, map[string]any{"csv": good, "apply": true}), 200)
		if r.body["applied"] != true || people() != before+2 {
			t.Fatalf("import: %s", r.raw)
		}

		for _, c := range []struct {
			name  string
			token string
			path  string
			body  any
			want  int
		}{
			{"staff imports", a.staff.access, "/v1/import/people", map[string]any{"csv": "name\nX\n"}, 403},
			{"auditor imports", auditor.access, "/v1/import/key_sets", map[string]any{"csv": "label,site\nX,Acme site\n"}, 403},
			{"no session", "", "/v1/import/people", map[string]any{"csv": "name\nX\n"}, 401},
			{"unknown kind", a.owner.access, "/v1/import/cars", map[string]any{"csv": "name\nX\n"}, 400},
			{"NUL in the file", a.owner.access, "/v1/import/people", map[string]any{"csv": "name\nX\x00\n"}, 400},
			{"unknown field", a.owner.access, "/v1/import/people", map[string]any{"csv": "name\nX\n", "force": true}, 400},
			{"over the limit", a.owner.access, "/v1/import/people", map[string]any{"csv": "name\n" + strings.Repeat("A very long name indeed\n", 100_000)}, 413},
		} {
			if r := e.do(t, "POST", c.path, c.token, c.body); r.status != c.want {
				t.Errorf("%s: %d, want %d: %s", c.name, r.status, c.want, r.raw)
			}
		}
		// B's owner naming A's site by id finds no such site.
		r = MustStatus(t, e.do(t, "POST", "/v1/import/people", b.owner.access, map[string]any{"csv": "name,sites\nZed," + a.site.ID + "\n"}), 200)
		if r.body["errors"] != float64(1) {
			t.Fatalf("B named A's site: %s", r.raw)
		}
	})
}
