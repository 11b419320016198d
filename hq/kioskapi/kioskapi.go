package kioskapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/sync/wire"
)

// Config configures a Handler.
type Config struct {
	Store *hqstore.Store
	// Cosigner cosigns kiosk checkpoints; ConfigSigner signs config
	// bundles. They should be different keys.
	Cosigner     *wire.Cosigner
	ConfigSigner *audit.Signer
	// OriginPrefix prefixes a kiosk's id to name the log of a kiosk
	// enrolled from now on (OriginPrefix(domain) makes it); empty means
	// "keycab.dev/kiosk/". A log keeps the origin it was enrolled with:
	// its signed checkpoints name it.
	OriginPrefix string
	Logger       *slog.Logger
	Now          func() time.Time
	// Pushed, when set, is called after each push HQ accepted (the
	// witness sender's wake-up). It must not block.
	Pushed func(orgID, kioskID string)
	// PollInterval is how often a long poll re-reads the database; zero
	// means one second. MaxWait caps a long poll; zero means 55 seconds.
	PollInterval time.Duration
	MaxWait      time.Duration
}

// DefaultOriginDomain is the domain of kiosks' log origins when the
// operator names none (keycab-hq --log-origin-domain).
const DefaultOriginDomain = "keycab.dev"

// originDomain is a C2SP origin's schema-less URL prefix: a lower-case
// host name (with an optional port) and optional path segments.
var originDomain = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*$`)

// OriginPrefix returns the prefix of the log origins under domain
// ("DOMAIN/kiosk/"), as C2SP tlog-checkpoint recommends: a schema-less
// URL the operator controls. A domain with a scheme, spaces, upper case
// or a trailing slash is EINVALID.
func OriginPrefix(domain string) (string, error) {
	if len(domain) > 200 || !originDomain.MatchString(domain) {
		return "", keycab.Errorf(keycab.EINVALID, "log origin domain %q is not a lower-case host name with an optional path and no scheme (e.g. keys.example.com)", domain)
	}
	return domain + "/kiosk/", nil
}

// Handler serves the kiosk endpoints under wire.PathPrefix.
type Handler struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
	mux *http.ServeMux

	mu    sync.Mutex
	wakes map[string]chan struct{} // org id -> closed on a config change
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Cosigner == nil || cfg.ConfigSigner == nil {
		return nil, errors.New("kioskapi: store, cosigner and config signer are required")
	}
	if cfg.OriginPrefix == "" {
		cfg.OriginPrefix = DefaultOriginDomain + "/kiosk/"
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 55 * time.Second
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now, wakes: map[string]chan struct{}{}}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("POST "+wire.PathEnrol, h.enrol)
	h.mux.HandleFunc("POST "+wire.PathPush, h.signed(h.push))
	h.mux.HandleFunc("GET "+wire.PathConfig, h.signed(h.config))
	h.mux.HandleFunc("POST "+wire.PathHeartbeat, h.signed(h.heartbeat))
	h.mux.HandleFunc("GET "+wire.PathActions, h.signed(h.actions))
	h.mux.HandleFunc("POST "+wire.PathActionAck, h.signed(h.ack))
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// ConfigChanged wakes the long polls of an organisation's kiosks in this
// process, so that a change (a revoked badge) reaches them at once. Other
// processes' kiosks see it within PollInterval.
func (h *Handler) ConfigChanged(orgID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.wakes[orgID]; ok {
		close(ch)
		delete(h.wakes, orgID)
	}
}

func (h *Handler) wake(orgID string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.wakes[orgID]
	if !ok {
		ch = make(chan struct{})
		h.wakes[orgID] = ch
	}
	return ch
}

// request is an authenticated kiosk request.
type request struct {
	sc    hqstore.Scope
	log   hqstore.KioskLog
	body  []byte // decoded
	kiosk string
}

// signed authenticates a kiosk request before fn runs.
func (h *Handler) signed(fn func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxBody))
		if err != nil {
			h.error(w, r, keycab.Errorf(keycab.ETOOLARGE, "request body too large or cut short"))
			return
		}
		sr, err := wire.ParseSignedRequest(r)
		if err != nil {
			h.error(w, r, keycab.Errorf(keycab.EUNAUTHORIZED, "%v", err))
			return
		}
		sc := hqstore.KioskScope(sr.OrgID, sr.KioskID)
		kl, err := h.cfg.Store.KioskLogs().KioskLogState(r.Context(), sc)
		if err != nil {
			if c := keycab.ErrorCode(err); c == keycab.EUNAUTHORIZED || c == keycab.ENOTFOUND {
				h.error(w, r, keycab.Errorf(keycab.EUNAUTHORIZED, "unknown or revoked kiosk"))
				return
			}
			h.error(w, r, err)
			return
		}
		pub, err := audit.PublicKey(kl.VerifierKey)
		if err != nil {
			h.error(w, r, err)
			return
		}
		now := h.now()
		if err := sr.Verify(r, raw, pub, now, wire.ReplayWindow); err != nil {
			h.error(w, r, keycab.Errorf(keycab.EUNAUTHORIZED, "%v", err))
			return
		}
		if err := h.cfg.Store.KioskLogs().UseNonce(r.Context(), sc, sr.Nonce, sr.Date.Add(wire.ReplayWindow)); err != nil {
			if keycab.ErrorCode(err) == keycab.ECONFLICT {
				h.error(w, r, keycab.Errorf(keycab.EUNAUTHORIZED, "replayed request"))
				return
			}
			h.error(w, r, err)
			return
		}
		body := raw
		if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err == nil {
				body, err = io.ReadAll(io.LimitReader(zr, wire.MaxBody+1))
			}
			if err != nil {
				h.error(w, r, keycab.Errorf(keycab.EINVALID, "bad gzip body"))
				return
			}
			if len(body) > wire.MaxBody {
				h.error(w, r, keycab.Errorf(keycab.ETOOLARGE, "request body too large"))
				return
			}
		}
		fn(w, r, &request{sc: sc, log: kl, body: body, kiosk: sr.KioskID})
	}
}

func (h *Handler) enrol(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrolRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = decode(body, &req, "enrolment request")
	}
	if err != nil {
		h.error(w, r, err)
		return
	}
	if len(req.PublicKey) != ed25519.PublicKeySize {
		h.error(w, r, keycab.Errorf(keycab.EINVALID, "public key must be %d bytes of Ed25519", ed25519.PublicKeySize))
		return
	}
	k, kl, err := h.cfg.Store.Enrol(r.Context(), req.Token, req.PublicKey, req.Name, func(id string) (string, string, error) {
		origin := h.cfg.OriginPrefix + id
		vkey, err := note.NewEd25519VerifierKey(origin, ed25519.PublicKey(req.PublicKey))
		return origin, vkey, err
	})
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.log.Info("kiosk enrolled", "org", k.OrgID, "kiosk", k.ID, "cabinet", k.CabinetID, "origin", kl.Origin)
	h.reply(w, http.StatusOK, wire.EnrolResponse{V: wire.Minor, KioskID: k.ID, OrgID: k.OrgID, CabinetID: k.CabinetID,
		Origin: kl.Origin, CosignerKey: h.cfg.Cosigner.VerifierKey(), ConfigKey: h.cfg.ConfigSigner.VerifierKey})
}

// resent answers a push of a checkpoint no larger than the newest HQ has
// cosigned for the kiosk (st), whose root HQ has checked, as C2SP
// tlog-witness has a witness answer: a cosignature asserts that the
// cosigner has seen no tree larger than the one it signs, so HQ never
// cosigns an older checkpoint afresh. The newest one again gets the
// cosignature HQ already gave it; an older one gets 409 with HQ's size
// and its newest cosigned checkpoint, from which the kiosk resumes.
func (h *Handler) resent(signed []byte, cp audit.Checkpoint, st hqstore.KioskLog, status *int, resp *wire.PushResponse) error {
	if cp.Size == st.Size && len(st.Cosigned) > 0 && sameNoteText(signed, st.Cosigned) {
		resp.Size, resp.Cosigned = st.Size, st.Cosigned
		return nil
	}
	if cp.Size == st.Size {
		// HQ holds the tree but no cosignature of this checkpoint's text
		// (a checkpoint of HQ's size signed afresh): it is the newest
		// HQ has seen, so cosigning it asserts nothing false.
		cosigned, err := wire.Cosign(signed, h.cfg.Cosigner)
		resp.Size, resp.Cosigned = st.Size, cosigned
		return err
	}
	*status = http.StatusConflict
	resp.Size, resp.Cosigned = st.Size, st.Cosigned
	resp.Error = fmt.Sprintf("HQ has cosigned %d entries; a checkpoint of %d is older than that", st.Size, cp.Size)
	return nil
}

// sameNoteText reports whether two signed notes carry the same text.
func sameNoteText(a, b []byte) bool {
	ta, err1 := audit.NoteText(a)
	tb, err2 := audit.NoteText(b)
	return err1 == nil && err2 == nil && ta == tb
}

func (h *Handler) push(w http.ResponseWriter, r *http.Request, req *request) {
	var p wire.PushRequest
	if err := decode(req.body, &p, "push"); err != nil {
		h.error(w, r, err)
		return
	}
	v, err := note.NewVerifier(req.log.VerifierKey)
	if err != nil {
		h.error(w, r, err)
		return
	}
	cp, _, err := audit.OpenCheckpoint(p.Checkpoint, v)
	if err != nil {
		h.error(w, r, keycab.Errorf(keycab.EINVALID, "%v", err))
		return
	}
	n := int64(len(p.Entries))
	if p.OldSize < 0 || n > wire.MaxPushEntries || (n > 0 && p.OldSize+n != cp.Size) {
		h.error(w, r, keycab.Errorf(keycab.EINVALID, "push of %d entries from %d does not reach the checkpoint's size %d", n, p.OldSize, cp.Size))
		return
	}
	texts := make([]hqstore.PersonalText, len(p.Texts))
	for i, t := range p.Texts {
		texts[i] = hqstore.PersonalText{LogIndex: t.Index, Field: t.Field, Salt: t.Salt, Text: t.Text}
	}
	// Checked against the entries sent before anything else (the store
	// checks again as it keeps them), so that a push with a text that
	// does not match its entry is refused whole, resend or not.
	if err := hqstore.CheckPersonalTexts(p.OldSize, p.Entries, texts); err != nil {
		h.log.Warn("kiosk push refused: personal text", "org", req.sc.OrgID(), "kiosk", req.kiosk, "err", err)
		h.error(w, r, err)
		return
	}
	stills := make([]hqstore.Still, len(p.Stills))
	for i, st := range p.Stills {
		stills[i] = hqstore.Still{LogIndex: st.Index, JPEG: st.JPEG}
	}
	// Camera stills likewise (sync/wire minor 11).
	if err := hqstore.CheckStills(p.OldSize, p.Entries, stills); err != nil {
		h.log.Warn("kiosk push refused: camera still", "org", req.sc.OrgID(), "kiosk", req.kiosk, "err", err)
		h.error(w, r, err)
		return
	}
	status, resp := http.StatusOK, wire.PushResponse{V: wire.Minor}
	changes := false // touchscreen changes that may change bundles
	err = h.cfg.Store.KioskLogs().UpdateKioskLog(r.Context(), req.sc, func(ctx context.Context, l *hqstore.LogTx) error {
		st := l.Log()
		resp.Size, resp.Cosigned = st.Size, st.Cosigned
		ours := st.Cosigned
		if ours == nil {
			ours = []byte{}
		}
		fork := func(what string, index int64) error {
			status, resp.Error = http.StatusUnprocessableEntity, what
			h.log.Warn("kiosk log forked: quarantined", "org", req.sc.OrgID(), "kiosk", req.kiosk, "what", what)
			return l.Quarantine(ctx, what, index, p.Checkpoint, ours)
		}
		if !st.QuarantinedAt.IsZero() {
			status, resp.Error = http.StatusUnprocessableEntity, "kiosk is quarantined: "+st.QuarantineReason
			return nil
		}
		switch {
		case cp.Size <= st.Size:
			// A checkpoint HQ has covered: the same tree, or a fork.
			root, err := tlog.TreeHash(cp.Size, l.HashReader(ctx))
			if err != nil {
				return err
			}
			if root != cp.Root {
				return fork(fmt.Sprintf("checkpoint at size %d has another root than HQ's tree", cp.Size), 0)
			}
			return h.resent(p.Checkpoint, cp, st, &status, &resp)
		case p.OldSize != st.Size:
			status, resp.Error = http.StatusConflict, fmt.Sprintf("HQ holds %d entries, not %d", st.Size, p.OldSize)
			return nil
		}
		f, err := audit.NewFrontier(st.Size, l.HashReader(ctx))
		if err != nil {
			return err
		}
		hashes := make([][]byte, n)
		events := make([]hqstore.Event, 0, n)
		for i, leaf := range p.Entries {
			if len(leaf) == 0 || len(leaf) > audit.MaxLeafSize {
				status, resp.Error = http.StatusBadRequest, "entry of bad size"
				return nil
			}
			hs, err := f.Next(leaf)
			if err != nil {
				return err
			}
			f.Advance(hs)
			hashes[i] = audit.EncodeHashes(hs)
			idx := st.Size + int64(i)
			ev, err := audit.Decode(leaf)
			if err != nil {
				// Kept as evidence all the same: the tree commits to it.
				h.log.Warn("kiosk entry does not decode", "kiosk", req.kiosk, "index", idx, "err", err)
				continue
			}
			events = append(events, hqstore.EventOf(idx, ev))
			changes = changes || ev.Kind == keycab.EventAdminChange
		}
		if f.Root() != cp.Root {
			return fork(fmt.Sprintf("checkpoint at size %d is not HQ's tree of %d plus the entries sent", cp.Size, st.Size), st.Size)
		}
		cosigned, err := wire.Cosign(p.Checkpoint, h.cfg.Cosigner)
		if err != nil {
			return err
		}
		if err := l.Append(ctx, st.Size, p.Entries, hashes); err != nil {
			return err
		}
		// The texts first: the badge values among them are what the
		// events' badge.linked changes link (sync/wire minor 8).
		if err := l.RecordTexts(ctx, st.Size, p.Entries, texts); err != nil {
			return err
		}
		if err := l.RecordStills(ctx, st.Size, p.Entries, stills); err != nil {
			return err
		}
		if err := l.RecordEvents(ctx, events); err != nil {
			return err
		}
		resp.Size, resp.Cosigned = cp.Size, cosigned
		return l.SetHead(ctx, cp.Size, p.Checkpoint, cosigned)
	})
	if err != nil {
		h.error(w, r, err)
		return
	}
	if changes && status == http.StatusOK {
		h.ConfigChanged(req.sc.OrgID())
	}
	if status == http.StatusOK {
		if h.cfg.Pushed != nil {
			h.cfg.Pushed(req.sc.OrgID(), req.kiosk)
		}
		if resp.Witnessed, err = h.cfg.Store.KioskLogs().KioskWitnessed(r.Context(), req.sc); err != nil {
			h.error(w, r, err)
			return
		}
	}
	h.reply(w, status, resp)
}

func (h *Handler) config(w http.ResponseWriter, r *http.Request, req *request) {
	after, wait, err := pollQuery(r.URL.Query())
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.longPoll(w, r, req.sc.OrgID(), wait, func() bool {
		cfg, v, err := h.bundle(r.Context(), req.sc)
		if err != nil {
			h.error(w, r, err)
			return true
		}
		if v <= after {
			return false
		}
		msg, err := wire.SignBundle(wire.Bundle{KioskID: req.kiosk, Version: v, Config: cfg}, h.cfg.ConfigSigner)
		if err != nil {
			h.error(w, r, err)
			return true
		}
		h.reply(w, http.StatusOK, wire.ConfigResponse{V: wire.Minor, Version: v, Bundle: msg})
		return true
	})
}

// longPoll calls answer until it has answered (true), the wait (at most
// MaxWait) runs out (204) or the client goes. Between calls it waits for
// the organisation's next change (ConfigChanged) or PollInterval,
// whichever comes first; it takes the wake-up before each call, so that
// no change falls between the call and the wait.
func (h *Handler) longPoll(w http.ResponseWriter, r *http.Request, orgID string, wait time.Duration, answer func() bool) {
	deadline := h.now().Add(min(wait, h.cfg.MaxWait))
	ctx := r.Context()
	for {
		woken := h.wake(orgID)
		if answer() {
			return
		}
		left := deadline.Sub(h.now())
		if left <= 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		t := time.NewTimer(min(left, h.cfg.PollInterval))
		select {
		case <-ctx.Done():
			t.Stop()
			h.error(w, r, ctx.Err())
			return
		case <-woken:
		case <-t.C:
		}
		t.Stop()
	}
}

// pollQuery reads a config poll's query: after, a config version (0 when
// absent), and wait, seconds to wait for a newer one (none when absent).
// A value given must be one number in range.
func pollQuery(q url.Values) (after int64, wait time.Duration, err error) {
	if len(q["after"]) > 1 || len(q["wait"]) > 1 {
		return 0, 0, keycab.Errorf(keycab.EINVALID, "after and wait are given once")
	}
	if v, ok := q["after"]; ok {
		if after, err = strconv.ParseInt(v[0], 10, 64); err != nil || after < 0 {
			return 0, 0, keycab.Errorf(keycab.EINVALID, "after must be a config version: a whole number, 0 or more")
		}
	}
	if v, ok := q["wait"]; ok {
		sec, err := strconv.ParseFloat(v[0], 64)
		if err != nil || math.IsNaN(sec) || sec < 0 || sec > math.MaxInt64/float64(time.Second) {
			return 0, 0, keycab.Errorf(keycab.EINVALID, "wait must be a number of seconds, 0 or more")
		}
		wait = time.Duration(sec * float64(time.Second))
	}
	return after, wait, nil
}

// bundle builds the kiosk's config and its version: unchanged content
// keeps its version.
func (h *Handler) bundle(ctx context.Context, sc hqstore.Scope) (keycab.Config, int64, error) {
	cfg, err := h.cfg.Store.KioskConfig(ctx, sc)
	if err != nil {
		return cfg, 0, err
	}
	content, err := wire.ContentHash(cfg)
	if err != nil {
		return cfg, 0, err
	}
	sum := sha256.Sum256(content)
	kl, err := h.cfg.Store.KioskLogs().KioskLogState(ctx, sc)
	if err != nil {
		return cfg, 0, err
	}
	v := kl.ConfigVersion
	if v == 0 || !bytes.Equal(kl.ConfigHash, sum[:]) {
		if v, err = h.cfg.Store.KioskLogs().IssueConfigVersion(ctx, sc, sum[:]); err != nil {
			return cfg, 0, err
		}
	}
	cfg.Version = v
	return cfg, v, nil
}

func (h *Handler) heartbeat(w http.ResponseWriter, r *http.Request, req *request) {
	var hb wire.Heartbeat
	if err := decode(req.body, &hb, "heartbeat"); err != nil {
		h.error(w, r, err)
		return
	}
	if err := checkHeartbeat(hb, req.log); err != nil {
		h.error(w, r, err)
		return
	}
	err := h.cfg.Store.KioskLogs().RecordHeartbeat(r.Context(), req.sc, hqstore.Heartbeat{Door: hb.Door, Alarms: hb.Alarms, LogSize: hb.LogSize,
		CosignedSize: hb.CosignedSize, ConfigVersion: hb.ConfigVersion, Software: hb.Software, DiskFree: hb.DiskFree, TemperatureMC: hb.TemperatureMC,
		ClockOffset: time.Duration(hb.ClockOffsetMS) * time.Millisecond})
	if err != nil {
		h.error(w, r, err)
		return
	}
	witnessed, err := h.cfg.Store.KioskLogs().KioskWitnessed(r.Context(), req.sc)
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.reply(w, http.StatusOK, wire.HeartbeatResponse{V: wire.Minor, Size: req.log.Size, ConfigVersion: req.log.ConfigVersion,
		Quarantined: !req.log.QuarantinedAt.IsZero(), Witnessed: witnessed})
}

// decode reads the JSON message body, a what, into v: the one place the
// kiosk API decodes JSON, so every message is refused alike when it holds
// text keycab cannot store (keycab.ValidJSONText: NUL or invalid UTF-8).
func decode(body []byte, v any, what string) error {
	if !keycab.ValidJSONText(body) {
		return keycab.Errorf(keycab.EINVALID, "%s holds NUL (\\u0000) or is not valid UTF-8", what)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return keycab.Errorf(keycab.EINVALID, "malformed %s", what)
	}
	return nil
}

// checkHeartbeat returns why hb is not a report a kiosk whose log HQ
// holds as kl can make, or nil: every field within its bounds (wire
// package doc), the cosigned size within the log and within what HQ has
// cosigned, and the config version one HQ issued.
func checkHeartbeat(hb wire.Heartbeat, kl hqstore.KioskLog) error {
	bad := func(field, format string, args ...any) error {
		return keycab.Errorf(keycab.EINVALID, "heartbeat %s: "+format, append([]any{field}, args...)...)
	}
	switch {
	case hb.V < 0:
		return bad("v", "%d is negative", hb.V)
	case hb.Door != "" && hb.Door != "open" && hb.Door != "closed":
		return bad("door", "must be open, closed or empty")
	case len(hb.Alarms) > wire.MaxAlarms:
		return bad("alarms", "%d alarms, more than %d", len(hb.Alarms), wire.MaxAlarms)
	case hb.LogSize < 0:
		return bad("log_size", "%d is negative", hb.LogSize)
	case hb.CosignedSize < 0:
		return bad("cosigned_size", "%d is negative", hb.CosignedSize)
	case hb.CosignedSize > hb.LogSize:
		return bad("cosigned_size", "%d is beyond log_size %d", hb.CosignedSize, hb.LogSize)
	case hb.CosignedSize > kl.Size:
		return bad("cosigned_size", "%d is beyond the %d entries HQ has cosigned", hb.CosignedSize, kl.Size)
	case hb.ConfigVersion < 0:
		return bad("config_version", "%d is negative", hb.ConfigVersion)
	case hb.ConfigVersion > kl.ConfigVersion:
		return bad("config_version", "%d is not a version HQ issued (its newest is %d)", hb.ConfigVersion, kl.ConfigVersion)
	case len(hb.Software) > wire.MaxSoftware:
		return bad("software", "longer than %d bytes", wire.MaxSoftware)
	case !keycab.Printable(hb.Software):
		return bad("software", "not printable UTF-8 text")
	case hb.DiskFree < 0:
		return bad("disk_free", "%d is negative", hb.DiskFree)
	case hb.TemperatureMC < wire.MinTemperatureMC || hb.TemperatureMC > wire.MaxTemperatureMC:
		return bad("temperature_mc", "%d is outside %d to %d", hb.TemperatureMC, wire.MinTemperatureMC, wire.MaxTemperatureMC)
	case hb.ClockOffsetMS < -wire.MaxClockOffsetMS || hb.ClockOffsetMS > wire.MaxClockOffsetMS:
		return bad("clock_offset_ms", "%d is more than %d either way", hb.ClockOffsetMS, int64(wire.MaxClockOffsetMS))
	}
	for _, a := range hb.Alarms {
		if !slices.Contains(keycab.Alarms, a) {
			return bad("alarms", "unknown alarm %.40q", a)
		}
	}
	return nil
}

func (h *Handler) reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// error answers err with HQ's one mapping and body (hq.WriteError,
// the edge of STYLE.md rule 6), logging what is HQ's fault. A client
// that went away is only a debug line (and 499 for the logs).
func (h *Handler) error(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case hq.ClientGone(r):
		h.log.Debug("kiosk went away", "path", r.URL.Path, "err", err)
	case hq.StatusOf(keycab.ErrorCode(err)) >= 500:
		h.log.Error("kiosk request failed", "path", r.URL.Path, "err", err)
	}
	hq.WriteError(w, r, err)
}
