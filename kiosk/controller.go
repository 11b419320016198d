package kiosk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware"
	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/internal/passhash"
	"keycab.dev/keycab/store"
)

// Locks is what the controller needs of the lock outputs (lock.Bank).
type Locks interface {
	// Unlock releases the named lock for at most d; the driver relocks it.
	Unlock(name string, d time.Duration) error
	// Lock secures the named lock now.
	Lock(name string) error
	// Names lists every output.
	Names() []string
	// Emergency releases the named lock until Lock, within the driver's
	// safety limits (lock.Bank.Emergency).
	Emergency(name string) error
}

// Log is what the controller needs of the kiosk's signed log (store.DB):
// every entry, take and return it records goes through it.
type Log interface {
	Append(ctx context.Context, recs ...store.Record) ([]store.Appended, error)
	Take(ctx context.Context, c *keycab.Checkout) error
	ReturnKey(ctx context.Context, r store.Returned) (int64, error)
}

// Scanner is a source of scanned codes: a badge reader, or the camera
// reading QR codes (badge.Reader and its twins).
type Scanner interface {
	Read(ctx context.Context) (badge.Badge, error)
}

// ReadScanners reads every scanner until ctx ends and hands each code to
// send (which should give up when ctx ends). The channel it returns is
// closed once no Read runs any more, so the scanners may be read again (a
// scanner must not be read twice at once).
func ReadScanners(ctx context.Context, scanners []Scanner, log *slog.Logger, send func(badge.Badge)) <-chan struct{} {
	var wg sync.WaitGroup
	for _, sc := range scanners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b, err := sc.Read(ctx)
				if err != nil {
					if ctx.Err() == nil {
						log.Error("scanner stopped", "err", err)
					}
					return
				}
				send(b)
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// Config configures a Controller.
type Config struct {
	Store *store.DB
	// Log records entries, takes and returns; nil means Store.
	Log      Log
	Locks    Locks
	Scanners []Scanner
	// Stills gives the camera's still kept with each take, return and
	// alarm while the policy asks for them (keycab.Policy Stills); nil
	// means the first of Scanners that gives stills (a QRScanner), and
	// with none such entries say there is no camera.
	Stills Stills
	// Sensors delivers debounced input changes (input.Watcher.Events).
	Sensors <-chan input.Event
	// Initial is the inputs' state at start (input.Watcher.States).
	Initial []input.State
	Clock   hardware.Clock
	Logger  *slog.Logger
	// Buzzer names a lock-bank output sounded on alarms; empty for none.
	Buzzer string
	// Timeouts; zero values take the defaults in brackets.
	StepTimeout    time.Duration // each step waiting on a person [30s]
	UnlockFor      time.Duration // how long a lock is released [10s]
	ConfirmTimeout time.Duration // waiting for the key to move [20s]
	ShowDone       time.Duration // how long Done and Message stay [4s]
	LogRetry       time.Duration // out of service: how often the log is tried again [10s]
}

func (c *Config) defaults() {
	if c.Clock == nil {
		c.Clock = hardware.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Log == nil && c.Store != nil {
		c.Log = c.Store
	}
	if c.Stills == nil {
		for _, sc := range c.Scanners {
			if st, ok := sc.(Stills); ok {
				c.Stills = st
				break
			}
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.StepTimeout, 30*time.Second)
	def(&c.UnlockFor, 10*time.Second)
	def(&c.ConfirmTimeout, 20*time.Second)
	def(&c.ShowDone, 4*time.Second)
	def(&c.LogRetry, 10*time.Second)
}

// Controller runs one cabinet.
type Controller struct {
	cfg    Config
	db     *store.DB
	rec    Log
	locks  Locks
	clock  hardware.Clock
	log    *slog.Logger
	events chan any

	alive atomic.Int64 // when the loop last went round (Unix ns), for the watchdog

	screenMu sync.Mutex
	screen   Screen
	subs     []chan Screen
	names    map[string]string // member id -> name, for History
	labels   map[string]string // key set id -> label, for History

	// Owned by the loop goroutine.
	conf         *keycab.Config
	confChanged  <-chan struct{} // closed when the database's config changes (reload)
	loc          *time.Location
	out          map[string]keycab.Checkout // custody, by key set
	present      map[int]bool               // key-present sensors, by slot
	doorOpen     bool
	released     map[string]time.Time // locks released by a flow or emergency, until when
	remoteUntil  map[string]time.Time // locks HQ released remotely, until when
	s            *session
	lastScan     map[string]time.Time
	passKey      string // HQ's pinned config key, which signs passes; "" before enrolment
	fails        map[string]int
	lockedOut    map[string]time.Time
	alarms       []Alarm
	overdue      map[int64]bool // checkouts already alarmed as overdue, by log index
	emergency    bool
	logFault     error     // the log's last refusal while out of service, nil when it records
	faultFrom    time.Time // when the log first refused
	refused      int       // entries the log refused since then
	step         int       // generation of the step deadline
	doorGen      int       // generation of the door-held timer
	doorWarning  string    // the door-held pre-warning shown now, "" when none
	doorAlarmAt  time.Time // when the open door's door-held alarm sounds, zero when closed
	seq          uint64
	beat         hardware.Timer // the next heartbeat
	overdueCheck hardware.Timer // the next overdue check
}

// How often the loop notes that it is alive (for Alive) and checks for
// overdue keys.
const (
	beatEvery    = time.Second
	overdueEvery = 30 * time.Second
)

// session is one member's visit, from badge to done.
type session struct {
	member *keycab.Member
	badge  []byte // the hash of the badge the member scanned
	// pass opened the session in place of a badge (onPass): its holder
	// may take only its key sets, within its window.
	pass   *keycab.Pass
	pinOK  bool
	state  State
	keySet *keycab.KeySet
	slot   int
	taking bool // false: returning
	// approvers confirmed a dual or triple release so far, in order.
	approvers []*keycab.Member
	need      int // approvers the release needs: 1 dual, 2 triple
	reason    string
	recip     string
	notes     string
	pinFor    *keycab.Member // whose PIN the keypad is asking for
	enrol     int            // admin: the slot whose key set gets the next QR label
	link      string         // admin: the member who gets the next badge
	afterPIN  func(*Controller)
	deadline  time.Time
}

// Events posted to the loop besides sensor events and actions.
type (
	scanEvent    struct{ b badge.Badge }
	timeoutEvent struct{ gen int }
	doorHeld     struct{ gen int }
	doorWarn     struct{ gen int }
	logRetry     struct{}
	heartbeat    struct{} // every beatEvery: the loop is alive
	overdueTick  struct{} // every overdueEvery: look for overdue keys
	// flushed is closed by the loop when it comes to it, after everything
	// posted before it: tests (Flush in export_test.go) wait on it to know
	// that the controller has acted on what they did, instead of sleeping.
	flushed chan struct{}
)

// New returns a controller; Run starts it.
func New(cfg Config) (*Controller, error) {
	cfg.defaults()
	if cfg.Store == nil || cfg.Locks == nil {
		return nil, errors.New("kiosk: a store and locks are required")
	}
	c := &Controller{
		cfg: cfg, db: cfg.Store, rec: cfg.Log, locks: cfg.Locks, clock: cfg.Clock, log: cfg.Logger,
		events:      make(chan any, 256),
		out:         map[string]keycab.Checkout{},
		present:     map[int]bool{},
		released:    map[string]time.Time{},
		remoteUntil: map[string]time.Time{},
		lastScan:    map[string]time.Time{},
		fails:       map[string]int{},
		lockedOut:   map[string]time.Time{},
		overdue:     map[int64]bool{},
		loc:         time.UTC,
	}
	c.screen = Screen{State: Idle, Title: i18n.English().T("screen.scan_badge")}
	return c, nil
}

// Alive reports whether the controller's loop went round within the last
// maxAge on its clock: a systemd watchdog pings only while it does, so a wedged
// controller gets the process restarted (and every lock secured at start).
func (c *Controller) Alive(maxAge time.Duration) bool {
	t := c.alive.Load()
	return t != 0 && c.clock.Now().Sub(time.Unix(0, t)) < maxAge
}

// Do hands a touchscreen action to the controller.
func (c *Controller) Do(a any) { c.events <- a }

// Screen returns the current screen.
func (c *Controller) Screen() Screen {
	c.screenMu.Lock()
	defer c.screenMu.Unlock()
	return c.screen
}

// Subscribe returns a channel that receives every new screen. Slow readers
// miss intermediate screens, never the newest.
func (c *Controller) Subscribe() <-chan Screen {
	ch := make(chan Screen, 1)
	c.screenMu.Lock()
	c.subs = append(c.subs, ch)
	ch <- c.screen
	c.screenMu.Unlock()
	return ch
}

// tr is the language the screens speak now: the session member's own,
// else the site's (internal/i18n; English when neither names one).
func (c *Controller) tr() *i18n.Localizer {
	var member, site string
	if c.s != nil && c.s.member != nil {
		member = c.s.member.Language
	}
	if c.conf != nil {
		site = c.conf.Site.Language
	}
	return i18n.For(member, site)
}

func (c *Controller) publish(s Screen) {
	if s.Lang == "" {
		s.Lang = c.tr().Tag()
	}
	c.seq++
	s.Seq = c.seq
	s.Alarms = append([]Alarm(nil), c.alarms...)
	if c.conf != nil {
		s.Branding = Branding{OrgName: c.conf.Org.Name, Site: c.conf.Site.Name, Location: c.loc,
			Accent: c.conf.Branding.Accent, Logo: c.conf.Branding.Logo}
		if c.conf.Branding.Name != "" {
			s.Branding.OrgName = c.conf.Branding.Name
		}
	}
	s.Warning = c.doorWarning
	s.DoorAlarmAt = time.Time{}
	if c.doorWarning != "" {
		s.DoorAlarmAt = c.doorAlarmAt
	}
	c.screenMu.Lock()
	c.screen = s
	for _, ch := range c.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
	c.screenMu.Unlock()
}

// Run secures every lock, records the boot, and runs the cabinet until ctx
// ends; then it secures every lock again and records the shutdown.
func (c *Controller) Run(ctx context.Context) error {
	c.secureAll()
	if err := c.load(ctx); err != nil {
		return err
	}
	for _, st := range c.cfg.Initial {
		c.sense(st.Kind, st.Slot, st.Active)
	}
	// A log that refuses the boot entry leaves the kiosk out of service
	// (and saying so, to the screen and HQ) rather than not running.
	c.note(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventBoot, Detail: map[string]string{"keys_out": strconv.Itoa(len(c.out))}}})
	ctx, cancel := context.WithCancel(ctx)
	scanning := ReadScanners(ctx, c.cfg.Scanners, c.log, func(b badge.Badge) {
		select {
		case c.events <- scanEvent{b}:
		case <-ctx.Done():
		}
	})
	defer func() {
		cancel()
		<-scanning
		c.secureAll()
		c.note(context.WithoutCancel(ctx), store.Record{Event: &audit.Event{Kind: keycab.EventShutdown}})
	}()
	c.idle("", "")
	c.checkOverdue(ctx)
	// The heartbeat and the overdue check are timers of the controller's
	// clock, like every other: events in the loop's queue, in turn.
	c.alive.Store(c.clock.Now().UnixNano())
	c.beat = c.clock.AfterFunc(beatEvery, func() { c.events <- heartbeat{} })
	c.overdueCheck = c.clock.AfterFunc(overdueEvery, func() { c.events <- overdueTick{} })
	defer func() {
		c.beat.Stop()
		c.overdueCheck.Stop()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-c.cfg.Sensors:
			if !ok {
				c.cfg.Sensors = nil
				continue
			}
			c.onSensor(ctx, ev)
		case ev := <-c.events:
			c.handle(ctx, ev)
		case <-c.confChanged:
			c.reload(ctx)
		}
	}
}

