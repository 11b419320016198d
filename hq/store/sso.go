package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// Single sign-on with OpenID Connect (migration 0026; the flow is in
// hq/auth sso.go). An organisation's owners configure one identity
// provider: its issuer, the client id and secret HQ is registered with
// (the secret sealed under the notes key and never answered), the email
// domains it vouches for (each domain belongs to one organisation), the
// claim that carries a person's groups and which keycab role (and site
// scope) each group value gives, and whether SSO is enforced.

// SSORoleMap gives the members in IdP group Group role Role, at SiteIDs
// (empty: every site).
type SSORoleMap struct {
	Group   string      `json:"group"`
	Role    keycab.Role `json:"role"`
	SiteIDs []string    `json:"site_ids,omitempty"`
}

// SSOConfig is an organisation's OpenID Connect provider, without its
// client secret.
type SSOConfig struct {
	OrgID       string
	Issuer      string
	ClientID    string
	Domains     []string
	GroupsClaim string
	Roles       []SSORoleMap
	Enforce     bool
	UpdatedAt   time.Time
}

// logged is c as the admin log records it (no secret).
func (c SSOConfig) logged() any {
	return struct {
		Issuer      string       `json:"issuer"`
		ClientID    string       `json:"client_id"`
		Domains     []string     `json:"domains"`
		GroupsClaim string       `json:"groups_claim"`
		Roles       []SSORoleMap `json:"roles"`
		Enforce     bool         `json:"enforce"`
	}{c.Issuer, c.ClientID, c.Domains, c.GroupsClaim, c.Roles, c.Enforce}
}

// CheckIssuer checks an issuer URL: https, or http only to a loopback
// host (a provider on the same machine, as in tests and development).
func CheckIssuer(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return invalid("the issuer must be a URL such as https://login.example.com")
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return invalid("the issuer must be a URL with a host and no user, query or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return invalid("the issuer must use https (http only for a provider on this machine)")
		}
	default:
		return invalid("the issuer must use https")
	}
	if len(raw) > 500 {
		return invalid("the issuer is longer than 500 characters")
	}
	return nil
}

// checkSSO normalises and checks c's fields.
func (t *tx) checkSSO(ctx context.Context, c *SSOConfig) error {
	c.Issuer, c.ClientID, c.GroupsClaim = strings.TrimSpace(c.Issuer), strings.TrimSpace(c.ClientID), strings.TrimSpace(c.GroupsClaim)
	if err := CheckIssuer(c.Issuer); err != nil {
		return err
	}
	if c.ClientID == "" || len(c.ClientID) > 200 {
		return invalid("the client id is empty or longer than 200 characters")
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = "groups"
	}
	if len(c.GroupsClaim) > 100 {
		return invalid("the groups claim name is longer than 100 characters")
	}
	var doms []string
	for _, d := range c.Domains {
		d = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(d), "@")))
		if d == "" {
			continue
		}
		if !strings.Contains(d, ".") || strings.ContainsAny(d, "@/: ") || len(d) > 253 {
			return invalid("%q is not an email domain (such as example.com)", d)
		}
		if !slices.Contains(doms, d) {
			doms = append(doms, d)
		}
	}
	if len(doms) == 0 {
		return invalid("name at least one verified email domain")
	}
	if len(doms) > 20 {
		return invalid("at most 20 domains")
	}
	slices.Sort(doms)
	c.Domains = doms
	if len(c.Roles) > 100 {
		return invalid("at most 100 group mappings")
	}
	for i := range c.Roles {
		m := &c.Roles[i]
		m.Group = strings.TrimSpace(m.Group)
		if m.Group == "" {
			return invalid("a group mapping needs a group value")
		}
		if err := m.Role.Validate(); err != nil {
			return err
		}
		if m.Role == keycab.RoleOwner || m.Role == keycab.RoleKiosk {
			return invalid("a group cannot give the %s role: owners are made in keycab", m.Role)
		}
		m.SiteIDs = dedupe(m.SiteIDs)
		for _, site := range m.SiteIDs {
			if n, err := t.count(ctx, "SELECT count(*) FROM sites WHERE org_id = $1 AND id = $2", t.org(), site); err != nil {
				return err
			} else if n == 0 {
				return notFound("site", site)
			}
		}
	}
	return nil
}

