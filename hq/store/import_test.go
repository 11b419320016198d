package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// rowErrors returns the lines with an error and their messages.
func rowErrors(res store.ImportResult) map[int]string {
	out := map[int]string{}
	for _, r := range res.Rows {
		if r.Error != "" {
			out[r.Line] = r.Error
		}
	}
	return out
}

func memberNames(t *testing.T, s *store.Store, sc store.Scope) []string {
	t.Helper()
	var out []string
	for _, m := range must[[]keycab.Member](t)(s.ListMembers(context.Background(), sc)) {
		out = append(out, m.Name)
	}
	return out
}

// An import is all or nothing: a preview and an apply with a bad line
// change nothing and name the line; the fixed file adds every row, with
// sites by name, badges and the admin log.
func TestImport(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, e)
			a := f.a
			own := a.as(a.owner)
			before := memberNames(t, f.s, own)
			site1 := a.site1.Name
			bad := "name,email,role,sites,badge_kind,badge_code\n" +
				"Ada Lane,ada@import.test,staff," + site1 + ",rfid,0011AA\n" +
				"Bob Kerr,bob@import.test,contractor,Nowhere,,\n" + // no such site
				"\"Cy, the temp\",cy@import.test,site manager," + site1 + ";" + a.site2.Name + ",,\n" +
				"Dot Ross,ada@import.test,staff,,,\n" // Ada's address again
			for _, apply := range []bool{false, true} {
				res, err := f.s.Import(ctx, own, store.ImportPeople, []byte(bad), apply)
				if apply {
					wantCode(t, err, keycab.EINVALID)
				} else {
					MustNoErr(t, err)
				}
				errs := rowErrors(res)
				if res.Applied || res.Errors != 2 || len(res.Rows) != 4 || !strings.Contains(errs[3], "Nowhere") || !strings.Contains(errs[5], "line 2") {
					t.Fatalf("apply=%v: %+v", apply, res)
				}
				if res.Rows[0].What != "Ada Lane (staff), badge rfid" || res.Rows[0].ID != "" {
					t.Fatalf("row 1 reads %+v", res.Rows[0])
				}
				if got := memberNames(t, f.s, own); !slices.Equal(got, before) {
					t.Fatalf("apply=%v stored members: %v", apply, got)
				}
				if _, err := f.s.FindBadge(ctx, own, "0011AA"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
					t.Fatalf("apply=%v stored the badge: %v", apply, err)
				}
			}
			good := strings.Replace(strings.Replace(bad, "Nowhere", site1, 1), "Dot Ross,ada@", "Dot Ross,dot@", 1)
			res := must[store.ImportResult](t)(f.s.Import(ctx, own, store.ImportPeople, []byte(good), true))
			if !res.Applied || res.Errors != 0 || len(res.Rows) != 4 || res.Rows[2].ID == "" {
				t.Fatalf("good file: %+v", res)
			}
			cy := must[keycab.Member](t)(f.s.GetMember(ctx, own, res.Rows[2].ID))
			if cy.Name != "Cy, the temp" || cy.Role != keycab.RoleSiteManager || len(cy.SiteIDs) != 2 {
				t.Fatalf("Cy is %+v", cy)
			}
			if m, err := f.s.FindBadge(ctx, own, "0011AA"); err != nil || m.Name != "Ada Lane" {
				t.Fatalf("Ada's badge: %v %v", m.Name, err)
			}
			var logged bool
			for _, l := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 1000)) {
				logged = logged || (l.Action == "import.people" && l.Detail == "4 rows")
			}
			if !logged {
				t.Fatal("no import.people in the admin log")
			}
			// The same file again: every address is already a member.
			res, err := f.s.Import(ctx, own, store.ImportPeople, []byte(good), false)
			MustNoErr(t, err)
			if res.Errors != 4 || !strings.Contains(rowErrors(res)[2], "already a member") {
				t.Fatalf("a second import: %+v", res)
			}

			// Key sets: site by name, flags, a duration; bad values named.
			ks := "label,site,sensitive,max_out\nFlat 1 front," + site1 + ",yes,8h\nFlat 2," + site1 + ",maybe,\nFlat 3," + site1 + ",,ages\n"
			res, err = f.s.Import(ctx, own, store.ImportKeySets, []byte(ks), false)
			MustNoErr(t, err)
			if errs := rowErrors(res); res.Errors != 2 || !strings.Contains(errs[3], "maybe") || !strings.Contains(errs[4], "ages") {
				t.Fatalf("key sets preview: %+v", res)
			}
			res = must[store.ImportResult](t)(f.s.Import(ctx, own, store.ImportKeySets, []byte("label,site,sensitive,max_out\nFlat 1 front,"+site1+",yes,8h\n"), true))
			k := must[keycab.KeySet](t)(f.s.GetKeySet(ctx, own, res.Rows[0].ID))
			if k.Label != "Flat 1 front" || !k.Sensitive || k.MaxOut != 8*time.Hour || k.SiteID != a.site1.ID {
				t.Fatalf("key set %+v", k)
			}

			// Badges by address; a code already enrolled, an unknown kind
			// and a stranger are each named.
			bs := "member,kind,code\ndot@import.test,qr,QR-DOT\nada@import.test,rfid,0011AA\ncy@import.test,laser,X\n" + a.staff.Email + ",rfid,S1\nnobody@import.test,rfid,N1\n"
			res, err = f.s.Import(ctx, own, store.ImportBadges, []byte(bs), false)
			MustNoErr(t, err)
			if errs := rowErrors(res); res.Errors != 3 || !strings.Contains(errs[3], "already enrolled") || !strings.Contains(errs[4], "laser") || !strings.Contains(errs[6], "nobody") {
				t.Fatalf("badges preview: %+v", res)
			}

			// Files that cannot be read: one error, on its line.
			for name, c := range map[string]struct {
				data string
				line int
				want string
			}{
				"empty":          {"", 1, "empty"},
				"unknown column": {"name,salary\nAnn,1\n", 1, "salary"},
				"no name column": {"email\nann@x.test\n", 1, "name"},
				"header only":    {"name,email\n", 2, "no rows"},
				"bare quote":     {"name,email\nAnn,ann@x.test\nB\"ob,bob@x.test\n", 3, "not valid CSV"},
				"NUL byte":       {"name,email\nAnn,ann@x.test\nBob\x00,bob@x.test\n", 3, "NUL"},
				"not UTF-8":      {"name\nZo\xe9\n", 2, "UTF-8"},
			} {
				res, err := f.s.Import(ctx, own, store.ImportPeople, []byte(c.data), false)
				MustNoErr(t, err)
				if res.Errors != 1 || len(res.Rows) != 1 || res.Rows[0].Line != c.line || !strings.Contains(res.Rows[0].Error, c.want) {
					t.Errorf("%s: %+v", name, res)
				}
				_, err = f.s.Import(ctx, own, store.ImportPeople, []byte(c.data), true)
				wantCode(t, err, keycab.EINVALID)
			}
			wantCode(t, func() error { _, err := f.s.Import(ctx, own, "cars", []byte("name\nx\n"), false); return err }(), keycab.EINVALID)

			// A site manager adds staff of their site, not an admin.
			res, err = f.s.Import(ctx, a.as(a.manager), store.ImportPeople, []byte("name,role,sites\nMo Managed,staff,"+site1+"\nAl Admin,admin,"+site1+"\n"), false)
			MustNoErr(t, err)
			if errs := rowErrors(res); res.Errors != 1 || errs[3] == "" {
				t.Fatalf("a site manager's import: %+v", res)
			}

			// Who may: staff and auditors nobody; organisation B cannot
			// name A's site, and its import lands in B alone.
			for _, m := range []keycab.Member{a.staff, a.auditor} {
				_, err := f.s.Import(ctx, a.as(m), store.ImportPeople, []byte("name\nEve\n"), false)
				wantCode(t, err, keycab.EFORBIDDEN)
			}
			res, err = f.s.Import(ctx, f.b.as(f.b.owner), store.ImportPeople, []byte("name,sites\nEve,"+a.site1.ID+"\n"), false)
			MustNoErr(t, err)
			if res.Errors != 1 {
				t.Fatalf("B named A's site: %+v", res)
			}
			must[store.ImportResult](t)(f.s.Import(ctx, f.b.as(f.b.owner), store.ImportPeople, []byte("name\nEve in B\n"), true))
			if slices.Contains(memberNames(t, f.s, own), "Eve in B") {
				t.Fatal("B's import landed in A")
			}
		})
	}
}