// load reads the config snapshot and custody.
func (c *Controller) load(ctx context.Context) error {
	c.confChanged = c.db.ConfigChanged()
	conf, err := c.db.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("kiosk: load config: %w", err)
	}
	c.setConfig(conf)
	c.readPassKey(ctx)
	if err := c.readCustody(ctx); err != nil {
		return fmt.Errorf("kiosk: load custody: %w", err)
	}
	return nil
}

// readCustody makes custody what the log says now.
func (c *Controller) readCustody(ctx context.Context) error {
	out, err := c.db.KeysOut(ctx)
	if err != nil {
		return err
	}
	clear(c.out)
	for _, o := range out {
		c.out[o.KeySetID] = o
	}
	return nil
}

// setConfig makes conf the config the controller decides by.
func (c *Controller) setConfig(conf *keycab.Config) {
	c.conf = conf
	c.indexNames()
	c.loc = time.UTC
	if loc, err := time.LoadLocation(conf.Site.TimeZone); err == nil && conf.Site.TimeZone != "" {
		c.loc = loc
	}
}

// reload swaps in the config as the database now holds it, whole, inside
// the loop: a bundle from HQ was applied, or the touchscreen changed it
// (store.ConfigChanged). A session in progress is checked against the
// new config: a member who lost access (removed, disabled, erased, the
// badge they scanned revoked) is signed out; a take not yet released is
// decided again, and refused if no longer allowed; a lock already
// released stays so for its time, and a key already out stays out (its
// custody is the log's, not the config's: custody is read again from the
// log, which a bundle's custody changes made at HQ may have moved on).
func (c *Controller) reload(ctx context.Context) {
	c.confChanged = c.db.ConfigChanged() // before the read: no change falls between
	conf, err := c.db.Snapshot(ctx)
	if err != nil {
		c.log.Error("reload config: keeping the one in force", "err", err)
		return
	}
	prev := c.conf.Version
	c.setConfig(conf)
	c.readPassKey(ctx) // enrolment pins it before the first bundle
	// The bundle may have brought custody changes made at HQ (a phone's
	// hand-over), which ApplyConfig logged: custody as the log now says.
	if err := c.readCustody(ctx); err != nil {
		c.log.Error("reload custody: keeping the one in force", "err", err)
	}
	c.log.Info("config reloaded", "version", conf.Version, "previous", prev)
	if c.s == nil {
		return
	}
	switch c.s.state {
	case Unlocking, Confirming, Done, Message:
		return // released or recorded already: it finishes as it began
	}
	m := c.member(c.s.member.ID)
	lost := m == nil || m.Disabled || !m.ErasedAt.IsZero()
	if p := c.s.pass; p != nil {
		lost = lost || slices.Contains(c.conf.RevokedPasses, p.ID) // a pass revoked at HQ ends its session
	} else {
		lost = lost || c.badgeHolder(c.s.badge) != m
	}
	if lost {
		c.log.Info("session ended: the member's access changed", "member", c.s.member.ID)
		c.idle(c.tr().T("screen.signed_out"), c.tr().T("screen.access_changed_again"))
		return
	}
	c.s.member = m
	// An approver whose access changed no longer counts; the release
	// waits for another.
	kept := c.s.approvers[:0]
	for _, a := range c.s.approvers {
		if a = c.member(a.ID); a != nil && !a.Disabled && a.ErasedAt.IsZero() {
			kept = append(kept, a)
		}
	}
	c.s.approvers = kept
	if c.s.pinFor != nil {
		c.s.pinFor = c.member(c.s.pinFor.ID)
	}
	if c.s.state == Admin {
		if !m.Role.AtLeast(keycab.RoleAdmin) {
			c.idle(c.tr().T("screen.signed_out"), c.tr().T("screen.access_changed"))
		}
		return
	}
	if c.s.keySet != nil && c.s.taking {
		k := c.keySet(c.s.keySet.ID)
		if k == nil {
			c.s.keySet = nil
			c.showMenu()
			return
		}
		c.s.keySet = k
		d := c.decideTake(m, k)
		if d.Allowed && len(c.s.approvers) < d.Approvers && c.s.state != Second && c.s.state != EnterPIN {
			d = keycab.Decision{Reason: c.tr().T("screen.confirm_again")}
		}
		if !d.Allowed {
			label := k.Label
			c.s.keySet = nil
			c.showMenu()
			if c.s != nil {
				c.setStep(Menu, c.cfg.StepTimeout, Screen{Title: c.tr().T("screen.cannot_take", "Label", label), Message: d.Reason})
			}
			return
		}
	}
	if c.s.state == Menu {
		c.showMenu() // the choices as the new config allows them
	}
}