func ssoAD(orgID string) []byte { return []byte("keycab sso client secret v1\x00" + orgID) }

func (t *tx) ssoConfig(ctx context.Context) (SSOConfig, []byte, error) {
	c := SSOConfig{OrgID: t.org()}
	var doms, roles string
	var updated int64
	var secret []byte
	err := t.queryRow(ctx, `SELECT issuer, client_id, client_secret, domains, groups_claim, role_map, enforce, updated_us
		FROM sso_configs WHERE org_id = $1`, t.org()).Scan(&c.Issuer, &c.ClientID, &secret, &doms, &c.GroupsClaim, &roles, &c.Enforce, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil, keycab.Errorf(keycab.ENOTFOUND, "this organisation has no single sign-on configured")
	} else if err != nil {
		return c, nil, err
	}
	c.Domains, c.UpdatedAt = strings.Fields(doms), fromUS(updated)
	if err := json.Unmarshal([]byte(roles), &c.Roles); err != nil {
		return c, nil, err
	}
	return c, secret, nil
}

// GetSSOConfig returns the organisation's SSO configuration. Owners only.
func (s *Accounts) GetSSOConfig(ctx context.Context, sc Scope) (SSOConfig, error) {
	var c SSOConfig
	err := s.store().read(ctx, "get sso config", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleOwner || t.p.apiKey != "" {
			return forbidden("single sign-on is configured by owners")
		}
		var err error
		c, _, err = t.ssoConfig(ctx)
		return err
	})
	return c, err
}

// SetSSOConfig creates or replaces the organisation's SSO configuration.
// An empty secret keeps the stored one (a first configuration needs
// one). Owners only; in the admin log with before and after, never the
// secret. A domain another organisation has claimed is ECONFLICT.
func (s *Accounts) SetSSOConfig(ctx context.Context, sc Scope, c SSOConfig, secret string) (SSOConfig, error) {
	err := s.store().write(ctx, "set sso config", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleOwner || t.p.apiKey != "" {
			return forbidden("single sign-on is configured by owners")
		}
		if err := t.checkSSO(ctx, &c); err != nil {
			return err
		}
		before, sealed, err := t.ssoConfig(ctx)
		exists := err == nil
		if err != nil && keycab.ErrorCode(err) != keycab.ENOTFOUND {
			return err
		}
		if secret = strings.TrimSpace(secret); secret != "" {
			if len(secret) > 1000 {
				return invalid("the client secret is longer than 1000 characters")
			}
			if t.s.notes == nil {
				return keycab.Errorf(keycab.EUNAVAILABLE, "single sign-on needs HQ's notes key to seal the client secret, and this HQ has none configured")
			}
			if sealed, err = t.s.notes.seal([]byte(secret), ssoAD(t.org())); err != nil {
				return err
			}
		} else if !exists {
			return invalid("a new configuration needs the client secret")
		}
		c.OrgID, c.UpdatedAt = t.org(), t.now
		roles, err := json.Marshal(c.Roles)
		if err != nil {
			return err
		}
		if c.Roles == nil {
			roles = []byte("[]")
		}
		if _, err := t.exec(ctx, "DELETE FROM sso_configs WHERE org_id = $1", t.org()); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO sso_configs (org_id, issuer, client_id, client_secret, domains, groups_claim, role_map, enforce, updated_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, t.org(), c.Issuer, c.ClientID, sealed, strings.Join(c.Domains, " "),
			c.GroupsClaim, string(roles), c.Enforce, us(t.now)); err != nil {
			return err
		}
		if err := t.setSSODomains(ctx, c.Domains); err != nil {
			return err
		}
		var b any
		if exists {
			b = before.logged()
		}
		return t.logChange(ctx, "sso.configure", t.org(), b, c.logged())
	})
	return c, err
}

