package store

import (
	"context"
	"fmt"
	"time"

	"keycab.dev/keycab"
)

// AdminAction is one entry of HQ's own append-only log of admin actions:
// every change made through the store writes one, in the same
// transaction as the change.
type AdminAction struct {
	ID        string
	OrgID     string
	At        time.Time
	ActorID   string // member or kiosk id
	ActorRole keycab.Role
	Action    string // e.g. "site.create"
	Target    string // the id acted on
	Detail    string
}

// logAction appends an admin-action row for the transaction's principal.
func (t *tx) logAction(ctx context.Context, action, target, detail string) error {
	actor := t.p.member
	if actor == "" {
		actor = t.p.kiosk
	}
	return t.logActionBy(ctx, actor, t.p.role, action, target, detail)
}

// logActionBy appends an admin action by actor in role.
func (t *tx) logActionBy(ctx context.Context, actor string, role keycab.Role, action, target, detail string) error {
	_, err := t.exec(ctx, `INSERT INTO admin_log (org_id, id, at_us, actor_id, actor_role, action, target, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.org(), newID("act"), us(t.now), actor, string(role), action, target, detail)
	if err != nil {
		return fmt.Errorf("log admin action: %w", err)
	}
	return nil
}

// ListAdminLog returns the newest admin actions first, at most limit
// (zero means 100). Owners, admins and auditors only.
func (s *Store) ListAdminLog(ctx context.Context, sc Scope, limit int) ([]AdminAction, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var out []AdminAction
	err := s.read(ctx, "list admin log", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() {
			return forbidden("the admin log is for owners, admins and auditors")
		}
		rows, err := t.query(ctx, `SELECT id, at_us, actor_id, actor_role, action, target, detail FROM admin_log
			WHERE org_id = $1 ORDER BY at_us DESC, id DESC LIMIT $2`, t.org(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a := AdminAction{OrgID: t.org()}
			var at int64
			if err := rows.Scan(&a.ID, &at, &a.ActorID, &a.ActorRole, &a.Action, &a.Target, &a.Detail); err != nil {
				return err
			}
			a.At = fromUS(at)
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, err
}
