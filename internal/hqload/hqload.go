package hqload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

// Config is what to fill and measure.
type Config struct {
	// DB is the database measured: sqlite:PATH or the service role's
	// postgres:// DSN. SetupDB is the same database as its schema owner
	// (on SQLite the same DSN), used only to migrate it.
	DB, SetupDB string
	Events      int // history events (the live events come on top)
	Samples     int // store reads per filter
	HTTPSamples int // HTTP requests per filter
	Load        time.Duration
	Conns       int
	CPUProfile  string // the HTTP part's CPU profile, when set
	// Ingest grows the history through the push path instead of
	// RecordEvents: each kiosk enrolled through HQ's kiosk API with its
	// own key, its events appended to its own signed log and pushed by the
	// sync agent (ingest.go). The database must be new (or filled by an
	// earlier Ingest run: the organisations' kiosks are made by enrolment).
	Ingest bool
	// Handler serves HQ (the dashboard) over the store and the auth
	// service; nil skips the HTTP measurements and the load.
	Handler func(*store.Store, *auth.Service) (http.Handler, error)
	Logger  *slog.Logger // the store's and auth's; nil discards
}

// DefaultDB is the SQLite database the bench keeps for events, so that
// later runs reuse it: $HOME/.cache/keycab/hq-history-N.db. It makes the
// directory.
func DefaultDB(events int) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(home, ".cache", "keycab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return "sqlite:" + filepath.Join(dir, fmt.Sprintf("hq-history-%d.db", events)), nil
}

// The bench's organisations: the first holds half the events and is the
// one measured; the others share the rest.
const (
	OrgCount = 5
	Password = "bench-history-not-a-secret" // every owner's
	pageSize = 51                           // the dashboard's page of 50 and one to know there is more
)

// RecordBatch is how many events the fill hands the store in one
// RecordEvents call (one transaction).
const RecordBatch = 10_000

// LiveEventsPerKiosk is how many events the fill records at each kiosk of
// the measured organisation after its history.
const LiveEventsPerKiosk = 12

// Email is the sign-in of organisation i's owner.
func Email(org int) string { return fmt.Sprintf("owner%d@bench.keycab.test", org) }

// Org is one of the bench's organisations as the measurement needs it.
type Org struct {
	ID      string
	Owner   string // member id
	Sites   []store.Site
	Kiosks  []store.Kiosk       // by name: kiosk N stands in site N
	KeySets map[string][]string // site id -> key set ids
	Members []keycab.Member     // the site manager first, then staff

	kioskSite map[string]string // kiosk id -> site id
	weight    float64           // share of the events
}

// Scope is the owner's.
func (o Org) Scope() store.Scope { return store.MemberScope(o.ID, o.Owner) }

// Filled is what a fill recorded, as the store should now report it.
type Filled struct {
	Events  int            // history and live events
	KeysOut map[string]int // org id -> key sets out at the end
	Alarms  map[string]int // org id -> alarms raised (none is cleared)
}

// Bench is an open bench database, filled or reused.
type Bench struct {
	Store  *store.Store
	Auth   *auth.Service
	Orgs   []Org
	Events int     // history events asked for
	Filled *Filled // what this run recorded; nil when the database was reused
}

// Close closes the store.
func (b *Bench) Close() error { return b.Store.Close() }

// Run fills (or reuses) the database and measures it.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	b, err := Open(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.Measure(ctx, cfg, out)
}

// Open migrates the database, finds or makes the organisations, and fills
// the history unless the database holds it already (see Reuse in the
// package doc).
func Open(ctx context.Context, cfg Config, out io.Writer) (*Bench, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	setup := cfg.SetupDB
	if setup == "" {
		setup = cfg.DB
	}
	if err := store.Migrate(ctx, setup, store.MigrateOptions{AppRole: store.DefaultAppRole, Logger: log}); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DB, store.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	b := &Bench{Store: st, Events: cfg.Events}
	if err := b.open(ctx, cfg, log, out); err != nil {
		st.Close()
		return nil, err
	}
	return b, nil
}

