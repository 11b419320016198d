package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// Provisioning is SCIM provisioning (scim.go): the SCIM tokens and the
// users and groups an identity provider creates, changes and deletes.
// It is the same store as Store (a defined type over it).
type Provisioning Store

// Provisioning returns the store's Provisioning methods.
func (s *Store) Provisioning() *Provisioning { return (*Provisioning)(s) }

// store is the Store this is.
func (s *Provisioning) store() *Store { return (*Store)(s) }

// SCIM provisioning (RFC 7643/7644; the edge is hq/scim): an identity
// provider creates, updates, deactivates and deletes an organisation's
// members and its member groups with a SCIM token. A SCIM token is an
// API key of its own kind (api_keys with the one scope ScopeSCIM, role
// admin): made and revoked by owners and admins, shown once, stored
// hashed, and a principal (APIKeyScope) whose every change is attributed
// to it in the admin log. No API route takes it, and the SCIM edge takes
// nothing else. As an admin it cannot change an owner, or make anyone an
// admin or above: members it creates are staff. A member it deactivates
// (active false) is disabled: gone from the next config bundle of every
// kiosk (which the write wakes), and signed out at HQ.

// ScopeSCIM is the one scope of a SCIM token; it is no API key scope.
const ScopeSCIM = "scim"

// CreateSCIMToken stores a new SCIM token of the principal's
// organisation with the hash of its secret (which the caller made and
// shows once). Owners and admins, signed in; in the admin log.
func (s *Provisioning) CreateSCIMToken(ctx context.Context, sc Scope, name string, hash []byte) (APIKey, error) {
	k := APIKey{Name: strings.TrimSpace(name)}
	if k.Name == "" || len(k.Name) > 100 {
		return k, fmt.Errorf("create SCIM token: %w", invalid("a SCIM token needs a name of at most 100 bytes"))
	}
	if len(hash) < 32 {
		return k, fmt.Errorf("create SCIM token: %w", invalid("the token's hash is missing"))
	}
	err := s.store().write(ctx, "create SCIM token", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("creating a SCIM token"); err != nil {
			return err
		}
		if t.p.apiKey != "" {
			return forbidden("an API key or SCIM token cannot create SCIM tokens")
		}
		k = APIKey{ID: newID("scim"), OrgID: t.org(), Name: k.Name, Scopes: []string{ScopeSCIM}, Role: keycab.RoleAdmin,
			CreatedBy: t.p.member, CreatedAt: t.now}
		if _, err := t.exec(ctx, `INSERT INTO api_keys (org_id, id, name, hash, scopes, role, created_by, created_us, expires_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)`,
			k.OrgID, k.ID, k.Name, hash, ScopeSCIM, string(k.Role), k.CreatedBy, us(k.CreatedAt)); err != nil {
			return err
		}
		return t.logAction(ctx, "scim_token.create", k.ID, fmt.Sprintf("name %q", k.Name))
	})
	return k, err
}

// ListSCIMTokens returns the organisation's SCIM tokens, revoked ones
// too, newest first. Owners, admins and auditors, signed in.
func (s *Provisioning) ListSCIMTokens(ctx context.Context, sc Scope) ([]APIKey, error) {
	var out []APIKey
	err := s.store().read(ctx, "list SCIM tokens", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() || t.p.apiKey != "" {
			return forbidden("SCIM tokens are for owners, admins and auditors")
		}
		return t.each(ctx, func(r *sql.Rows) error {
			k, err := scanAPIKey(r)
			out = append(out, k)
			return err
		}, "SELECT "+apiKeyCols+" FROM api_keys WHERE org_id = $1 AND scopes = $2 ORDER BY created_us DESC, id", t.org(), ScopeSCIM)
	})
	return out, err
}

// RevokeSCIMToken refuses SCIM token id from now on. Owners and admins;
// in the admin log.
func (s *Provisioning) RevokeSCIMToken(ctx context.Context, sc Scope, id string) (APIKey, error) {
	return s.store().revokeKey(ctx, sc, id, true)
}

