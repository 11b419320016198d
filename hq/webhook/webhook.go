// Package webhook is HQ's webhook sender: a loop that posts the events
// queued in the database (store package, webhook.go) to each
// organisation's endpoints, signed as the Standard Webhooks specification
// says (https://www.standardwebhooks.com), at least once.
//
// Each round asks the store which organisations have a delivery due
// (WebhookDueOrgs), leases each organisation's due deliveries
// (TakeWebhookDeliveries: a lease and an attempt counted in one
// statement, so two HQ processes on one database never send one attempt
// at once), posts them and records the outcome (FinishWebhookDelivery,
// which records nothing once the lease has passed to another sender). A
// failed attempt (no 2xx answer within Timeout) is retried with
// exponential backoff from RetryAfter (internal/backoff), up to
// MaxAttempts; the queue lives in the database, so retries survive a
// restart.
//
// A request carries
//
//	webhook-id:        the message id (msg_...), the same at every attempt
//	webhook-timestamp: the attempt's time, Unix seconds
//	webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body"> per valid secret, space separated
//
// where a secret is "whsec_" and the base64 of its key. After a rotation
// the previous secret signs beside the new one for a while (both
// signatures are sent), so a receiver that checks either keeps working.
//
// Targets are checked against server-side request forgery when the
// connection is made, after DNS resolution (Guard, used as the dialer's
// Control), so a name that resolves, or is rebound, to an internal address
// is refused as an address literal is. Redirects are not followed: a 3xx
// answer is a failed attempt.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/backoff"
)

// Sign returns the webhook-signature header for a message: one
// "v1,<signature>" per secret, space separated. A secret is "whsec_" and
// the base64 of the key (the prefix is optional).
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	var sigs []string
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(key) == 0 {
			return "", errors.New("sign webhook: a secret is not whsec_ and base64")
		}
		m := hmac.New(sha256.New, key)
		fmt.Fprintf(m, "%s.%d.", id, ts.Unix())
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	if len(sigs) == 0 {
		return "", errors.New("sign webhook: no secret")
	}
	return strings.Join(sigs, " "), nil
}

// Guard decides which addresses a webhook may connect to: any public
// unicast address, and those Allow names (an operator's allow-list,
// keycab-hq serve --webhook-allow).
type Guard struct {
	Allow []netip.Prefix
}

