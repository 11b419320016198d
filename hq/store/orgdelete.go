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

// DefaultDeletionGrace is how long a deleted organisation can still be
// restored by an owner before HQ removes it for good.
const DefaultDeletionGrace = 30 * 24 * time.Hour

// OrgDeletion is an organisation's scheduled deletion: the zero value
// means none.
type OrgDeletion struct {
	RequestedAt time.Time
	RequestedBy string // member id
	// DeleteAfter is when HQ's purge may remove the organisation; until
	// then an owner can restore it.
	DeleteAfter time.Time
}

// Scheduled reports whether a deletion is scheduled.
func (d OrgDeletion) Scheduled() bool { return !d.DeleteAfter.IsZero() }

// errDeleting is what every principal but an owner gets while their
// organisation is scheduled for deletion, and what an owner's changes get.
func errDeleting(after int64) error {
	return keycab.Errorf(keycab.EFORBIDDEN, "this organisation is scheduled for deletion on %s; an owner can restore it until then",
		fromUS(after).UTC().Format("2 Jan 2006 15:04 UTC"))
}

// orgDeleteAfter reads when the transaction's organisation is to be
// deleted (0: not scheduled).
func (t *tx) orgDeleteAfter(ctx context.Context) (int64, error) {
	var after int64
	err := t.queryRow(ctx, "SELECT delete_after_us FROM orgs WHERE id = $1", t.org()).Scan(&after)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, keycab.Errorf(keycab.EUNAUTHORIZED, "unknown principal")
	}
	return after, err
}

// OrgDeletion returns the organisation's scheduled deletion, if any.
// Every member may read it (the dashboard shows it to owners).
func (s *Store) OrgDeletion(ctx context.Context, sc Scope) (OrgDeletion, error) {
	var d OrgDeletion
	err := s.read(ctx, "read org deletion", sc, func(ctx context.Context, t *tx) error {
		var err error
		d, err = t.orgDeletion(ctx)
		return err
	})
	return d, err
}

func (t *tx) orgDeletion(ctx context.Context) (OrgDeletion, error) {
	var d OrgDeletion
	var requested, after int64
	err := t.queryRow(ctx, "SELECT delete_requested_us, delete_requested_by, delete_after_us FROM orgs WHERE id = $1", t.org()).
		Scan(&requested, &d.RequestedBy, &after)
	d.RequestedAt, d.DeleteAfter = fromUS(requested), fromUS(after)
	return d, err
}

// CheckOwner refuses a principal who is not an owner of the
// organisation, before an edge asks an owner to re-authenticate.
func (s *Store) CheckOwner(ctx context.Context, sc Scope, what string) error {
	return s.read(ctx, "check owner", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleOwner {
			return forbidden("%s is for owners only", what)
		}
		return nil
	})
}

// ScheduleOrgDeletion schedules the principal's organisation for deletion
// after grace (DefaultDeletionGrace when zero). Owners only; confirm must
// be the organisation's name, typed. From then on its kiosks and every
// member but its owners are refused, and owners may only read (to
// export) and restore. The caller re-authenticates the owner first.
func (s *Store) ScheduleOrgDeletion(ctx context.Context, sc Scope, confirm string, grace time.Duration) (OrgDeletion, error) {
	if grace <= 0 {
		grace = DefaultDeletionGrace
	}
	var d OrgDeletion
	err := s.write(ctx, "schedule org deletion", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleOwner {
			return forbidden("only an owner can delete the organisation")
		}
		if err := t.lockOrg(ctx); err != nil {
			return err
		}
		o, err := t.getOrg(ctx)
		if err != nil {
			return err
		}
		if strings.TrimSpace(confirm) != o.Name {
			return invalid("type the organisation's name, %q, to confirm its deletion", o.Name)
		}
		d = OrgDeletion{RequestedAt: t.now, RequestedBy: t.p.member, DeleteAfter: t.now.Add(grace)}
		if _, err := t.exec(ctx, "UPDATE orgs SET delete_requested_us = $1, delete_requested_by = $2, delete_after_us = $3 WHERE id = $4",
			us(d.RequestedAt), d.RequestedBy, us(d.DeleteAfter), t.org()); err != nil {
			return err
		}
		return t.logChange(ctx, "org.delete", t.org(), loggedDeletion(OrgDeletion{}), loggedDeletion(d))
	})
	return d, err
}

