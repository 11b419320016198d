package hq_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/api"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/dashboard"
	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/scim"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
)

// One PostgreSQL server for the package's tests; a database per test.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// clock is a settable wall clock shared by the store and the auth service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mailbox is a Mailer that keeps what it is given.
type mailbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (mb *mailbox) Send(_ context.Context, m mail.Message) error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.msgs = append(mb.msgs, m)
	return nil
}

var linkToken = regexp.MustCompile(`#token=(\S+)`)

// MustToken returns the token of the last message of kind sent to to.
func (mb *mailbox) MustToken(tb testing.TB, kind, to string) string {
	tb.Helper()
	mb.mu.Lock()
	defer mb.mu.Unlock()
	for i := len(mb.msgs) - 1; i >= 0; i-- {
		m := mb.msgs[i]
		if m.Kind == kind && m.To == to {
			t, err := url.QueryUnescape(linkToken.FindStringSubmatch(m.Body)[1])
			if err != nil {
				tb.Fatal(err)
			}
			return t
		}
	}
	tb.Fatalf("no %s message to %s", kind, to)
	return ""
}

// all returns the messages sent so far.
func (mb *mailbox) all() []mail.Message {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]mail.Message{}, mb.msgs...)
}

func (mb *mailbox) count() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.msgs)
}

type engine struct {
	name string
	dsn  func(tb testing.TB) string // a fresh, migrated database, as the service's role
}

func engines() []engine {
	var es []engine
	for _, e := range pg.Engines() {
		es = append(es, engine{e.Name, e.DSN})
	}
	return es
}

// forEngine runs fn as a subtest on each engine.
func forEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, eng, nil))
		})
	}
}

// env is a running HQ over a fresh database.
type env struct {
	st    *store.Store
	auth  *auth.Service
	clock *clock
	mail  *mailbox
	srv   *httptest.Server
	logs  *lockedBuffer
	// passKey verifies the passes the store signs (SetPassSigner), until
	// withKioskAPI gives it the kiosk API's config key.
	passKey string
}

func newEnv(tb testing.TB, eng engine, tweak func(*auth.Config, *hq.Server)) *env {
	tb.Helper()
	return newEnvOn(tb, eng.dsn(tb), &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}, tweak)
}

// newEnvOn starts HQ over the database dsn (migrated, perhaps used by an
// HQ before: a restart) with the clock c.
func newEnvOn(tb testing.TB, dsn string, c *clock, tweak func(*auth.Config, *hq.Server)) *env {
	tb.Helper()
	e := &env{clock: c, mail: &mailbox{}, logs: &lockedBuffer{buf: &bytes.Buffer{}}}
	// One notes key a database, as every HQ process on it must have: the
	// store refuses another (notes_key's check value).
	key := sha256.Sum256([]byte("notes key of " + dsn))
	st, err := store.Open(context.Background(), dsn, store.Options{Now: e.clock.Now, NotesKey: key[:]})
	MustNoErr(tb, err)
	tb.Cleanup(func() { st.Close() })
	logKeys, err := store.NewOrgLogKeys(key[:], "hq.test")
	MustNoErr(tb, err)
	st.SetOrgLogKeys(logKeys)
	// A pass key until the kiosk API's (withKioskAPI) replaces it.
	e.passKey = mustPassSigner(tb, st)
	e.st = st
	cfg := auth.DefaultConfig()
	srv := &hq.Server{Store: st, Logger: newLogger(e.logs)}
	if tweak != nil {
		tweak(&cfg, srv)
	}
	e.auth, err = auth.New(st, e.mail, srv.Logger, e.clock.Now, cfg)
	MustNoErr(tb, err)
	srv.API = &api.API{Store: st, Auth: e.auth, Logger: srv.Logger}
	srv.Dashboard = &dashboard.Dashboard{Store: st, Auth: e.auth, Logger: srv.Logger}
	if srv.SCIM == nil {
		srv.SCIM = &scim.SCIM{Store: st, Auth: e.auth, Logger: srv.Logger}
	}
	h, err := srv.Handler()
	MustNoErr(tb, err)
	e.srv = httptest.NewServer(h)
	tb.Cleanup(e.srv.Close)
	return e
}

