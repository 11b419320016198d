package store_test

import (
	"context"
	"database/sql"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
)

// One PostgreSQL server for the package's tests; a database per test.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// MustPG returns the test server; a missing PostgreSQL fails the test
// (with -short, PostgreSQL tests skip).
func MustPG(tb testing.TB) *pgtest.Server {
	tb.Helper()
	return pg.Must(tb)
}

// engines are the engines a test runs on (pgtest.Engines).
func engines() []pgtest.Engine { return pg.Engines() }

func MustMigrate(tb testing.TB, dsn string) {
	tb.Helper()
	if err := store.Migrate(context.Background(), dsn, store.MigrateOptions{AppRole: pgtest.AppRole}); err != nil {
		tb.Fatal(err)
	}
}

// testNotesKey is the notes key every test store uses.
func testNotesKey() []byte { return []byte("0123456789abcdef0123456789abcdef") }

// MustOpen opens a store whose every SQL statement is checked for the
// tenant condition (checkScoped); a statement without it fails the test.
func MustOpen(tb testing.TB, dsn string) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), dsn, store.Options{
		NotesKey: testNotesKey(),
		Trace: func(q string) {
			if why := checkScoped(q); why != "" {
				tb.Errorf("unscoped statement (%s):\n%s", why, q)
			}
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	keys, err := store.NewOrgLogKeys(testNotesKey(), "hq.test")
	MustNoErr(tb, err)
	s.SetOrgLogKeys(keys)
	return s
}

var (
	tableRef  = regexp.MustCompile(`(?i)\b(from|join|into|update)\s+([a-z_]+)`)
	orgBound  = regexp.MustCompile(`(?i)\borg_id\s*=\s*\$\d`)
	orgIDBind = regexp.MustCompile(`(?i)\bid\s*=\s*\$\d`)
	insertCol = regexp.MustCompile(`(?is)^\s*insert\s+into\s+([a-z_]+)\s*\(([^)]*)\)`)
)

// checkScoped returns why a statement touching a tenant table lacks the
// tenant condition, or "" when it is scoped: an INSERT must set org_id
// (orgs: id); any other statement must compare org_id (orgs: id) with a
// bound parameter.
func checkScoped(q string) string {
	tenant := map[string]bool{}
	for _, t := range store.TenantTables() {
		tenant[t] = true
	}
	var touched []string
	for _, m := range tableRef.FindAllStringSubmatch(q, -1) {
		if tenant[strings.ToLower(m[2])] {
			touched = append(touched, strings.ToLower(m[2]))
		}
	}
	if len(touched) == 0 {
		return ""
	}
	if m := insertCol.FindStringSubmatch(q); m != nil {
		col := "org_id"
		if strings.ToLower(m[1]) == "orgs" {
			col = "id"
		}
		for _, c := range strings.Split(m[2], ",") {
			if strings.TrimSpace(strings.ToLower(c)) == col {
				return ""
			}
		}
		return "insert into " + m[1] + " without " + col
	}
	onlyOrgs := true
	for _, t := range touched {
		onlyOrgs = onlyOrgs && t == "orgs"
	}
	if orgBound.MatchString(q) || (onlyOrgs && orgIDBind.MatchString(q)) {
		return ""
	}
	return "touches " + strings.Join(touched, ", ") + " without org_id = $n"
}

func must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

func MustNoErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// wantCode fails unless err carries the keycab error code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := keycab.ErrorCode(err); got != code {
		tb.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

// tenant is one organisation of a fixture with a member of every role.
type tenant struct {
	org                                               keycab.Org
	owner, admin, manager, auditor, staff, contractor keycab.Member
	site1, site2                                      store.Site
	cab1, cab2                                        keycab.Cabinet
	ks1, ks2                                          keycab.KeySet
	kiosk1                                            store.Kiosk
	job                                               keycab.Job
}

func (tn tenant) as(m keycab.Member) store.Scope { return store.MemberScope(tn.org.ID, m.ID) }
func (tn tenant) kiosk() store.Scope             { return store.KioskScope(tn.org.ID, tn.kiosk1.ID) }

// fixture is a fresh store with two organisations, A and B.
type fixture struct {
	s      *store.Store
	appDSN string
	owner  string // the owner role's DSN (the same file on SQLite)
	a, b   tenant
}

func defaultCaps() keycab.Caps { return keycab.Caps{KeySets: 50, Sites: 10, Cabinets: 10, Members: 20} }

func newFixture(t *testing.T, e pgtest.Engine) *fixture {
	t.Helper()
	app, owner := e.New(t)
	f := &fixture{s: MustOpen(t, app), appDSN: app, owner: owner}
	f.a = MustTenant(t, f.s, "A")
	f.b = MustTenant(t, f.s, "B")
	return f
}

// MustTenant creates an organisation with two sites, a cabinet and a key
// set at each, a kiosk at the first cabinet, a member of every role (the
// site manager and staff scoped to site 1) and a contractor's job on key
// set 1 from an hour ago to an hour ahead.
func MustTenant(tb testing.TB, s *store.Store, name string) tenant {
	tb.Helper()
	ctx := context.Background()
	var tn tenant
	var err error
	tn.org, tn.owner, err = s.CreateOrg(ctx, store.NewOrg{Name: "Org " + name, Caps: defaultCaps(),
		Owner: keycab.Member{Name: "Owner " + name, Email: "owner@" + name + ".test"}})
	MustNoErr(tb, err)
	own := tn.as(tn.owner)
	tn.site1 = must[store.Site](tb)(s.CreateSite(ctx, own, store.Site{Site: keycab.Site{Name: name + " one"}, Notes: "alarm code 1234 at " + name}))
	tn.site2 = must[store.Site](tb)(s.CreateSite(ctx, own, store.Site{Site: keycab.Site{Name: name + " two"}, Notes: "gate code 9876 at " + name}))
	tn.cab1 = must[keycab.Cabinet](tb)(s.CreateCabinet(ctx, own, keycab.Cabinet{SiteID: tn.site1.ID, Name: "cab one", Kind: keycab.Slotted}))
	tn.cab2 = must[keycab.Cabinet](tb)(s.CreateCabinet(ctx, own, keycab.Cabinet{SiteID: tn.site2.ID, Name: "cab two", Kind: keycab.OpenShelf}))
	tn.ks1 = must[keycab.KeySet](tb)(s.CreateKeySet(ctx, own, keycab.KeySet{SiteID: tn.site1.ID, Label: "front door"}))
	tn.ks2 = must[keycab.KeySet](tb)(s.CreateKeySet(ctx, own, keycab.KeySet{SiteID: tn.site2.ID, Label: "back door"}))
	member := func(role keycab.Role, sites ...string) keycab.Member {
		return must[keycab.Member](tb)(s.CreateMember(ctx, own, keycab.Member{Name: string(role), Email: string(role) + "@" + name + ".test", Role: role, SiteIDs: sites}))
	}
	tn.admin = member(keycab.RoleAdmin)
	tn.manager = member(keycab.RoleSiteManager, tn.site1.ID)
	tn.auditor = member(keycab.RoleAuditor)
	tn.staff = member(keycab.RoleStaff, tn.site1.ID)
	tn.contractor = member(keycab.RoleContractor)
	tn.kiosk1 = must[store.Kiosk](tb)(s.CreateKiosk(ctx, own, store.Kiosk{CabinetID: tn.cab1.ID, Name: "kiosk one"}))
	now := time.Now()
	tn.job = must[keycab.Job](tb)(s.CreateJob(ctx, own, keycab.Job{MemberID: tn.contractor.ID, KeySetIDs: []string{tn.ks1.ID},
		From: now.Add(-time.Hour), Until: now.Add(time.Hour), Descriptor: "WO-1"}))
	return tn
}

// race runs fn n times at once and returns the errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// openRaw opens a plain connection to a fixture's database, bypassing the
// store: on PostgreSQL as the schema owner with the tenant set for the
// session (row-level security applies to the owner too), on SQLite to the
// file.
func openRaw(tb testing.TB, dsn, orgID string) *sql.Conn {
	tb.Helper()
	ctx := context.Background()
	var db *sql.DB
	if p, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		var err error
		if db, err = sql.Open("sqlite", "file:"+p+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)"); err != nil {
			tb.Fatal(err)
		}
	} else {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			tb.Fatal(err)
		}
		db = stdlib.OpenDB(*cfg)
	}
	tb.Cleanup(func() { db.Close() })
	c, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if !strings.HasPrefix(dsn, "sqlite:") && orgID != "" {
		if _, err := c.ExecContext(ctx, "SELECT set_config('keycab.org_id', $1, false)", orgID); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}