// AuthenticateSCIMToken returns SCIM token id of orgID when hash is its
// secret's hash and it is not revoked; anything else (an API key among
// them) is the one EUNAUTHORIZED.
func (s *Provisioning) AuthenticateSCIMToken(ctx context.Context, orgID, id string, hash []byte) (APIKey, error) {
	return s.store().authenticateKey(ctx, orgID, id, hash, true)
}

// SCIMUser is a member as SCIM sees it.
type SCIMUser struct {
	keycab.Member
	// UserName is unique in the organisation, case-insensitively (kept
	// lower-cased); a member SCIM never named is known by their email
	// (by their id when they have none).
	UserName   string
	ExternalID string
	Created    time.Time
	Modified   time.Time
}

// SCIMGroup is a member group as SCIM sees it.
type SCIMGroup struct {
	GroupDetail
	ExternalID string
	Created    time.Time
	Modified   time.Time
}

// requireSCIM allows SCIM tokens only.
func (p principal) requireSCIM() error {
	if p.apiKey == "" || !slices.Contains(p.scopes, ScopeSCIM) {
		return forbidden("SCIM provisioning takes a SCIM token")
	}
	return nil
}

// SCIMUsers returns the organisation's members (the erased ones left
// out), ordered by id, with their groups. SCIM tokens only.
func (s *Provisioning) SCIMUsers(ctx context.Context, sc Scope) ([]SCIMUser, error) {
	var out []SCIMUser
	err := s.store().read(ctx, "list SCIM users", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireSCIM(); err != nil {
			return err
		}
		ids, err := t.memberIDs(ctx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			u, err := t.scimUser(ctx, id)
			if keycab.ErrorCode(err) == keycab.ENOTFOUND {
				continue
			} else if err != nil {
				return err
			}
			out = append(out, u)
		}
		return nil
	})
	return out, err
}

// SCIMUser returns member id as SCIM sees it. SCIM tokens only.
func (s *Provisioning) SCIMUser(ctx context.Context, sc Scope, id string) (SCIMUser, error) {
	var u SCIMUser
	err := s.store().read(ctx, "get SCIM user", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireSCIM(); err != nil {
			return err
		}
		var err error
		u, err = t.scimUser(ctx, id)
		return err
	})
	return u, err
}

func (t *tx) scimUser(ctx context.Context, id string) (SCIMUser, error) {
	m, err := t.memberRow(ctx, id)
	if err != nil {
		return SCIMUser{}, err
	}
	if !m.ErasedAt.IsZero() {
		return SCIMUser{}, notFound("member", id)
	}
	redactPIN(&m)
	u := SCIMUser{Member: m, UserName: m.Email}
	if u.UserName == "" {
		u.UserName = m.ID // a member with no email: still a valid userName
	}
	var created, modified int64
	err = t.queryRow(ctx, "SELECT user_name, external_id, created_us, modified_us FROM scim_users WHERE org_id = $1 AND member_id = $2",
		t.org(), id).Scan(&u.UserName, &u.ExternalID, &created, &modified)
	if errors.Is(err, sql.ErrNoRows) {
		err = t.queryRow(ctx, "SELECT created_us FROM members WHERE org_id = $1 AND id = $2", t.org(), id).Scan(&created)
		modified = created
	}
	if err != nil {
		return u, err
	}
	u.Created, u.Modified = fromUS(created), fromUS(modified)
	u.Groups, err = t.strings(ctx, `SELECT m.group_id FROM member_group_members m JOIN groups g ON g.org_id = m.org_id AND g.id = m.group_id
		WHERE m.org_id = $1 AND m.member_id = $2 ORDER BY m.group_id`, t.org(), id)
	return u, err
}

// checkSCIMUser validates what SCIM sets of a user.
func checkSCIMUser(u *SCIMUser) error {
	u.UserName = strings.ToLower(strings.TrimSpace(u.UserName))
	u.Name, u.Email, u.ExternalID = strings.TrimSpace(u.Name), strings.ToLower(strings.TrimSpace(u.Email)), strings.TrimSpace(u.ExternalID)
	switch {
	case u.UserName == "" || len(u.UserName) > 254 || !keycab.Printable(u.UserName):
		return invalid("userName: required, at most 254 printable characters")
	case len(u.Name) > 200 || !keycab.Printable(u.Name):
		return invalid("name: at most 200 printable characters")
	case len(u.Email) > 254 || !keycab.Printable(u.Email) || (u.Email != "" && !strings.Contains(u.Email, "@")):
		return invalid("emails: an address of at most 254 characters")
	case len(u.ExternalID) > 254 || !keycab.Printable(u.ExternalID):
		return invalid("externalId: at most 254 printable characters")
	}
	return nil
}