func (c *Controller) handle(ctx context.Context, ev any) {
	switch ev.(type) {
	case timeoutEvent, doorHeld, logRetry, heartbeat, overdueTick, flushed, remoteEvent:
	default:
		// A person acts: out of service, nothing happens unless the log
		// records again.
		if c.logFault != nil {
			if !c.retryLog(ctx) {
				c.showFault()
				return
			}
			c.idle("", "")
		}
	}
	switch ev := ev.(type) {
	case scanEvent:
		c.onScan(ctx, ev.b)
	case timeoutEvent:
		if ev.gen == c.step {
			c.onTimeout(ctx)
		}
	case doorWarn:
		if ev.gen == c.doorGen && c.doorOpen && !c.emergency {
			c.doorWarning = c.tr().N("screen.door_warning", int(c.conf.Policy.DoorHeldWarning.Round(time.Second)/time.Second))
			c.publish(c.Screen())
		}
	case doorHeld:
		if ev.gen == c.doorGen && c.doorOpen && !c.emergency {
			c.doorWarning, c.doorAlarmAt = "", time.Time{}
			c.raise(ctx, keycab.AlarmDoorHeld, fmt.Sprintf("door open longer than %s", c.conf.Policy.DoorHeld))
		}
	case Cancel:
		switch st := c.Screen().State; {
		case c.s != nil:
			c.idle("Cancelled", "")
		case st == Done || st == Message || st == WrongSlot:
			c.idle("", "") // "OK": no need to wait out the message
		}
	case PIN:
		c.onPIN(ctx, ev.Digits)
	case ChooseTake:
		c.onChooseTake(ctx, ev.KeySetID)
	case ChooseReturn:
		c.onChooseReturn(ctx, ev.KeySetID)
	case GiveReason:
		c.onReason(ctx, ev)
	case OpenAdmin:
		c.onOpenAdmin(ctx)
	case ClearAlarm:
		c.onClearAlarm(ctx, ev)
	case PulseLock:
		c.onPulse(ctx, ev.Lock)
	case EnrolFob:
		c.onEnrolFob(ev.Slot)
	case LinkBadge:
		c.onLinkBadge(ev.MemberID)
	case MapSlot:
		c.onMapSlot(ctx, ev)
	case remoteEvent:
		c.onRemote(ctx, ev)
	case heartbeat:
		c.alive.Store(c.clock.Now().UnixNano())
		c.beat = c.clock.AfterFunc(beatEvery, func() { c.events <- heartbeat{} })
	case overdueTick:
		c.checkOverdue(ctx)
		c.overdueCheck = c.clock.AfterFunc(overdueEvery, func() { c.events <- overdueTick{} })
	case flushed:
		// A config change that came before the flush is taken before
		// it answers (the loop's select would take the two in any order).
		select {
		case <-c.confChanged:
			c.reload(ctx)
		default:
		}
		close(ev)
	case logRetry:
		if c.logFault == nil {
			return
		}
		if !c.retryLog(ctx) {
			c.clock.AfterFunc(c.cfg.LogRetry, func() { c.events <- logRetry{} })
			return
		}
		if c.s == nil {
			c.idle("", "")
		}
	default:
		c.log.Error("kiosk: unknown event", "type", fmt.Sprintf("%T", ev))
	}
}

