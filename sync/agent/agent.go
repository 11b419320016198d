package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/backoff"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// ErrForked is returned by Push when HQ found the kiosk's log forked and
// quarantined the kiosk.
var ErrForked = errors.New("HQ refused the log as forked (422): the kiosk is quarantined")

// Key is the kiosk's Ed25519 key: its log's note signer and the raw key
// that signs requests.
type Key struct {
	Signer  *audit.Signer
	Private ed25519.PrivateKey
}

// ParseKey parses a note private key (PRIVATE+KEY+name+hash+key).
func ParseKey(skey string) (*Key, error) {
	s, err := audit.ParseSignerKey(skey)
	if err != nil {
		return nil, err
	}
	f := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	raw, err := base64.StdEncoding.DecodeString(f[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, errors.New("signer key is not an Ed25519 note key")
	}
	return &Key{Signer: s, Private: ed25519.NewKeyFromSeed(raw[1:])}, nil
}

// LoadKey reads the kiosk's key file.
func LoadKey(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kiosk key: %w", err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("read kiosk key %s: %w", path, err)
	}
	return k, nil
}

// EnrolOptions configure Enrol.
type EnrolOptions struct {
	HQ      string // base URL, e.g. https://hq.example.com
	Token   string
	KeyFile string // where to write the new key (mode 0600); must not exist
	Name    string // the kiosk's name, shown at HQ
	Client  *http.Client
}

// Enrol enrols the kiosk whose database is db (opened without a signer:
// it has no log yet): it generates the kiosk's Ed25519 key, sends the
// token and the public key to HQ, writes the key (named with the origin
// HQ chose) to KeyFile with mode 0600, and pins HQ's answer in db. Open
// the database again with the returned key's signer to start the log.
func Enrol(ctx context.Context, db *store.DB, o EnrolOptions) (store.HQPeer, *Key, error) {
	if _, err := db.HQPeer(ctx); err == nil {
		return store.HQPeer{}, nil, errors.New("enrol: already enrolled (Rotate gives an enrolled kiosk a new key)")
	}
	if _, err := db.Origin(); err == nil {
		return store.HQPeer{}, nil, errors.New("enrol: this database already has a log of a kiosk that ran without HQ")
	}
	if _, err := os.Stat(o.KeyFile); err == nil {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: key file %s exists", o.KeyFile)
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return store.HQPeer{}, nil, err
	}
	body, _ := json.Marshal(wire.EnrolRequest{V: wire.Minor, Token: o.Token, PublicKey: pub, Name: o.Name})
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(o.HQ, "/")+wire.PathEnrol, bytes.NewReader(body))
	if err != nil {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: %w", err)
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: HQ answered %s: %s", res.Status, errorText(rb))
	}
	var er wire.EnrolResponse
	if err := json.Unmarshal(rb, &er); err != nil {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: malformed answer: %w", err)
	}
	if _, err := wire.NewCosignatureVerifier(er.CosignerKey); err != nil {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: HQ cosigner key: %w", err)
	}
	if _, err := note.NewVerifier(er.ConfigKey); err != nil {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: HQ config key: %w", err)
	}
	skey, key, err := namedKey(er.Origin, priv)
	if err != nil {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: %w", err)
	}
	// The key goes to KeyFile only once HQ is pinned: a failure between
	// the two leaves no key behind to block the next try (NewKeyFile, if
	// anything, which the next try replaces and a start with HQ pinned
	// takes up).
	pending := NewKeyFile(o.KeyFile)
	os.Remove(pending)
	if err := writeKey(pending, skey); err != nil {
		return store.HQPeer{}, nil, err
	}
	peer := store.HQPeer{URL: o.HQ, KioskID: er.KioskID, OrgID: er.OrgID, CabinetID: er.CabinetID, Origin: er.Origin,
		CosignerKey: er.CosignerKey, ConfigKey: er.ConfigKey}
	if err := db.PinHQ(ctx, peer); err != nil {
		os.Remove(pending)
		return store.HQPeer{}, nil, fmt.Errorf("enrol: %w", err)
	}
	if err := os.Rename(pending, o.KeyFile); err != nil {
		return store.HQPeer{}, nil, fmt.Errorf("enrol: %w", err)
	}
	return peer, key, nil
}