func (b *Bench) open(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	acfg := auth.DefaultConfig()
	acfg.Limits = auth.Limits{}
	var err error
	if b.Auth, err = auth.New(b.Store, nil, log, nil, acfg); err != nil {
		return err
	}
	var in *ingester
	enrol := func(ctx context.Context, own store.Scope, cabinetID, name string) error {
		_, err := b.Store.CreateKiosk(ctx, own, store.Kiosk{CabinetID: cabinetID, Name: name})
		return err
	}
	if cfg.Ingest {
		if in, err = newIngester(b.Store); err != nil {
			return err
		}
		defer in.Close()
		enrol = in.enrol
	}
	if b.Orgs, err = loadOrgs(ctx, b.Store, b.Auth, enrol); err != nil {
		return err
	}
	have := 0
	for _, o := range b.Orgs {
		for _, k := range o.Kiosks {
			have += int(k.LogSize)
		}
	}
	want, kiosks := cfg.Events+LiveEventsPerKiosk*len(b.Orgs[0].Kiosks), 0
	for _, o := range b.Orgs {
		kiosks += len(o.Kiosks)
	}
	switch {
	case have == want || (cfg.Ingest && have > want && have <= want+2*kiosks):
		// Grown by ingest, each kiosk's log also holds the clock.anchored
		// entries its agent wrote on HQ's first cosignature of each of
		// the fill's one or two pushes.
		fmt.Fprintf(out, "reusing %s: %d events\n", redactDSN(cfg.DB), have)
	case have == 0:
		start := time.Now()
		if b.Filled, err = fill(ctx, b.Store, b.Orgs, cfg.Events, in); err != nil {
			return err
		}
		keysOut, alarms := 0, 0
		for _, o := range b.Orgs {
			keysOut += b.Filled.KeysOut[o.ID]
			alarms += b.Filled.Alarms[o.ID]
		}
		how := "through the store"
		if in != nil {
			how = "grown by ingest: enrolled kiosks' signed logs pushed through HQ's kiosk API"
		}
		fmt.Fprintf(out, "filled %d events in %s (%s: %d events, %d key sets out, %d alarms)\n",
			cfg.Events, time.Since(start).Round(time.Second), how, b.Filled.Events, keysOut, alarms)
	default:
		return fmt.Errorf("%s holds %d events, not %d: remove it (or drop the database) and run again", redactDSN(cfg.DB), have, cfg.Events)
	}
	return nil
}

// redactDSN drops a password from a DSN before it is printed.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return dsn
}