// setStep moves the session to state with a deadline and shows it.
func (c *Controller) setStep(state State, timeout time.Duration, scr Screen) {
	c.step++
	gen := c.step
	c.clock.AfterFunc(timeout, func() { c.events <- timeoutEvent{gen} })
	scr.State = state
	scr.Deadline = c.clock.Now().Add(timeout)
	if c.s != nil {
		c.s.state = state
		c.s.deadline = scr.Deadline
		scr.Member = c.s.member
	}
	c.publish(scr)
}

// idle ends any session, secures the locks a flow released, and shows the
// idle screen, after a message when there is one.
func (c *Controller) idle(title, msg string) {
	lang := c.tr() // the member's, for the message that ends their session
	c.secureReleased()
	c.s = nil
	if c.emergency {
		c.step++
		c.publish(Screen{State: Emergency, Title: c.tr().T("screen.emergency"), Message: c.tr().T("screen.emergency_msg")})
		return
	}
	if c.logFault != nil {
		c.showFault()
		return
	}
	if title != "" {
		c.step++
		gen := c.step
		c.clock.AfterFunc(c.cfg.ShowDone, func() { c.events <- timeoutEvent{gen} })
		c.publish(Screen{State: Message, Title: title, Message: msg, Deadline: c.clock.Now().Add(c.cfg.ShowDone), Lang: lang.Tag()})
		return
	}
	c.step++
	c.publish(Screen{State: Idle, Title: c.tr().T("screen.scan_badge"), Message: msg})
}

