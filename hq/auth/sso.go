package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// Single sign-on with OpenID Connect, per organisation (store sso.go
// keeps the configuration). The flow is the authorization code flow with
// PKCE: SSOStart makes a random state (prefixed with the organisation's
// id) and a random binding secret that the browser keeps in a cookie;
// the store records both hashes, used once within SSOTTL. The nonce and
// the PKCE verifier are derived from the binding secret and the state,
// so only the browser that started a sign-in can finish it. SSOCallback
// uses the state up, checks the binding, exchanges the code (x/oauth2)
// and verifies the ID token with go-oidc: signature against the
// issuer's keys, issuer, audience (the client id), expiry and the nonce.
// The token must say email_verified, and the address must be in one of
// the organisation's verified domains; the store then makes or updates
// the member (SSOJoin) with the role its groups map to.
//
// MFA: an SSO sign-in is a first factor like a password. The identity
// provider's own MFA is what organisations should rely on (configure it
// there); keycab's TOTP, if the account has it on, is asked as well,
// and the organisation's rule requiring MFA of owners and admins applies
// to SSO sessions as to any other.

// SSOTTL is how long a sign-in may take between HQ and the provider.
const SSOTTL = 10 * time.Minute

// SSOCallbackPath is the redirect URI's path, under Config.BaseURL.
const SSOCallbackPath = "/sso/callback"

var errSSOState = keycab.Errorf(keycab.EUNAUTHORIZED, "this sign-in is unknown, used or expired: start again")

type ssoProviders struct {
	mu sync.Mutex
	m  map[string]*oidc.Provider
}

// SetSSOClient sets the HTTP client HQ reaches identity providers with
// (discovery, keys, the token endpoint); nil is a client with a 15 s
// timeout.
func (s *Service) SetSSOClient(c *http.Client) { s.ssoHTTP = c }

func (s *Service) ssoContext(ctx context.Context) context.Context {
	c := s.ssoHTTP
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	return oidc.ClientContext(ctx, c)
}

func (s *Service) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	s.ssoProv.mu.Lock()
	defer s.ssoProv.mu.Unlock()
	if p := s.ssoProv.m[issuer]; p != nil {
		return p, nil
	}
	p, err := oidc.NewProvider(s.ssoContext(ctx), issuer)
	if err != nil {
		s.log.Warn("sso provider discovery failed", "issuer", issuer, "err", err)
		return nil, keycab.Errorf(keycab.EUNAVAILABLE, "the organisation's identity provider cannot be reached: try again later")
	}
	if s.ssoProv.m == nil {
		s.ssoProv.m = map[string]*oidc.Provider{}
	}
	s.ssoProv.m[issuer] = p
	return p, nil
}

func (s *Service) oauthConfig(p *oidc.Provider, c store.SSOConfig, secret string) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	if c.GroupsClaim == "groups" {
		scopes = append(scopes, "groups")
	}
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: s.BaseURL() + SSOCallbackPath, Scopes: scopes}
}

