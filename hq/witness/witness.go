// Package witness sends every kiosk's checkpoints to the external
// witnesses HQ's operator names, speaking C2SP tlog-witness
// (add-checkpoint), and keeps their cosignatures in HQ's store (HQ
// migration 0031). See docs/DESIGN.md, "The audit log".
package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/backoff"
	"keycab.dev/keycab/sync/wire"
)

// Witness is one external witness: its add-checkpoint URL and its
// cosignature/v1 verifier key (whose name names it).
type Witness struct {
	URL      string // the witness's base URL; add-checkpoint is posted to URL/add-checkpoint
	VKey     string
	name     string
	verifier *wire.CosignatureVerifier
}

// Name returns the witness's name (its key's name).
func (w *Witness) Name() string { return w.name }

// Parse reads a witness as the operator names it: URL=VKEY, an http(s)
// URL and a cosignature/v1 verifier key (name+hash+base64(0x04||key)).
func Parse(s string) (*Witness, error) {
	u, vkey, ok := strings.Cut(s, "=")
	if !ok {
		return nil, keycab.Errorf(keycab.EINVALID, "witness %q is not URL=VKEY", s)
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
		return nil, keycab.Errorf(keycab.EINVALID, "witness URL %q is not an http(s) URL without query", u)
	}
	if pu.User != nil { // it would be logged and shown: no secret in the flag
		return nil, keycab.Errorf(keycab.EINVALID, "witness URL %q holds a user or password; a witness needs none", pu.Redacted())
	}
	v, err := wire.NewCosignatureVerifier(vkey)
	if err != nil {
		return nil, keycab.Errorf(keycab.EINVALID, "witness key %q: %v", vkey, err)
	}
	return &Witness{URL: strings.TrimSuffix(u, "/"), VKey: vkey, name: v.Name(), verifier: v}, nil
}

// Config configures a Sender.
type Config struct {
	Witnesses []*Witness
	// Interval is how often the sender looks at every log when nothing
	// woke it; zero means DefaultInterval.
	Interval time.Duration
	// Attempts bounds the add-checkpoint requests for one log and witness
	// in one pass (a 409 is answered by another request from the size the
	// witness holds); zero means 3.
	Attempts int
	Client   *http.Client     // nil: a client with a 30 s timeout
	Now      func() time.Time // the clock of the backoff; nil: time.Now
}

// DefaultInterval is Config.Interval's default.
const DefaultInterval = 30 * time.Second

// Sender posts kiosks' checkpoints to witnesses: one pass over every log
// at a time (so one kiosk's checkpoints reach a witness in order), woken
// by each push HQ accepts and at least every Interval; a witness that
// fails is skipped for Interval, doubled after each further failing pass
// up to 10 intervals (internal/backoff).
type Sender struct {
	st   *hqstore.Store
	log  *slog.Logger
	cfg  Config
	wake chan struct{}

	mu      sync.Mutex
	backoff map[string]time.Time // witness name -> not before (after failures)
	fails   map[string]int
	// declined holds, by witness and log, the size a 404 or 403 answered
	// and when: that checkpoint is not offered again for 10 intervals
	// (a new one is at once).
	declined map[string]declined
}

// declined is a checkpoint a witness did not take (404, 403).
type declined struct {
	size int64
	at   time.Time
}

