package main

// keycab-hq bench measures the history page and the dashboard over a
// database filled with realistic history (docs/PERFORMANCE.md, issue 5):
//
//	keycab-hq bench [--db DSN] [--setup-db DSN] [-n EVENTS] [--samples N] [--http-samples N] [--load D] [--conns C] [--cpuprofile F]
//
// On SQLite --db defaults to $HOME/.cache/keycab/hq-history-N.db, so a
// filled database is reused by later runs. On PostgreSQL --db is the
// service role's DSN (the one measured) and --setup-db the same database
// as a superuser, used only to migrate and fill it: COPY (which
// row-level security forbids to the service role) with the foreign-key
// triggers off (session_replication_role = replica) and the events'
// secondary indexes built after the load. On SQLite the fill is batched
// transactions, also with the indexes built after. A database that holds
// the bench's organisations and exactly EVENTS events is reused as it is.
//
// It prints, per filter, the history page's p50 and p95 latency through
// the store (ListEvents, one page of 51 events as the dashboard asks) and
// through the signed-in HTTP handler on loopback (GET /history), the plan
// each filter's query gets, and then the requests per second of the
// dashboard's main pages under a Go load generator in the same process
// (C connections for D each), with error counts.

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/api"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/dashboard"
	"keycab.dev/keycab/hq/store"
)

// benchConfig is the bench command's configuration.
type benchConfig struct {
	DB, SetupDB string
	Events      int
	Samples     int
	HTTPSamples int
	Load        time.Duration
	Conns       int
	CPUProfile  string // the HTTP part's CPU profile, when set
}

// The bench's organisations: the first holds half the events and is the
// one measured; the others share the rest.
const (
	benchOrgCount = 5
	benchPassword = "bench-history-not-a-secret"
	benchPage     = 51 // the dashboard's page of 50 and one to know there is more
)

func benchEmail(org int) string { return fmt.Sprintf("owner%d@bench.keycab.test", org) }

