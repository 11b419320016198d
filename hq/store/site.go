package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/i18n"
)

// Site is a site as the store returns it: the domain site and its notes,
// decrypted for owners, admins, and staff or contractors who hold a key
// set of the site right now, and redacted (empty, NotesRedacted set) for
// everyone else.
type Site struct {
	keycab.Site
	Notes         string
	NotesRedacted bool
}

// CreateSite adds a site; n.Notes are sealed with the notes key. Owners
// and admins only, within the organisation's cap on sites.
func (s *Store) CreateSite(ctx context.Context, sc Scope, n Site) (Site, error) {
	err := s.write(ctx, "create site", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("creating a site"); err != nil {
			return err
		}
		if err := t.sameOrg(n.OrgID); err != nil {
			return err
		}
		n.ID, n.OrgID, n.Name = newID("site"), t.org(), strings.TrimSpace(n.Name)
		if n.Name == "" {
			return invalid("a site needs a name")
		}
		tz, err := checkTimeZone(n.TimeZone)
		if err != nil {
			return err
		}
		n.TimeZone = tz
		if !i18n.Valid(n.Language) {
			return badLanguage(n.Language)
		}
		if err := t.checkCap(ctx, capSites); err != nil {
			return err
		}
		sealed, err := sealNotes(t.s.notes, n.OrgID, n.ID, n.Notes)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO sites (org_id, id, name, address, time_zone, notes, language) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			n.OrgID, n.ID, n.Name, n.Address, n.TimeZone, sealed, n.Language); err != nil {
			return err
		}
		return t.logAction(ctx, "site.create", n.ID, n.Name)
	})
	return n, err
}

// GetSite returns one site the principal may see.
func (s *Store) GetSite(ctx context.Context, sc Scope, id string) (Site, error) {
	var out Site
	err := s.read(ctx, "get site "+id, sc, func(ctx context.Context, t *tx) error {
		sites, err := t.sites(ctx, id)
		if err != nil {
			return err
		}
		if len(sites) == 0 {
			return notFound("site", id)
		}
		out = sites[0]
		return nil
	})
	return out, err
}

// ListSites returns the sites the principal may see.
func (s *Store) ListSites(ctx context.Context, sc Scope) ([]Site, error) {
	var out []Site
	err := s.read(ctx, "list sites", sc, func(ctx context.Context, t *tx) error {
		var err error
		out, err = t.sites(ctx, "")
		return err
	})
	return out, err
}