// importContractCases: an import reaches only the principal's
// organisation: B's file cannot name A's sites, members or badges, and
// what it adds is B's alone.
func importContractCases() []contractCase {
	ctx := context.Background()
	return []contractCase{
		{"import: another organisation's sites, members and badges", func(t *testing.T, f *fixture) {
			a, b := f.a, f.b
			bOwn := b.as(b.owner)
			for kind, file := range map[store.ImportKind]string{
				store.ImportPeople:  "name,sites\nEve," + a.site1.ID + "\n",
				store.ImportKeySets: "label,site\nA's keys," + a.site1.ID + "\n",
				store.ImportBadges:  "member,kind,code\n" + a.staff.ID + ",rfid,EVIL1\n",
			} {
				res, err := f.s.Import(ctx, bOwn, kind, []byte(file), true)
				wantCode(t, err, keycab.EINVALID)
				if res.Errors != 1 || res.Applied {
					t.Fatalf("%s naming A's: %+v", kind, res)
				}
			}
			if _, err := f.s.FindBadge(ctx, a.as(a.owner), "EVIL1"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("B enrolled a badge for A's member: %v", err)
			}
			// A badge code A enrolled is no conflict in B (badges are
			// per organisation), and names nothing of A's.
			must[keycab.Badge](t)(f.s.AddBadge(ctx, a.as(a.owner), a.staff.ID, keycab.BadgeRFID, "SHARED1"))
			res := must[store.ImportResult](t)(f.s.Import(ctx, bOwn, store.ImportBadges, []byte("member,kind,code\n"+b.staff.Email+",rfid,SHARED1\n"), true))
			if !res.Applied || res.Rows[0].ID != b.staff.ID {
				t.Fatalf("B's own badge import: %+v", res)
			}
			if m, err := f.s.FindBadge(ctx, a.as(a.owner), "SHARED1"); err != nil || m.ID != a.staff.ID {
				t.Fatalf("A's badge after B's import: %v %v", m.ID, err)
			}
			wantCode(t, func() error {
				_, err := f.s.Import(ctx, a.kiosk(), store.ImportPeople, []byte("name\nK\n"), false)
				return err
			}(), keycab.EFORBIDDEN)
		}},
	}
}