// userNameFree fails when another member (not id) has userName, as a
// SCIM user name or, for a member SCIM never named, as their email.
func (t *tx) userNameFree(ctx context.Context, userName, id string) error {
	n, err := t.count(ctx, `SELECT count(*) FROM members m LEFT JOIN scim_users s ON s.org_id = m.org_id AND s.member_id = m.id
		WHERE m.org_id = $1 AND m.id <> $2 AND m.erased_us = 0 AND (s.user_name = $3 OR (s.user_name IS NULL AND m.email = $3))`,
		t.org(), id, userName)
	if err != nil {
		return err
	}
	if n > 0 {
		return keycab.Errorf(keycab.ECONFLICT, "userName %q is taken", userName)
	}
	return nil
}

// scimUserRecord is what the admin log keeps of a SCIM user change.
type scimUserRecord struct {
	UserName   string `json:"user_name"`
	ExternalID string `json:"external_id,omitempty"`
	Active     bool   `json:"active"`
}

// SCIMCreateUser creates a member (staff, every site) from what the
// identity provider sends: userName, name, email, externalId and active.
// SCIM tokens only; in the admin log as member.create and scim.user.
func (s *Provisioning) SCIMCreateUser(ctx context.Context, sc Scope, u SCIMUser) (SCIMUser, error) {
	if err := checkSCIMUser(&u); err != nil {
		return u, fmt.Errorf("create SCIM user: %w", err)
	}
	var out SCIMUser
	err := s.store().write(ctx, "create SCIM user", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireSCIM(); err != nil {
			return err
		}
		if err := t.lockOrg(ctx); err != nil {
			return err
		}
		if err := t.userNameFree(ctx, u.UserName, ""); err != nil {
			return err
		}
		m := keycab.Member{OrgID: t.org(), Name: u.Name, Email: u.Email, Role: keycab.RoleStaff, Disabled: u.Disabled}
		if err := t.createMember(ctx, &m); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO scim_users (org_id, member_id, user_name, external_id, created_us, modified_us)
			VALUES ($1, $2, $3, $4, $5, $5)`, t.org(), m.ID, u.UserName, u.ExternalID, us(t.now)); err != nil {
			return err
		}
		if err := t.logChange(ctx, "scim.user", m.ID, nil, scimUserRecord{u.UserName, u.ExternalID, !u.Disabled}); err != nil {
			return err
		}
		var err error
		out, err = t.scimUser(ctx, m.ID)
		return err
	})
	return out, err
}

// SCIMReplaceUser sets member id's userName, name, email, externalId and
// active (the other fields stay as they are). Deactivating disables the
// member and revokes their sessions; the next config bundles leave them
// out. An owner is beyond a SCIM token (EFORBIDDEN). SCIM tokens only;
// in the admin log as scim.user, with member.disable or member.enable.
func (s *Provisioning) SCIMReplaceUser(ctx context.Context, sc Scope, id string, u SCIMUser) (SCIMUser, error) {
	return s.SCIMUpdateUser(ctx, sc, id, func(SCIMUser) (SCIMUser, error) { return u, nil })
}

// SCIMUpdateUser is SCIMReplaceUser with what change makes of the user
// as they stand, in the same transaction (a PATCH: two at once do not
// lose either's change).
func (s *Provisioning) SCIMUpdateUser(ctx context.Context, sc Scope, id string, change func(SCIMUser) (SCIMUser, error)) (SCIMUser, error) {
	var out SCIMUser
	err := s.store().write(ctx, "replace SCIM user", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireSCIM(); err != nil {
			return err
		}
		if err := t.lockOrg(ctx); err != nil {
			return err
		}
		before, err := t.scimUser(ctx, id)
		if err != nil {
			return err
		}
		if err := t.manageMember(before.Member); err != nil {
			return err
		}
		u, err := change(before)
		if err != nil {
			return err
		}
		if err := checkSCIMUser(&u); err != nil {
			return err
		}
		if err := t.userNameFree(ctx, u.UserName, id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE members SET name = $1, email = $2, disabled = $3 WHERE org_id = $4 AND id = $5",
			u.Name, u.Email, u.Disabled, t.org(), id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO scim_users (org_id, member_id, user_name, external_id, created_us, modified_us)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (org_id, member_id) DO UPDATE SET user_name = excluded.user_name, external_id = excluded.external_id, modified_us = excluded.modified_us`,
			t.org(), id, u.UserName, u.ExternalID, us(before.Created), us(t.now)); err != nil {
			return err
		}
		if u.Disabled != before.Disabled {
			action := "member.enable"
			if u.Disabled {
				action = "member.disable"
				if err := t.revokeMemberSessions(ctx, id); err != nil {
					return err
				}
			}
			if err := t.logAction(ctx, action, id, "by SCIM"); err != nil {
				return err
			}
		}
		if err := t.logChange(ctx, "scim.user", id, scimUserRecord{before.UserName, before.ExternalID, !before.Disabled},
			scimUserRecord{u.UserName, u.ExternalID, !u.Disabled}); err != nil {
			return err
		}
		out, err = t.scimUser(ctx, id)
		return err
	})
	return out, err
}

