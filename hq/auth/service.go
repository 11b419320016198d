package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/internal/passhash"
)

// Limit allows N events per fixed window.
type Limit struct {
	N      int
	Window time.Duration
}

// Limits are the rate limits, counted in the database (shared by every
// HQ process): per client IP and per account (keyed by the email typed,
// so unknown addresses are limited exactly like known ones).
type Limits struct {
	LoginIP      Limit // password and magic-link sign-ins, MFA steps, per IP
	LoginAccount Limit // the same, per account
	EmailIP      Limit // reset and magic-link requests, per IP
	EmailAccount Limit // the same, per address
	SignupIP     Limit
}

// Config configures a Service.
type Config struct {
	// BaseURL is where HQ is reached, for links in emails.
	BaseURL string
	// Issuer names HQ in authenticator apps.
	Issuer string
	// IdleTimeout ends a session unused for this long; AbsoluteTimeout
	// ends a login (a family of refreshed sessions) this long after it
	// started, however active.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	ResetTTL        time.Duration // password reset links
	MagicTTL        time.Duration // sign-in links
	InviteTTL       time.Duration // invitations
	MFATTL          time.Duration // between password and TOTP code
	VerifyTTL       time.Duration // email verification links (signup, new address)
	MFAAttempts     int           // wrong codes allowed per MFA step
	// Caps is the plan a signup gets.
	Caps keycab.Caps
	// Params are the argon2id parameters of new password hashes.
	Params passhash.Params
	Limits Limits
}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{
		BaseURL:         "http://127.0.0.1:8080",
		Issuer:          "keycab",
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 12 * time.Hour,
		ResetTTL:        30 * time.Minute,
		MagicTTL:        15 * time.Minute,
		InviteTTL:       7 * 24 * time.Hour,
		MFATTL:          5 * time.Minute,
		VerifyTTL:       24 * time.Hour,
		MFAAttempts:     5,
		Caps:            keycab.Caps{KeySets: 500, Sites: 50, Cabinets: 100, Members: 500},
		Params:          passhash.OWASP,
		Limits: Limits{
			LoginIP:      Limit{30, 5 * time.Minute},
			LoginAccount: Limit{10, 15 * time.Minute},
			EmailIP:      Limit{10, 15 * time.Minute},
			EmailAccount: Limit{3, 15 * time.Minute},
			SignupIP:     Limit{10, time.Hour},
		},
	}
}

// Service is HQ's authentication: accounts, sessions, tokens, MFA,
// invitations and rate limits, over the store.
type Service struct {
	st    *store.Store
	mail  mail.Mailer
	log   *slog.Logger
	now   func() time.Time
	cfg   Config
	dummy string // a hash to verify against when the account is unknown
	// ssoHTTP reaches identity providers (nil: a default client);
	// ssoProv caches their discovery documents and keys by issuer.
	ssoHTTP *http.Client
	ssoProv ssoProviders
}

// New returns a Service. A nil mailer records every message as a dry run
// in the delivery log and sends nothing; nil now means time.Now.
func New(st *store.Store, mailer mail.Mailer, log *slog.Logger, now func() time.Time, cfg Config) (*Service, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if now == nil {
		now = time.Now
	}
	dummy, err := passhash.Hash("keycab dummy password for timing", cfg.Params)
	if err != nil {
		return nil, fmt.Errorf("new auth service: %w", err)
	}
	return &Service{st: st, mail: mailer, log: log, now: now, cfg: cfg, dummy: dummy}, nil
}

// Config returns the service's settings.
func (s *Service) Config() Config { return s.cfg }

// Tokens are what a completed sign-in hands the client.
type Tokens struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	IdleTimeout  int       `json:"idle_timeout_seconds"`
	OrgID        string    `json:"org_id"`
	MemberID     string    `json:"member_id"`
}

// LoginResult is either Tokens or, when the account has MFA, an MFA token
// to present with a TOTP code.
type LoginResult struct {
	Tokens   *Tokens
	MFAToken string
}

// Principal is an authenticated session.
type Principal struct {
	AccountID string
	OrgID     string
	MemberID  string
	SessionID string
	FamilyID  string
	// Standing is the account's and member's when the session was
	// authenticated: Gate judges from it what the principal may do.
	Standing store.Standing
	// APIKey is the key a request was made with (AuthenticateAPI); nil
	// for a person's session. MemberID is then the key's id.
	APIKey *store.APIKey
}

// Allow is what a request needs of a principal's standing: every
// endpoint but a few needs a verified account that meets its
// organisation's MFA rule.
type Allow int