// RestoreOrg cancels the organisation's scheduled deletion. Owners only,
// before the deletion is due.
func (s *Store) RestoreOrg(ctx context.Context, sc Scope) error {
	return s.run(ctx, "restore org", sc, runRestore, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleOwner {
			return forbidden("only an owner can restore the organisation")
		}
		if err := t.lockOrg(ctx); err != nil {
			return err
		}
		before, err := t.orgDeletion(ctx)
		if err != nil {
			return err
		}
		if !before.Scheduled() {
			return keycab.Errorf(keycab.ECONFLICT, "the organisation is not scheduled for deletion")
		}
		if !t.now.Before(before.DeleteAfter) {
			return errDeleting(us(before.DeleteAfter))
		}
		if _, err := t.exec(ctx, "UPDATE orgs SET delete_requested_us = 0, delete_requested_by = '', delete_after_us = 0 WHERE id = $1", t.org()); err != nil {
			return err
		}
		return t.logChange(ctx, "org.restore", t.org(), loggedDeletion(before), loggedDeletion(OrgDeletion{}))
	})
}

func loggedDeletion(d OrgDeletion) any {
	if !d.Scheduled() {
		return map[string]string{}
	}
	return map[string]string{
		"requested_at": d.RequestedAt.UTC().Format(time.RFC3339),
		"requested_by": d.RequestedBy,
		"delete_after": d.DeleteAfter.UTC().Format(time.RFC3339),
	}
}

// PurgeDeletedOrgs removes, for good, every organisation whose deletion
// is due: every row of it in every table with an org_id column, its
// append-only logs included, and the organisation itself. It answers the
// ids it removed. HQ runs it periodically (keycab-hq serve); an
// organisation whose purge fails is left whole and tried again.
func (s *Store) PurgeDeletedOrgs(ctx context.Context) ([]string, error) {
	ids, err := s.Outbox().NoticeOrgs(ctx) // every organisation's id
	if err != nil {
		return nil, err
	}
	var purged []string
	var errs []error
	for _, id := range ids {
		done, err := s.purgeOrg(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if done {
			purged = append(purged, id)
			s.log.Info("organisation deleted for good", "org", id)
		}
	}
	return purged, errors.Join(errs...)
}

// purgeOrg removes organisation id if its deletion is due.
func (s *Store) purgeOrg(ctx context.Context, id string) (bool, error) {
	done := false
	err := s.tenant(ctx, "purge org "+id, id, true, func(ctx context.Context, t *tx) error {
		after, err := t.orgDeleteAfter(ctx)
		if err != nil || after == 0 || after > us(t.now) {
			return nil // gone meanwhile, not scheduled, or not yet due
		}
		if err := t.lockOrg(ctx); err != nil {
			return err
		}
		tables, err := t.orgTables(ctx)
		if err != nil {
			return err
		}
		if s.engine == Postgres {
			// The rows the application role may not delete (see 0019).
			if _, err := t.exec(ctx, "SELECT keycab_purge_org($1, $2)", id, us(t.now)); err != nil {
				return err
			}
		} else if _, err := t.exec(ctx, "UPDATE orgs SET purging = 1 WHERE id = $1", id); err != nil {
			return err
		}
		if err := t.deleteOrgRows(ctx, tables); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM orgs WHERE id = $1", id); err != nil {
			return err
		}
		done = true
		return nil
	})
	return done, err
}

// orgTables lists the tables with an org_id column that the store may
// delete from, as the database describes itself, so that a table a later
// migration adds is purged too.
func (t *tx) orgTables(ctx context.Context) ([]string, error) {
	q := t.byEngine(`SELECT m.name FROM sqlite_schema m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.name = 'org_id' ORDER BY m.name`,
		`SELECT c.table_name FROM information_schema.columns c
		WHERE c.table_schema = current_schema() AND c.column_name = 'org_id'
			AND has_table_privilege(format('%I', c.table_name), 'DELETE') ORDER BY c.table_name`)
	rows, err := t.query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// deleteOrgRows deletes the organisation's rows from tables, children
// before parents: a table whose rows others still name (a foreign key,
// or the in-use triggers) is tried again after the others, each attempt
// in a savepoint, until a round removes nothing more.
func (t *tx) deleteOrgRows(ctx context.Context, tables []string) error {
	left := slices.Clone(tables)
	for len(left) > 0 {
		var again []string
		var last error
		for _, table := range left {
			if err := t.deleteOrgTable(ctx, table); err != nil {
				if !isFKError(err) {
					return fmt.Errorf("delete from %s: %w", table, err)
				}
				again, last = append(again, table), err
			}
		}
		if len(again) == len(left) {
			return fmt.Errorf("delete the organisation's rows: %s still named by other rows: %w", strings.Join(again, ", "), last)
		}
		left = again
	}
	return nil
}

func (t *tx) deleteOrgTable(ctx context.Context, table string) error {
	return t.savepoint(ctx, func() error {
		// table comes from the database's own catalogue (orgTables).
		_, err := t.exec(ctx, `DELETE FROM "`+table+`" WHERE org_id = $1`, t.org())
		return err
	})
}