// SCIMDeleteUser removes member id as RemoveMember does (refused while
// they hold a key set). SCIM tokens only.
func (s *Provisioning) SCIMDeleteUser(ctx context.Context, sc Scope, id string) error {
	return s.store().write(ctx, "delete SCIM user", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireSCIM(); err != nil {
			return err
		}
		if _, err := t.scimUser(ctx, id); err != nil {
			return err
		}
		return t.removeMember(ctx, id)
	})
}

// SCIMGroups returns the organisation's member groups, ordered by id.
// SCIM tokens only.
func (s *Provisioning) SCIMGroups(ctx context.Context, sc Scope) ([]SCIMGroup, error) {
	var out []SCIMGroup
	err := s.store().read(ctx, "list SCIM groups", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireSCIM(); err != nil {
			return err
		}
		ids, err := t.strings(ctx, "SELECT id FROM groups WHERE org_id = $1 AND kind = $2 ORDER BY id", t.org(), string(keycab.MemberGroup))
		if err != nil {
			return err
		}
		for _, id := range ids {
			g, err := t.scimGroup(ctx, id)
			if err != nil {
				return err
			}
			out = append(out, g)
		}
		return nil
	})
	return out, err
}

// SCIMGroup returns member group id. SCIM tokens only.
func (s *Provisioning) SCIMGroup(ctx context.Context, sc Scope, id string) (SCIMGroup, error) {
	var g SCIMGroup
	err := s.store().read(ctx, "get SCIM group", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireSCIM(); err != nil {
			return err
		}
		var err error
		g, err = t.scimGroup(ctx, id)
		return err
	})
	return g, err
}

func (t *tx) scimGroup(ctx context.Context, id string) (SCIMGroup, error) {
	g, err := t.group(ctx, id)
	if err == nil && g.Kind != keycab.MemberGroup {
		err = notFound("group", id)
	}
	if err != nil {
		return SCIMGroup{}, err
	}
	d, err := t.groupDetail(ctx, g)
	if err != nil {
		return SCIMGroup{}, err
	}
	out := SCIMGroup{GroupDetail: d}
	var created, modified int64
	err = t.queryRow(ctx, "SELECT external_id, created_us, modified_us FROM scim_groups WHERE org_id = $1 AND group_id = $2",
		t.org(), id).Scan(&out.ExternalID, &created, &modified)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	out.Created, out.Modified = fromUS(created), fromUS(modified)
	return out, err
}

// SCIMPutGroup creates (id "") or replaces a member group: its name,
// externalId and members. A group SCIM creates is organisation-wide.
// SCIM tokens only; in the admin log (group.create, group.rename,
// group.entries).
func (s *Provisioning) SCIMPutGroup(ctx context.Context, sc Scope, id string, g SCIMGroup) (SCIMGroup, error) {
	return s.SCIMUpdateGroup(ctx, sc, id, func(SCIMGroup) (SCIMGroup, error) { return g, nil })
}