const (
	// AllowFull: a verified account, enrolled in MFA if its organisation
	// requires that of its role.
	AllowFull Allow = iota
	// AllowEnrol: a verified account, even one its organisation's rule
	// sends to MFA enrolment (enrolling, viewing oneself, signing out).
	AllowEnrol
	// AllowUnverified: any signed-in account (verifying, resending the
	// link, viewing oneself, signing out).
	AllowUnverified
)

// Refusals by Gate, for an account that must verify its address or
// enrol in MFA first.
var (
	ErrUnverified = keycab.Errorf(keycab.EFORBIDDEN,
		"verify your email address first: open the link we sent you, or ask for a new one (POST /v1/me/verify/resend)")
	ErrMFAEnrolment = keycab.Errorf(keycab.EFORBIDDEN,
		"your organisation requires two-step sign-in of owners and admins: set it up first (POST /v1/me/mfa/setup)")
)

// Gate returns nil if the principal may make a request that needs allow,
// or why not: ErrUnverified or ErrMFAEnrolment.
func (p Principal) Gate(allow Allow) error {
	switch {
	case p.APIKey != nil:
		return nil // a service account has no account to verify
	case allow < AllowUnverified && !p.Standing.Verified:
		return ErrUnverified
	case allow < AllowEnrol && p.Standing.NeedsMFA():
		return ErrMFAEnrolment
	}
	return nil
}

// Client is what a request says of the client: its address and user
// agent, kept with the sessions it signs in (the list of one's
// sessions).
type Client struct{ IP, UserAgent string }

type clientKey struct{}

// WithClient returns ctx carrying c, for the sessions made under it.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientOf(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// Scope returns the store scope the principal acts in.
func (p Principal) Scope() store.Scope {
	if p.APIKey != nil {
		return store.APIKeyScope(p.OrgID, p.APIKey.ID)
	}
	return store.MemberScope(p.OrgID, p.MemberID)
}

// LimitedError is a refusal by a rate limit.
type LimitedError struct{ RetryAfter time.Duration }

func (e *LimitedError) Error() string { return "rate limited" }

// Unwrap gives the keycab code: ELOCKED.
func (e *LimitedError) Unwrap() error {
	return keycab.Errorf(keycab.ELOCKED, "too many attempts; try again later")
}

var errBadLogin = keycab.Errorf(keycab.EUNAUTHORIZED, "wrong email or password")

func (s *Service) limit(ctx context.Context, what, key string, l Limit) error {
	if l.N <= 0 {
		return nil
	}
	n, reset, err := s.st.Accounts().HitRateLimit(ctx, what+":"+key, l.Window)
	if err != nil {
		return err
	}
	if n > l.N {
		s.log.Warn("rate limited", "limit", what, "count", n)
		return &LimitedError{RetryAfter: max(reset.Sub(s.now()), time.Second)}
	}
	return nil
}