func (t *tx) setSSODomains(ctx context.Context, domains []string) error {
	if _, err := t.exec(ctx, "DELETE FROM sso_domains WHERE org_id = $1", t.org()); err != nil {
		return err
	}
	for _, d := range domains {
		err := t.savepoint(ctx, func() error {
			_, err := t.exec(ctx, "INSERT INTO sso_domains (domain, org_id) VALUES ($1, $2)", d, t.org())
			return err
		})
		if keycab.ErrorCode(t.s.classify(err)) == keycab.ECONFLICT {
			return keycab.Errorf(keycab.ECONFLICT, "the domain %s is another organisation's", d)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// DeleteSSOConfig removes the organisation's SSO configuration (and so
// its enforcement). Owners only; in the admin log.
func (s *Accounts) DeleteSSOConfig(ctx context.Context, sc Scope) error {
	return s.store().write(ctx, "delete sso config", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleOwner || t.p.apiKey != "" {
			return forbidden("single sign-on is configured by owners")
		}
		before, _, err := t.ssoConfig(ctx)
		if err != nil {
			return err
		}
		for _, q := range []string{"DELETE FROM sso_domains WHERE org_id = $1", "DELETE FROM sso_logins WHERE org_id = $1",
			"DELETE FROM sso_configs WHERE org_id = $1"} {
			if _, err := t.exec(ctx, q, t.org()); err != nil {
				return err
			}
		}
		return t.logChange(ctx, "sso.delete", t.org(), before.logged(), nil)
	})
}

// SSOOrgByDomain returns the organisation whose SSO vouches for an email
// domain, for HQ (a sign-in by address); ENOTFOUND when none does.
func (s *Accounts) SSOOrgByDomain(ctx context.Context, domain string) (string, error) {
	var orgID string
	err := s.store().global(ctx, "sso org by domain", false, func(ctx context.Context, t *tx) error {
		err := t.queryRow(ctx, t.byEngine("SELECT org_id FROM sso_domains WHERE domain = $1",
			"SELECT * FROM keycab_sso_domain_org($1)"), strings.ToLower(strings.TrimSpace(domain))).Scan(&orgID)
		if errors.Is(err, sql.ErrNoRows) {
			return keycab.Errorf(keycab.ENOTFOUND, "no organisation signs in with SSO for this address")
		}
		return err
	})
	return orgID, err
}

// SSOProvider returns an organisation's configuration and its opened
// client secret, for HQ's sign-in flow.
func (s *Accounts) SSOProvider(ctx context.Context, orgID string) (SSOConfig, string, error) {
	var c SSOConfig
	var secret []byte
	err := s.store().tenant(ctx, "sso provider", orgID, false, func(ctx context.Context, t *tx) error {
		t.p = principal{org: orgID}
		var sealed []byte
		var err error
		if c, sealed, err = t.ssoConfig(ctx); err != nil {
			return err
		}
		secret, err = t.s.notes.open(sealed, ssoAD(orgID), "sso client secret")
		return err
	})
	return c, string(secret), err
}

// CreateSSOLogin records a sign-in under way: the hashes of its state
// and of the browser's binding secret, until expires.
func (s *Accounts) CreateSSOLogin(ctx context.Context, orgID string, stateHash, bindHash []byte, expires time.Time) error {
	return s.store().tenant(ctx, "create sso login", orgID, true, func(ctx context.Context, t *tx) error {
		t.p = principal{org: orgID}
		if _, err := t.exec(ctx, "DELETE FROM sso_logins WHERE org_id = $1 AND expires_us < $2", orgID, us(t.now.Add(-time.Hour))); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO sso_logins (org_id, state_hash, bind_hash, created_us, expires_us) VALUES ($1, $2, $3, $4, $5)`,
			orgID, stateHash, bindHash, us(t.now), us(expires))
		return err
	})
}

// UseSSOLogin uses up the sign-in under way whose state hashes to
// stateHash and answers its binding hash. A used, expired or unknown
// state is EUNAUTHORIZED.
func (s *Accounts) UseSSOLogin(ctx context.Context, orgID string, stateHash []byte) ([]byte, error) {
	var bind []byte
	err := s.store().tenant(ctx, "use sso login", orgID, true, func(ctx context.Context, t *tx) error {
		t.p = principal{org: orgID}
		err := t.queryRow(ctx, `UPDATE sso_logins SET used_us = $1 WHERE org_id = $2 AND state_hash = $3 AND used_us = 0 AND expires_us > $1
			RETURNING bind_hash`, us(t.now), orgID, stateHash).Scan(&bind)
		if errors.Is(err, sql.ErrNoRows) {
			return keycab.Errorf(keycab.EUNAUTHORIZED, "this sign-in is unknown, used or expired: start again")
		}
		return err
	})
	return bind, err
}

// SSOIdentity is what a verified ID token says of a person.
type SSOIdentity struct {
	Email  string
	Name   string
	Groups []string
}

// mapRole returns the highest role the groups give, and its sites.
func (c SSOConfig) mapRole(groups []string) (SSORoleMap, bool) {
	var best SSORoleMap
	found := false
	for _, m := range c.Roles {
		if slices.Contains(groups, m.Group) && (!found || m.Role.AtLeast(best.Role) && best.Role != m.Role) {
			best, found = m, true
		}
	}
	return best, found
}

// SSOJoin signs id in to the organisation after HQ verified its ID
// token: an account and a member are made on the first sign-in (just in
// time), with the role the groups claim maps to (an account that is a
// member of another organisation is refused: invite it instead); a member's role and
// sites follow the mapping at each later sign-in (an owner stays an
// owner). The address counts as verified. Groups that map to no role
// are EFORBIDDEN, as is a disabled or erased member. In the admin log:
// sso.join and sso.role (before and after).
func (s *Accounts) SSOJoin(ctx context.Context, orgID string, id SSOIdentity) (Membership, error) {
	email := NormalizeEmail(id.Email)
	ms := Membership{OrgID: orgID}
	err := s.store().tenant(ctx, "sso sign-in", orgID, true, func(ctx context.Context, t *tx) error {
		t.p = principal{org: orgID}
		c, _, err := t.ssoConfig(ctx)
		if err != nil {
			return err
		}
		at := strings.LastIndex(email, "@")
		if at < 0 || !slices.Contains(c.Domains, email[at+1:]) {
			return forbidden("%s is not in a domain this organisation's SSO vouches for", email)
		}
		grant, ok := c.mapRole(id.Groups)
		var acct Account
		err = t.queryRow(ctx, "SELECT id FROM accounts WHERE email = $1", email).Scan(&acct.ID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			acct = Account{Email: email, Name: strings.TrimSpace(id.Name)}
			if err := prepareAccount(&acct); err != nil {
				return err
			}
			acct.VerifiedAt = t.now
			if err := t.insertAccount(ctx, &acct); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := t.exec(ctx, "UPDATE accounts SET verified_us = $1 WHERE id = $2 AND verified_us = 0", us(t.now), acct.ID); err != nil {
				return err
			}
		}
		ms.AccountID = acct.ID
		err = t.queryRow(ctx, "SELECT member_id FROM account_members WHERE account_id = $1 AND org_id = $2", acct.ID, orgID).Scan(&ms.MemberID)
		if errors.Is(err, sql.ErrNoRows) {
			if !ok {
				return forbidden("your identity provider's groups give you no role in this organisation")
			}
			// An account of another organisation is not joined to this
			// one by its provider: an organisation could otherwise claim
			// a domain it does not own and sign in as that account.
			if n, err := t.count(ctx, t.byEngine("SELECT count(*) FROM account_members WHERE account_id = $1",
				"SELECT count(*) FROM keycab_memberships($1)"), acct.ID); err != nil {
				return err
			} else if n > 0 {
				return forbidden("%s already has a keycab account in another organisation: ask an owner here to invite it", email)
			}
			var caps int
			if err := t.queryRow(ctx, "SELECT cap_members FROM orgs WHERE id = $1", orgID).Scan(&caps); err != nil {
				return err
			}
			if n, err := t.count(ctx, "SELECT count(*) FROM members WHERE org_id = $1 AND erased_us = 0", orgID); err != nil {
				return err
			} else if n >= caps {
				return forbidden("this organisation has reached its plan's %d members", caps)
			}
			name := strings.TrimSpace(id.Name)
			if name == "" {
				name = email[:at]
			}
			m := keycab.Member{ID: newID("mem"), OrgID: orgID, Name: name, Email: email, Role: grant.Role, SiteIDs: grant.SiteIDs}
			if err := t.insertMember(ctx, m); err != nil {
				return err
			}
			if err := t.linkMember(ctx, acct.ID, orgID, m.ID); err != nil {
				return err
			}
			ms.MemberID = m.ID
			return t.logActionBy(ctx, m.ID, m.Role, "sso.join", m.ID, string(m.Role))
		} else if err != nil {
			return err
		}
		m, err := t.memberRow(ctx, ms.MemberID)
		if err != nil {
			return err
		}
		if m.Disabled || !m.ErasedAt.IsZero() {
			return forbidden("this member is disabled")
		}
		if m.Role == keycab.RoleOwner {
			return nil
		}
		if !ok {
			return forbidden("your identity provider's groups give you no role in this organisation")
		}
		slices.Sort(m.SiteIDs)
		sites := slices.Clone(grant.SiteIDs)
		slices.Sort(sites)
		if m.Role == grant.Role && slices.Equal(m.SiteIDs, sites) {
			return nil
		}
		if _, err := t.exec(ctx, "UPDATE members SET role = $1 WHERE org_id = $2 AND id = $3", string(grant.Role), orgID, m.ID); err != nil {
			return err
		}
		if err := t.setSites(ctx, m.ID, grant.SiteIDs); err != nil {
			return err
		}
		type rs struct {
			Role    keycab.Role `json:"role"`
			SiteIDs []string    `json:"site_ids"`
		}
		t.p.member, t.p.role = m.ID, grant.Role
		return t.logChange(ctx, "sso.role", m.ID, rs{m.Role, m.SiteIDs}, rs{grant.Role, sites})
	})
	return ms, err
}

// SSOEnforced reports whether the organisation enforces SSO, and the
// member's role, for HQ's password sign-in.
func (s *Accounts) SSOEnforced(ctx context.Context, orgID, memberID string) (bool, keycab.Role, error) {
	var enforced bool
	var role keycab.Role
	err := s.store().tenant(ctx, "sso enforced", orgID, false, func(ctx context.Context, t *tx) error {
		t.p = principal{org: orgID}
		if err := t.queryRow(ctx, "SELECT role FROM members WHERE org_id = $1 AND id = $2", orgID, memberID).Scan(&role); err != nil {
			return err
		}
		err := t.queryRow(ctx, "SELECT enforce FROM sso_configs WHERE org_id = $1", orgID).Scan(&enforced)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return enforced, role, err
}

// LogBreakGlass records in the admin log an owner's password sign-in
// while the organisation enforces SSO.
func (s *Accounts) LogBreakGlass(ctx context.Context, orgID, memberID, how string) error {
	return s.store().tenant(ctx, "log break-glass sign-in", orgID, true, func(ctx context.Context, t *tx) error {
		t.p = principal{org: orgID}
		return t.logActionBy(ctx, memberID, keycab.RoleOwner, "sso.break_glass", memberID, how)
	})
}
