package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/i18n"
)

// CreateMember adds a member (the store side of an invite), within the
// cap on members. Nobody creates a member of a role above their own:
// owners and admins add anyone up to their own role; a site manager adds
// staff and contractors scoped to sites they manage.
func (s *Store) CreateMember(ctx context.Context, sc Scope, m keycab.Member) (keycab.Member, error) {
	err := s.write(ctx, "create member", sc, func(ctx context.Context, t *tx) error {
		return t.createMember(ctx, &m)
	})
	redactPIN(&m)
	return m, err
}

// createMember adds m as the transaction's principal may (CreateMember),
// filling in its id.
func (t *tx) createMember(ctx context.Context, m *keycab.Member) error {
	if err := t.p.mustWrite("adding a member"); err != nil {
		return err
	}
	if err := t.sameOrg(m.OrgID); err != nil {
		return err
	}
	if err := m.Role.Validate(); err != nil {
		return err
	}
	m.ID, m.OrgID = newID("mem"), t.org()
	m.Email = strings.ToLower(strings.TrimSpace(m.Email))
	m.SiteIDs = dedupe(m.SiteIDs)
	if !i18n.Valid(m.Language) {
		return badLanguage(m.Language)
	}
	for _, site := range m.SiteIDs {
		if err := t.siteVisible(ctx, site); err != nil {
			return err
		}
	}
	if err := t.mayAssign(m.Role, m.SiteIDs); err != nil {
		return err
	}
	if err := t.checkCap(ctx, capMembers); err != nil {
		return err
	}
	if err := t.insertMember(ctx, *m); err != nil {
		return err
	}
	return t.logAction(ctx, "member.create", m.ID, string(m.Role))
}