// SCIMUpdateGroup is SCIMPutGroup with what change makes of the group as
// it stands (empty for a new one), in the same transaction (a PATCH).
func (s *Provisioning) SCIMUpdateGroup(ctx context.Context, sc Scope, id string, change func(SCIMGroup) (SCIMGroup, error)) (SCIMGroup, error) {
	var out SCIMGroup
	err := s.store().write(ctx, "put SCIM group", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireSCIM(); err != nil {
			return err
		}
		if err := t.lockOrg(ctx); err != nil {
			return err
		}
		var cur SCIMGroup
		if id != "" {
			var err error
			if cur, err = t.scimGroup(ctx, id); err != nil {
				return err
			}
		}
		g, err := change(cur)
		if err != nil {
			return err
		}
		g.Name, g.ExternalID = strings.TrimSpace(g.Name), strings.TrimSpace(g.ExternalID)
		if len(g.ExternalID) > 254 || !keycab.Printable(g.ExternalID) {
			return invalid("externalId: at most 254 printable characters")
		}
		named := keycab.Group{OrgID: t.org(), Kind: keycab.MemberGroup, Name: g.Name}
		if err := named.Validate(); err != nil {
			return err
		}
		created := t.now
		if id == "" {
			if err := t.groupNameFree(ctx, g.Name, ""); err != nil {
				return err
			}
			named.ID = newID("grp")
			if _, err := t.exec(ctx, "INSERT INTO groups (org_id, id, kind, name, site_id) VALUES ($1, $2, $3, $4, NULL)",
				named.OrgID, named.ID, string(named.Kind), named.Name); err != nil {
				return err
			}
			if err := t.logChange(ctx, "group.create", named.ID, nil, named); err != nil {
				return err
			}
			id = named.ID
		} else {
			before := cur
			if err := t.manageGroup(before.Group); err != nil {
				return err
			}
			if !before.Created.IsZero() {
				created = before.Created
			}
			if before.Name != g.Name {
				if err := t.groupNameFree(ctx, g.Name, id); err != nil {
					return err
				}
				if _, err := t.exec(ctx, "UPDATE groups SET name = $1 WHERE org_id = $2 AND id = $3", g.Name, t.org(), id); err != nil {
					return err
				}
				after := before.Group
				after.Name = g.Name
				if err := t.logChange(ctx, "group.rename", id, before.Group, after); err != nil {
					return err
				}
			}
		}
		for _, m := range g.MemberIDs {
			if _, err := t.memberRow(ctx, m); err != nil {
				return invalid("members: no user %q", m)
			}
		}
		if err := t.setGroupEntries(ctx, id, g.MemberIDs); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO scim_groups (org_id, group_id, external_id, created_us, modified_us) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (org_id, group_id) DO UPDATE SET external_id = excluded.external_id, modified_us = excluded.modified_us`,
			t.org(), id, g.ExternalID, us(created), us(t.now)); err != nil {
			return err
		}
		out, err = t.scimGroup(ctx, id)
		return err
	})
	return out, err
}

// groupNameFree fails when another member group (not id) is named name.
func (t *tx) groupNameFree(ctx context.Context, name, id string) error {
	n, err := t.count(ctx, "SELECT count(*) FROM groups WHERE org_id = $1 AND kind = $2 AND name = $3 AND id <> $4",
		t.org(), string(keycab.MemberGroup), name, id)
	if err != nil {
		return err
	}
	if n > 0 {
		return keycab.Errorf(keycab.ECONFLICT, "a member group named %q exists", name)
	}
	return nil
}

// SCIMDeleteGroup removes member group id, its members' membership and
// its rules. SCIM tokens only; in the admin log.
func (s *Provisioning) SCIMDeleteGroup(ctx context.Context, sc Scope, id string) error {
	return s.store().write(ctx, "delete SCIM group", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireSCIM(); err != nil {
			return err
		}
		if _, err := t.scimGroup(ctx, id); err != nil {
			return err
		}
		before, err := t.managedGroup(ctx, id, "removing a group")
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM groups WHERE org_id = $1 AND id = $2", t.org(), id); err != nil {
			return err
		}
		return t.logChange(ctx, "group.delete", id, before, nil)
	})
}