func derive(what, bind, state string) string {
	h := sha256.Sum256([]byte("keycab sso " + what + "\x00" + bind + "\x00" + state))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func hashString(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// SSOOrg finds the organisation to sign in to: orgID itself when given,
// else the one whose SSO vouches for email's domain.
func (s *Service) SSOOrg(ctx context.Context, orgID, email string) (string, error) {
	if orgID = strings.TrimSpace(orgID); orgID != "" {
		return orgID, nil
	}
	email = store.NormalizeEmail(email)
	at := strings.LastIndex(email, "@")
	if at < 0 {
		return "", keycab.Errorf(keycab.EINVALID, "type your work email address (or your organisation's id)")
	}
	return s.st.Accounts().SSOOrgByDomain(ctx, email[at+1:])
}

// SSOStart begins a sign-in to orgID: it answers the provider's
// authorization URL to send the browser to, and the binding secret the
// browser must keep (a cookie) and present at the callback.
func (s *Service) SSOStart(ctx context.Context, orgID, ip string) (authURL, bind string, err error) {
	if err := s.limit(ctx, "sso:ip", ip, s.cfg.Limits.LoginIP); err != nil { // counted apart from the callback's sign-in
		return "", "", err
	}
	c, secret, err := s.st.Accounts().SSOProvider(ctx, orgID)
	if keycab.ErrorCode(err) == keycab.ENOTFOUND {
		return "", "", keycab.Errorf(keycab.ENOTFOUND, "this organisation has no single sign-on configured")
	} else if err != nil {
		return "", "", err
	}
	p, err := s.provider(ctx, c.Issuer)
	if err != nil {
		return "", "", err
	}
	state, bind := orgID+"."+rand.Text(), rand.Text()+rand.Text()
	if err := s.st.Accounts().CreateSSOLogin(ctx, orgID, hashString(state), hashString(bind), s.now().Add(SSOTTL)); err != nil {
		return "", "", err
	}
	u := s.oauthConfig(p, c, secret).AuthCodeURL(state, oidc.Nonce(derive("nonce", bind, state)),
		oauth2.S256ChallengeOption(derive("pkce", bind, state)))
	return u, bind, nil
}

// SSOCallback finishes a sign-in: the browser's binding secret, and the
// state and code the provider redirected it with. It answers the
// session, or the TOTP step when the account has keycab MFA on.
func (s *Service) SSOCallback(ctx context.Context, bind, state, code, ip string) (LoginResult, error) {
	if err := s.limit(ctx, "login:ip", ip, s.cfg.Limits.LoginIP); err != nil {
		return LoginResult{}, err
	}
	orgID, _, ok := strings.Cut(state, ".")
	if !ok || orgID == "" || bind == "" || code == "" {
		s.log.Warn("failed sso sign-in", "reason", "malformed callback", "ip", ip)
		return LoginResult{}, errSSOState
	}
	stored, err := s.st.Accounts().UseSSOLogin(ctx, orgID, hashString(state))
	if err != nil {
		s.log.Warn("failed sso sign-in", "reason", "unknown, used or expired state", "ip", ip)
		return LoginResult{}, errSSOState
	}
	if subtle.ConstantTimeCompare(stored, hashString(bind)) != 1 {
		s.log.Warn("failed sso sign-in", "reason", "state of another browser", "org", orgID, "ip", ip)
		return LoginResult{}, errSSOState
	}
	c, secret, err := s.st.Accounts().SSOProvider(ctx, orgID)
	if err != nil {
		return LoginResult{}, err
	}
	p, err := s.provider(ctx, c.Issuer)
	if err != nil {
		return LoginResult{}, err
	}
	octx := s.ssoContext(ctx)
	tok, err := s.oauthConfig(p, c, secret).Exchange(octx, code, oauth2.VerifierOption(derive("pkce", bind, state)))
	if err != nil {
		s.log.Warn("failed sso sign-in", "reason", "code exchange", "org", orgID, "err", err)
		return LoginResult{}, keycab.Errorf(keycab.EUNAUTHORIZED, "the identity provider refused the sign-in: start again")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return LoginResult{}, keycab.Errorf(keycab.EUNAUTHORIZED, "the identity provider sent no ID token")
	}
	idt, err := p.VerifierContext(octx, &oidc.Config{ClientID: c.ClientID, Now: s.now}).Verify(octx, raw)
	if err != nil {
		s.log.Warn("failed sso sign-in", "reason", "ID token refused", "org", orgID, "err", err, "ip", ip)
		return LoginResult{}, keycab.Errorf(keycab.EUNAUTHORIZED, "the ID token is not valid: %v", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(derive("nonce", bind, state))) != 1 {
		s.log.Warn("failed sso sign-in", "reason", "nonce mismatch", "org", orgID, "ip", ip)
		return LoginResult{}, keycab.Errorf(keycab.EUNAUTHORIZED, "the ID token was not made for this sign-in")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return LoginResult{}, keycab.Errorf(keycab.EUNAUTHORIZED, "the ID token's claims do not parse")
	}
	email, _ := claims["email"].(string)
	if verified, _ := claims["email_verified"].(bool); !verified || email == "" {
		s.log.Warn("failed sso sign-in", "reason", "email not verified", "org", orgID, "ip", ip)
		return LoginResult{}, keycab.Errorf(keycab.EFORBIDDEN, "your identity provider does not vouch for your email address (email_verified)")
	}
	name, _ := claims["name"].(string)
	if name == "" {
		name, _ = claims["preferred_username"].(string)
	}
	ms, err := s.st.Accounts().SSOJoin(ctx, orgID, store.SSOIdentity{Email: email, Name: name, Groups: groupsOf(claims[c.GroupsClaim])})
	if err != nil {
		s.log.Warn("denied sso sign-in", "reason", keycab.ErrorMessage(err), "org", orgID, "ip", ip)
		return LoginResult{}, err
	}
	acct, err := s.st.Accounts().GetAccount(ctx, ms.AccountID)
	if err != nil {
		return LoginResult{}, err
	}
	s.log.Info("sso sign-in", "account", acct.ID, "org", orgID)
	return s.firstFactorDone(ctx, acct, orgID, viaSSO)
}

func groupsOf(v any) []string {
	switch g := v.(type) {
	case string:
		return strings.Fields(strings.ReplaceAll(g, ",", " "))
	case []any:
		var out []string
		for _, x := range g {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// How a first factor was shown, for enforced SSO.
const (
	viaPassword = "password"
	viaMagic    = "magic link"
	viaSSO      = "sso"
)

var errSSOEnforced = keycab.Errorf(keycab.EFORBIDDEN, "your organisation signs in with single sign-on: use “Sign in with SSO”")

// checkEnforced refuses a sign-in other than by SSO to an organisation
// that enforces SSO, but an owner's password sign-in (break-glass),
// which it records in the admin log.
func (s *Service) checkEnforced(ctx context.Context, m store.Membership, via string) error {
	if via == viaSSO {
		return nil
	}
	enforced, role, err := s.st.Accounts().SSOEnforced(ctx, m.OrgID, m.MemberID)
	if err != nil || !enforced {
		return err
	}
	if role == keycab.RoleOwner && via == viaPassword {
		s.log.Warn("break-glass sign-in while SSO is enforced", "org", m.OrgID, "member", m.MemberID)
		return s.st.Accounts().LogBreakGlass(ctx, m.OrgID, m.MemberID, via)
	}
	s.log.Warn("denied login", "reason", "sso enforced", "via", via, "org", m.OrgID, "member", m.MemberID)
	return errSSOEnforced
}

// checkResetAllowed refuses a password reset to an account that is a
// member other than an owner of an organisation enforcing SSO.
func (s *Service) checkResetAllowed(ctx context.Context, accountID string) error {
	ms, err := s.st.Accounts().Memberships(ctx, accountID)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range ms {
		enforced, role, err := s.st.Accounts().SSOEnforced(ctx, m.OrgID, m.MemberID)
		if err != nil {
			errs = append(errs, err)
		} else if enforced && role != keycab.RoleOwner {
			return fmt.Errorf("password reset: %w", errSSOEnforced)
		}
	}
	return errors.Join(errs...)
}
