package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// API keys: service accounts of an organisation for the JSON API (an
// access-control system reading history, an HR feed managing people).
// A key is a principal of its own (APIKeyScope), not a person: what it
// does is attributed to it in the admin log (its id is the actor), and
// the store bounds it by its role, auditor for a key that only reads
// and admin otherwise; its scopes say which API routes it may call
// (hq/api checks them for every request), and custody:write lets it
// record custody on behalf of a member (RecordCustody), decided by that
// member's rules. The dashboard never takes a key.

// API key scopes.
const (
	ScopeHistoryRead   = "history:read"   // history, keys out, alarms, reports, logs, and the directory to read them by
	ScopeCustodyWrite  = "custody:write"  // take, return and hand over key sets on behalf of members
	ScopePeopleWrite   = "people:write"   // members, badges, PINs, access, groups, jobs, reservations, passes
	ScopeCabinetsWrite = "cabinets:write" // sites, cabinets, slots, key sets, labels, kiosks and their policy
)

// APIKeyScopes lists every scope, in the order they are shown.
var APIKeyScopes = []string{ScopeHistoryRead, ScopeCustodyWrite, ScopePeopleWrite, ScopeCabinetsWrite}

// APIKey is a service account's key, without its secret.
type APIKey struct {
	ID, OrgID, Name string
	Scopes          []string
	// Role is the most the store lets the key do: auditor when its only
	// scope is history:read, admin otherwise.
	Role       keycab.Role
	CreatedBy  string // the member who created it
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time // to the minute; zero: never used
	RevokedAt  time.Time
}

// Has reports whether the key was given scope.
func (k APIKey) Has(scope string) bool { return slices.Contains(k.Scopes, scope) }

// apiKeyLastUsedStep is how stale last_used may be: a key used all day
// writes it once a minute, not once a request.
const apiKeyLastUsedStep = time.Minute

const apiKeyCols = "id, org_id, name, scopes, role, created_by, created_us, expires_us, last_used_us, revoked_us"

func scanAPIKey(r interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var scopes string
	var created, expires, used, revoked int64
	if err := r.Scan(&k.ID, &k.OrgID, &k.Name, &scopes, &k.Role, &k.CreatedBy, &created, &expires, &used, &revoked); err != nil {
		return k, err
	}
	k.Scopes = strings.Split(scopes, ",")
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromUS(created), fromUS(expires), fromUS(used), fromUS(revoked)
	return k, nil
}

// checkScopes validates a key's scopes and returns them in APIKeyScopes'
// order with the role they need.
func checkScopes(scopes []string) ([]string, keycab.Role, error) {
	var out []string
	for _, s := range APIKeyScopes {
		if slices.Contains(scopes, s) {
			out = append(out, s)
		}
	}
	for _, s := range scopes {
		if !slices.Contains(APIKeyScopes, s) {
			return nil, "", invalid("unknown scope %q: one of %s", s, strings.Join(APIKeyScopes, ", "))
		}
	}
	if len(out) == 0 {
		return nil, "", invalid("an API key needs at least one scope: %s", strings.Join(APIKeyScopes, ", "))
	}
	role := keycab.RoleAdmin
	if slices.Equal(out, []string{ScopeHistoryRead}) {
		role = keycab.RoleAuditor
	}
	return out, role, nil
}

