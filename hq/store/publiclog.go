package store

import (
	"context"
	"database/sql"
	"errors"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
)

// Public logs (schema version 21). An organisation's owners and admins
// may publish its kiosks' logs (orgs.public_logs, off by default): then
// anyone may read each kiosk's cosigned checkpoint, tree hashes and
// leaves without a token, and nothing else of the organisation. A
// request without a principal finds the kiosk's organisation through
// kiosk_directory (on PostgreSQL through keycab_kiosk_org), binds the
// transaction to it and reads orgs.public_logs there, in the same
// transaction as the log itself, so turning it off takes effect at once.

// errNotPublic answers every public read of a log that is not public: an
// unknown kiosk, one of an organisation that has not published its logs
// or is scheduled for deletion answer alike.
var errNotPublic = keycab.Errorf(keycab.EUNAUTHORIZED, "this log is not public: sign in")

// PublicLogs reports whether the principal's organisation publishes its
// kiosks' logs.
func (s *KioskLogs) PublicLogs(ctx context.Context, sc Scope) (bool, error) {
	var on bool
	err := s.store().read(ctx, "get org public logs", sc, func(ctx context.Context, t *tx) error {
		return t.queryRow(ctx, "SELECT public_logs FROM orgs WHERE id = $1", t.org()).Scan(&on)
	})
	return on, err
}

// SetPublicLogs sets whether the organisation publishes its kiosks' logs
// to anyone without a token, recorded as org.public_logs with before and
// after. Owners and admins only.
func (s *KioskLogs) SetPublicLogs(ctx context.Context, sc Scope, on bool) error {
	return s.store().write(ctx, "set org public logs", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("publishing the organisation's kiosk logs"); err != nil {
			return err
		}
		var before bool
		if err := t.queryRow(ctx, "SELECT public_logs FROM orgs WHERE id = $1", t.org()).Scan(&before); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE orgs SET public_logs = $1 WHERE id = $2", on, t.org()); err != nil {
			return err
		}
		type rule struct {
			PublicLogs bool `json:"public_logs"`
		}
		return t.logChange(ctx, "org.public_logs", t.org(), rule{before}, rule{on})
	})
}

// PublicKioskLog returns a kiosk's log state to anyone, when its
// organisation publishes its logs (EUNAUTHORIZED otherwise, as for a
// request without a token).
func (s *KioskLogs) PublicKioskLog(ctx context.Context, kioskID string) (KioskLog, error) {
	var kl KioskLog
	err := s.store().readPublic(ctx, "public kiosk log "+kioskID, kioskID, func(ctx context.Context, t *tx) error {
		var err error
		if kl, err = t.kioskLog(ctx, kioskID, false); err != nil {
			return err
		}
		return t.addWitnessLines(ctx, &kl)
	})
	return kl, err
}

// PublicKioskTreeHashes is KioskTreeHashes for anyone, when the kiosk's
// organisation publishes its logs.
func (s *KioskLogs) PublicKioskTreeHashes(ctx context.Context, kioskID string, indexes []int64) ([]tlog.Hash, error) {
	var out []tlog.Hash
	err := s.store().readPublic(ctx, "public kiosk tree hashes "+kioskID, kioskID, func(ctx context.Context, t *tx) error {
		var err error
		out, err = (&LogTx{t: t, log: KioskLog{KioskID: kioskID}}).HashReader(ctx).ReadHashes(indexes)
		return err
	})
	return out, err
}

// PublicKioskLeaves is KioskLeaves for anyone, when the kiosk's
// organisation publishes its logs.
func (s *KioskLogs) PublicKioskLeaves(ctx context.Context, kioskID string, start, end int64) ([][]byte, error) {
	var out [][]byte
	err := s.store().readPublic(ctx, "public kiosk leaves "+kioskID, kioskID, func(ctx context.Context, t *tx) error {
		var err error
		out, err = (&LogTx{t: t, log: KioskLog{KioskID: kioskID}}).Leaves(ctx, start, end)
		return err
	})
	return out, err
}

// readPublic runs fn in a read transaction bound to the kiosk's
// organisation, if that organisation publishes its logs.
func (s *Store) readPublic(ctx context.Context, op, kioskID string, fn func(context.Context, *tx) error) error {
	return s.global(ctx, op, false, func(ctx context.Context, t *tx) error {
		var orgID string
		err := t.queryRow(ctx, t.byEngine("SELECT org_id FROM kiosk_directory WHERE kiosk_id = $1",
			"SELECT * FROM keycab_kiosk_org($1)"), kioskID).Scan(&orgID)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotPublic
		} else if err != nil {
			return err
		}
		if err := t.bind(ctx, orgID); err != nil {
			return err
		}
		var public bool
		var deleteAfter int64
		err = t.queryRow(ctx, "SELECT public_logs, delete_after_us FROM orgs WHERE id = $1", t.org()).Scan(&public, &deleteAfter)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (!public || deleteAfter != 0)) {
			return errNotPublic
		} else if err != nil {
			return err
		}
		var n int
		if err := t.queryRow(ctx, "SELECT count(*) FROM kiosks WHERE org_id = $1 AND id = $2", t.org(), kioskID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return errNotPublic
		}
		return fn(ctx, t)
	})
}