// mustPassSigner gives st a fresh pass key and returns its verifier key.
func mustPassSigner(tb testing.TB, st *store.Store) string {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "hq.test/config")
	MustNoErr(tb, err)
	signer, err := audit.ParseSignerKey(skey)
	MustNoErr(tb, err)
	st.SetPassSigner(signer)
	return vkey
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r resp) str(key string) string { s, _ := r.body[key].(string); return s }

func (r resp) code() string {
	m, _ := r.body["error"].(map[string]any)
	s, _ := m["code"].(string)
	return s
}

// do sends a JSON request with an optional bearer token and headers
// given as alternating names and values.
func (e *env) do(tb testing.TB, method, path, token string, body any, hdr ...string) resp {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		MustNoErr(tb, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	MustNoErr(tb, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	MustNoErr(tb, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	MustNoErr(tb, err)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); len(raw) > 0 && (mt == "application/json" || mt == "application/scim+json") { // not application/jsonl
		if err := json.Unmarshal(raw, &r.body); err != nil {
			tb.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return r
}

// MustStatus fails unless r has status want.
func MustStatus(tb testing.TB, r resp, want int) resp {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("status %d, want %d; body %s", r.status, want, r.raw)
	}
	return r
}

func MustNoErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

const goodPassword = "correct horse battery staple"

// user is a signed-in person.
type user struct {
	email, password string
	access, refresh string
	orgID, memberID string
}

// MustSignup creates an organisation with owner email and signs in.
func (e *env) MustSignup(tb testing.TB, org, email string) *user {
	tb.Helper()
	u := e.signupRaw(tb, org, email)
	e.MustVerify(tb, email)
	return u
}

// MustVerify opens the last verification link mailed to email.
func (e *env) MustVerify(tb testing.TB, email string) {
	tb.Helper()
	MustStatus(tb, e.do(tb, "POST", "/v1/auth/verify", "", map[string]string{"token": e.mail.MustToken(tb, "verify", email)}), 200)
}

func (u *user) set(r resp) {
	u.access, u.refresh, u.orgID, u.memberID = r.str("access_token"), r.str("refresh_token"), r.str("org_id"), r.str("member_id")
}

// MustLogin signs u in with its password (no MFA).
func (e *env) MustLogin(tb testing.TB, u *user) {
	tb.Helper()
	r := MustStatus(tb, e.do(tb, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 200)
	if r.body["mfa_required"] == true {
		tb.Fatal("login asks for MFA")
	}
	u.set(r)
}

// MustInvite has inviter invite email as role and returns the link token.
func (e *env) MustInvite(tb testing.TB, inviter *user, email, role string) string {
	tb.Helper()
	MustStatus(tb, e.do(tb, "POST", "/v1/invites", inviter.access, map[string]any{"email": email, "role": role}), 201)
	return e.mail.MustToken(tb, "invite", email)
}

// MustJoin invites email as role and accepts as a new account.
func (e *env) MustJoin(tb testing.TB, inviter *user, email, role string) *user {
	tb.Helper()
	tok := e.MustInvite(tb, inviter, email, role)
	r := MustStatus(tb, e.do(tb, "POST", "/v1/invites/accept", "", map[string]string{"token": tok, "name": email, "password": goodPassword}), 200)
	u := &user{email: email, password: goodPassword}
	u.set(r)
	return u
}

// MustEnableMFA enrols u in TOTP and returns the secret.
func (e *env) MustEnableMFA(tb testing.TB, u *user) []byte {
	tb.Helper()
	r := MustStatus(tb, e.do(tb, "POST", "/v1/me/mfa/setup", u.access, nil), 200)
	secret, err := decodeKey(r.str("secret"))
	MustNoErr(tb, err)
	MustStatus(tb, e.do(tb, "POST", "/v1/me/mfa/enable", u.access, map[string]string{"code": auth.TOTPCode(secret, e.clock.Now())}), 200)
	e.clock.Advance(30 * time.Second) // the next code is a new step
	return secret
}
