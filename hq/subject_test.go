package hq_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
)

// readArchive opens a subject-access zip: its files by name.
func readArchive(t *testing.T, raw string) map[string]string {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader([]byte(raw)), int64(len(raw)))
	MustNoErr(t, err)
	out := map[string]string{}
	for _, f := range z.File {
		rc, err := f.Open()
		MustNoErr(t, err)
		b, err := io.ReadAll(rc)
		MustNoErr(t, err)
		rc.Close()
		out[f.Name] = string(b)
	}
	return out
}

// The API's subject-access archive: every part, as JSON and CSV, only
// the member's; staff may have only their own, and another
// organisation's member is not found.
func TestSubjectAccessAPI(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		w := e.MustWorld(t, "Acme")
		other := e.MustWorld(t, "Other")
		r := MustStatus(t, e.do(t, "GET", "/v1/members/"+w.staff.memberID+"/subject-access", w.owner.access, nil), 200)
		if ct := r.header.Get("Content-Type"); ct != "application/zip" || !strings.Contains(r.header.Get("Content-Disposition"), "keycab-subject-"+w.staff.memberID) {
			t.Fatalf("answered %s, %s", ct, r.header.Get("Content-Disposition"))
		}
		files := readArchive(t, r.raw)
		var names []string
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		want := []string{"README.txt", "admin_log.csv", "badges.csv", "deliveries.csv", "events.csv", "groups.csv", "holding.csv",
			"jobs.csv", "profile.csv", "reservations.csv", "sessions.csv", "subject.json"}
		if !slices.Equal(names, want) {
			t.Fatalf("archive has %v, want %v", names, want)
		}
		var doc map[string]any
		MustNoErr(t, json.Unmarshal([]byte(files["subject.json"]), &doc))
		profile := doc["profile"].(map[string]any)
		if profile["member_id"] != w.staff.memberID || profile["account_email"] != w.staff.email {
			t.Fatalf("profile %v", profile)
		}
		count := func(part string) int { return len(doc[part].([]any)) }
		if count("events") != 7 || count("sessions") == 0 || count("deliveries") != 1 || count("admin_log") == 0 {
			t.Fatalf("events %d, sessions %d, deliveries %d, admin log %d", count("events"), count("sessions"), count("deliveries"), count("admin_log"))
		}
		if strings.Count(files["events.csv"], "\n") != 8 {
			t.Fatalf("events.csv:\n%s", files["events.csv"])
		}
		for name, body := range files {
			if strings.Contains(body, w.owner.email) || strings.Contains(body, other.owner.orgID) || strings.Contains(body, other.staff.memberID) {
				t.Errorf("%s holds someone else's data:\n%s", name, body)
			}
			if strings.Contains(body, "access_hash") || strings.Contains(body, "$argon2") {
				t.Errorf("%s holds a secret:\n%s", name, body)
			}
		}
		// Themself, yes; someone else, no; another organisation, not found.
		MustStatus(t, e.do(t, "GET", "/v1/members/"+w.staff.memberID+"/subject-access", w.staff.access, nil), 200)
		MustStatus(t, e.do(t, "GET", "/v1/members/"+w.owner.memberID+"/subject-access", w.staff.access, nil), 403)
		MustStatus(t, e.do(t, "GET", "/v1/members/"+w.staff.memberID+"/subject-access", other.owner.access, nil), 404)
		MustStatus(t, e.do(t, "GET", "/v1/members/"+w.staff.memberID+"/subject-access", "", nil), 401)
		MustStatus(t, e.do(t, "GET", "/v1/members/mem_%00/subject-access", w.owner.access, nil), 400)
		MustStatus(t, e.do(t, "GET", "/v1/members/mem_nobody/subject-access", w.owner.access, nil), 404)
	})
}

// The dashboard's subject-access link is signed and expires: it works
// for 15 minutes, a changed member or signature is refused, and staff
// cannot make one for someone else.
func TestDashboardSubjectAccessLink(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newDashEnv(t, eng, nil, false)
			owner := e.web()
			owner.MustSignupWeb(t, "Acme", "Olive", "olive@acme.test")
			staff := e.MustJoinWeb(t, owner, "sam@acme.test", keycab.RoleStaff)
			link := regexp.MustCompile(`href="(/export/subject\.zip\?[^"]+)"`)
			linkOf := func(p page) string {
				t.Helper()
				m := link.FindStringSubmatch(p.body)
				if m == nil {
					t.Fatalf("no link on the page:\n%s", p.body)
				}
				return htmlUnescape(m[1])
			}
			MustPage(t, staff.get(t, "/settings"), 200, `data-testid="my-data"`)
			self := linkOf(MustPage(t, staff.get(t, "/settings/my-data"), 200, "Download the archive"))
			got := MustPage(t, e.web().get(t, self), 200) // the link is the credential: no session needed
			if files := readArchive(t, got.body); !strings.Contains(files["profile.csv"], "sam@acme.test") {
				t.Fatalf("profile.csv:\n%s", files["profile.csv"])
			}
			// Staff on an owner's page: no link.
			q, err := url.ParseQuery(strings.SplitN(self, "?", 2)[1])
			MustNoErr(t, err)
			acct, err := e.st.Accounts().AccountByEmail(t.Context(), "olive@acme.test")
			MustNoErr(t, err)
			ms, err := e.st.Accounts().Memberships(t.Context(), acct.ID)
			MustNoErr(t, err)
			ownerID := ms[0].MemberID
			MustPage(t, staff.get(t, "/people/"+ownerID+"/export"), http.StatusForbidden)
			// A link changed to name another member is refused.
			q.Set("member", ownerID)
			MustPage(t, e.web().get(t, "/export/subject.zip?"+q.Encode()), http.StatusForbidden)
			// The owner's link to the staff member's archive, and its end.
			ownerLink := linkOf(MustPage(t, owner.get(t, "/people/"+q.Get("by")+"/export"), 200))
			MustPage(t, e.web().get(t, ownerLink), 200)
			e.clock.Advance(16 * time.Minute)
			MustPage(t, e.web().get(t, ownerLink), http.StatusGone, "expired")
		})
	}
}