// NewKeyFile is where Enrol writes the kiosk key of keyFile until HQ is
// pinned.
func NewKeyFile(keyFile string) string { return keyFile + ".new" }

// namedKey returns the note private key text of priv named origin, and
// the key parsed.
func namedKey(origin string, priv ed25519.PrivateKey) (string, *Key, error) {
	vkey, err := note.NewEd25519VerifierKey(origin, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return "", nil, fmt.Errorf("origin %q: %w", origin, err)
	}
	hash := strings.SplitN(vkey, "+", 3)[1]
	skey := "PRIVATE+KEY+" + origin + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...))
	key, err := ParseKey(skey)
	return skey, key, err
}

func writeKey(path, skey string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write kiosk key: %w", err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write kiosk key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write kiosk key: %w", err)
	}
	return f.Close()
}

// errorText is the message of an error answer: HQ's error body
// (keycab.ErrorBody), an older HQ's (wire.Error), or else the start of
// the body as text.
func errorText(b []byte) string {
	var body keycab.ErrorBody
	if json.Unmarshal(b, &body) == nil && body.Error.Message != "" {
		return body.Error.Message
	}
	var e wire.Error
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(b[:min(len(b), 200)]))
}

// DefaultBatchSize is how many entries a push carries at most, by
// default: a backlog (a kiosk back after days offline) goes in pushes of
// about 280 KB gzipped. Each push costs HQ a fixed part (the tree's
// frontier read back, the checkpoint verified and cosigned, a commit), so
// fewer, larger pushes sync a backlog faster: 100,000 events took 17.6 s
// in pushes of 1,000 and 8.5 s in pushes of 5,000 on PostgreSQL
// (BenchmarkSyncBacklog, test/e2e). Everyday pushes carry a few entries.
const DefaultBatchSize = 5000

// Config configures an Agent.
type Config struct {
	DB     *store.DB // opened with Key.Signer
	Key    *Key
	Client *http.Client // nil: a client with a 90 s timeout
	Logger *slog.Logger
	Now    func() time.Time
	// BatchSize bounds the entries of one push; zero means
	// DefaultBatchSize.
	BatchSize int
	// PushEvery is how often Run looks for new entries; zero means 2 s.
	PushEvery time.Duration
	// HeartbeatEvery is how often Run sends a heartbeat; zero means 30 s.
	HeartbeatEvery time.Duration
	// LongPoll is how long a config pull waits at HQ; zero means 25 s.
	LongPoll time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a failure;
	// zero means 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	Software               string
	// Status, when set, fills in the door and the active alarms of a
	// heartbeat (the kiosk controller knows them); SetStatus sets it once
	// the controller runs. It may also override what the agent fills in.
	Status func(*wire.Heartbeat)
	// ThermalFile holds the temperature in millidegrees Celsius; empty
	// means DefaultThermalFile. Where it is missing the heartbeat says no
	// temperature.
	ThermalFile string
	// AnchorEvery is how often at most the agent logs HQ's cosignature
	// time as a clock.anchored entry (the first cosignature after start
	// always); zero means an hour.
	AnchorEvery time.Duration
}

// Agent syncs one kiosk with its HQ.
type Agent struct {
	cfg  Config
	db   *store.DB
	peer store.HQPeer
	log  *slog.Logger
	now  func() time.Time
	hc   *http.Client
	base string
	mu   sync.Mutex // one push at a time

	statusMu sync.Mutex
	status   func(*wire.Heartbeat)
	remote   RemoteFunc // remote.go

	actMu       sync.Mutex
	acted       map[string]wire.ActionAck // remote actions answered, by id (remote.go)
	actedLoaded bool                      // acted holds those of the log

	witMu     sync.Mutex
	witnessed map[string]string // witness name -> the witnessed checkpoint handled last (keepWitnessed)

	anchored time.Time // when the last time anchor was logged (guarded by mu)
	clock    hqClock   // HQ's time, as learnt from its answers (clock.go)
}