// sites reads the visible sites (one when id is set), notes decrypted or
// redacted by the notes rule.
func (t *tx) sites(ctx context.Context, id string) ([]Site, error) {
	rows, err := t.query(ctx, `SELECT id, name, address, time_zone, notes, language FROM sites
		WHERE org_id = $1 AND ($2 = '' OR id = $2) ORDER BY name, id`, t.org(), id)
	if err != nil {
		return nil, err
	}
	type row struct {
		site   Site
		sealed []byte
	}
	var all []row
	for rows.Next() {
		r := row{site: Site{Site: keycab.Site{OrgID: t.org()}}}
		if err := rows.Scan(&r.site.ID, &r.site.Name, &r.site.Address, &r.site.TimeZone, &r.sealed, &r.site.Language); err != nil {
			rows.Close()
			return nil, err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	visible, err := t.visibleSites(ctx)
	if err != nil {
		return nil, err
	}
	var out []Site
	for _, r := range all {
		if visible != nil && !visible[r.site.ID] {
			continue
		}
		show, err := t.seesNotes(ctx, r.site.ID)
		if err != nil {
			return nil, err
		}
		if show && t.s.notes != nil {
			if r.site.Notes, err = openNotes(t.s.notes, t.org(), r.site.ID, r.sealed); err != nil {
				return nil, err
			}
		} else {
			r.site.NotesRedacted = len(r.sealed) > 0
		}
		out = append(out, r.site)
	}
	return out, nil
}

// visibleSites returns the set of sites the principal may see, or nil for
// all of them. A contractor sees the sites of their current jobs' key sets.
func (t *tx) visibleSites(ctx context.Context) (map[string]bool, error) {
	p := t.p
	switch {
	case p.readsAll():
		return nil, nil
	case p.role == keycab.RoleKiosk:
		return map[string]bool{p.site: true}, nil
	case p.role == keycab.RoleContractor:
		ks, err := t.contractorKeySets(ctx)
		if err != nil {
			return nil, err
		}
		m := map[string]bool{}
		for _, k := range ks {
			m[k.SiteID] = true
		}
		return m, nil
	case len(p.sites) == 0:
		return nil, nil
	}
	m := map[string]bool{}
	for _, s := range p.sites {
		m[s] = true
	}
	return m, nil
}

// seesNotes applies the notes rule to one site.
func (t *tx) seesNotes(ctx context.Context, siteID string) (bool, error) {
	switch t.p.role {
	case keycab.RoleOwner, keycab.RoleAdmin:
		return true, nil
	case keycab.RoleStaff, keycab.RoleContractor:
		var n int
		err := t.queryRow(ctx, `SELECT count(*) FROM custody c
			JOIN key_sets k ON k.org_id = c.org_id AND k.id = c.key_set_id
			WHERE c.org_id = $1 AND c.member_id = $2 AND k.site_id = $3`, t.org(), t.p.member, siteID).Scan(&n)
		return n > 0, err
	}
	return false, nil
}

// siteOf returns a site's id if it exists in the organisation and the
// principal may see it; otherwise not found.
func (t *tx) siteVisible(ctx context.Context, id string) error {
	var got string
	err := t.queryRow(ctx, "SELECT id FROM sites WHERE org_id = $1 AND id = $2", t.org(), id).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !t.p.seesSite(id)) {
		return notFound("site", id)
	}
	return err
}

// UpdateSite changes a site's name, address, time zone and language. Owners and
// admins, and site managers of that site.
func (s *Store) UpdateSite(ctx context.Context, sc Scope, site keycab.Site) error {
	return s.write(ctx, "update site "+site.ID, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("updating a site"); err != nil {
			return err
		}
		if err := t.sameOrg(site.OrgID); err != nil {
			return err
		}
		if err := t.siteVisible(ctx, site.ID); err != nil {
			return err
		}
		if !t.p.managesSite(site.ID) {
			return forbidden("updating a site needs an owner, admin or its site manager")
		}
		if strings.TrimSpace(site.Name) == "" {
			return invalid("a site needs a name")
		}
		tz, err := checkTimeZone(site.TimeZone)
		if err != nil {
			return err
		}
		if !i18n.Valid(site.Language) {
			return badLanguage(site.Language)
		}
		res, err := t.exec(ctx, "UPDATE sites SET name = $1, address = $2, time_zone = $3, language = $4 WHERE org_id = $5 AND id = $6",
			strings.TrimSpace(site.Name), site.Address, tz, site.Language, t.org(), site.ID)
		if err != nil {
			return err
		}
		if err := affected(res, "site", site.ID); err != nil {
			return err
		}
		return t.logAction(ctx, "site.update", site.ID, site.Name)
	})
}

// SetSiteNotes replaces a site's sensitive notes (sealed with the notes
// key; empty clears them). Owners and admins only.
func (s *Store) SetSiteNotes(ctx context.Context, sc Scope, siteID, notes string) error {
	return s.write(ctx, "set notes of site "+siteID, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("setting site notes"); err != nil {
			return err
		}
		if err := t.siteVisible(ctx, siteID); err != nil {
			return err
		}
		if err := t.p.requireAdmin("setting site notes"); err != nil {
			return err
		}
		sealed, err := sealNotes(t.s.notes, t.org(), siteID, notes)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, "UPDATE sites SET notes = $1 WHERE org_id = $2 AND id = $3", sealed, t.org(), siteID)
		if err != nil {
			return err
		}
		if err := affected(res, "site", siteID); err != nil {
			return err
		}
		return t.logAction(ctx, "site.notes", siteID, "")
	})
}

// DeleteSite removes a site that has no cabinets, key sets or scoped
// members left (ECONFLICT otherwise). Owners and admins only.
func (s *Store) DeleteSite(ctx context.Context, sc Scope, id string) error {
	return s.write(ctx, "delete site "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("deleting a site"); err != nil {
			return err
		}
		if err := t.siteVisible(ctx, id); err != nil {
			return err
		}
		if err := t.p.requireAdmin("deleting a site"); err != nil {
			return err
		}
		res, err := t.exec(ctx, "DELETE FROM sites WHERE org_id = $1 AND id = $2", t.org(), id)
		if err != nil {
			return inUse(err, "the site")
		}
		if err := affected(res, "site", id); err != nil {
			return err
		}
		return t.logAction(ctx, "site.delete", id, "")
	})
}

// sameOrg refuses an argument that names another organisation than the
// principal's: the same answer as for a missing row.
func (t *tx) sameOrg(orgID string) error {
	if orgID != "" && orgID != t.org() {
		return notFound("organisation", orgID)
	}
	return nil
}

// checkTimeZone trims an IANA time zone name and checks that Go's zone
// database knows it; empty is allowed (the site's times show in UTC).
// "Local" is refused: it is the server's zone, not a place.
func checkTimeZone(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil
	}
	if _, err := time.LoadLocation(name); err != nil || name == "Local" {
		return "", invalid("unknown time zone %q: use an IANA name such as Europe/London", name)
	}
	return name, nil
}