func (c *Controller) onTimeout(ctx context.Context) {
	if c.s == nil {
		// Message or Done shown long enough.
		c.idle("", "")
		return
	}
	if c.s.state == Unlocking && !c.s.taking && c.s.keySet != nil {
		c.log.Info("return timed out", "keyset", c.s.keySet.ID)
	}
	c.idle(c.tr().T("screen.timed_out"), c.tr().T("screen.timed_out_msg"))
}

// secureAll locks every output; used at start, on shutdown and after an
// emergency clears.
func (c *Controller) secureAll() {
	for _, n := range c.locks.Names() {
		if err := c.locks.Lock(n); err != nil {
			c.log.Error("secure lock", "lock", n, "err", err)
		}
	}
	c.released = map[string]time.Time{}
	c.remoteUntil = map[string]time.Time{}
}

// isReleased reports whether a flow or the emergency released the named
// lock and its release has not run out.
func (c *Controller) isReleased(name string) bool {
	until, ok := c.released[name]
	return ok && c.clock.Now().Before(until)
}

// secureReleased locks what flows released. A lock HQ released remotely
// stays released until its own time runs out: a session that ends at the
// screen meanwhile does not cut it short.
func (c *Controller) secureReleased() {
	if c.emergency {
		return
	}
	now := c.clock.Now()
	kept := map[string]time.Time{}
	for n, until := range c.released {
		if r, ok := c.remoteUntil[n]; ok && now.Before(r) {
			kept[n] = until
			continue
		}
		if err := c.locks.Lock(n); err != nil {
			c.log.Error("secure lock", "lock", n, "err", err)
		}
	}
	c.released = kept
	maps.DeleteFunc(c.remoteUntil, func(n string, until time.Time) bool { return !now.Before(until) })
}