// New returns an agent for an enrolled kiosk.
func New(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.DB == nil || cfg.Key == nil {
		return nil, errors.New("agent: a database and a key are required")
	}
	peer, err := cfg.DB.HQPeer(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if cfg.Key.Signer.Name() != peer.Origin {
		return nil, fmt.Errorf("agent: key %q is not the enrolled log's %q", cfg.Key.Signer.Name(), peer.Origin)
	}
	a := &Agent{cfg: cfg, db: cfg.DB, peer: peer, log: cfg.Logger, now: cfg.Now, hc: cfg.Client, base: strings.TrimSuffix(peer.URL, "/")}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.hc == nil {
		// Certificates are checked at HQ's time as learnt (clock.go),
		// not at a clock that may read 1970.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{Time: func() time.Time { return a.clock.now(a.now()) }}
		a.hc = &http.Client{Timeout: 90 * time.Second, Transport: tr}
	}
	if err := a.floorClock(ctx); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if a.cfg.BatchSize <= 0 {
		a.cfg.BatchSize = DefaultBatchSize
	}
	a.cfg.BatchSize = min(a.cfg.BatchSize, wire.MaxPushEntries)
	if a.cfg.PushEvery <= 0 {
		a.cfg.PushEvery = 2 * time.Second
	}
	if a.cfg.HeartbeatEvery <= 0 {
		a.cfg.HeartbeatEvery = 30 * time.Second
	}
	if a.cfg.LongPoll <= 0 {
		a.cfg.LongPoll = 25 * time.Second
	}
	if a.cfg.MinBackoff <= 0 {
		a.cfg.MinBackoff = time.Second
	}
	if a.cfg.MaxBackoff <= 0 {
		a.cfg.MaxBackoff = 5 * time.Minute
	}
	if a.cfg.AnchorEvery <= 0 {
		a.cfg.AnchorEvery = time.Hour
	}
	if a.cfg.ThermalFile == "" {
		a.cfg.ThermalFile = DefaultThermalFile
	}
	a.status = cfg.Status
	a.acted = map[string]wire.ActionAck{}
	return a, nil
}

// floorClock starts HQ's clock no earlier than the newest cosignature the
// kiosk holds: a kiosk whose clock reads 1970 still checks certificates
// and signs requests at a time HQ has been past.
func (a *Agent) floorClock(ctx context.Context) error {
	cps, err := a.db.Checkpoints(ctx)
	if err != nil {
		return err
	}
	for _, cp := range cps {
		if at, err := wire.VerifyCosignature(cp, a.peer.CosignerKey); err == nil {
			a.clock.raiseFloor(at)
		}
	}
	return nil
}

// SetStatus sets the function that fills in the door and alarms of each
// heartbeat (Config.Status), for a controller that starts after the agent.
func (a *Agent) SetStatus(fn func(*wire.Heartbeat)) {
	a.statusMu.Lock()
	defer a.statusMu.Unlock()
	a.status = fn
}

// Peer returns the pinned HQ.
func (a *Agent) Peer() store.HQPeer { return a.peer }

// do sends a request signed with the kiosk's key and returns the status
// and body of the answer.
func (a *Agent) do(ctx context.Context, method, path string, msg any) (int, []byte, error) {
	return a.doAs(ctx, a.cfg.Key, method, path, msg)
}

// doAs is do with the request signed by key.
func (a *Agent) doAs(ctx context.Context, key *Key, method, path string, msg any) (int, []byte, error) {
	var body []byte
	gz := false
	if msg != nil {
		js, err := json.Marshal(msg)
		if err != nil {
			return 0, nil, err
		}
		body = js
		if len(js) > 1024 {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
			zw.Write(js)
			zw.Close()
			body, gz = b.Bytes(), true
		}
	}
	for retried := false; ; retried = true {
		req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		if msg != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		sent := a.now()
		wire.SignRequest(req, body, a.peer.OrgID, a.peer.KioskID, key.Private, a.clock.now(sent))
		res, err := a.hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		rb, err := io.ReadAll(io.LimitReader(res.Body, wire.MaxBody+1))
		res.Body.Close()
		if err != nil {
			return 0, nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
		}
		if len(rb) > wire.MaxBody {
			// Never parse a cut answer: a bundle larger than the bound is
			// refused whole, and the applied config stays.
			return 0, nil, keycab.Errorf(keycab.ETOOLARGE, "%s %s: HQ's answer is larger than %d MiB; nothing taken from it", method, path, wire.MaxBody>>20)
		}
		offset, changed := a.clock.observe(res.Header.Get("Date"), sent, a.now())
		if changed {
			a.log.Warn("the kiosk's clock is off HQ's: signing requests with HQ's time", "hq_ahead_by", offset)
		}
		// A request refused for its date is tried once more with the
		// corrected time; HQ checks the date before it does anything.
		if res.StatusCode == http.StatusUnauthorized && changed && !retried {
			continue
		}
		return res.StatusCode, rb, nil
	}
}

// ClockOffset returns HQ's clock minus the kiosk's, as the agent last
// measured it from HQ's answers (zero until it has).
func (a *Agent) ClockOffset() time.Duration { return a.clock.Offset() }

// Push sends the log to HQ until HQ holds and has cosigned all of it, or
// an error stops it. It returns the number of entries HQ newly took.
func (a *Agent) Push(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var sent int64
	for {
		st, err := a.db.SyncState(ctx)
		if err != nil {
			return sent, err
		}
		_, size, err := a.db.Head(ctx)
		if err != nil {
			return sent, err
		}
		acked := st.AckedSize
		if acked == size && st.CosignedSize >= size {
			return sent, nil
		}
		if acked > size {
			return sent, fmt.Errorf("push: HQ holds %d entries, this log only %d", acked, size)
		}
		end := min(size, acked+int64(a.cfg.BatchSize))
		entries, err := a.db.ReadEntries(acked, end)
		if err != nil {
			return sent, err
		}
		texts, stills, kept, err := a.personalTexts(ctx, acked, entries)
		if err != nil {
			return sent, err
		}
		if kept < len(entries) {
			// The texts would make the body too large: fewer entries.
			entries, end = entries[:kept], acked+int64(kept)
		}
		root, err := a.db.TreeRoot(ctx, end)
		if err != nil {
			return sent, err
		}
		cp, err := audit.SignCheckpoint(audit.Checkpoint{Origin: a.peer.Origin, Size: end, Root: root}, a.cfg.Key.Signer)
		if err != nil {
			return sent, err
		}
		status, rb, err := a.do(ctx, http.MethodPost, wire.PathPush, wire.PushRequest{V: wire.Minor, OldSize: acked, Entries: entries, Checkpoint: cp, Texts: texts, Stills: stills})
		if err != nil {
			return sent, fmt.Errorf("push %d..%d: %w", acked, end, err)
		}
		var pr wire.PushResponse
		if status == http.StatusOK || status == http.StatusConflict || status == http.StatusUnprocessableEntity {
			if err := json.Unmarshal(rb, &pr); err != nil {
				return sent, fmt.Errorf("push %d..%d: malformed answer (%d): %w", acked, end, status, err)
			}
		}
		switch status {
		case http.StatusOK:
			if err := a.keepCosigned(ctx, pr.Cosigned, end); err != nil {
				return sent, err
			}
			a.keepWitnessed(ctx, pr.Witnessed)
			next := end
			if pr.Size > end && pr.Size <= size {
				next = pr.Size // an identical resend: HQ already holds more
			}
			if err := a.db.SetAcked(ctx, next, end); err != nil {
				return sent, err
			}
			sent += end - acked
		case http.StatusConflict:
			a.log.Info("push: HQ holds another size; resuming from it", "sent_from", acked, "hq_size", pr.Size)
			if pr.Size > size {
				return sent, fmt.Errorf("push: HQ holds %d entries, this log only %d", pr.Size, size)
			}
			cs := int64(0)
			if len(pr.Cosigned) > 0 && pr.Size > 0 {
				if err := a.keepCosigned(ctx, pr.Cosigned, pr.Size); err != nil {
					return sent, err
				}
				cs = pr.Size
			}
			if err := a.db.SetAcked(ctx, pr.Size, cs); err != nil {
				return sent, err
			}
		case http.StatusUnprocessableEntity:
			a.log.Error("push: HQ found the log forked; kiosk quarantined", "error", pr.Error)
			return sent, ErrForked
		default:
			return sent, fmt.Errorf("push %d..%d: HQ answered %d: %s", acked, end, status, errorText(rb))
		}
	}
}

// textBudget bounds the bytes of entries and personal texts in one push,
// well inside wire.MaxBody once base64 and JSON are added.
const textBudget = wire.MaxBody / 2

// personalTexts returns the personal texts the entries (from index start)
// reference that the kiosk keeps (sync/wire minor 4; a badge linked at the
// touchscreen, minor 8), and how many of
// the entries fit in one push with their texts (at least one). A text
// erased is absent; one that no longer matches its reference, is too
// long or is not text HQ takes is left out and logged (the kiosk's
// audit verify names a tampered one), so that it never blocks the sync.
//
// It returns too the camera stills the entries' hashes name that the
// kiosk keeps (minor 11), within the same budget; one whose JPEG no
// longer matches its hash is left out and logged.
func (a *Agent) personalTexts(ctx context.Context, start int64, entries [][]byte) ([]wire.PersonalText, []wire.Still, int, error) {
	var out []wire.PersonalText
	var stills []wire.Still
	budget := 0
	for i, leaf := range entries {
		budget += len(leaf)
		if i > 0 && budget > textBudget {
			return out, stills, i, nil
		}
		if !store.MayReference(leaf) && !store.MayHoldStill(leaf) {
			continue
		}
		ev, err := audit.Decode(leaf)
		if err != nil {
			continue // HQ keeps it as evidence; it references nothing it can read
		}
		index := start + int64(i)
		var these []wire.PersonalText
		for _, f := range ev.PersonalRefs() {
			if len(f.Ref) != 32 {
				continue
			}
			kt, ok, err := a.db.KeptText(ctx, f.Ref)
			if err != nil {
				return nil, nil, 0, err
			}
			switch {
			case !ok:
				continue // erased
			case !bytes.Equal(audit.PersonalRef(kt.Salt, kt.Text), f.Ref):
				a.log.Warn("push: personal text does not match its reference; not sent", "index", index, "field", f.Field)
				continue
			case len(kt.Text) > audit.MaxPersonalText || !keycab.ValidText(kt.Text):
				a.log.Warn("push: personal text too long or not text; not sent", "index", index, "field", f.Field, "bytes", len(kt.Text))
				continue
			}
			these = append(these, wire.PersonalText{Index: index, Field: f.Field, Salt: kt.Salt, Text: kt.Text})
			budget += len(kt.Text) + len(kt.Salt)
		}
		var still []wire.Still
		if ref := ev.StillRef(); len(ref) == 32 {
			jpeg, ok, err := a.db.KeptStill(ctx, index)
			if err != nil {
				return nil, nil, 0, err
			}
			switch {
			case !ok: // erased or expired
			case !bytes.Equal(audit.StillHash(jpeg), ref) || len(jpeg) > audit.MaxStill:
				a.log.Warn("push: camera still does not match its hash; not sent", "index", index)
			default:
				still = append(still, wire.Still{Index: index, JPEG: jpeg})
				budget += len(jpeg)
			}
		}
		if i > 0 && budget > textBudget {
			return out, stills, i, nil
		}
		out = append(out, these...)
		stills = append(stills, still...)
	}
	return out, stills, len(entries), nil
}

// keepCosigned verifies HQ's cosignature on a checkpoint of size, stores
// it (store.AddCosignature checks it against the log) and logs its time as
// an anchor (anchor).
func (a *Agent) keepCosigned(ctx context.Context, cosigned []byte, size int64) error {
	at, err := wire.VerifyCosignature(cosigned, a.peer.CosignerKey)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	a.clock.raiseFloor(at)
	v, err := a.db.Verifier()
	if err != nil {
		return err
	}
	cp, _, err := audit.OpenCheckpoint(cosigned, v)
	if err != nil {
		return fmt.Errorf("push: cosigned checkpoint: %w", err)
	}
	if cp.Size != size {
		return fmt.Errorf("push: HQ cosigned size %d, not %d", cp.Size, size)
	}
	name, _, _ := strings.Cut(a.peer.CosignerKey, "+")
	if err := a.db.AddCosignature(ctx, name, cosigned); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	return a.anchor(ctx, at, size)
}

// anchor logs the time of HQ's cosignature of size as a clock.anchored
// entry: everything the log holds after it happened after that time by
// HQ's clock, whatever the kiosk's clock says, and HQ bounds the time of
// later events below by it (hq/store EventTimes). It does so for the first
// cosignature after start and then at most every AnchorEvery: an anchor is
// an entry to push in turn, and pushing must come to rest. Callers hold
// mu.
func (a *Agent) anchor(ctx context.Context, at time.Time, size int64) error {
	if !a.anchored.IsZero() && time.Since(a.anchored) < a.cfg.AnchorEvery {
		return nil
	}
	e := &audit.Event{Kind: keycab.EventClockAnchored, Detail: map[string]string{
		keycab.AnchorHQTime: strconv.FormatInt(at.Unix(), 10), keycab.AnchorSize: strconv.FormatInt(size, 10)}}
	if _, err := a.db.Append(ctx, store.Record{Event: e}); err != nil {
		return fmt.Errorf("log time anchor: %w", err)
	}
	a.anchored = time.Now()
	if d := a.now().Sub(at); d > time.Minute || d < -time.Minute {
		a.log.Warn("the kiosk's clock is off HQ's", "by", d.Round(time.Second), "hq_time", at)
	}
	return nil
}

// PullConfig asks HQ for a config bundle newer than the applied one,
// waiting up to wait at HQ (long poll), and applies it. It reports whether
// a bundle was applied. Bundles that are badly signed, meant for another
// kiosk or cabinet, or not newer than the applied config are refused.
func (a *Agent) PullConfig(ctx context.Context, wait time.Duration) (bool, error) {
	cur, err := a.db.ConfigVersion(ctx)
	if err != nil {
		return false, err
	}
	q := url.Values{"after": {strconv.FormatInt(cur, 10)}, "wait": {strconv.FormatFloat(wait.Seconds(), 'f', -1, 64)}}
	status, rb, err := a.do(ctx, http.MethodGet, wire.PathConfig+"?"+q.Encode(), nil)
	if err != nil {
		return false, fmt.Errorf("pull config: %w", err)
	}
	switch status {
	case http.StatusNoContent:
		return false, a.db.SetPulled(ctx)
	case http.StatusOK:
	default:
		return false, fmt.Errorf("pull config: HQ answered %d: %s", status, errorText(rb))
	}
	var cr wire.ConfigResponse
	if err := json.Unmarshal(rb, &cr); err != nil {
		return false, fmt.Errorf("pull config: malformed answer: %w", err)
	}
	if err := a.ApplyBundle(ctx, cr.Bundle); err != nil {
		return false, err
	}
	return true, a.db.SetPulled(ctx)
}

// ApplyBundle verifies a signed config bundle with the pinned config key
// and applies it if it is for this kiosk and newer than the applied one
// (store.ApplyConfig logs config.applied, and erases the members the
// bundle lists in Config.Erased that this kiosk has not erased yet; the
// running controller reloads on the store's ConfigChanged), then applies
// the personal-text retention rule.
func (a *Agent) ApplyBundle(ctx context.Context, msg []byte) error {
	b, err := wire.OpenBundle(msg, a.peer.ConfigKey)
	if err != nil {
		return keycab.Errorf(keycab.ETAMPERED, "config bundle refused: %v", err)
	}
	if b.KioskID != a.peer.KioskID || b.Config.Org.ID != a.peer.OrgID || b.Config.Cabinet.ID != a.peer.CabinetID {
		return keycab.Errorf(keycab.EFORBIDDEN, "config bundle refused: it is for kiosk %s, cabinet %s", b.KioskID, b.Config.Cabinet.ID)
	}
	cur, err := a.db.ConfigVersion(ctx)
	if err != nil {
		return err
	}
	if b.Version <= cur {
		return keycab.Errorf(keycab.ECONFLICT, "config bundle refused: version %d is not newer than the applied %d", b.Version, cur)
	}
	if err := a.db.ApplyConfig(ctx, &b.Config); err != nil {
		return fmt.Errorf("apply config bundle %d: %w", b.Version, err)
	}
	a.log.Info("config applied", "version", b.Version, "previous", cur)
	a.expireTexts(ctx)
	return nil
}

// expireTexts applies the bundle's personal-text retention rule
// (store.DB.ExpirePersonal), after each bundle and with each heartbeat; a
// failure is logged and tried again next time.
func (a *Agent) expireTexts(ctx context.Context) {
	if _, err := a.db.ExpirePersonal(ctx); err != nil {
		a.log.Warn("personal-text retention failed; will retry", "err", err)
	}
}

// Heartbeat reports the kiosk's state to HQ.
func (a *Agent) Heartbeat(ctx context.Context) (wire.HeartbeatResponse, error) {
	st, err := a.db.SyncState(ctx)
	if err != nil {
		return wire.HeartbeatResponse{}, err
	}
	cv, err := a.db.ConfigVersion(ctx)
	if err != nil {
		return wire.HeartbeatResponse{}, err
	}
	hb := wire.Heartbeat{V: wire.Minor, LogSize: a.db.Size(), CosignedSize: st.CosignedSize, ConfigVersion: cv, Software: a.cfg.Software,
		DiskFree: diskFree(filepath.Dir(a.db.Path())), ClockOffsetMS: a.clock.Offset().Milliseconds()}
	if mc, ok := temperature(a.cfg.ThermalFile); ok {
		hb.TemperatureMC = mc
	}
	a.statusMu.Lock()
	fill := a.status
	a.statusMu.Unlock()
	if fill != nil {
		fill(&hb)
	}
	status, rb, err := a.do(ctx, http.MethodPost, wire.PathHeartbeat, hb)
	if err != nil {
		return wire.HeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
	}
	if status != http.StatusOK {
		return wire.HeartbeatResponse{}, fmt.Errorf("heartbeat: HQ answered %d: %s", status, errorText(rb))
	}
	var hr wire.HeartbeatResponse
	if err := json.Unmarshal(rb, &hr); err != nil {
		return hr, fmt.Errorf("heartbeat: malformed answer: %w", err)
	}
	a.keepWitnessed(ctx, hr.Witnessed)
	return hr, nil
}

// keepWitnessed keeps the external witnesses' cosigned checkpoints HQ
// handed on (sync/wire minor 10), each under the witness's name:
// store.DB.AddCosignature checks each against the log's key and tree.
// The witness's own key is not checked here (the kiosk pins none; keycab
// audit verify --witness does). Each witness's newest is handled once
// (HQ hands the same on with every heartbeat); one that does not fit (a
// checkpoint of the key before a rotation) is logged once and skipped: it
// never blocks the sync.
func (a *Agent) keepWitnessed(ctx context.Context, witnessed [][]byte) {
	if len(witnessed) == 0 {
		return
	}
	v, err := a.db.Verifier()
	if err != nil {
		a.log.Warn("witness cosignatures not kept", "err", err)
		return
	}
	hqName, _, _ := strings.Cut(a.peer.CosignerKey, "+")
	a.witMu.Lock()
	defer a.witMu.Unlock()
	if a.witnessed == nil {
		a.witnessed = map[string]string{}
	}
	for _, msg := range witnessed {
		name := witnessName(msg, v.Name(), hqName)
		if a.witnessed[name] == string(msg) {
			continue
		}
		cp, _, err := audit.OpenCheckpoint(msg, v)
		switch {
		case err != nil || name == "":
			a.log.Warn("witness cosignature skipped", "witness", name, "err", err)
		case cp.Size > a.db.Size():
			a.log.Warn("witness cosignature skipped: beyond this log", "witness", name, "size", cp.Size, "log_size", a.db.Size())
		default:
			if err := a.db.AddCosignature(ctx, name, msg); err != nil {
				a.log.Warn("witness cosignature not kept", "witness", name, "size", cp.Size, "err", err)
			} else {
				a.log.Info("kept a witness cosignature", "witness", name, "size", cp.Size)
			}
		}
		a.witnessed[name] = string(msg)
	}
}

// witnessName returns the name of the first signature of a signed note
// that is neither the log's (logName) nor HQ's.
func witnessName(msg []byte, logName, hqName string) string {
	text, err := audit.NoteText(msg)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(msg[len(text)+1:]), "\n") {
		rest, ok := strings.CutPrefix(line, "\u2014 ")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, " ")
		if name != logName && name != hqName && name != "" {
			return name
		}
	}
	return ""
}

