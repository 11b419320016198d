package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"keycab.dev/keycab"
)

// CreateCabinet adds a cabinet at one of the organisation's sites, within
// the cap on cabinets. Owners, admins and the site's managers.
func (s *Store) CreateCabinet(ctx context.Context, sc Scope, c keycab.Cabinet) (keycab.Cabinet, error) {
	err := s.write(ctx, "create cabinet", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("creating a cabinet"); err != nil {
			return err
		}
		if err := t.sameOrg(c.OrgID); err != nil {
			return err
		}
		if err := t.siteVisible(ctx, c.SiteID); err != nil {
			return err
		}
		if !t.p.managesSite(c.SiteID) {
			return forbidden("creating a cabinet needs an owner, admin or the site's manager")
		}
		c.ID, c.OrgID, c.Name = newID("cab"), t.org(), strings.TrimSpace(c.Name)
		if c.Name == "" {
			return invalid("a cabinet needs a name")
		}
		if err := c.Kind.Validate(); err != nil {
			return err
		}
		if err := t.checkCap(ctx, capCabinets); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO cabinets (org_id, id, site_id, name, kind, door_lock, door_sensor)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			c.OrgID, c.ID, c.SiteID, c.Name, string(c.Kind), c.DoorLock, c.DoorSensor); err != nil {
			return err
		}
		return t.logAction(ctx, "cabinet.create", c.ID, c.Name)
	})
	return c, err
}

// GetCabinet returns a cabinet the principal may see: a kiosk sees only
// its own.
func (s *Store) GetCabinet(ctx context.Context, sc Scope, id string) (keycab.Cabinet, error) {
	var c keycab.Cabinet
	err := s.read(ctx, "get cabinet "+id, sc, func(ctx context.Context, t *tx) error {
		var err error
		c, err = t.cabinet(ctx, id)
		return err
	})
	return c, err
}

// cabinet reads a cabinet visible to the principal, or not found.
func (t *tx) cabinet(ctx context.Context, id string) (keycab.Cabinet, error) {
	c := keycab.Cabinet{ID: id, OrgID: t.org()}
	err := t.queryRow(ctx, `SELECT site_id, name, kind, door_lock, door_sensor FROM cabinets WHERE org_id = $1 AND id = $2`,
		t.org(), id).Scan(&c.SiteID, &c.Name, &c.Kind, &c.DoorLock, &c.DoorSensor)
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("cabinet", id)
	} else if err != nil {
		return c, err
	}
	if !t.p.seesSite(c.SiteID) || (t.p.role == keycab.RoleKiosk && id != t.p.cabinet) || t.p.role == keycab.RoleContractor {
		return c, notFound("cabinet", id)
	}
	return c, nil
}

