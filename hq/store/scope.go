package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"keycab.dev/keycab"
)

// Scope names the principal a store call runs for: a member of an
// organisation, or an enrolled kiosk. It carries identity only; the store
// loads the principal's role, site scopes and standing inside every
// transaction, so a demoted, disabled or removed member, or a revoked
// kiosk, loses its rights with the next call. The auth layer makes a
// Scope once it has authenticated a session or a kiosk request.
type Scope struct {
	org    string
	member string
	kiosk  string
	apiKey string
}

// MemberScope is the principal of member memberID of organisation orgID.
func MemberScope(orgID, memberID string) Scope { return Scope{org: orgID, member: memberID} }

// KioskScope is the principal of kiosk kioskID of organisation orgID.
func KioskScope(orgID, kioskID string) Scope { return Scope{org: orgID, kiosk: kioskID} }

// APIKeyScope is the principal of API key keyID of organisation orgID:
// a service account, not a person (apikey.go).
func APIKeyScope(orgID, keyID string) Scope { return Scope{org: orgID, apiKey: keyID} }

// OrgID returns the organisation the scope is bound to.
func (sc Scope) OrgID() string { return sc.org }

// principal is a Scope resolved inside a transaction.
type principal struct {
	org    string
	member string // "" for a kiosk; an API key's id for a key
	kiosk  string // "" for a member
	// apiKey is an API key's id (member is that id too, so what the key
	// does is attributed to it), and scopes what the key was given.
	apiKey  string
	scopes  []string
	role    keycab.Role
	sites   []string // a member's site scope; empty means every site
	cabinet string   // a kiosk's cabinet
	site    string   // a kiosk's site
	// deleteAfter is when the organisation is to be deleted (Unix µs; 0:
	// not scheduled). Only its owners are identified meanwhile.
	deleteAfter int64
}

// loadPrincipal resolves sc in the transaction's organisation. A member
// or kiosk that does not exist there (or is disabled, erased or revoked)
// is not identified.
func (t *tx) loadPrincipal(ctx context.Context, sc Scope) (principal, error) {
	p := principal{org: sc.org, member: sc.member, kiosk: sc.kiosk}
	unknown := keycab.Errorf(keycab.EUNAUTHORIZED, "unknown principal")
	switch {
	case sc.apiKey != "" && sc.member == "" && sc.kiosk == "":
		var scopes string
		var expires, revoked int64
		err := t.queryRow(ctx, "SELECT role, scopes, expires_us, revoked_us FROM api_keys WHERE org_id = $1 AND id = $2",
			sc.org, sc.apiKey).Scan(&p.role, &scopes, &expires, &revoked)
		if errors.Is(err, sql.ErrNoRows) || revoked != 0 || (expires != 0 && expires <= us(t.now)) {
			return p, unknown
		} else if err != nil {
			return p, err
		}
		p.member, p.apiKey, p.scopes = sc.apiKey, sc.apiKey, strings.Split(scopes, ",")
	case sc.member != "" && sc.kiosk == "":
		var disabled bool
		var erased int64
		err := t.queryRow(ctx, "SELECT role, disabled, erased_us FROM members WHERE org_id = $1 AND id = $2",
			sc.org, sc.member).Scan(&p.role, &disabled, &erased)
		if errors.Is(err, sql.ErrNoRows) || disabled || erased != 0 {
			return p, unknown
		} else if err != nil {
			return p, err
		}
		if p.sites, err = t.memberSites(ctx, sc.member); err != nil {
			return p, err
		}
	case sc.kiosk != "" && sc.member == "":
		var revoked int64
		err := t.queryRow(ctx, `SELECT k.cabinet_id, c.site_id, k.revoked_us FROM kiosks k
			JOIN cabinets c ON c.org_id = k.org_id AND c.id = k.cabinet_id
			WHERE k.org_id = $1 AND k.id = $2`, sc.org, sc.kiosk).Scan(&p.cabinet, &p.site, &revoked)
		if errors.Is(err, sql.ErrNoRows) || revoked != 0 {
			return p, unknown
		} else if err != nil {
			return p, err
		}
		p.role = keycab.RoleKiosk
	default:
		return p, unknown
	}
	after, err := t.orgDeleteAfter(ctx)
	if err != nil {
		return p, err
	}
	if after != 0 && p.role != keycab.RoleOwner {
		return p, errDeleting(after)
	}
	p.deleteAfter = after
	return p, nil
}

func (t *tx) memberSites(ctx context.Context, memberID string) ([]string, error) {
	rows, err := t.query(ctx, "SELECT site_id FROM member_sites WHERE org_id = $1 AND member_id = $2 ORDER BY site_id",
		t.org(), memberID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Role checks. Person roles: owner > admin > site_manager > auditor >
// staff > contractor; the kiosk ranks below all.

// isAdmin: owners and admins run the organisation.
func (p principal) isAdmin() bool { return p.role == keycab.RoleOwner || p.role == keycab.RoleAdmin }

// readsAll: who may read every site's records (the auditor is read-only).
func (p principal) readsAll() bool { return p.isAdmin() || p.role == keycab.RoleAuditor }

// isPerson reports whether the principal is a member, not a kiosk.
func (p principal) isPerson() bool { return p.member != "" }

// atSite reports whether a member's own site scope includes site.
func (p principal) atSite(site string) bool {
	return len(p.sites) == 0 || slices.Contains(p.sites, site)
}

// managesSite reports whether the principal may change things at site:
// owners and admins anywhere, site managers at their own sites.
func (p principal) managesSite(site string) bool {
	return p.isAdmin() || (p.role == keycab.RoleSiteManager && p.atSite(site))
}

// seesSite reports whether the principal may read a site's records
// (cabinets, kiosks, history). Staff and contractors see sites in their
// scope; a contractor's key sets are narrowed further by jobs; a kiosk
// sees its own site.
func (p principal) seesSite(site string) bool {
	switch p.role {
	case keycab.RoleOwner, keycab.RoleAdmin, keycab.RoleAuditor:
		return true
	case keycab.RoleSiteManager, keycab.RoleStaff, keycab.RoleContractor:
		return p.atSite(site)
	case keycab.RoleKiosk:
		return site == p.site
	}
	return false
}

// mustWrite refuses read-only principals (auditors, kiosks) up front.
func (p principal) mustWrite(what string) error {
	if !p.isPerson() || p.role == keycab.RoleAuditor {
		return forbidden("%s: %s is read-only here", what, p.role)
	}
	return nil
}

// requireAdmin allows owners and admins only.
func (p principal) requireAdmin(what string) error {
	if !p.isAdmin() {
		return forbidden("%s needs an owner or admin", what)
	}
	return nil
}

// requirePerson refuses kiosks: dashboard data is for people.
func (p principal) requirePerson(what string) error {
	if !p.isPerson() {
		return forbidden("%s is not for kiosks", what)
	}
	return nil
}