// loadOrgs finds the bench's organisations, creating those missing: the
// first with 20 sites, a cabinet and kiosk at each, 10 key sets a site and
// 300 members; the others 5 sites and 60 members.
func loadOrgs(ctx context.Context, st *store.Store, a *auth.Service, enrol func(ctx context.Context, own store.Scope, cabinetID, name string) error) ([]Org, error) {
	var orgs []Org
	for i := range OrgCount {
		o := Org{KeySets: map[string][]string{}, weight: 0.5}
		nSites, nMembers := 5, 60
		if i == 0 {
			nSites, nMembers = 20, 300
		} else {
			o.weight = 0.5 / (OrgCount - 1)
		}
		acct, err := st.Accounts().AccountByEmail(ctx, Email(i))
		switch {
		case err == nil:
			ms, err := st.Accounts().Memberships(ctx, acct.ID)
			if err != nil || len(ms) == 0 {
				return nil, errors.Join(err, fmt.Errorf("bench account %s has no organisation", Email(i)))
			}
			o.ID, o.Owner = ms[0].OrgID, ms[0].MemberID
		case keycab.ErrorCode(err) == keycab.ENOTFOUND:
			t, err := a.SignupTrusted(ctx, auth.Signup{OrgName: fmt.Sprintf("Bench %d", i), Name: "Owner", Email: Email(i), Password: Password}, "127.0.0.1")
			if err != nil {
				return nil, err
			}
			o.ID, o.Owner = t.OrgID, t.MemberID
			if err := createOrg(ctx, st, o.Scope(), i, nSites, nMembers, enrol); err != nil {
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

func createOrg(ctx context.Context, st *store.Store, own store.Scope, org, nSites, nMembers int, enrol func(ctx context.Context, own store.Scope, cabinetID, name string) error) error {
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
		if err := enrol(ctx, own, cab.ID, fmt.Sprintf("Kiosk %d", s)); err != nil {
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

func (o *Org) load(ctx context.Context, st *store.Store) error {
	own := o.Scope()
	var err error
	if o.Sites, err = st.ListSites(ctx, own); err != nil {
		return err
	}
	if o.Kiosks, err = st.ListKiosks(ctx, own); err != nil {
		return err
	}
	// Kiosk N stands in Site N (createOrg); "Kiosk 10" sorts before "Kiosk 2".
	slices.SortFunc(o.Kiosks, func(x, y store.Kiosk) int { return strings.Compare(x.Name, y.Name) })
	siteByName := map[string]string{}
	for _, s := range o.Sites {
		siteByName[s.Name] = s.ID
	}
	o.kioskSite = map[string]string{}
	for _, k := range o.Kiosks {
		o.kioskSite[k.ID] = siteByName["Site "+strings.TrimPrefix(k.Name, "Kiosk ")]
	}
	ks, err := st.ListKeySets(ctx, own, "")
	if err != nil {
		return err
	}
	for _, k := range ks {
		o.KeySets[k.SiteID] = append(o.KeySets[k.SiteID], k.ID)
	}
	ms, err := st.ListMembers(ctx, own)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Role == keycab.RoleStaff || m.Role == keycab.RoleSiteManager {
			o.Members = append(o.Members, m)
		}
	}
	// The site manager first, then staff in a stable order.
	slices.SortFunc(o.Members, func(x, y keycab.Member) int {
		if (x.Role == keycab.RoleSiteManager) != (y.Role == keycab.RoleSiteManager) {
			if x.Role == keycab.RoleSiteManager {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Email, y.Email)
	})
	return nil
}

// kinds is the mix of a kiosk's log: mostly key movements and sign-ins, a
// few door, failure and alarm entries.
var kinds = []struct {
	kind   keycab.EventKind
	weight int
}{
	{keycab.EventKeyTaken, 30}, {keycab.EventKeyReturned, 30}, {keycab.EventIdentified, 24}, {keycab.EventDoorOpened, 5},
	{keycab.EventDoorClosed, 5}, {keycab.EventIdentifyFail, 3}, {keycab.EventAlarmRaised, 1}, {keycab.EventAlarmCleared, 1},
	{keycab.EventBoot, 1},
}

// span is how far back the filled history goes.
const span = 2 * 365 * 24 * time.Hour

// eventGen yields the events of one kiosk in log order, evenly spread
// over span with jitter.
type eventGen struct {
	rng     *rand.Rand
	org     *Org
	kiosk   store.Kiosk
	site    string
	n, i    int
	start   time.Time
	members []keycab.Member
}

func (g *eventGen) next() store.Event {
	step := span / time.Duration(g.n)
	at := g.start.Add(time.Duration(g.i)*step + time.Duration(g.rng.Int64N(int64(step))))
	r := g.rng.IntN(100)
	var kind keycab.EventKind
	for _, k := range kinds {
		if r -= k.weight; r < 0 {
			kind = k.kind
			break
		}
	}
	e := store.Event{LogIndex: int64(g.i), Kind: kind, At: at}
	switch kind {
	case keycab.EventKeyTaken, keycab.EventKeyReturned, keycab.EventIdentified:
		// A skewed pick: a few people do most of the work.
		e.ActorID = g.members[min(len(g.members)-1, int(float64(len(g.members))*g.rng.Float64()*g.rng.Float64()))].ID
		if kind != keycab.EventIdentified {
			ks := g.org.KeySets[g.site]
			e.KeySetID = ks[g.rng.IntN(len(ks))]
		}
		if kind == keycab.EventKeyTaken {
			e.DueAt = at.Add(8 * time.Hour)
		}
	case keycab.EventAlarmRaised:
		e.Detail = keycab.AlarmDoorHeld
	}
	g.i++
	return e
}

// gens splits total events over the organisations by weight and over each
// organisation's kiosks by a skewed weight (site j gets 1/(j+1)), so some
// sites are busy and some sparse.
func gens(orgs []Org, total int, now time.Time) []*eventGen {
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
		for j := range o.Kiosks {
			sum += 1 / float64(j+1)
		}
		kleft := n
		for j, k := range o.Kiosks {
			kn := int(float64(n) / float64(j+1) / sum)
			if j == len(o.Kiosks)-1 {
				kn = kleft
			}
			kleft -= kn
			out = append(out, &eventGen{rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), org: o, kiosk: k, site: o.kioskSite[k.ID],
				n: kn, start: now.Add(-span), members: o.Members})
		}
	}
	return out
}

// custody follows, as the store applies them, the takes and returns
// recorded, so the fill can say how many key sets are out.
type custody map[string]bool // key set id -> out

func (c custody) apply(e store.Event) {
	switch e.Kind {
	case keycab.EventKeyTaken:
		c[e.KeySetID] = true
	case keycab.EventKeyReturned:
		delete(c, e.KeySetID)
	}
}

// fill records total events of history through the store as each kiosk,
// RecordBatch at a time, then the live events of the measured
// organisation, and returns what it recorded.
func fill(ctx context.Context, st *store.Store, orgs []Org, total int, in *ingester) (*Filled, error) {
	now := time.Now().Add(-time.Hour)
	f := &Filled{KeysOut: map[string]int{}, Alarms: map[string]int{}}
	out := map[string]custody{}
	for _, o := range orgs {
		out[o.ID] = custody{}
	}
	record := func(g *eventGen, evs []store.Event) error {
		var err error
		if in != nil {
			err = in.record(ctx, g.kiosk.ID, evs)
		} else {
			err = st.RecordEvents(ctx, store.KioskScope(g.org.ID, g.kiosk.ID), evs)
		}
		if err != nil {
			return fmt.Errorf("record events %d-%d of kiosk %s: %w", evs[0].LogIndex, evs[len(evs)-1].LogIndex, g.kiosk.ID, err)
		}
		for _, e := range evs {
			out[g.org.ID].apply(e)
			if e.Kind == keycab.EventAlarmRaised {
				f.Alarms[g.org.ID]++
			}
		}
		f.Events += len(evs)
		return nil
	}
	// With an ingester, each kiosk's log goes to HQ once it is written.
	push := func(g *eventGen) error {
		if in == nil {
			return nil
		}
		if _, err := in.push(ctx, g.kiosk.ID); err != nil {
			return fmt.Errorf("push the log of kiosk %s: %w", g.kiosk.ID, err)
		}
		return nil
	}
	gs := gens(orgs, total, now)
	batch := make([]store.Event, 0, RecordBatch)
	for _, g := range gs {
		for g.i < g.n {
			batch = batch[:0]
			for len(batch) < RecordBatch && g.i < g.n {
				batch = append(batch, g.next())
			}
			if err := record(g, batch); err != nil {
				return nil, err
			}
		}
		if err := push(g); err != nil {
			return nil, err
		}
	}
	for _, g := range gs {
		if g.org.weight < 0.5 {
			continue
		}
		if err := record(g, liveEvents(g, now)); err != nil {
			return nil, err
		}
		if err := push(g); err != nil {
			return nil, err
		}
	}
	for id, c := range out {
		f.KeysOut[id] = len(c)
	}
	return f, nil
}

// liveEvents are the last hour at one kiosk of the busiest organisation:
// keys taken (some overdue) and a door alarm.
func liveEvents(g *eventGen, now time.Time) []store.Event {
	var evs []store.Event
	for j := range LiveEventsPerKiosk {
		at := now.Add(time.Duration(j) * time.Minute)
		ks := g.org.KeySets[g.site]
		e := store.Event{LogIndex: int64(g.n + j), Kind: keycab.EventKeyTaken, ActorID: g.members[j%len(g.members)].ID,
			KeySetID: ks[j%len(ks)], At: at, DueAt: at.Add(time.Duration(j%3-1) * 2 * time.Hour)}
		if j == LiveEventsPerKiosk-1 {
			e = store.Event{LogIndex: int64(g.n + j), Kind: keycab.EventAlarmRaised, Detail: keycab.AlarmDoorHeld, At: at}
		}
		evs = append(evs, e)
	}
	return evs
}