// ParseAllow parses a comma-separated list of CIDR prefixes or single
// addresses ("10.1.2.0/24,127.0.0.1").
func ParseAllow(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("webhook allow-list: %q is neither an address nor a CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ErrRefused is wrapped by the error of a connection Guard refuses.
var ErrRefused = errors.New("refused")

// Check returns nil if a may be connected to, or why not.
func (g Guard) Check(a netip.Addr) error {
	a = a.Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	var why string
	switch {
	case !a.IsValid():
		why = "not an IP address"
	case a.IsUnspecified():
		why = "unspecified"
	case a.IsLoopback():
		why = "loopback"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		why = "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		why = "multicast"
	case a.IsPrivate():
		why = "private" // 10/8, 172.16/12, 192.168/16, fc00::/7
	case sharedOrReserved(a):
		why = "reserved"
	default:
		return nil
	}
	return fmt.Errorf("webhook target address %s is %s: %w (an operator may allow it with --webhook-allow)", a, why, ErrRefused)
}

// Special-purpose ranges that are not public unicast but net/netip does
// not name: carrier-grade NAT, "this network", benchmarking, IETF
// protocol assignments, documentation, 240/4, NAT64 and 6to4 (which embed
// an IPv4 address), Teredo, documentation (IPv6).
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"),
}

func sharedOrReserved(a netip.Addr) bool {
	for _, p := range reserved {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// control is a net.Dialer Control: it runs for every address the dialer
// tries, after resolution, before connecting.
func (g Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook target %s: %w", address, ErrRefused)
	}
	return g.Check(ap.Addr())
}

// Client returns an HTTP client whose every connection Guard checks
// after resolution, that uses no proxy from the environment (a proxy
// would connect for it, unchecked), does not follow redirects, and
// gives up on a request after timeout.
func (g Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: g.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Config tunes a Sender. Zero fields take DefaultConfig's.
type Config struct {
	Interval    time.Duration // between rounds
	Timeout     time.Duration // per attempt: connect, send and answer
	RetryAfter  time.Duration // the first retry's delay, doubled per attempt up to MaxDelay
	MaxDelay    time.Duration
	MaxAttempts int
	Lease       time.Duration // how long a sender holds a delivery it is sending; more than Timeout
	Batch       int           // deliveries leased per organisation per round
	Allow       []netip.Prefix
}

// DefaultConfig returns the defaults: ten attempts over about nine hours.
func DefaultConfig() Config {
	return Config{Interval: 5 * time.Second, Timeout: 10 * time.Second, RetryAfter: 30 * time.Second, MaxDelay: 4 * time.Hour,
		MaxAttempts: 10, Lease: time.Minute, Batch: 50}
}

// Validate fills in defaults and checks c.
func (c *Config) Validate() error {
	d := DefaultConfig()
	for _, p := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{{&c.Interval, d.Interval, "interval"}, {&c.Timeout, d.Timeout, "timeout"}, {&c.RetryAfter, d.RetryAfter, "retry delay"},
		{&c.MaxDelay, d.MaxDelay, "maximum delay"}, {&c.Lease, d.Lease, "lease"}} {
		if *p.v == 0 {
			*p.v = p.def
		}
		if *p.v < 0 {
			return fmt.Errorf("webhooks: %s %v is negative", p.name, *p.v)
		}
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.Batch == 0 {
		c.Batch = d.Batch
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 50 {
		return fmt.Errorf("webhooks: max attempts %d: want 1 to 50", c.MaxAttempts)
	}
	if c.Lease <= c.Timeout {
		return fmt.Errorf("webhooks: lease %v must be longer than the timeout %v", c.Lease, c.Timeout)
	}
	return nil
}

// Sender delivers queued webhook events; see the package documentation.
type Sender struct {
	st     *store.Store
	log    *slog.Logger
	now    func() time.Time
	cfg    Config
	client *http.Client
	wake   chan struct{}
}

// New returns a Sender. nil log discards; nil now is time.Now (it stamps
// webhook-timestamp and schedules retries: give the store's clock).
func New(st *store.Store, log *slog.Logger, now func() time.Time, cfg Config) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Sender{st: st, log: log, now: now, cfg: cfg, client: Guard{Allow: cfg.Allow}.Client(cfg.Timeout), wake: make(chan struct{}, 1)}, nil
}

// Wake has Run start a round now (a test event or a resend was queued).
// It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run runs a round at once and then every Interval (or when woken) until
// ctx ends; it returns nil then. A failed round is logged and the loop
// goes on.
func (s *Sender) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.Round(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("webhook round", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// Round sends the deliveries due now, every organisation's, up to Batch
// of each. The errors of one organisation do not stop the others; they
// are joined.
func (s *Sender) Round(ctx context.Context) error {
	orgs, err := s.st.Outbox().WebhookDueOrgs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, org := range orgs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, s.org(ctx, org))
	}
	return errors.Join(errs...)
}

// chunk is how many deliveries a sender leases at once, and posts at once:
// as many as fit the lease one after another (so even posted in turn they
// would end within it), at most 8.
func (s *Sender) chunk() int {
	return min(8, max(1, int(s.cfg.Lease/s.cfg.Timeout)-1))
}

// org sends up to Batch of org's due deliveries, leasing a chunk at a
// time and posting its deliveries at once.
func (s *Sender) org(ctx context.Context, org string) error {
	var errs []error
	for sent := 0; sent < s.cfg.Batch && ctx.Err() == nil; {
		ds, err := s.st.Outbox().TakeWebhookDeliveries(ctx, org, s.cfg.Lease, min(s.chunk(), s.cfg.Batch-sent))
		if err != nil || len(ds) == 0 {
			return errors.Join(append(errs, err)...)
		}
		sent += len(ds)
		res := make([]error, len(ds))
		var wg sync.WaitGroup
		for i, d := range ds {
			wg.Go(func() { res[i] = s.deliver(ctx, d) })
		}
		wg.Wait()
		errs = append(errs, res...)
	}
	return errors.Join(errs...)
}

// deliver makes one attempt and records its outcome. An attempt whose
// lease would end before its post could (a stalled process) is not made:
// the delivery goes back to the queue when the lease ends.
func (s *Sender) deliver(ctx context.Context, d store.WebhookSend) error {
	if s.now().Add(s.cfg.Timeout).After(d.LeaseUntil) {
		s.log.Warn("webhook delivery not sent: too little of its lease left", "org", d.OrgID, "delivery", d.ID)
		return nil
	}
	res := s.post(ctx, d)
	if !res.Delivered && d.Attempt < s.cfg.MaxAttempts {
		res.RetryAt = s.now().Add(backoff.Policy{Base: s.cfg.RetryAfter, Max: s.cfg.MaxDelay}.Delay(d.Attempt))
	}
	s.log.Info("webhook delivery", "org", d.OrgID, "webhook", d.WebhookID, "delivery", d.ID, "type", d.EventType, "attempt", d.Attempt,
		"delivered", res.Delivered, "status", res.Status, "err", res.Error, "retry", !res.RetryAt.IsZero())
	// The outcome is recorded even when ctx ends meanwhile (HQ stopping):
	// an answered attempt left unrecorded would be sent again.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
	defer cancel()
	if err := s.st.Outbox().FinishWebhookDelivery(fctx, d, res); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			s.log.Warn("webhook delivery outcome not recorded: its lease ended", "org", d.OrgID, "delivery", d.ID)
			return nil
		}
		return err
	}
	return nil
}

// post sends d once.
func (s *Sender) post(ctx context.Context, d store.WebhookSend) store.WebhookResult {
	ts := s.now()
	sig, err := Sign(d.Secrets, d.ID, ts, d.Payload)
	if err != nil {
		return store.WebhookResult{Error: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return store.WebhookResult{Error: "bad URL: " + err.Error()}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "keycab-webhooks/1")
	h.Set("webhook-id", d.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return store.WebhookResult{Error: describe(err)}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res := store.WebhookResult{Status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.Delivered = true
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Error = fmt.Sprintf("HTTP %d: redirects are not followed; give the final URL", resp.StatusCode)
	default:
		res.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return res
}

// describe says why a request failed, without the URL's query (which
// may carry a token).
func describe(err error) string {
	if errors.Is(err, ErrRefused) {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return op.Err.Error()
		}
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