// New returns a Sender.
func New(st *hqstore.Store, log *slog.Logger, cfg Config) (*Sender, error) {
	if st == nil {
		return nil, errors.New("witness: a store is required")
	}
	seen := map[string]bool{}
	for _, w := range cfg.Witnesses {
		if seen[w.name] {
			return nil, keycab.Errorf(keycab.EINVALID, "witness %s is named twice", w.name)
		}
		seen[w.name] = true
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Sender{st: st, log: log, cfg: cfg, wake: make(chan struct{}, 1),
		backoff: map[string]time.Time{}, fails: map[string]int{}, declined: map[string]declined{}}, nil
}

// Pushed wakes the sender (kioskapi.Config.Pushed). It never blocks.
func (s *Sender) Pushed(orgID, kioskID string) {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends. With no witness configured it returns at once.
func (s *Sender) Run(ctx context.Context) error {
	if len(s.cfg.Witnesses) == 0 {
		return nil
	}
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("witness pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-t.C:
		}
	}
}

// Pass hands every log's newest checkpoint to every witness that does
// not hold it yet.
func (s *Sender) Pass(ctx context.Context) error {
	logs, err := s.st.KioskLogs().WitnessLogs(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	for _, w := range s.cfg.Witnesses {
		s.mu.Lock()
		wait := s.backoff[w.name]
		s.mu.Unlock()
		if now.Before(wait) {
			continue
		}
		failed := false
		for _, l := range logs {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := s.send(ctx, w, l); err != nil {
				s.log.Warn("witness: add-checkpoint failed", "witness", w.name, "org", l.OrgID, "kiosk", l.KioskID, "size", l.Size, "err", err)
				failed = true
				var u *unreachable
				if errors.As(err, &u) {
					break // the witness is down: the other logs wait for the next pass
				}
			}
		}
		s.mu.Lock()
		if failed {
			s.fails[w.name]++
			s.backoff[w.name] = now.Add(backoff.Policy{Base: s.cfg.Interval, Max: 10 * s.cfg.Interval}.Delay(s.fails[w.name]))
		} else {
			delete(s.fails, w.name)
			delete(s.backoff, w.name)
		}
		s.mu.Unlock()
	}
	return nil
}

// send hands l's checkpoint to w, from the size w holds as HQ last heard
// (a 409 tells the true one, and the request is made again from it).
func (s *Sender) send(ctx context.Context, w *Witness, l hqstore.WitnessLog) error {
	if l.Size == 0 || len(l.Checkpoint) == 0 {
		return nil // no push yet
	}
	st := l.State[w.name]
	if st.Status == hqstore.WitnessStatusRefused {
		return nil // a split view was refused: evidence kept, nothing more sent
	}
	if st.Status == "cosigned" && st.Size == l.Size && sameText(st.Cosigned, l.Checkpoint) {
		return nil // the witness cosigned this very checkpoint
	}
	key := w.name + "\x00" + l.OrgID + "\x00" + l.KioskID
	now := s.cfg.Now()
	s.mu.Lock()
	d, ok := s.declined[key]
	s.mu.Unlock()
	if ok && d.size == l.Size && now.Before(d.at.Add(10*s.cfg.Interval)) {
		return nil // declined lately, and nothing new to offer
	}
	decline := func(status string, old int64) error {
		s.mu.Lock()
		s.declined[key] = declined{l.Size, now}
		s.mu.Unlock()
		return s.st.KioskLogs().SetWitnessState(ctx, l.OrgID, l.KioskID, w.name, old, status)
	}
	old := st.Size
	for range s.cfg.Attempts {
		if old > l.Size {
			// The witness holds more of the log than HQ does.
			return s.st.KioskLogs().SetWitnessState(ctx, l.OrgID, l.KioskID, w.name, old, "ahead of HQ")
		}
		status, ctype, body, err := s.post(ctx, w, l, old)
		if err != nil {
			return err
		}
		switch status {
		case http.StatusOK:
			cosigned, err := cosignedBy(l.Checkpoint, body, w)
			if err != nil {
				return err
			}
			s.log.Info("witness cosigned", "witness", w.name, "org", l.OrgID, "kiosk", l.KioskID, "size", l.Size)
			return s.st.KioskLogs().RecordWitnessed(ctx, l.OrgID, l.KioskID, w.name, l.Size, cosigned)
		case http.StatusConflict:
			// tlog-witness: the old size is not the one the witness
			// holds, which the body says (text/x.tlog.size, decimal).
			size, ok := tlogSize(ctype, body)
			switch {
			case !ok && old == l.Size:
				// Witnesses before tlog-witness's July 2026 text (the
				// omniwitness among them) answer a root other than the
				// one they cosigned at this very size with a 409 and no
				// size. A split view.
				return s.refused(ctx, w, l, old, "409: another root at a size it cosigned")
			case !ok:
				return fmt.Errorf("409 with a body that is no size (%q): %q", ctype, trim(body))
			case size == old:
				return fmt.Errorf("409 naming the size sent, %d", old)
			}
			s.log.Info("witness holds another size; sending again from it", "witness", w.name, "kiosk", l.KioskID, "hq_thought", old, "witness_holds", size)
			old = size
		case http.StatusNotFound:
			return decline("unknown log", old)
		case http.StatusForbidden:
			return decline("no trusted signature", old)
		case http.StatusUnprocessableEntity:
			// tlog-witness: the checkpoint is not consistent with what
			// the witness cosigned (the proof fails, or another root at
			// the size it holds): a split view. Keep the evidence, raise
			// the alarm.
			why := "422: not consistent with the checkpoint it cosigned"
			if old == l.Size {
				why = "422: another root at a size it cosigned"
			}
			return s.refused(ctx, w, l, old, why)
		default:
			return fmt.Errorf("witness answered %d: %s", status, trim(body))
		}
	}
	return fmt.Errorf("no cosignature after %d attempts", s.cfg.Attempts)
}

// refused keeps a split view w refused as evidence, with the alarm.
func (s *Sender) refused(ctx context.Context, w *Witness, l hqstore.WitnessLog, old int64, why string) error {
	s.log.Error("witness refused a split view", "witness", w.name, "org", l.OrgID, "kiosk", l.KioskID, "size", l.Size, "old", old, "why", why)
	return s.st.KioskLogs().RecordWitnessRefusal(ctx, l.OrgID, l.KioskID, w.name, l.Size, old, l.Checkpoint, why)
}

// tlogSize reads a 409's body as tlog-witness gives it: the witness's
// size in decimal (no sign, no leading zero), Content-Type
// text/x.tlog.size.
func tlogSize(ctype string, body []byte) (int64, bool) {
	mt, _, _ := mime.ParseMediaType(ctype)
	s := strings.TrimSuffix(string(body), "\n")
	if mt != "text/x.tlog.size" || s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// post sends one add-checkpoint request: "old SIZE", the consistency
// proof's hashes, a blank line and the checkpoint, and returns the
// answer's status, Content-Type and body.
func (s *Sender) post(ctx context.Context, w *Witness, l hqstore.WitnessLog, old int64) (int, string, []byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	if old > 0 && old < l.Size {
		proof, err := s.st.KioskLogs().WitnessProof(ctx, l.OrgID, l.KioskID, old, l.Size)
		if err != nil {
			return 0, "", nil, err
		}
		for _, h := range proof {
			b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(l.Checkpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL+"/add-checkpoint", &b)
	if err != nil {
		return 0, "", nil, err
	}
	res, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, "", nil, &unreachable{err}
	}
	if res.StatusCode >= 500 {
		res.Body.Close()
		return 0, "", nil, &unreachable{fmt.Errorf("witness answered %s", res.Status)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, res.Header.Get("Content-Type"), body, err
}

// unreachable is a witness that did not answer, or answered 5xx.
type unreachable struct{ err error }

func (u *unreachable) Error() string { return u.err.Error() }
func (u *unreachable) Unwrap() error { return u.err }

// cosignedBy joins the witness's answer (its signature lines) to the
// kiosk's checkpoint, keeping only a valid cosignature by w.
func cosignedBy(checkpoint, sigs []byte, w *Witness) ([]byte, error) {
	text, err := audit.NoteText(checkpoint)
	if err != nil {
		return nil, err
	}
	// tlog-witness: signatures by keys the client does not know are
	// ignored; only lines of w's name and key hash are kept.
	msg := []byte(text + "\n")
	for _, line := range strings.SplitAfter(string(sigs), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "\u2014 ")
		name, sig64, ok2 := strings.Cut(rest, " ")
		sig, err := base64.StdEncoding.DecodeString(sig64)
		if !ok || !ok2 || err != nil || name != w.name || len(sig) < 4 || binary.BigEndian.Uint32(sig) != w.verifier.KeyHash() {
			continue
		}
		msg = append(msg, strings.TrimSuffix(line, "\n")+"\n"...)
	}
	if _, err := note.Open(msg, note.VerifierList(w.verifier)); err != nil {
		return nil, fmt.Errorf("the witness's answer carries no valid cosignature by its key: %w", err)
	}
	// tlog-witness: the cosignature's timestamp MUST NOT be zero (nor,
	// tlog-cosignature, beyond 2^63-1, which reads as before 1970).
	if at, err := wire.VerifyCosignature(msg, w.VKey); err != nil || at.Unix() <= 0 {
		return nil, fmt.Errorf("the witness's cosignature has no timestamp (%v): %v", at, err)
	}
	return audit.MergeSignatures(checkpoint, msg)
}

// sameText reports whether two signed notes carry the same text.
func sameText(a, b []byte) bool {
	ta, err1 := audit.NoteText(a)
	tb, err2 := audit.NoteText(b)
	return err1 == nil && err2 == nil && ta == tb
}

func trim(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