func (c *Controller) release(name string) error {
	if err := c.locks.Unlock(name, c.cfg.UnlockFor); err != nil {
		return err
	}
	c.released[name] = c.clock.Now().Add(c.cfg.UnlockFor)
	return nil
}

// record appends to the log; custody changes go through the log's Take
// and Return. When the log refuses, the kiosk goes out of service (fault)
// and the caller must stop what it was doing: an action that cannot be
// recorded does not happen.
func (c *Controller) record(ctx context.Context, r store.Record) (int64, error) {
	a, err := c.rec.Append(ctx, r)
	if err != nil {
		c.log.Error("audit log append failed", "kind", r.Event.Kind, "err", err)
		c.fault(err)
		return -1, err
	}
	return a[0].Index, nil
}

// still returns the camera's still for an entry when the policy asks
// for one: the JPEG, or none and why. A camera that fails never stops
// what the entry records.
func (c *Controller) still() ([]byte, string) {
	if !c.conf.Policy.Stills {
		return nil, ""
	}
	if c.cfg.Stills == nil {
		return nil, "no camera"
	}
	b, err := c.cfg.Stills.Still()
	if err != nil || len(b) == 0 || len(b) > audit.MaxStill {
		c.log.Warn("camera still unavailable", "err", err, "bytes", len(b))
		return nil, "unavailable"
	}
	return b, ""
}