// runBench is the bench command; it returns the process's exit code.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := benchConfig{}
	fs := flag.NewFlagSet("keycab-hq bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.DB, "db", "", "database measured: sqlite:PATH or the service role's postgres:// DSN (default sqlite:$HOME/.cache/keycab/hq-history-N.db)")
	fs.StringVar(&cfg.SetupDB, "setup-db", "", "PostgreSQL: the same database as a superuser, to migrate and fill it")
	fs.IntVar(&cfg.Events, "n", 1_000_000, "events in the database")
	fs.IntVar(&cfg.Samples, "samples", 200, "store reads per filter")
	fs.IntVar(&cfg.HTTPSamples, "http-samples", 50, "HTTP requests per filter")
	fs.DurationVar(&cfg.Load, "load", 10*time.Second, "load generation per dashboard page (0: none)")
	fs.IntVar(&cfg.Conns, "conns", 8, "concurrent connections of the load generator")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the HTTP measurements to this `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if cfg.DB == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			fmt.Fprintln(stderr, "keycab-hq bench:", err)
			return 1
		}
		dir := filepath.Join(home, ".cache", "keycab")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(stderr, "keycab-hq bench:", err)
			return 1
		}
		cfg.DB = "sqlite:" + filepath.Join(dir, fmt.Sprintf("hq-history-%d.db", cfg.Events))
	}
	if cfg.SetupDB == "" {
		if !strings.HasPrefix(cfg.DB, "sqlite:") {
			fmt.Fprintln(stderr, "keycab-hq bench: PostgreSQL needs --setup-db (a superuser DSN of the same database)")
			return 2
		}
		cfg.SetupDB = cfg.DB
	}
	if err := bench(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "keycab-hq bench:", err)
		return 1
	}
	return 0
}

// benchOrg is one of the bench's organisations as the measurement needs it.
type benchOrg struct {
	org       string
	owner     string // member id
	sites     []store.Site
	kiosks    []store.Kiosk
	keySets   map[string][]string // site id -> key set ids
	kioskSite map[string]string   // kiosk id -> site id
	members   []keycab.Member
	weight    float64 // share of the events
}

func bench(ctx context.Context, cfg benchConfig, out io.Writer) error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := store.Migrate(ctx, cfg.SetupDB, store.MigrateOptions{AppRole: store.DefaultAppRole, Logger: log}); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DB, store.Options{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	acfg := auth.DefaultConfig()
	acfg.Limits = auth.Limits{}
	a, err := auth.New(st, nil, log, nil, acfg)
	if err != nil {
		return err
	}
	raw, err := sql.Open(driverOf(cfg.SetupDB), dsnOf(cfg.SetupDB))
	if err != nil {
		return err
	}
	defer raw.Close()
	var have int
	if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&have); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	orgs, err := loadBenchOrgs(ctx, st, a)
	if err != nil {
		return err
	}
	switch {
	case have >= cfg.Events && have <= cfg.Events+liveEventsPerKiosk*len(orgs[0].kiosks):
		fmt.Fprintf(out, "reusing %s: %d events\n", redactDSN(cfg.DB), have)
	case have == 0:
		start := time.Now()
		if err := fill(ctx, raw, st, orgs, cfg.Events, out); err != nil {
			return err
		}
		fmt.Fprintf(out, "filled %d events in %s\n", cfg.Events, time.Since(start).Round(time.Second))
	default:
		return fmt.Errorf("%s holds %d events, not %d: remove it (or drop the database) and run again", redactDSN(cfg.DB), have, cfg.Events)
	}
	return measure(ctx, cfg, st, a, orgs[0], out)
}

func driverOf(dsn string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return "sqlite"
	}
	return "pgx"
}

func dsnOf(dsn string) string {
	if p, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		return "file:" + p + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)"
	}
	return dsn
}

// redactDSN drops a password from a DSN before it is printed.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return dsn
}

// loadBenchOrgs finds the bench's organisations, creating those missing:
// the first with 20 sites, a cabinet and kiosk at each, 10 key sets a
// site and 300 members; the others 5 sites and 60 members.
func loadBenchOrgs(ctx context.Context, st *store.Store, a *auth.Service) ([]benchOrg, error) {
	var orgs []benchOrg
	for i := range benchOrgCount {
		o := benchOrg{keySets: map[string][]string{}, weight: 0.5}
		nSites, nMembers := 5, 60
		if i == 0 {
			nSites, nMembers = 20, 300
		} else {
			o.weight = 0.5 / (benchOrgCount - 1)
		}
		acct, err := st.AccountByEmail(ctx, benchEmail(i))
		switch {
		case err == nil:
			ms, err := st.Memberships(ctx, acct.ID)
			if err != nil || len(ms) == 0 {
				return nil, errors.Join(err, fmt.Errorf("bench account %s has no organisation", benchEmail(i)))
			}
			o.org, o.owner = ms[0].OrgID, ms[0].MemberID
		case keycab.ErrorCode(err) == keycab.ENOTFOUND:
			t, err := a.Signup(ctx, auth.Signup{OrgName: fmt.Sprintf("Bench %d", i), Name: "Owner", Email: benchEmail(i), Password: benchPassword}, "127.0.0.1")
			if err != nil {
				return nil, err
			}
			o.org, o.owner = t.OrgID, t.MemberID
			if err := createBenchOrg(ctx, st, store.MemberScope(o.org, o.owner), i, nSites, nMembers); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
		if err := o.load(ctx, st); err != nil {
			return nil, err
		}
		orgs = append(orgs, o)
	}
	return orgs, nil
}

func createBenchOrg(ctx context.Context, st *store.Store, own store.Scope, org, nSites, nMembers int) error {
	var siteIDs []string
	for s := range nSites {
		site, err := st.CreateSite(ctx, own, store.Site{Site: keycab.Site{Name: fmt.Sprintf("Site %d", s), TimeZone: "Europe/London"}})
		if err != nil {
			return err
		}
		siteIDs = append(siteIDs, site.ID)
		cab, err := st.CreateCabinet(ctx, own, keycab.Cabinet{SiteID: site.ID, Name: fmt.Sprintf("Cabinet %d", s), Kind: keycab.Slotted})
		if err != nil {
			return err
		}
		if _, err := st.CreateKiosk(ctx, own, store.Kiosk{CabinetID: cab.ID, Name: fmt.Sprintf("Kiosk %d", s)}); err != nil {
			return err
		}
		for k := range 10 {
			if _, err := st.CreateKeySet(ctx, own, keycab.KeySet{SiteID: site.ID, Label: fmt.Sprintf("Unit %d-%d", s, k)}); err != nil {
				return err
			}
		}
	}
	for m := range nMembers {
		mem := keycab.Member{Name: fmt.Sprintf("Member %d", m), Email: fmt.Sprintf("m%d.%d@bench.keycab.test", org, m), Role: keycab.RoleStaff}
		if m == 0 {
			// A site manager scoped to two sites, for the role-scoped case.
			mem.Role, mem.SiteIDs = keycab.RoleSiteManager, siteIDs[:2]
		}
		if _, err := st.CreateMember(ctx, own, mem); err != nil {
			return err
		}
	}
	return nil
}

func (o *benchOrg) load(ctx context.Context, st *store.Store) error {
	own := store.MemberScope(o.org, o.owner)
	var err error
	if o.sites, err = st.ListSites(ctx, own); err != nil {
		return err
	}
	if o.kiosks, err = st.ListKiosks(ctx, own); err != nil {
		return err
	}
	slices.SortFunc(o.kiosks, func(x, y store.Kiosk) int { return strings.Compare(x.Name, y.Name) })
	// Kiosk N stands in Site N (createBenchOrg).
	siteByName := map[string]string{}
	for _, s := range o.sites {
		siteByName[s.Name] = s.ID
	}
	o.kioskSite = map[string]string{}
	for _, k := range o.kiosks {
		o.kioskSite[k.ID] = siteByName["Site "+strings.TrimPrefix(k.Name, "Kiosk ")]
	}
	ks, err := st.ListKeySets(ctx, own, "")
	if err != nil {
		return err
	}
	for _, k := range ks {
		o.keySets[k.SiteID] = append(o.keySets[k.SiteID], k.ID)
	}
	ms, err := st.ListMembers(ctx, own)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Role == keycab.RoleStaff || m.Role == keycab.RoleSiteManager {
			o.members = append(o.members, m)
		}
	}
	// The site manager first, then staff in a stable order.
	slices.SortFunc(o.members, func(x, y keycab.Member) int {
		if (x.Role == keycab.RoleSiteManager) != (y.Role == keycab.RoleSiteManager) {
			return map[bool]int{true: -1, false: 1}[x.Role == keycab.RoleSiteManager]
		}
		return strings.Compare(x.Email, y.Email)
	})
	return nil
}

// benchKinds is the mix of a kiosk's log: mostly key movements and
// sign-ins, a few door, failure and alarm entries.
var benchKinds = []struct {
	kind   keycab.EventKind
	weight int
}{
	{keycab.EventKeyTaken, 30}, {keycab.EventKeyReturned, 30}, {keycab.EventIdentified, 24}, {keycab.EventDoorOpened, 5},
	{keycab.EventDoorClosed, 5}, {keycab.EventIdentifyFail, 3}, {keycab.EventAlarmRaised, 1}, {keycab.EventAlarmCleared, 1},
	{keycab.EventBoot, 1},
}

// benchSpan is how far back the filled history goes.
const benchSpan = 2 * 365 * 24 * time.Hour

// eventGen yields the events of one kiosk in log order, evenly spread
// over benchSpan with jitter.
type eventGen struct {
	rng     *rand.Rand
	org     *benchOrg
	kiosk   store.Kiosk
	site    string
	n, i    int
	start   time.Time
	members []keycab.Member
}

func (g *eventGen) next() []any {
	step := benchSpan / time.Duration(g.n)
	at := g.start.Add(time.Duration(g.i)*step + time.Duration(g.rng.Int64N(int64(step))))
	r := g.rng.IntN(100)
	var kind keycab.EventKind
	for _, k := range benchKinds {
		if r -= k.weight; r < 0 {
			kind = k.kind
			break
		}
	}
	var actor, keySet, detail string
	var due int64
	switch kind {
	case keycab.EventKeyTaken, keycab.EventKeyReturned, keycab.EventIdentified:
		// A skewed pick: a few people do most of the work.
		actor = g.members[min(len(g.members)-1, int(float64(len(g.members))*g.rng.Float64()*g.rng.Float64()))].ID
		if kind != keycab.EventIdentified {
			ks := g.org.keySets[g.site]
			keySet = ks[g.rng.IntN(len(ks))]
		}
		if kind == keycab.EventKeyTaken {
			due = at.Add(8 * time.Hour).UnixMicro()
		}
	case keycab.EventAlarmRaised:
		detail = keycab.AlarmDoorHeld
	}
	row := []any{g.org.org, g.kiosk.ID, int64(g.i), string(kind), actor, keySet, g.kiosk.CabinetID, at.UnixMicro(), due, detail, at.UnixMicro() + 2_000_000, g.site}
	g.i++
	return row
}

var eventCols = []string{"org_id", "kiosk_id", "log_index", "kind", "actor_id", "key_set_id", "cabinet_id", "at_us", "due_us", "detail", "received_us", "site_id"}

// gens splits total events over the organisations by weight and over each
// organisation's kiosks by a skewed weight (site j gets 1/(j+1)), so some
// sites are busy and some sparse.
func gens(orgs []benchOrg, total int, now time.Time) []*eventGen {
	var out []*eventGen
	left := total
	rng := rand.New(rand.NewPCG(5, 2026))
	for oi := range orgs {
		o := &orgs[oi]
		n := int(float64(total) * o.weight)
		if oi == len(orgs)-1 {
			n = left
		}
		left -= n
		var sum float64
		for j := range o.kiosks {
			sum += 1 / float64(j+1)
		}
		kleft := n
		for j, k := range o.kiosks {
			kn := int(float64(n) / float64(j+1) / sum)
			if j == len(o.kiosks)-1 {
				kn = kleft
			}
			kleft -= kn
			out = append(out, &eventGen{rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), org: o, kiosk: k, site: o.kioskSite[k.ID],
				n: kn, start: now.Add(-benchSpan), members: o.members})
		}
	}
	return out
}

// fill loads total events with the secondary indexes of events dropped
// and rebuilt after, then records a few live events through the store
// so custody, overdue keys and alarms have rows.
func fill(ctx context.Context, raw *sql.DB, st *store.Store, orgs []benchOrg, total int, out io.Writer) error {
	now := time.Now().Add(-time.Hour)
	indexes, err := dropEventIndexes(ctx, raw, st.Engine())
	if err != nil {
		return err
	}
	gs := gens(orgs, total, now)
	if st.Engine() == store.Postgres {
		err = copyEvents(ctx, raw, gs)
	} else {
		err = insertEvents(ctx, raw, gs, out)
	}
	if err != nil {
		return err
	}
	start := time.Now()
	for _, q := range indexes {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild index: %s: %w", q, err)
		}
	}
	if _, err := raw.ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	fmt.Fprintf(out, "built %d indexes and analysed in %s\n", len(indexes), time.Since(start).Round(time.Second))
	return liveEvents(ctx, st, gs, now)
}

// dropEventIndexes drops the secondary indexes of events and returns the
// statements that recreate them.
func dropEventIndexes(ctx context.Context, raw *sql.DB, e store.Engine) ([]string, error) {
	q := "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
	if e == store.Postgres {
		q = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events' AND indexname NOT LIKE '%pkey'"
	}
	rows, err := raw.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	var names, defs []string
	for rows.Next() {
		var n, d string
		if err := rows.Scan(&n, &d); err != nil {
			rows.Close()
			return nil, err
		}
		names, defs = append(names, n), append(defs, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := raw.ExecContext(ctx, "DROP INDEX "+n); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// insertEvents is SQLite's bulk path: one prepared INSERT in
// transactions of 50,000 rows.
func insertEvents(ctx context.Context, raw *sql.DB, gs []*eventGen, out io.Writer) error {
	conn, err := raw.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = OFF"); err != nil {
		return err
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(eventCols)), ", ")
	ins := "INSERT INTO events (" + strings.Join(eventCols, ", ") + ") VALUES (" + ph + ")"
	done := 0
	for _, g := range gs {
		for g.i < g.n {
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			stmt, err := tx.PrepareContext(ctx, ins)
			if err != nil {
				tx.Rollback()
				return err
			}
			for b := 0; b < 50_000 && g.i < g.n; b++ {
				if _, err := stmt.ExecContext(ctx, g.next()...); err != nil {
					tx.Rollback()
					return err
				}
				done++
			}
			stmt.Close()
			if err := tx.Commit(); err != nil {
				return err
			}
		}
	}
	_, err = conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL")
	return err
}

// copyEvents is PostgreSQL's bulk path: COPY as the superuser, with the
// foreign-key triggers off for the session.
func copyEvents(ctx context.Context, raw *sql.DB, gs []*eventGen) error {
	conn, err := raw.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(interface{ Conn() *pgx.Conn }).Conn()
		if _, err := pc.Exec(ctx, "SET session_replication_role = replica"); err != nil {
			return err
		}
		gi := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			for gi < len(gs) && gs[gi].i >= gs[gi].n {
				gi++
			}
			if gi == len(gs) {
				return nil, nil
			}
			return gs[gi].next(), nil
		})
		if _, err := pc.CopyFrom(ctx, pgx.Identifier{"events"}, eventCols, src); err != nil {
			return fmt.Errorf("copy events: %w", err)
		}
		_, err := pc.Exec(ctx, "SET session_replication_role = DEFAULT")
		return err
	})
}

// liveEventsPerKiosk is how many events liveEvents records at each kiosk
// of the measured organisation.
const liveEventsPerKiosk = 12

// liveEvents records, through the store as each kiosk, the last hours of
// the busiest organisation: keys taken (some overdue) and door alarms.
func liveEvents(ctx context.Context, st *store.Store, gs []*eventGen, now time.Time) error {
	for _, g := range gs {
		if g.org.weight < 0.5 {
			continue
		}
		var evs []store.Event
		for j := range liveEventsPerKiosk {
			at := now.Add(time.Duration(j) * time.Minute)
			ks := g.org.keySets[g.site]
			e := store.Event{LogIndex: int64(g.n + j), Kind: keycab.EventKeyTaken, ActorID: g.members[j%len(g.members)].ID,
				KeySetID: ks[j%len(ks)], At: at, DueAt: at.Add(time.Duration(j%3-1) * 2 * time.Hour)}
			if j == liveEventsPerKiosk-1 {
				e = store.Event{LogIndex: int64(g.n + j), Kind: keycab.EventAlarmRaised, Detail: keycab.AlarmDoorHeld, At: at}
			}
			evs = append(evs, e)
		}
		if err := st.RecordEvents(ctx, store.KioskScope(g.org.org, g.kiosk.ID), evs); err != nil {
			return err
		}
	}
	return nil
}

// historyCase is one filtered read of the history page.
type historyCase struct {
	name string
	as   func(i int) store.Scope
	f    func(i int) store.EventFilter
	page int // 1 for the first page; more walks the cursor first
}

func historyCases(o benchOrg, now time.Time) []historyCase {
	own := func(int) store.Scope { return store.MemberScope(o.org, o.owner) }
	var keySets []string
	for _, s := range o.sites {
		keySets = append(keySets, o.keySets[s.ID]...)
	}
	kinds := []keycab.EventKind{keycab.EventKeyTaken, keycab.EventDoorOpened, keycab.EventIdentifyFail, keycab.EventAlarmRaised}
	day := func(i int) time.Time {
		return now.Add(-time.Duration((i*7919)%700) * 24 * time.Hour).Truncate(24 * time.Hour)
	}
	site := func(i int) string { return o.sites[i%len(o.sites)].ID }
	// members[0] is the site manager; the others are staff.
	member := func(i int) string { return o.members[1+(i*31)%(len(o.members)-1)].ID }
	return []historyCase{
		{"no filter", own, func(int) store.EventFilter { return store.EventFilter{} }, 1},
		{"site (each of 20, busy to sparse)", own, func(i int) store.EventFilter { return store.EventFilter{SiteID: site(i)} }, 1},
		{"key set", own, func(i int) store.EventFilter { return store.EventFilter{KeySetID: keySets[(i*7)%len(keySets)]} }, 1},
		{"member", own, func(i int) store.EventFilter { return store.EventFilter{ActorID: member(i)} }, 1},
		{"kind (taken, door, failed, alarm)", own, func(i int) store.EventFilter { return store.EventFilter{Kind: kinds[i%len(kinds)]} }, 1},
		{"one day", own, func(i int) store.EventFilter {
			return store.EventFilter{Since: day(i), Until: day(i).Add(24 * time.Hour)}
		}, 1},
		{"site + kind + 30 days", own, func(i int) store.EventFilter {
			return store.EventFilter{SiteID: site(i), Kind: kinds[i%2], Since: day(i).Add(-29 * 24 * time.Hour), Until: day(i).Add(24 * time.Hour)}
		}, 1},
		{"member + 30 days", own, func(i int) store.EventFilter {
			return store.EventFilter{ActorID: member(i), Since: day(i).Add(-29 * 24 * time.Hour), Until: day(i).Add(24 * time.Hour)}
		}, 1},
		{"key set, page 2", own, func(i int) store.EventFilter { return store.EventFilter{KeySetID: keySets[(i*7)%len(keySets)]} }, 2},
		{"no filter, page 10", own, func(int) store.EventFilter { return store.EventFilter{} }, 10},
		{"site manager (2 sites + own)", func(int) store.Scope { return store.MemberScope(o.org, o.members[0].ID) },
			func(int) store.EventFilter { return store.EventFilter{} }, 1},
		{"staff (own only)", func(i int) store.Scope { return store.MemberScope(o.org, member(i)) },
			func(int) store.EventFilter { return store.EventFilter{} }, 1},
	}
}

// percentiles returns p50 and p95 of ds (sorted in place).
func percentiles(ds []time.Duration) (p50, p95 time.Duration) {
	slices.Sort(ds)
	return ds[len(ds)*50/100], ds[min(len(ds)-1, len(ds)*95/100)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func measure(ctx context.Context, cfg benchConfig, st *store.Store, a *auth.Service, o benchOrg, out io.Writer) error {
	now := time.Now()
	cases := historyCases(o, now)
	fmt.Fprintf(out, "\nhistory through the store (%s, %d events, org of %d sites, %d samples, page of %d)\n", st.Engine(), cfg.Events, len(o.sites), cfg.Samples, benchPage)
	fmt.Fprintf(out, "| filter | p50 ms | p95 ms | max ms | rows/page |\n|---|---|---|---|---|\n")
	for _, c := range cases {
		var ds []time.Duration
		rows := 0
		for i := range cfg.Samples {
			f := c.f(i)
			f.Limit = benchPage
			for range c.page - 1 {
				page, err := st.ListEvents(ctx, c.as(i), f)
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				if len(page) == 0 {
					break
				}
				f.Before = &page[len(page)-1]
			}
			start := time.Now()
			page, err := st.ListEvents(ctx, c.as(i), f)
			ds = append(ds, time.Since(start))
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			rows += len(page)
		}
		p50, p95 := percentiles(ds)
		fmt.Fprintf(out, "| %s | %s | %s | %s | %d |\n", c.name, ms(p50), ms(p95), ms(ds[len(ds)-1]), rows/cfg.Samples)
	}
	fmt.Fprintf(out, "\nplans (first sample of each filter)\n")
	for _, c := range cases {
		plan, err := st.ExplainEvents(ctx, c.as(0), c.f(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "- %s:\n    %s\n", c.name, strings.ReplaceAll(plan, "\n", "\n    "))
	}
	return measureHTTP(ctx, cfg, st, a, o, cases, out)
}

// measureHTTP serves the dashboard on loopback, signs the organisation's
// owner in and measures GET /history per filter, then the load.
func measureHTTP(ctx context.Context, cfg benchConfig, st *store.Store, a *auth.Service, o benchOrg, cases []historyCase, out io.Writer) error {
	srv := &hq.Server{Store: st, API: &api.API{Store: st, Auth: a}, Dashboard: &dashboard.Dashboard{Store: st, Auth: a}}
	h, err := srv.Handler()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	res, err := a.Login(ctx, benchEmail(0), benchPassword, o.org, "127.0.0.1")
	if err != nil {
		return err
	}
	if res.Tokens == nil {
		return errors.New("bench owner login asked for MFA")
	}
	if cfg.CPUProfile != "" {
		pf, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	base := "http://" + ln.Addr().String()
	cookie := (&http.Cookie{Name: "__Host-keycab_session", Value: res.Tokens.AccessToken}).String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Conns}, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (string, int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return "", 0, err
		}
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Accept", "text/html")
		resp, err := client.Do(req)
		if err != nil {
			return "", 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), resp.StatusCode, err
	}
	fmt.Fprintf(out, "\nhistory through HTTP (GET /history signed in, loopback, %d samples)\n", cfg.HTTPSamples)
	fmt.Fprintf(out, "| filter | p50 ms | p95 ms | max ms | errors |\n|---|---|---|---|---|\n")
	for _, c := range cases {
		if c.name == "site manager (2 sites + own)" || c.name == "staff (own only)" {
			continue // another session; the store figures cover the scope
		}
		var ds []time.Duration
		errs := 0
		for i := range cfg.HTTPSamples {
			path := historyPath(c.f(i))
			for range c.page - 1 {
				body, code, err := get(path)
				if err != nil || code != http.StatusOK {
					errs++
					break
				}
				m := nextLink.FindStringSubmatch(body)
				if m == nil {
					break
				}
				path = html.UnescapeString(m[1])
			}
			start := time.Now()
			_, code, err := get(path)
			ds = append(ds, time.Since(start))
			if err != nil || code != http.StatusOK {
				errs++
			}
		}
		p50, p95 := percentiles(ds)
		fmt.Fprintf(out, "| %s | %s | %s | %s | %d |\n", c.name, ms(p50), ms(p95), ms(ds[len(ds)-1]), errs)
	}
	if cfg.Load <= 0 {
		return nil
	}
	from := time.Now().Add(-30 * 24 * time.Hour).Format("2006-01-02")
	pages := []string{"/", "/overdue", "/history?kind=key.taken&from=" + from, "/history?site=" + o.sites[1].ID, "/alarms", "/kiosks"}
	fmt.Fprintf(out, "\ndashboard under load (%d connections, %s a page, load generator in the same process)\n", cfg.Conns, cfg.Load)
	fmt.Fprintf(out, "| page | requests/s | p50 ms | p95 ms | requests | errors |\n|---|---|---|---|---|---|\n")
	for _, p := range pages {
		var n, errs atomic.Int64
		var mu sync.Mutex
		var ds []time.Duration
		lctx, cancel := context.WithTimeout(ctx, cfg.Load)
		var wg sync.WaitGroup
		start := time.Now()
		for range cfg.Conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for lctx.Err() == nil {
					t0 := time.Now()
					_, code, err := get(p)
					if lctx.Err() != nil && err != nil {
						break
					}
					mine = append(mine, time.Since(t0))
					n.Add(1)
					if err != nil || code != http.StatusOK {
						errs.Add(1)
					}
				}
				mu.Lock()
				ds = append(ds, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		cancel()
		el := time.Since(start)
		if len(ds) == 0 {
			return fmt.Errorf("load on %s: no request finished", p)
		}
		p50, p95 := percentiles(ds)
		fmt.Fprintf(out, "| %s | %.0f | %s | %s | %d | %d |\n", strings.Replace(p, o.sites[1].ID, "SITE", 1), float64(n.Load())/el.Seconds(), ms(p50), ms(p95), n.Load(), errs.Load())
	}
	return nil
}

var nextLink = regexp.MustCompile(`href="(/history\?[^"]*c=[^"]*)"[^>]*>\s*(?:Next|Older)`)

// historyPath is the dashboard's history URL for f.
func historyPath(f store.EventFilter) string {
	v := url.Values{}
	for k, x := range map[string]string{"site": f.SiteID, "key_set": f.KeySetID, "member": f.ActorID, "kind": string(f.Kind)} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if !f.Since.IsZero() {
		v.Set("from", f.Since.UTC().Format("2006-01-02"))
	}
	if !f.Until.IsZero() {
		v.Set("to", f.Until.Add(-time.Nanosecond).UTC().Format("2006-01-02"))
	}
	if len(v) == 0 {
		return "/history"
	}
	return "/history?" + v.Encode()
}