// ListCabinets returns the cabinets the principal may see (all of a site
// when siteID is set).
func (s *Store) ListCabinets(ctx context.Context, sc Scope, siteID string) ([]keycab.Cabinet, error) {
	var out []keycab.Cabinet
	err := s.read(ctx, "list cabinets", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("listing cabinets"); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT id, site_id, name, kind, door_lock, door_sensor FROM cabinets
			WHERE org_id = $1 AND ($2 = '' OR site_id = $2) ORDER BY name, id`, t.org(), siteID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c := keycab.Cabinet{OrgID: t.org()}
			if err := rows.Scan(&c.ID, &c.SiteID, &c.Name, &c.Kind, &c.DoorLock, &c.DoorSensor); err != nil {
				return err
			}
			if t.p.seesSite(c.SiteID) && t.p.role != keycab.RoleContractor {
				out = append(out, c)
			}
		}
		return rows.Err()
	})
	return out, err
}

// UpdateCabinet changes a cabinet's name, kind and door pins (not its
// site). Owners, admins and the site's managers.
func (s *Store) UpdateCabinet(ctx context.Context, sc Scope, c keycab.Cabinet) error {
	return s.write(ctx, "update cabinet "+c.ID, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("updating a cabinet"); err != nil {
			return err
		}
		if err := t.sameOrg(c.OrgID); err != nil {
			return err
		}
		old, err := t.cabinet(ctx, c.ID)
		if err != nil {
			return err
		}
		if !t.p.managesSite(old.SiteID) {
			return forbidden("updating a cabinet needs an owner, admin or the site's manager")
		}
		if c.SiteID != "" && c.SiteID != old.SiteID {
			return invalid("a cabinet cannot move to another site")
		}
		if err := c.Kind.Validate(); err != nil {
			return err
		}
		if strings.TrimSpace(c.Name) == "" {
			return invalid("a cabinet needs a name")
		}
		if _, err := t.exec(ctx, `UPDATE cabinets SET name = $1, kind = $2, door_lock = $3, door_sensor = $4
			WHERE org_id = $5 AND id = $6`, strings.TrimSpace(c.Name), string(c.Kind), c.DoorLock, c.DoorSensor, t.org(), c.ID); err != nil {
			return err
		}
		return t.logAction(ctx, "cabinet.update", c.ID, c.Name)
	})
}

// DeleteCabinet removes a cabinet and its slots; one with kiosks is in
// use. Owners, admins and the site's managers.
func (s *Store) DeleteCabinet(ctx context.Context, sc Scope, id string) error {
	return s.write(ctx, "delete cabinet "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("deleting a cabinet"); err != nil {
			return err
		}
		old, err := t.cabinet(ctx, id)
		if err != nil {
			return err
		}
		if !t.p.managesSite(old.SiteID) {
			return forbidden("deleting a cabinet needs an owner, admin or the site's manager")
		}
		if _, err := t.exec(ctx, "DELETE FROM cabinets WHERE org_id = $1 AND id = $2", t.org(), id); err != nil {
			return inUse(err, "the cabinet")
		}
		return t.logAction(ctx, "cabinet.delete", id, "")
	})
}

// SetSlot creates or replaces slot sl.Number of cabinet sl.CabinetID. Its
// key set, if any, must be one of the organisation's at the cabinet's
// site. Owners, admins and the site's managers.
func (s *Store) SetSlot(ctx context.Context, sc Scope, sl keycab.Slot) error {
	return s.write(ctx, "set slot", sc, func(ctx context.Context, t *tx) error {
		if err := t.setSlot(ctx, sl); err != nil {
			return err
		}
		return t.logAction(ctx, "slot.set", sl.CabinetID, keycab.SlotName(sl.Number))
	})
}

func (t *tx) setSlot(ctx context.Context, sl keycab.Slot) error {
	if err := t.p.mustWrite("setting a slot"); err != nil {
		return err
	}
	c, err := t.cabinet(ctx, sl.CabinetID)
	if err != nil {
		return err
	}
	if !t.p.managesSite(c.SiteID) {
		return forbidden("setting a slot needs an owner, admin or the site's manager")
	}
	if sl.Number < 1 {
		return invalid("slots count from 1")
	}
	var ks any
	if sl.KeySetID != "" {
		k, err := t.keySet(ctx, sl.KeySetID)
		if err != nil {
			return err
		}
		if k.SiteID != c.SiteID {
			return invalid("key set %s belongs to another site than cabinet %s", k.ID, c.ID)
		}
		ks = k.ID
	}
	_, err = t.exec(ctx, `INSERT INTO slots (org_id, cabinet_id, number, lock, sensor, key_set_id) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_id, cabinet_id, number) DO UPDATE SET lock = excluded.lock, sensor = excluded.sensor, key_set_id = excluded.key_set_id`,
		t.org(), c.ID, sl.Number, sl.Lock, sl.Sensor, ks)
	return err
}

// ListSlots returns a cabinet's slots in order. A kiosk reads its own
// cabinet's.
func (s *Store) ListSlots(ctx context.Context, sc Scope, cabinetID string) ([]keycab.Slot, error) {
	var out []keycab.Slot
	err := s.read(ctx, "list slots of cabinet "+cabinetID, sc, func(ctx context.Context, t *tx) error {
		if _, err := t.cabinet(ctx, cabinetID); err != nil {
			return err
		}
		var err error
		out, err = t.slots(ctx, cabinetID)
		return err
	})
	return out, err
}

func (t *tx) slots(ctx context.Context, cabinetID string) ([]keycab.Slot, error) {
	rows, err := t.query(ctx, `SELECT number, lock, sensor, coalesce(key_set_id, '') FROM slots
		WHERE org_id = $1 AND cabinet_id = $2 ORDER BY number`, t.org(), cabinetID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keycab.Slot
	for rows.Next() {
		sl := keycab.Slot{CabinetID: cabinetID}
		if err := rows.Scan(&sl.Number, &sl.Lock, &sl.Sensor, &sl.KeySetID); err != nil {
			return nil, err
		}
		out = append(out, sl)
	}
	return out, rows.Err()
}

// DeleteSlot removes one slot. Owners, admins and the site's managers.
func (s *Store) DeleteSlot(ctx context.Context, sc Scope, cabinetID string, number int) error {
	return s.write(ctx, "delete slot", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("deleting a slot"); err != nil {
			return err
		}
		c, err := t.cabinet(ctx, cabinetID)
		if err != nil {
			return err
		}
		if !t.p.managesSite(c.SiteID) {
			return forbidden("deleting a slot needs an owner, admin or the site's manager")
		}
		res, err := t.exec(ctx, "DELETE FROM slots WHERE org_id = $1 AND cabinet_id = $2 AND number = $3", t.org(), cabinetID, number)
		if err != nil {
			return err
		}
		if err := affected(res, "slot", keycab.SlotName(number)); err != nil {
			return err
		}
		return t.logAction(ctx, "slot.delete", cabinetID, keycab.SlotName(number))
	})
}