// Signup is what a new organisation's owner supplies.
type Signup struct {
	OrgName  string `json:"org_name"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Signup creates an account, an organisation and its owner, and signs
// the owner in. An email already registered is ECONFLICT (sign in
// instead): signup, unlike login and reset, tells that an address is
// registered, as it must to be of use.
func (s *Service) Signup(ctx context.Context, in Signup, ip string) (Tokens, error) {
	return s.signup(ctx, in, ip, false)
}

// SignupTrusted is Signup for an address the operator vouches for (the
// demo organisation's owner, load-test owners): the account is verified
// at once and no verification link is sent.
func (s *Service) SignupTrusted(ctx context.Context, in Signup, ip string) (Tokens, error) {
	return s.signup(ctx, in, ip, true)
}

func (s *Service) signup(ctx context.Context, in Signup, ip string, trusted bool) (Tokens, error) {
	if err := s.limit(ctx, "signup:ip", ip, s.cfg.Limits.SignupIP); err != nil {
		return Tokens{}, err
	}
	if strings.TrimSpace(in.OrgName) == "" {
		return Tokens{}, keycab.Errorf(keycab.EINVALID, "an organisation needs a name")
	}
	if err := CheckPassword(in.Password); err != nil {
		return Tokens{}, err
	}
	hash, err := passhash.Hash(in.Password, s.cfg.Params)
	if err != nil {
		return Tokens{}, err
	}
	// The account, the organisation, its owner and their link are made in
	// one transaction: a crash leaves all or none of them.
	acct := &store.Account{Email: in.Email, Name: strings.TrimSpace(in.Name), PasswordHash: hash}
	if trusted {
		acct.VerifiedAt = s.now()
	}
	org, owner, err := s.st.CreateOrg(ctx, store.NewOrg{Name: in.OrgName, Caps: s.cfg.Caps,
		Owner: keycab.Member{Name: acct.Name}, Account: acct})
	if keycab.ErrorCode(err) == keycab.ECONFLICT {
		return Tokens{}, keycab.Errorf(keycab.ECONFLICT, "this email already has an account: sign in instead")
	} else if err != nil {
		return Tokens{}, err
	}
	s.log.Info("signup", "account", acct.ID, "org", org.ID)
	if !trusted {
		if err := s.sendVerify(ctx, *acct); err != nil {
			return Tokens{}, err
		}
	}
	return s.newSession(ctx, acct.ID, org.ID, owner.ID)
}

// Login checks an email and password and signs in to orgID (or the
// account's first organisation when empty), or asks for the MFA step.
func (s *Service) Login(ctx context.Context, email, password, orgID, ip string) (LoginResult, error) {
	email = store.NormalizeEmail(email)
	if err := s.limit(ctx, "login:ip", ip, s.cfg.Limits.LoginIP); err != nil {
		return LoginResult{}, err
	}
	if err := s.limit(ctx, "login:account", email, s.cfg.Limits.LoginAccount); err != nil {
		return LoginResult{}, err
	}
	acct, err := s.st.Accounts().AccountByEmail(ctx, email)
	if keycab.ErrorCode(err) == keycab.ENOTFOUND || (err == nil && acct.PasswordHash == "") {
		passhash.Verify(s.dummy, password) // the same work as for a known account
		s.log.Warn("failed login", "reason", "unknown account or no password", "ip", ip)
		return LoginResult{}, errBadLogin
	} else if err != nil {
		return LoginResult{}, err
	}
	if err := passhash.Verify(acct.PasswordHash, password); err != nil {
		s.log.Warn("failed login", "reason", "wrong password", "account", acct.ID, "ip", ip)
		return LoginResult{}, errBadLogin
	}
	return s.firstFactorDone(ctx, acct, orgID, viaPassword)
}

// firstFactorDone picks the membership and either signs in or, with MFA,
// issues the MFA step's token.
// via says how (viaPassword, viaMagic, viaSSO): an organisation that
// enforces SSO refuses the others (checkEnforced).
func (s *Service) firstFactorDone(ctx context.Context, acct store.Account, orgID, via string) (LoginResult, error) {
	ms, err := s.st.Accounts().Memberships(ctx, acct.ID)
	if err != nil {
		return LoginResult{}, err
	}
	var m *store.Membership
	for i := range ms {
		if orgID == "" || ms[i].OrgID == orgID {
			m = &ms[i]
			break
		}
	}
	if m == nil {
		s.log.Warn("denied login", "reason", "no membership", "account", acct.ID)
		return LoginResult{}, keycab.Errorf(keycab.EFORBIDDEN, "you are not a member of that organisation")
	}
	if err := s.checkEnforced(ctx, *m, via); err != nil {
		return LoginResult{}, err
	}
	if acct.MFA {
		tok := newToken(prefixMFA)
		if _, err := s.st.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: HashToken(tok), Purpose: store.PurposeMFA,
			AccountID: acct.ID, OrgID: m.OrgID, MemberID: m.MemberID, ExpiresAt: s.now().Add(s.cfg.MFATTL)}); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{MFAToken: tok}, nil
	}
	t, err := s.newSession(ctx, acct.ID, m.OrgID, m.MemberID)
	if err != nil {
		return LoginResult{}, err
	}
	s.log.Info("login", "account", acct.ID, "org", m.OrgID)
	return LoginResult{Tokens: &t}, nil
}

// VerifyMFA completes a login with a TOTP code. Each code works once; a
// few wrong codes use up the MFA token.
func (s *Service) VerifyMFA(ctx context.Context, mfaToken, code, ip string) (Tokens, error) {
	if err := s.limit(ctx, "login:ip", ip, s.cfg.Limits.LoginIP); err != nil {
		return Tokens{}, err
	}
	hash := HashToken(mfaToken)
	tok, err := s.st.Accounts().PeekAuthToken(ctx, store.PurposeMFA, hash)
	if err != nil {
		s.log.Warn("failed mfa", "reason", "unknown or expired step", "ip", ip)
		return Tokens{}, keycab.Errorf(keycab.EUNAUTHORIZED, "this sign-in has expired: start again")
	}
	acct, err := s.st.Accounts().GetAccount(ctx, tok.AccountID)
	if err != nil {
		return Tokens{}, err
	}
	if err := s.limit(ctx, "login:account", acct.Email, s.cfg.Limits.LoginAccount); err != nil {
		return Tokens{}, err
	}
	if err := s.secondFactor(ctx, acct.ID, code); err != nil {
		s.log.Warn("failed mfa", "reason", keycab.ErrorMessage(err), "account", acct.ID, "ip", ip)
		return Tokens{}, errors.Join(s.st.Accounts().FailAuthToken(ctx, tok.OrgID, tok.ID, s.cfg.MFAAttempts), err)
	}
	if _, err := s.st.Accounts().UseAuthToken(ctx, store.PurposeMFA, hash); err != nil {
		return Tokens{}, keycab.Errorf(keycab.EUNAUTHORIZED, "this sign-in has expired: start again")
	}
	s.log.Info("login", "account", acct.ID, "org", tok.OrgID, "mfa", true)
	return s.newSession(ctx, acct.ID, tok.OrgID, tok.MemberID)
}

// secondFactor checks code, a TOTP code of the account's secret or one of
// its recovery codes, and uses it up: each works once. A wrong or reused
// code is EUNAUTHORIZED.
func (s *Service) secondFactor(ctx context.Context, accountID, code string) error {
	code = strings.TrimSpace(code)
	if !isTOTPCode(code) {
		if err := s.st.Accounts().UseRecoveryCode(ctx, accountID, HashRecoveryCode(accountID, code)); err != nil {
			return err
		}
		s.log.Warn("recovery code used", "account", accountID)
		return nil
	}
	secret, _, err := s.st.Accounts().TOTPSecrets(ctx, accountID)
	if err != nil {
		return err
	}
	step, ok := CheckTOTP(secret, code, s.now())
	if !ok {
		return keycab.Errorf(keycab.EUNAUTHORIZED, "wrong code")
	}
	return s.st.Accounts().UseTOTPStep(ctx, accountID, step)
}

func (s *Service) newSession(ctx context.Context, accountID, orgID, memberID string) (Tokens, error) {
	access, refresh := newToken(prefixAccess), newToken(prefixRefresh)
	c := clientOf(ctx)
	ss, err := s.st.Accounts().CreateSession(ctx, store.Session{AccountID: accountID, OrgID: orgID, MemberID: memberID,
		AccessHash: HashToken(access), RefreshHash: HashToken(refresh), ExpiresAt: s.now().Add(s.cfg.AbsoluteTimeout),
		UserAgent: c.UserAgent, IP: c.IP})
	if err != nil {
		return Tokens{}, err
	}
	return s.tokens(access, refresh, ss), nil
}

func (s *Service) tokens(access, refresh string, ss store.Session) Tokens {
	return Tokens{AccessToken: access, RefreshToken: refresh, ExpiresAt: ss.ExpiresAt,
		IdleTimeout: int(s.cfg.IdleTimeout / time.Second), OrgID: ss.OrgID, MemberID: ss.MemberID}
}

var errNoSession = keycab.Errorf(keycab.EUNAUTHORIZED, "sign in first")

// live reports why a session no longer works, or nil.
func (s *Service) live(ss store.Session) error {
	now := s.now()
	switch {
	case !ss.RevokedAt.IsZero():
		return keycab.Errorf(keycab.EUNAUTHORIZED, "signed out")
	case !ss.RotatedAt.IsZero():
		return keycab.Errorf(keycab.EUNAUTHORIZED, "this token was refreshed")
	case !now.Before(ss.ExpiresAt):
		return keycab.Errorf(keycab.EUNAUTHORIZED, "session expired: sign in again")
	case now.Sub(ss.LastUsed) >= s.cfg.IdleTimeout:
		return keycab.Errorf(keycab.EUNAUTHORIZED, "session idle too long: sign in again")
	}
	return nil
}

// Authenticate resolves an access token to its principal.
func (s *Service) Authenticate(ctx context.Context, access string) (Principal, error) {
	if !strings.HasPrefix(access, prefixAccess) {
		return Principal{}, errNoSession
	}
	ss, err := s.st.Accounts().SessionByAccess(ctx, HashToken(access))
	if keycab.ErrorCode(err) == keycab.EUNAUTHORIZED {
		return Principal{}, errNoSession
	} else if err != nil {
		return Principal{}, err
	}
	if err := s.live(ss); err != nil {
		return Principal{}, err
	}
	if s.now().Sub(ss.LastUsed) > time.Minute {
		if err := s.st.Accounts().TouchSession(ctx, ss.OrgID, ss.ID); err != nil {
			return Principal{}, err
		}
	}
	return Principal{AccountID: ss.AccountID, OrgID: ss.OrgID, MemberID: ss.MemberID, SessionID: ss.ID, FamilyID: ss.FamilyID,
		Standing: ss.Standing}, nil
}

// Refresh exchanges a refresh token for a new pair. A refresh token used
// twice revokes its whole login (the thief's and the owner's sessions).
func (s *Service) Refresh(ctx context.Context, refresh, ip string) (Tokens, error) {
	if !strings.HasPrefix(refresh, prefixRefresh) {
		return Tokens{}, errNoSession
	}
	access, next := newToken(prefixAccess), newToken(prefixRefresh)
	c := clientOf(ctx)
	ss, err := s.st.Accounts().RotateSession(ctx, HashToken(refresh), store.Session{AccessHash: HashToken(access), RefreshHash: HashToken(next),
		UserAgent: c.UserAgent, IP: c.IP}, s.live)
	if errors.Is(err, store.ErrRefreshReused) {
		s.log.Warn("refresh token reuse: login revoked", "ip", ip)
		return Tokens{}, err
	} else if err != nil {
		if keycab.ErrorCode(err) == keycab.EUNAUTHORIZED {
			s.log.Warn("failed refresh", "ip", ip)
		}
		return Tokens{}, err
	}
	return s.tokens(access, next, ss), nil
}

// Logout ends the principal's login (every refreshed session of it).
func (s *Service) Logout(ctx context.Context, p Principal) error {
	return s.st.Accounts().RevokeFamily(ctx, p.OrgID, p.FamilyID)
}

// ChangePassword replaces the password after checking the current one,
// signs the account out everywhere, and signs this client in afresh.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string) (Tokens, error) {
	acct, err := s.st.Accounts().GetAccount(ctx, p.AccountID)
	if err != nil {
		return Tokens{}, err
	}
	if err := s.limit(ctx, "login:account", acct.Email, s.cfg.Limits.LoginAccount); err != nil {
		return Tokens{}, err
	}
	if acct.PasswordHash != "" {
		if err := passhash.Verify(acct.PasswordHash, current); err != nil {
			s.log.Warn("failed password change", "reason", "wrong password", "account", acct.ID)
			return Tokens{}, keycab.Errorf(keycab.EFORBIDDEN, "the current password is wrong")
		}
	}
	if err := s.setPassword(ctx, acct.ID, next); err != nil {
		return Tokens{}, err
	}
	s.log.Info("password changed; signed out everywhere", "account", acct.ID)
	return s.newSession(ctx, acct.ID, p.OrgID, p.MemberID)
}

func (s *Service) setPassword(ctx context.Context, accountID, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := passhash.Hash(password, s.cfg.Params)
	if err != nil {
		return err
	}
	if err := s.st.Accounts().SetPassword(ctx, accountID, hash); err != nil {
		return err
	}
	return errors.Join(s.st.Accounts().RevokeAuthTokens(ctx, accountID, store.PurposeReset), s.st.Accounts().RevokeAuthTokens(ctx, accountID, store.PurposeMagic))
}

func (s *Service) link(path, token string) string {
	return strings.TrimRight(s.cfg.BaseURL, "/") + path + "#token=" + url.QueryEscape(token)
}

// BaseURL is where HQ is reached (Config.BaseURL), without a trailing slash.
func (s *Service) BaseURL() string { return strings.TrimRight(s.cfg.BaseURL, "/") }

// RequestReset sends a password reset link if email has an account. The
// answer is the same for any address.
func (s *Service) RequestReset(ctx context.Context, email, ip string) error {
	return s.mailLink(ctx, email, ip, "password reset", store.PurposeReset, prefixReset, s.cfg.ResetTTL, func(l *i18n.Localizer, to, link string) mail.Message {
		return mail.Message{Kind: "reset", To: to, Subject: l.T("mail.reset.subject"),
			Body: paragraphs(l.T("mail.reset.asked"), l.T("mail.reset.intro", "TTL", l.Duration(s.cfg.ResetTTL)), link, l.T("mail.not_you"))}
	}, "/reset")
}

// mailLink sends a single-use link of purpose to email if it has an
// account; for an unknown address it only logs, so the answer is the same
// for any address. Both are rate-limited per IP and per address.
func (s *Service) mailLink(ctx context.Context, email, ip, what, purpose, prefix string, ttl time.Duration, compose func(l *i18n.Localizer, to, link string) mail.Message, path string) error {
	email = store.NormalizeEmail(email)
	if err := s.limit(ctx, "email:ip", ip, s.cfg.Limits.EmailIP); err != nil {
		return err
	}
	if err := s.limit(ctx, "email:account", email, s.cfg.Limits.EmailAccount); err != nil {
		return err
	}
	acct, err := s.st.Accounts().AccountByEmail(ctx, email)
	if keycab.ErrorCode(err) == keycab.ENOTFOUND {
		s.log.Info(what+" requested for an unknown address", "ip", ip)
		return nil
	} else if err != nil {
		return err
	}
	tok := newToken(prefix)
	if _, err := s.st.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: HashToken(tok), Purpose: purpose,
		AccountID: acct.ID, Email: acct.Email, ExpiresAt: s.now().Add(ttl)}); err != nil {
		return err
	}
	l, err := s.accountLanguage(ctx, acct.ID)
	if err != nil {
		return err
	}
	return s.send(ctx, compose(l, acct.Email, s.link(path, tok)))
}

// ConfirmReset sets a new password with a reset link's token, once, and
// signs the account out everywhere. It does not sign in, and leaves MFA
// as it was: the next login still needs the TOTP code.
func (s *Service) ConfirmReset(ctx context.Context, token, password, ip string) error {
	if err := s.limit(ctx, "login:ip", ip, s.cfg.Limits.LoginIP); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	tok, err := s.st.Accounts().PeekAuthToken(ctx, store.PurposeReset, HashToken(token))
	if err != nil {
		s.log.Warn("failed password reset", "reason", "invalid, used or expired link", "ip", ip)
		return err
	}
	if err := s.checkResetAllowed(ctx, tok.AccountID); err != nil {
		s.log.Warn("failed password reset", "reason", keycab.ErrorMessage(err), "account", tok.AccountID)
		return err
	}
	if tok, err = s.st.Accounts().UseAuthToken(ctx, store.PurposeReset, HashToken(token)); err != nil {
		s.log.Warn("failed password reset", "reason", "invalid, used or expired link", "ip", ip)
		return err
	}
	if err := s.setPassword(ctx, tok.AccountID, password); err != nil {
		return err
	}
	if err := s.st.Accounts().MarkVerified(ctx, tok.AccountID); err != nil { // the link reached the address
		return err
	}
	s.log.Info("password reset; signed out everywhere", "account", tok.AccountID)
	return nil
}

// RequestMagicLink sends a sign-in link if email has an account; the
// answer is the same for any address.
func (s *Service) RequestMagicLink(ctx context.Context, email, ip string) error {
	return s.mailLink(ctx, email, ip, "sign-in link", store.PurposeMagic, prefixMagic, s.cfg.MagicTTL, func(l *i18n.Localizer, to, link string) mail.Message {
		return mail.Message{Kind: "magic", To: to, Subject: l.T("mail.magic.subject"),
			Body: paragraphs(l.T("mail.magic.intro", "TTL", l.Duration(s.cfg.MagicTTL)), link, l.T("mail.not_you"))}
	}, "/magic")
}

// ConfirmMagicLink signs in with a sign-in link's token, once. With MFA
// the TOTP step still follows.
func (s *Service) ConfirmMagicLink(ctx context.Context, token, orgID, ip string) (LoginResult, error) {
	if err := s.limit(ctx, "login:ip", ip, s.cfg.Limits.LoginIP); err != nil {
		return LoginResult{}, err
	}
	tok, err := s.st.Accounts().UseAuthToken(ctx, store.PurposeMagic, HashToken(token))
	if err != nil {
		s.log.Warn("failed sign-in link", "reason", "invalid, used or expired link", "ip", ip)
		return LoginResult{}, err
	}
	if err := s.st.Accounts().MarkVerified(ctx, tok.AccountID); err != nil { // the link reached the address
		return LoginResult{}, err
	}
	acct, err := s.st.Accounts().GetAccount(ctx, tok.AccountID)
	if err != nil {
		return LoginResult{}, err
	}
	return s.firstFactorDone(ctx, acct, orgID, viaMagic)
}

// Invitation is what an inviter asks for.
type Invitation struct {
	Email   string      `json:"email"`
	Role    keycab.Role `json:"role"`
	SiteIDs []string    `json:"site_ids,omitempty"`
}

// Invite invites email to the principal's organisation with role, at
// in.SiteIDs. Nobody invites above their own role; a site manager invites
// staff and contractors only, to their own sites. The store checks the
// role and every site (one of the organisation's, within the inviter's
// scope) in the transaction that stores the invitation, and again when it
// is accepted, with the inviter's rights at that time; a refused
// invitation stores and mails nothing.
func (s *Service) Invite(ctx context.Context, p Principal, in Invitation) (store.AuthToken, error) {
	inviter, err := s.st.GetMember(ctx, p.Scope(), p.MemberID)
	if err != nil {
		return store.AuthToken{}, err
	}
	if err := in.Role.Validate(); err != nil {
		return store.AuthToken{}, err
	}
	email := store.NormalizeEmail(in.Email)
	if !strings.Contains(email, "@") {
		return store.AuthToken{}, keycab.Errorf(keycab.EINVALID, "an invitation needs an email address")
	}
	switch {
	case !inviter.Role.AtLeast(in.Role):
		s.log.Warn("denied invite", "reason", "role above inviter's", "account", p.AccountID, "org", p.OrgID, "role", in.Role)
		return store.AuthToken{}, keycab.Errorf(keycab.EFORBIDDEN, "a %s cannot invite a %s", inviter.Role, in.Role)
	case inviter.Role == keycab.RoleOwner || inviter.Role == keycab.RoleAdmin:
	case inviter.Role == keycab.RoleSiteManager && (in.Role == keycab.RoleStaff || in.Role == keycab.RoleContractor):
	default:
		s.log.Warn("denied invite", "reason", "role may not invite", "account", p.AccountID, "org", p.OrgID, "role", in.Role)
		return store.AuthToken{}, keycab.Errorf(keycab.EFORBIDDEN, "a %s cannot invite a %s", inviter.Role, in.Role)
	}
	org, err := s.st.GetOrg(ctx, p.Scope())
	if err != nil {
		return store.AuthToken{}, err
	}
	tok := newToken(prefixInvite)
	inv, err := s.st.Accounts().CreateInvite(ctx, p.Scope(), store.AuthToken{Hash: HashToken(tok),
		Email: email, Role: in.Role, SiteIDs: in.SiteIDs, ExpiresAt: s.now().Add(s.cfg.InviteTTL)})
	if err != nil {
		if c := keycab.ErrorCode(err); c == keycab.EFORBIDDEN || c == keycab.ENOTFOUND {
			s.log.Warn("denied invite", "reason", keycab.ErrorMessage(err), "account", p.AccountID, "org", p.OrgID, "role", in.Role)
		}
		return store.AuthToken{}, err
	}
	inv.Hash = nil
	l, err := s.inviteLanguage(ctx, p, email, in.SiteIDs)
	if err != nil {
		return inv, err
	}
	err = s.send(ctx, mail.Message{Kind: "invite", OrgID: p.OrgID, To: email, Subject: l.T("mail.invite.subject", "Org", org.Name),
		Body: paragraphs(l.T("mail.invite.intro", "Name", inviter.Name, "Org", org.Name, "Role", keycab.RoleWordsIn(l, in.Role)),
			l.T("mail.invite.accept", "TTL", l.Duration(s.cfg.InviteTTL)), s.link("/invite", tok))})
	return inv, err
}

// Accept is what an invitee supplies when not signed in: their name and
// a password for the new account.
type Accept struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// AcceptInvite accepts an invitation, once. A signed-in caller (non-nil
// p) must be signed in with the invited email; otherwise the invitation
// makes a new account, and an invited email that already has an account
// must sign in first. The member is created with the inviter's rights at
// this moment (store.CreateMember), so an inviter since demoted cannot
// grant more than they now hold.
func (s *Service) AcceptInvite(ctx context.Context, in Accept, p *Principal, ip string) (Tokens, error) {
	if err := s.limit(ctx, "login:ip", ip, s.cfg.Limits.LoginIP); err != nil {
		return Tokens{}, err
	}
	hash := HashToken(in.Token)
	inv, err := s.st.Accounts().PeekAuthToken(ctx, store.PurposeInvite, hash)
	if err != nil {
		s.log.Warn("failed invite acceptance", "reason", "invalid, used or expired link", "ip", ip)
		return Tokens{}, err
	}
	var acct store.Account
	if p != nil {
		if acct, err = s.st.Accounts().GetAccount(ctx, p.AccountID); err != nil {
			return Tokens{}, err
		}
		if acct.Email != inv.Email {
			s.log.Warn("denied invite acceptance", "reason", "signed in with another email", "account", acct.ID, "ip", ip)
			return Tokens{}, keycab.Errorf(keycab.EFORBIDDEN, "this invitation is for another email address")
		}
		ms, err := s.st.Accounts().Memberships(ctx, acct.ID)
		if err != nil {
			return Tokens{}, err
		}
		for _, m := range ms {
			if m.OrgID == inv.OrgID {
				return Tokens{}, keycab.Errorf(keycab.ECONFLICT, "you are already a member of this organisation")
			}
		}
	} else {
		if _, err := s.st.Accounts().AccountByEmail(ctx, inv.Email); err == nil {
			return Tokens{}, keycab.Errorf(keycab.EUNAUTHORIZED, "this email already has an account: sign in, then accept the invitation")
		} else if keycab.ErrorCode(err) != keycab.ENOTFOUND {
			return Tokens{}, err
		}
		if err := CheckPassword(in.Password); err != nil {
			return Tokens{}, err
		}
	}
	if p == nil {
		h, err := passhash.Hash(in.Password, s.cfg.Params)
		if err != nil {
			return Tokens{}, err
		}
		// The invitation's link reached the address: it is verified.
		acct = store.Account{Email: inv.Email, Name: in.Name, PasswordHash: h, VerifiedAt: s.now()}
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = acct.Name
	}
	// The token, the account (when new), the member and their link in
	// one transaction, run as the inviter: all or nothing.
	m, err := s.st.Accounts().AcceptInvite(ctx, hash, store.MemberScope(inv.OrgID, inv.MemberID), &acct,
		keycab.Member{OrgID: inv.OrgID, Name: name, Email: inv.Email, Role: inv.Role, SiteIDs: inv.SiteIDs})
	if err != nil {
		s.log.Warn("denied invite acceptance", "reason", keycab.ErrorMessage(err), "account", acct.ID, "org", inv.OrgID)
		return Tokens{}, err
	}
	s.log.Info("invitation accepted", "account", acct.ID, "org", inv.OrgID, "member", m.ID, "role", m.Role)
	return s.newSession(ctx, acct.ID, inv.OrgID, m.ID)
}

// BeginTOTP starts MFA enrolment: a new secret, pending until EnableTOTP
// confirms a code of it. Returns the secret in base32 and as an
// otpauth:// URI.
func (s *Service) BeginTOTP(ctx context.Context, p Principal) (key, uri string, err error) {
	acct, err := s.st.Accounts().GetAccount(ctx, p.AccountID)
	if err != nil {
		return "", "", err
	}
	if acct.MFA {
		return "", "", keycab.Errorf(keycab.ECONFLICT, "MFA is already on")
	}
	secret := NewTOTPSecret()
	if err := s.st.Accounts().SetPendingTOTP(ctx, acct.ID, secret); err != nil {
		return "", "", err
	}
	return TOTPKey(secret), TOTPURI(s.cfg.Issuer, acct.Email, secret), nil
}

// EnableTOTP turns MFA on once code matches the pending secret, and
// returns the account's new recovery codes: shown this once, stored
// only as hashes.
func (s *Service) EnableTOTP(ctx context.Context, p Principal, code string) ([]string, error) {
	_, pending, err := s.st.Accounts().TOTPSecrets(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	if pending == nil {
		return nil, keycab.Errorf(keycab.EINVALID, "start MFA enrolment first")
	}
	step, ok := CheckTOTP(pending, strings.TrimSpace(code), s.now())
	if !ok {
		return nil, keycab.Errorf(keycab.EINVALID, "wrong code")
	}
	codes, hashes := newRecoveryCodes(p.AccountID)
	if err := s.st.Accounts().EnableTOTP(ctx, p.AccountID, step, hashes); err != nil {
		return nil, err
	}
	s.log.Info("mfa enabled", "account", p.AccountID)
	return codes, nil
}

// send delivers m through the mailer (or as a dry run) and records it in
// the delivery log; the body is never logged or stored.
func (s *Service) send(ctx context.Context, m mail.Message) error {
	d, err := s.st.Accounts().RecordDelivery(ctx, mail.Attempt(ctx, s.mail, m))
	if err != nil {
		return err
	}
	s.log.Info("email", "kind", m.Kind, "delivery", d.ID, "status", d.Status)
	return nil
}

// MailPass sends an offline pass to its holder at to: a mail the
// dashboard composed in the holder's language once the store gave it the
// pass's code (store.Store.PassCode checks who may), with the code's QR
// image attached. It is in the delivery log like every mail HQ sends; the
// body and image, which carry the pass, are not.
func (s *Service) MailPass(ctx context.Context, orgID, to, subject, body string, qrPNG []byte) error {
	return s.send(ctx, mail.Message{Kind: "pass", OrgID: orgID, To: to, Subject: subject, Body: body,
		Attachments: []mail.Attachment{{Name: "keycab-pass.png", ContentType: "image/png", Data: qrPNG}}})
}