// note records a fact the kiosk acts on whether or not it can be recorded
// (a sensor change, the emergency input, boot and shutdown): a refusal
// puts the kiosk out of service like any other (record), and the caller
// goes on.
func (c *Controller) note(ctx context.Context, r store.Record) {
	if _, err := c.record(ctx, r); err != nil {
		c.log.Warn("fact not recorded: the kiosk is out of service", "kind", r.Event.Kind)
	}
}

// fault takes the kiosk out of service after the log refused an append
// (err) or a take or return: it ends any session, secures what flows
// released, shows the out-of-service screen, raises the log_failed alarm
// (shown, and sent to HQ in the heartbeat's alarms; it is recorded once
// the log records again) and tries the log again every LogRetry.
func (c *Controller) fault(err error) {
	c.refused++
	if c.logFault == nil {
		c.faultFrom = c.clock.Now()
		c.alarms = append([]Alarm{{ID: -1, Kind: keycab.AlarmLogFailed, Detail: "the log refuses to record: call an administrator", Text: keycab.AlarmTitleIn(c.tr(), keycab.AlarmLogFailed), Since: c.faultFrom}}, c.alarms...)
		c.clock.AfterFunc(c.cfg.LogRetry, func() { c.events <- logRetry{} })
	}
	c.logFault = err
	c.s = nil
	c.secureReleased()
	c.showFault()
}

// showFault shows the out-of-service screen (the emergency screen during
// an emergency: the locks stay released on the fire panel's signal).
func (c *Controller) showFault() {
	c.step++
	if c.emergency {
		c.publish(Screen{State: Emergency, Title: c.tr().T("screen.emergency"), Message: c.tr().T("screen.emergency_fault_msg")})
		return
	}
	c.publish(Screen{State: OutOfService, Title: c.tr().T("screen.out_of_service"), Message: c.tr().T("screen.out_of_service_msg")})
}

// retryLog tries the log again by recording the outage as a log_failed
// alarm; it reports whether the kiosk is back in service.
func (c *Controller) retryLog(ctx context.Context) bool {
	detail := fmt.Sprintf("the log refused %d entries from %s: %v", c.refused, c.faultFrom.Format(time.RFC3339), c.logFault)
	a, err := c.rec.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAlarmRaised, Detail: map[string]string{"alarm": keycab.AlarmLogFailed, "detail": detail}}})
	if err != nil {
		c.logFault = err
		return false
	}
	for i := range c.alarms {
		if c.alarms[i].Kind == keycab.AlarmLogFailed && c.alarms[i].ID == -1 {
			c.alarms[i].ID, c.alarms[i].Detail = a[0].Index, detail
		}
	}
	c.log.Info("audit log records again", "refused", c.refused, "since", c.faultFrom)
	c.logFault, c.refused = nil, 0
	return true
}