func (t *tx) insertMember(ctx context.Context, m keycab.Member) error {
	if _, err := t.exec(ctx, `INSERT INTO members (org_id, id, name, email, role, pin_hash, max_keys_out, disabled, created_us, language)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		m.OrgID, m.ID, m.Name, m.Email, string(m.Role), m.PINHash, m.MaxKeysOut, m.Disabled, us(t.now), m.Language); err != nil {
		return err
	}
	return t.setSites(ctx, m.ID, m.SiteIDs)
}

func (t *tx) setSites(ctx context.Context, memberID string, sites []string) error {
	if _, err := t.exec(ctx, "DELETE FROM member_sites WHERE org_id = $1 AND member_id = $2", t.org(), memberID); err != nil {
		return err
	}
	for _, site := range sites {
		if _, err := t.exec(ctx, "INSERT INTO member_sites (org_id, member_id, site_id) VALUES ($1, $2, $3)",
			t.org(), memberID, site); err != nil {
			return err
		}
	}
	return nil
}

// mayAssign checks that the principal may give someone role at sites.
func (t *tx) mayAssign(role keycab.Role, sites []string) error {
	p := t.p
	if !p.role.AtLeast(role) {
		return forbidden("a %s cannot grant the %s role", p.role, role)
	}
	switch {
	case p.isAdmin():
		return nil
	case p.role == keycab.RoleSiteManager:
		if role != keycab.RoleStaff && role != keycab.RoleContractor {
			return forbidden("a site manager grants only the staff and contractor roles")
		}
		if len(p.sites) > 0 && len(sites) == 0 {
			return forbidden("a site manager must scope members to their own sites")
		}
		for _, s := range sites {
			if !p.atSite(s) {
				return notFound("site", s)
			}
		}
		return nil
	}
	return forbidden("a %s cannot manage members", p.role)
}

// member reads a member the principal may see, or not found.
func (t *tx) member(ctx context.Context, id string) (keycab.Member, error) {
	m, err := t.memberRow(ctx, id)
	if err == nil && !t.seesMember(m) {
		return m, notFound("member", id)
	}
	return m, err
}

// memberRow reads a member of the organisation whoever asks.
func (t *tx) memberRow(ctx context.Context, id string) (keycab.Member, error) {
	m := keycab.Member{ID: id, OrgID: t.org()}
	var erased, until int64
	var sched string
	err := t.queryRow(ctx, `SELECT name, email, role, pin_hash, max_keys_out, disabled, erased_us, schedule, access_until_us, language FROM members
		WHERE org_id = $1 AND id = $2`, t.org(), id).Scan(&m.Name, &m.Email, &m.Role, &m.PINHash, &m.MaxKeysOut, &m.Disabled, &erased, &sched, &until, &m.Language)
	if errors.Is(err, sql.ErrNoRows) {
		return m, notFound("member", id)
	} else if err != nil {
		return m, err
	}
	m.ErasedAt, m.AccessUntil = fromUS(erased), fromUS(until)
	if m.Schedule, err = parseSchedule(sched); err != nil {
		return m, err
	}
	m.SiteIDs, err = t.memberSites(ctx, id)
	return m, err
}

// seesMember: owners, admins and auditors see everyone; a site manager
// sees members scoped to one of their sites; everyone sees themselves.
func (t *tx) seesMember(m keycab.Member) bool {
	p := t.p
	switch {
	case m.ID == p.member || p.readsAll():
		return true
	case p.role == keycab.RoleSiteManager:
		if len(p.sites) == 0 {
			return true
		}
		for _, s := range m.SiteIDs {
			if p.atSite(s) {
				return true
			}
		}
	}
	return false
}

// manageMember checks that the principal may change member m: at or
// above m's role, and for a site manager only staff and contractors of
// their own sites.
// managedMember loads a member the principal may change, for what (a
// write, such as "enrolling a badge").
func (t *tx) managedMember(ctx context.Context, memberID, what string) (keycab.Member, error) {
	if err := t.p.mustWrite(what); err != nil {
		return keycab.Member{}, err
	}
	m, err := t.member(ctx, memberID)
	if err != nil {
		return keycab.Member{}, err
	}
	return m, t.manageMember(m)
}

func (t *tx) manageMember(m keycab.Member) error {
	p := t.p
	if !p.role.AtLeast(m.Role) {
		return forbidden("a %s cannot change a %s", p.role, m.Role)
	}
	switch {
	case p.isAdmin():
		return nil
	case p.role == keycab.RoleSiteManager && (m.Role == keycab.RoleStaff || m.Role == keycab.RoleContractor):
		if len(p.sites) == 0 {
			return nil
		}
		if len(m.SiteIDs) == 0 {
			return forbidden("a site manager cannot change a member of every site")
		}
		for _, s := range m.SiteIDs {
			if !p.atSite(s) {
				return forbidden("member %s is also at sites you do not manage", m.ID)
			}
		}
		return nil
	}
	return forbidden("a %s cannot change members", p.role)
}

// GetMember returns a member the principal may see (PIN hash withheld).
func (s *Store) GetMember(ctx context.Context, sc Scope, id string) (keycab.Member, error) {
	var m keycab.Member
	err := s.read(ctx, "get member "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("reading members"); err != nil {
			return err
		}
		var err error
		m, err = t.member(ctx, id)
		redactPIN(&m)
		return err
	})
	return m, err
}

// RedactedPIN stands for a PIN hash in members the store returns: whether
// a member has a PIN is shown, the hash itself never leaves the store
// except in kiosk config bundles.
const RedactedPIN = "(set)"

func redactPIN(m *keycab.Member) {
	if m.PINHash != "" {
		m.PINHash = RedactedPIN
	}
}

// ListMembers returns the members the principal may see, ordered by
// name: two queries (the members, and their site scopes) whatever their
// number.
func (s *Store) ListMembers(ctx context.Context, sc Scope) ([]keycab.Member, error) {
	var out []keycab.Member
	err := s.read(ctx, "list members", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("listing members"); err != nil {
			return err
		}
		sites := map[string][]string{}
		rows, err := t.query(ctx, "SELECT member_id, site_id FROM member_sites WHERE org_id = $1 ORDER BY member_id, site_id", t.org())
		if err != nil {
			return err
		}
		for rows.Next() {
			var m, site string
			if err := rows.Scan(&m, &site); err != nil {
				rows.Close()
				return err
			}
			sites[m] = append(sites[m], site)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		rows, err = t.query(ctx, `SELECT id, name, email, role, pin_hash, max_keys_out, disabled, erased_us, schedule, access_until_us, language FROM members
			WHERE org_id = $1 ORDER BY name, id`, t.org())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m := keycab.Member{OrgID: t.org()}
			var erased, until int64
			var sched string
			if err := rows.Scan(&m.ID, &m.Name, &m.Email, &m.Role, &m.PINHash, &m.MaxKeysOut, &m.Disabled, &erased, &sched, &until, &m.Language); err != nil {
				return err
			}
			m.ErasedAt, m.SiteIDs, m.AccessUntil = fromUS(erased), sites[m.ID], fromUS(until)
			if m.Schedule, err = parseSchedule(sched); err != nil {
				return err
			}
			if !t.seesMember(m) {
				continue
			}
			redactPIN(&m)
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// SetMemberRole changes a member's role. Nobody grants a role above their
// own or changes a member who ranks above them, and the organisation's
// last owner cannot be demoted.
func (s *Store) SetMemberRole(ctx context.Context, sc Scope, memberID string, role keycab.Role) error {
	return s.write(ctx, "set role of member "+memberID, sc, func(ctx context.Context, t *tx) error {
		return t.setMemberRole(ctx, memberID, role)
	})
}

func (t *tx) setMemberRole(ctx context.Context, memberID string, role keycab.Role) error {
	if err := t.p.mustWrite("changing a role"); err != nil {
		return err
	}
	if err := role.Validate(); err != nil {
		return err
	}
	if err := t.lockOrg(ctx); err != nil {
		return err
	}
	m, err := t.member(ctx, memberID)
	if err != nil {
		return err
	}
	if err := t.manageMember(m); err != nil {
		return err
	}
	if err := t.mayAssign(role, m.SiteIDs); err != nil {
		return err
	}
	if m.Role == keycab.RoleOwner && role != keycab.RoleOwner {
		if err := t.notLastOwner(ctx); err != nil {
			return err
		}
	}
	if _, err := t.exec(ctx, "UPDATE members SET role = $1 WHERE org_id = $2 AND id = $3", string(role), t.org(), memberID); err != nil {
		return err
	}
	return t.logAction(ctx, "member.role", memberID, string(m.Role)+" -> "+string(role))
}

// notLastOwner fails when the organisation has one active owner left.
func (t *tx) notLastOwner(ctx context.Context) error {
	var n int
	if err := t.queryRow(ctx, "SELECT count(*) FROM members WHERE org_id = $1 AND role = 'owner' AND NOT disabled AND erased_us = 0",
		t.org()).Scan(&n); err != nil {
		return err
	}
	if n <= 1 {
		return keycab.Errorf(keycab.ECONFLICT, "the last owner cannot leave or be demoted")
	}
	return nil
}

// SetMemberSites replaces a member's site scope (empty: every site).
func (s *Store) SetMemberSites(ctx context.Context, sc Scope, memberID string, siteIDs []string) error {
	return s.write(ctx, "set sites of member "+memberID, sc, func(ctx context.Context, t *tx) error {
		return t.setMemberSites(ctx, memberID, siteIDs)
	})
}

func (t *tx) setMemberSites(ctx context.Context, memberID string, siteIDs []string) error {
	m, err := t.managedMember(ctx, memberID, "changing a member's sites")
	if err != nil {
		return err
	}
	siteIDs = dedupe(siteIDs)
	for _, site := range siteIDs {
		if err := t.siteVisible(ctx, site); err != nil {
			return err
		}
	}
	if err := t.mayAssign(m.Role, siteIDs); err != nil {
		return err
	}
	if err := t.setSites(ctx, memberID, siteIDs); err != nil {
		return err
	}
	return t.logAction(ctx, "member.sites", memberID, strings.Join(siteIDs, ","))
}

// RemoveMember removes a member, or lets a member leave (memberID is the
// principal's own). The last owner cannot leave; a member holding a key
// set cannot be removed until it is back. The member's sessions are
// revoked in the same transaction (its account's sessions in other
// organisations stay).
func (s *Store) RemoveMember(ctx context.Context, sc Scope, memberID string) error {
	return s.write(ctx, "remove member "+memberID, sc, func(ctx context.Context, t *tx) error {
		return t.removeMember(ctx, memberID)
	})
}

func (t *tx) removeMember(ctx context.Context, memberID string) error {
	if !t.p.isPerson() {
		return forbidden("removing a member is not for kiosks")
	}
	if err := t.lockOrg(ctx); err != nil {
		return err
	}
	m, err := t.member(ctx, memberID)
	if err != nil {
		return err
	}
	if memberID != t.p.member {
		if err := t.p.mustWrite("removing a member"); err != nil {
			return err
		}
		if err := t.manageMember(m); err != nil {
			return err
		}
	}
	if m.Role == keycab.RoleOwner {
		if err := t.notLastOwner(ctx); err != nil {
			return err
		}
	}
	if h, err := t.memberHold(ctx, m); err != nil {
		return err
	} else if h != nil {
		return heldError("member "+memberID+" cannot be removed", h)
	}
	if _, err := t.exec(ctx, "DELETE FROM members WHERE org_id = $1 AND id = $2", t.org(), memberID); err != nil {
		return inUse(err, "the member (holding a key set, or the owner of a legal hold)")
	}
	if err := t.revokeMemberSessions(ctx, memberID); err != nil {
		return err
	}
	return t.logAction(ctx, "member.remove", memberID, string(m.Role))
}

// SetPINHash stores a member's encoded PIN hash (the auth layer hashes;
// the store never sees a PIN). Members set their own; managers set those
// of members they may change. Empty removes the PIN.
func (s *Store) SetPINHash(ctx context.Context, sc Scope, memberID, pinHash string) error {
	return s.write(ctx, "set pin of member "+memberID, sc, func(ctx context.Context, t *tx) error {
		if !t.p.isPerson() {
			return forbidden("setting a PIN is not for kiosks")
		}
		m, err := t.member(ctx, memberID)
		if err != nil {
			return err
		}
		if memberID != t.p.member {
			if err := t.p.mustWrite("setting a PIN"); err != nil {
				return err
			}
			if err := t.manageMember(m); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, "UPDATE members SET pin_hash = $1 WHERE org_id = $2 AND id = $3", pinHash, t.org(), memberID); err != nil {
			return err
		}
		return t.logAction(ctx, "member.pin", memberID, "")
	})
}

// AddBadge enrols a badge code for a member. The store keeps only
// keycab.BadgeHash of the code under the organisation's badge salt.
func (s *Store) AddBadge(ctx context.Context, sc Scope, memberID string, kind keycab.BadgeKind, code string) (keycab.Badge, error) {
	var b keycab.Badge
	err := s.write(ctx, "add badge for member "+memberID, sc, func(ctx context.Context, t *tx) error {
		var err error
		b, err = t.addBadge(ctx, memberID, kind, code)
		return err
	})
	return b, err
}

// addBadge enrols a badge as the transaction's principal may (AddBadge).
func (t *tx) addBadge(ctx context.Context, memberID string, kind keycab.BadgeKind, code string) (keycab.Badge, error) {
	if _, err := t.managedMember(ctx, memberID, "enrolling a badge"); err != nil {
		return keycab.Badge{}, err
	}
	if strings.TrimSpace(code) == "" {
		return keycab.Badge{}, invalid("a badge needs a code")
	}
	salt, err := t.badgeSalt(ctx)
	if err != nil {
		return keycab.Badge{}, err
	}
	b := keycab.Badge{Hash: keycab.BadgeHash(salt, code), MemberID: memberID, Kind: kind}
	if _, err := t.exec(ctx, `INSERT INTO badges (org_id, hash, member_id, kind, created_us) VALUES ($1, $2, $3, $4, $5)`,
		t.org(), b.Hash, memberID, string(kind), us(t.now)); err != nil {
		return keycab.Badge{}, err
	}
	return b, t.logAction(ctx, "badge.add", memberID, string(kind))
}

func (t *tx) badgeSalt(ctx context.Context) ([]byte, error) {
	var salt []byte
	err := t.queryRow(ctx, "SELECT badge_salt FROM orgs WHERE id = $1", t.org()).Scan(&salt)
	return salt, err
}

// ListBadges returns a member's badges (hashes only), each naming the
// kiosk whose touchscreen linked it, if one did.
func (s *Store) ListBadges(ctx context.Context, sc Scope, memberID string) ([]keycab.Badge, error) {
	var out []keycab.Badge
	err := s.read(ctx, "list badges of member "+memberID, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("listing badges"); err != nil {
			return err
		}
		if _, err := t.member(ctx, memberID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT b.hash, b.kind, b.revoked_us, `+kioskNameOf("b")+` FROM badges b
			LEFT JOIN kiosks k ON k.org_id = b.org_id AND k.id = b.kiosk_id
			WHERE b.org_id = $1 AND b.member_id = $2 ORDER BY b.created_us`, t.org(), memberID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			b := keycab.Badge{MemberID: memberID}
			var revoked int64
			if err := rows.Scan(&b.Hash, &b.Kind, &revoked, &b.Kiosk); err != nil {
				return err
			}
			b.RevokedAt = fromUS(revoked)
			out = append(out, b)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeBadge revokes one of a member's badges.
func (s *Store) RevokeBadge(ctx context.Context, sc Scope, memberID string, hash []byte) error {
	return s.write(ctx, "revoke badge of member "+memberID, sc, func(ctx context.Context, t *tx) error {
		_, err := t.managedMember(ctx, memberID, "revoking a badge")
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, "UPDATE badges SET revoked_us = $1 WHERE org_id = $2 AND member_id = $3 AND hash = $4 AND revoked_us = 0",
			us(t.now), t.org(), memberID, hash)
		if err != nil {
			return err
		}
		if err := affected(res, "badge of member", memberID); err != nil {
			return err
		}
		return t.logAction(ctx, "badge.revoke", memberID, "")
	})
}

// FindBadge returns the member a valid badge code belongs to. Kiosks use
// it for their site's members; managers for anyone they may see.
func (s *Store) FindBadge(ctx context.Context, sc Scope, code string) (keycab.Member, error) {
	var m keycab.Member
	err := s.read(ctx, "find badge", sc, func(ctx context.Context, t *tx) error {
		salt, err := t.badgeSalt(ctx)
		if err != nil {
			return err
		}
		var id string
		err = t.queryRow(ctx, "SELECT member_id FROM badges WHERE org_id = $1 AND hash = $2 AND revoked_us = 0",
			t.org(), keycab.BadgeHash(salt, code)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return keycab.Errorf(keycab.ENOTFOUND, "badge not found")
		} else if err != nil {
			return err
		}
		if t.p.role == keycab.RoleKiosk {
			m, err = t.memberRow(ctx, id)
			if err == nil && (!m.AtSite(t.p.site) || m.Disabled) {
				err = keycab.Errorf(keycab.ENOTFOUND, "badge not found")
			}
		} else {
			m, err = t.member(ctx, id)
		}
		redactPIN(&m)
		return err
	})
	return m, err
}

func dedupe(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// MemberAccess is what limits a member's takes beyond their role: a
// weekly schedule, an access expiry and a limit on key sets held.
type MemberAccess struct {
	Schedule    []keycab.Window
	AccessUntil time.Time // zero: no expiry
	MaxKeysOut  int       // zero: the policy's limit
}

// SetMemberAccess replaces a member's schedule, access expiry and limit,
// as a manager of the member may (owners, admins, and site managers for
// staff and contractors of their sites). The admin log keeps the values
// before and after.
func (s *Store) SetMemberAccess(ctx context.Context, sc Scope, memberID string, a MemberAccess) error {
	return s.write(ctx, "set member access", sc, func(ctx context.Context, t *tx) error {
		m, err := t.managedMember(ctx, memberID, "changing a member's access")
		if err != nil {
			return err
		}
		if err := keycab.ValidateSchedule(a.Schedule); err != nil {
			return err
		}
		if a.MaxKeysOut < 0 || a.MaxKeysOut > keycab.MaxKeysOutLimit {
			return invalid("max_keys_out: %d is out of range (0 to %d)", a.MaxKeysOut, keycab.MaxKeysOutLimit)
		}
		if !a.AccessUntil.IsZero() && a.AccessUntil.Before(keycab.Epoch) {
			return invalid("access_until: %s is before keycab existed", a.AccessUntil.UTC().Format(time.RFC3339))
		}
		if a.Schedule == nil {
			a.Schedule = []keycab.Window{}
		}
		sched, err := json.Marshal(a.Schedule)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE members SET schedule = $1, access_until_us = $2, max_keys_out = $3 WHERE org_id = $4 AND id = $5",
			string(sched), us(a.AccessUntil), a.MaxKeysOut, t.org(), memberID); err != nil {
			return err
		}
		before := MemberAccess{Schedule: m.Schedule, AccessUntil: m.AccessUntil, MaxKeysOut: m.MaxKeysOut}
		if before.Schedule == nil {
			before.Schedule = []keycab.Window{}
		}
		return t.logChange(ctx, "member.access", memberID, before, a)
	})
}

// SetMemberLanguage sets a member's own language (a locale of
// internal/i18n, or empty to follow the site's at a kiosk and the
// browser's on the dashboard): the member themselves, or a manager of the
// member. The admin log keeps the values before and after.
func (s *Store) SetMemberLanguage(ctx context.Context, sc Scope, memberID, lang string) error {
	return s.write(ctx, "set member language", sc, func(ctx context.Context, t *tx) error {
		if !i18n.Valid(lang) {
			return badLanguage(lang)
		}
		var m keycab.Member
		var err error
		if t.p.member == memberID {
			m, err = t.member(ctx, memberID)
		} else {
			m, err = t.managedMember(ctx, memberID, "changing a member's language")
		}
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE members SET language = $1 WHERE org_id = $2 AND id = $3", lang, t.org(), memberID); err != nil {
			return err
		}
		return t.logChange(ctx, "member.language", memberID, map[string]string{"language": m.Language}, map[string]string{"language": lang})
	})
}

// badLanguage refuses a language that is not a supported locale.
func badLanguage(lang string) error {
	var tags []string
	for _, l := range i18n.Locales() {
		tags = append(tags, l.Tag)
	}
	return invalid("language: %q is not one of %s (or empty for the default)", lang, strings.Join(tags, ", "))
}

// parseSchedule reads a stored schedule; empty is none.
func parseSchedule(s string) ([]keycab.Window, error) {
	var w []keycab.Window
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return nil, fmt.Errorf("member schedule: %w", err)
	}
	if len(w) == 0 {
		return nil, nil
	}
	return w, nil
}