// Run pushes, pulls config and sends heartbeats until ctx ends. Failures
// are logged and retried with backoff; a forked log stops pushing only.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loop := func(name string, every time.Duration, fn func(context.Context) error) {
		defer wg.Done()
		fails := 0
		for {
			err := fn(ctx)
			if ctx.Err() != nil {
				return
			}
			delay := every
			if errors.Is(err, ErrForked) {
				return
			} else if err != nil {
				// Exponential from MinBackoff, capped at MaxBackoff, with
				// full jitter, so kiosks that failed together do not
				// retry together.
				fails++
				delay = backoff.Policy{Base: a.cfg.MinBackoff, Max: a.cfg.MaxBackoff}.Jittered(fails, nil)
				a.log.Warn("sync failed; retrying", "what", name, "err", err, "in", delay)
			} else {
				fails = 0
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
	wg.Add(4)
	go loop("remote actions", 0, func(ctx context.Context) error {
		a.statusMu.Lock()
		fn := a.remote
		a.statusMu.Unlock()
		var err error
		if fn != nil {
			_, err = a.PullActions(ctx, a.cfg.LongPoll, fn)
		}
		if fn == nil || errors.Is(err, ErrNoRemoteActions) {
			t := time.NewTimer(a.cfg.PushEvery)
			if fn != nil {
				t.Reset(a.cfg.LongPoll)
			}
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			return nil
		}
		return err
	})
	go loop("push", a.cfg.PushEvery, func(ctx context.Context) error { _, err := a.Push(ctx); return err })
	go loop("config", 0, func(ctx context.Context) error { _, err := a.PullConfig(ctx, a.cfg.LongPoll); return err })
	go loop("heartbeat", a.cfg.HeartbeatEvery, func(ctx context.Context) error {
		a.expireTexts(ctx)
		_, err := a.Heartbeat(ctx)
		return err
	})
	wg.Wait()
	return nil
}