func (c *Controller) member(id string) *keycab.Member {
	for i := range c.conf.Members {
		if c.conf.Members[i].ID == id {
			return &c.conf.Members[i]
		}
	}
	return nil
}

func (c *Controller) keySet(id string) *keycab.KeySet {
	for i := range c.conf.KeySets {
		if c.conf.KeySets[i].ID == id {
			return &c.conf.KeySets[i]
		}
	}
	return nil
}

// homeSlot returns the slot whose home is key set id, or nil.
func (c *Controller) homeSlot(id string) *keycab.Slot {
	for i := range c.conf.Slots {
		if c.conf.Slots[i].KeySetID == id {
			return &c.conf.Slots[i]
		}
	}
	return nil
}

func (c *Controller) slot(n int) *keycab.Slot {
	for i := range c.conf.Slots {
		if c.conf.Slots[i].Number == n {
			return &c.conf.Slots[i]
		}
	}
	return nil
}

func (c *Controller) slotted() bool { return c.conf.Cabinet.Kind != keycab.OpenShelf }

func (c *Controller) facts(m *keycab.Member, k *keycab.KeySet) keycab.Facts {
	f := keycab.Facts{
		Now: c.clock.Now(), Location: c.loc, Policy: c.conf.Policy, Member: *m, KeySet: *k,
		Schedule: m.Schedule, Lang: c.tr(),
		Name: func(id string) string {
			if o := c.member(id); o != nil {
				return o.Name
			}
			return ""
		},
	}
	for _, o := range c.out {
		f.Out = append(f.Out, o)
	}
	sort.Slice(f.Out, func(i, j int) bool { return f.Out[i].LogIndex < f.Out[j].LogIndex })
	for _, r := range c.conf.Reservations {
		if r.KeySetID == k.ID {
			f.Reservations = append(f.Reservations, r)
		}
	}
	for _, j := range c.conf.Jobs {
		if j.MemberID == m.ID {
			f.Jobs = append(f.Jobs, j)
		}
	}
	// A pass is its holder's job for the session it opened: a contractor
	// needs no other to take its key sets (decideTake limits them to it).
	if p := c.sessionPass(m); p != nil {
		f.Jobs = append(f.Jobs, keycab.Job{ID: p.ID, OrgID: p.OrgID, MemberID: m.ID, KeySetIDs: p.KeySetIDs, From: p.From, Until: p.Until, Descriptor: "pass"})
	}
	f.Rules = c.conf.Rules
	return f
}

// checkPIN verifies a member's PIN, counting failures toward a lock-out.
func (c *Controller) checkPIN(ctx context.Context, m *keycab.Member, digits string) bool {
	now := c.clock.Now()
	if until, ok := c.lockedOut[m.ID]; ok && now.Before(until) {
		return false
	}
	if m.PINHash != "" && passhash.Verify(m.PINHash, digits) == nil {
		delete(c.fails, m.ID)
		return true
	}
	c.fails[m.ID]++
	if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventIdentifyFail, Actor: m.ID, Detail: map[string]string{"reason": "wrong PIN", "attempt": strconv.Itoa(c.fails[m.ID])}}}); err != nil {
		return false // out of service: the session is over
	}
	if max := c.conf.Policy.MaxFailedPINs; max > 0 && c.fails[m.ID] >= max {
		c.lockedOut[m.ID] = now.Add(c.conf.Policy.LockOut)
		delete(c.fails, m.ID)
		// Locked out in memory even when the log refuses the entry.
		if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventLockedOut, Actor: m.ID, Detail: map[string]string{"for": c.conf.Policy.LockOut.String()}}}); err != nil {
			return false
		}
	}
	return false
}

func (c *Controller) isLockedOut(m *keycab.Member) bool {
	until, ok := c.lockedOut[m.ID]
	return ok && c.clock.Now().Before(until)
}