// CreateAPIKey stores a new key of the principal's organisation with the
// hash of its secret (which the caller made and shows once). Owners and
// admins; in the admin log with what it was given.
func (s *Accounts) CreateAPIKey(ctx context.Context, sc Scope, k APIKey, hash []byte) (APIKey, error) {
	k.Name = strings.TrimSpace(k.Name)
	if k.Name == "" || len(k.Name) > 100 {
		return k, fmt.Errorf("create API key: %w", invalid("an API key needs a name of at most 100 bytes"))
	}
	if len(hash) < 32 {
		return k, fmt.Errorf("create API key: %w", invalid("the key's hash is missing"))
	}
	scopes, role, err := checkScopes(k.Scopes)
	if err != nil {
		return k, fmt.Errorf("create API key: %w", err)
	}
	err = s.store().write(ctx, "create API key", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("creating an API key"); err != nil {
			return err
		}
		if t.p.apiKey != "" {
			return forbidden("an API key cannot create API keys")
		}
		if !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(t.now) {
			return invalid("the key's expiry is in the past")
		}
		k = APIKey{ID: newID("apikey"), OrgID: t.org(), Name: k.Name, Scopes: scopes, Role: role, CreatedBy: t.p.member,
			CreatedAt: t.now, ExpiresAt: k.ExpiresAt}
		if _, err := t.exec(ctx, `INSERT INTO api_keys (org_id, id, name, hash, scopes, role, created_by, created_us, expires_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			k.OrgID, k.ID, k.Name, hash, strings.Join(scopes, ","), string(role), k.CreatedBy, us(k.CreatedAt), us(k.ExpiresAt)); err != nil {
			return err
		}
		return t.logAction(ctx, "api_key.create", k.ID, apiKeyDetail(k))
	})
	return k, err
}

// apiKeyDetail is what the admin log says of a key.
func apiKeyDetail(k APIKey) string {
	exp := "never"
	if !k.ExpiresAt.IsZero() {
		exp = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("name %q, scopes %s, expires %s", k.Name, strings.Join(k.Scopes, " "), exp)
}

// ListAPIKeys returns the organisation's keys, revoked ones too, newest
// first. Owners, admins and auditors.
func (s *Accounts) ListAPIKeys(ctx context.Context, sc Scope) ([]APIKey, error) {
	var out []APIKey
	err := s.store().read(ctx, "list API keys", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() || t.p.apiKey != "" {
			return forbidden("API keys are for owners, admins and auditors")
		}
		return t.each(ctx, func(r *sql.Rows) error {
			k, err := scanAPIKey(r)
			out = append(out, k)
			return err
		}, "SELECT "+apiKeyCols+" FROM api_keys WHERE org_id = $1 AND scopes <> $2 ORDER BY created_us DESC, id", t.org(), ScopeSCIM)
	})
	return out, err
}

// RevokeAPIKey refuses key id from now on. Owners and admins; in the
// admin log. A key revoked already is left as it is.
func (s *Accounts) RevokeAPIKey(ctx context.Context, sc Scope, id string) (APIKey, error) {
	return s.store().revokeKey(ctx, sc, id, false)
}

// revokeKey revokes an API key, or a SCIM token when scim is set (each
// is not found as the other).
func (s *Store) revokeKey(ctx context.Context, sc Scope, id string, scim bool) (APIKey, error) {
	var k APIKey
	what, action := "API key", "api_key.revoke"
	if scim {
		what, action = "SCIM token", "scim_token.revoke"
	}
	err := s.write(ctx, "revoke "+what, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("revoking an " + what); err != nil {
			return err
		}
		var err error
		k, err = scanAPIKey(t.queryRow(ctx, "SELECT "+apiKeyCols+" FROM api_keys WHERE org_id = $1 AND id = $2", t.org(), id))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && k.Has(ScopeSCIM) != scim) {
			return notFound(what, id)
		} else if err != nil || !k.RevokedAt.IsZero() {
			return err
		}
		k.RevokedAt = t.now
		if _, err := t.exec(ctx, "UPDATE api_keys SET revoked_us = $1 WHERE org_id = $2 AND id = $3", us(t.now), t.org(), id); err != nil {
			return err
		}
		return t.logAction(ctx, action, id, apiKeyDetail(k))
	})
	return k, err
}

// AuthenticateAPIKey returns key id of orgID when hash is its secret's
// hash and it is neither revoked nor expired, and notes its use (to the
// minute). Anything else is the one EUNAUTHORIZED, whatever was wrong.
func (s *Accounts) AuthenticateAPIKey(ctx context.Context, orgID, id string, hash []byte) (APIKey, error) {
	return s.store().authenticateKey(ctx, orgID, id, hash, false)
}

// authenticateKey authenticates an API key, or a SCIM token when scim
// is set: neither is taken as the other.
func (s *Store) authenticateKey(ctx context.Context, orgID, id string, hash []byte, scim bool) (APIKey, error) {
	var k APIKey
	refused := keycab.Errorf(keycab.EUNAUTHORIZED, "invalid API key")
	stale := false
	err := s.tenant(ctx, "authenticate API key", orgID, false, func(ctx context.Context, t *tx) error {
		var stored []byte
		var err error
		k, err = scanAPIKey(scanFirst{t.queryRow(ctx, "SELECT hash, "+apiKeyCols+" FROM api_keys WHERE org_id = $1 AND id = $2", orgID, id), &stored})
		if errors.Is(err, sql.ErrNoRows) {
			return refused
		} else if err != nil {
			return err
		}
		expires, revoked := us(k.ExpiresAt), us(k.RevokedAt)
		if subtle.ConstantTimeCompare(stored, hash) != 1 || revoked != 0 || (expires != 0 && expires <= us(t.now)) || k.Has(ScopeSCIM) != scim {
			return refused
		}
		if after, err := t.orgDeleteAfter(ctx); err != nil || after != 0 {
			if err == nil {
				err = errDeleting(after)
			}
			return err
		}
		stale = t.now.Sub(k.LastUsedAt) >= apiKeyLastUsedStep
		return nil
	})
	if err != nil || !stale {
		return k, err
	}
	// A read for every request, a write once a minute at most (as a
	// session's last use): several HQ processes may race to it, and
	// whichever writes last wins, within the minute.
	err = s.tenant(ctx, "note API key use", orgID, true, func(ctx context.Context, t *tx) error {
		k.LastUsedAt = t.now
		_, err := t.exec(ctx, "UPDATE api_keys SET last_used_us = $1 WHERE org_id = $2 AND id = $3 AND last_used_us < $4",
			us(t.now), orgID, id, us(t.now.Add(-apiKeyLastUsedStep)))
		return err
	})
	return k, err
}

// scanFirst scans a row's first column into first, the rest as asked.
type scanFirst struct {
	row   interface{ Scan(...any) error }
	first any
}

func (r scanFirst) Scan(dst ...any) error { return r.row.Scan(append([]any{r.first}, dst...)...) }
