package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"keycab.dev/keycab"
)

// NewOrg is what signup supplies: the organisation, the caps of its plan,
// and its first owner.
type NewOrg struct {
	Name  string
	Caps  keycab.Caps
	Owner keycab.Member // Name and Email; the role is owner
	// Account, when set, is created in the same transaction and linked
	// to the owner (signup): a crash never leaves an account without its
	// organisation. Its ID, normalised email and times are filled in.
	Account *Account
}

// CreateOrg creates an organisation and its first owner in one
// transaction. It is the one store call without a principal: signup.
func (s *Store) CreateOrg(ctx context.Context, n NewOrg) (keycab.Org, keycab.Member, error) {
	org := keycab.Org{ID: newID("org"), Name: strings.TrimSpace(n.Name), Caps: n.Caps}
	owner := n.Owner
	owner.ID, owner.OrgID, owner.Role, owner.SiteIDs = newID("mem"), org.ID, keycab.RoleOwner, nil
	if org.Name == "" {
		return org, owner, fmt.Errorf("create org: %w", invalid("an organisation needs a name"))
	}
	if c := n.Caps; c.KeySets < 0 || c.Sites < 0 || c.Cabinets < 0 || c.Members < 1 {
		return org, owner, fmt.Errorf("create org: %w", invalid("caps must not be negative, and allow at least the owner"))
	}
	if a := n.Account; a != nil {
		if err := prepareAccount(a); err != nil {
			return org, owner, err
		}
		owner.Email = a.Email
	}
	t, err := s.begin(ctx, org.ID, true)
	if err != nil {
		return org, owner, fmt.Errorf("create org: %w", err)
	}
	defer t.sql.Rollback()
	t.p = principal{org: org.ID, member: owner.ID, role: keycab.RoleOwner}
	salt := make([]byte, 32)
	rand.Read(salt)
	if _, err := t.exec(ctx, `INSERT INTO orgs (id, name, cap_key_sets, cap_sites, cap_cabinets, cap_members, badge_salt, created_us)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		org.ID, org.Name, n.Caps.KeySets, n.Caps.Sites, n.Caps.Cabinets, n.Caps.Members, salt, us(t.now)); err != nil {
		return org, owner, fmt.Errorf("create org: %w", s.classify(err))
	}
	if err := t.insertMember(ctx, owner); err != nil {
		return org, owner, fmt.Errorf("create org: %w", s.classify(err))
	}
	if err := t.logAction(ctx, "org.create", org.ID, org.Name); err != nil {
		return org, owner, fmt.Errorf("create org: %w", err)
	}
	if a := n.Account; a != nil {
		if err := t.insertAccount(ctx, a); err != nil {
			return org, owner, fmt.Errorf("create org: %w", s.classify(err))
		}
		if err := t.linkMember(ctx, a.ID, org.ID, owner.ID); err != nil {
			return org, owner, fmt.Errorf("create org: %w", s.classify(err))
		}
	}
	if err := t.sql.Commit(); err != nil {
		return org, owner, fmt.Errorf("create org: commit: %w", s.classify(err))
	}
	return org, owner, nil
}

// GetOrg returns the principal's organisation.
func (s *Store) GetOrg(ctx context.Context, sc Scope) (keycab.Org, error) {
	var o keycab.Org
	err := s.read(ctx, "get org", sc, func(ctx context.Context, t *tx) error {
		var err error
		o, err = t.getOrg(ctx)
		return err
	})
	return o, err
}

func (t *tx) getOrg(ctx context.Context) (keycab.Org, error) {
	o := keycab.Org{ID: t.org()}
	err := t.queryRow(ctx, "SELECT name, cap_key_sets, cap_sites, cap_cabinets, cap_members FROM orgs WHERE id = $1", t.org()).
		Scan(&o.Name, &o.Caps.KeySets, &o.Caps.Sites, &o.Caps.Cabinets, &o.Caps.Members)
	return o, err
}

// RenameOrg changes the organisation's name. Owners and admins only.
// (Caps belong to the plan, set at signup by the service, not by tenants.)
func (s *Store) RenameOrg(ctx context.Context, sc Scope, name string) error {
	return s.write(ctx, "rename org", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("renaming the organisation"); err != nil {
			return err
		}
		name = strings.TrimSpace(name)
		if name == "" {
			return invalid("an organisation needs a name")
		}
		if _, err := t.exec(ctx, "UPDATE orgs SET name = $1 WHERE id = $2", name, t.org()); err != nil {
			return err
		}
		return t.logAction(ctx, "org.rename", t.org(), name)
	})
}

// Cap kinds, as named in errors and in lockCap.
const (
	capSites    = "sites"
	capCabinets = "cabinets"
	capKeySets  = "key_sets"
	capMembers  = "members"
)

// lockOrg locks the organisation's row until the transaction ends, so
// that checks over several rows (caps, the last owner) and the writes
// they guard happen one at a time per organisation. On SQLite the single
// immediate-mode writer already serialises them.
func (t *tx) lockOrg(ctx context.Context) error {
	if t.s.engine != Postgres {
		return nil
	}
	var id string
	return t.queryRow(ctx, "SELECT id FROM orgs WHERE id = $1 FOR UPDATE", t.org()).Scan(&id)
}

// checkCap locks the organisation and fails with ECAPACITY when creating
// one more row in table would pass the organisation's cap.
func (t *tx) checkCap(ctx context.Context, table string) error {
	if err := t.lockOrg(ctx); err != nil {
		return err
	}
	var capv int
	if err := t.queryRow(ctx, "SELECT cap_"+table+" FROM orgs WHERE id = $1", t.org()).Scan(&capv); err != nil {
		return err
	}
	var n int
	if err := t.queryRow(ctx, "SELECT count(*) FROM "+table+" WHERE org_id = $1", t.org()).Scan(&n); err != nil {
		return err
	}
	if n >= capv {
		return keycab.Errorf(keycab.ECAPACITY, "the organisation's cap of %d %s is reached", capv, strings.ReplaceAll(table, "_", " "))
	}
	return nil
}
