package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"keycab.dev/keycab"
)

// HQPeer is the HQ this kiosk is enrolled with and the keys it pinned.
type HQPeer struct {
	URL         string
	KioskID     string
	OrgID       string
	CabinetID   string
	Origin      string // the name of the kiosk's log and key
	CosignerKey string
	ConfigKey   string
	EnrolledAt  time.Time
}

// PinHQ records the HQ the kiosk enrolled with. The pin never changes:
// a second one is refused (keycab.ECONFLICT).
func (d *DB) PinHQ(ctx context.Context, p HQPeer) error {
	if d.opts.ReadOnly {
		return keycab.Errorf(keycab.EINVALID, "database is read-only")
	}
	if d.meta != nil && d.meta.origin != p.Origin {
		return keycab.Errorf(keycab.ECONFLICT, "this database's log is %q, not the enrolled %q (re-enrolment with key.rotate is not supported yet)", d.meta.origin, p.Origin)
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO hq_peer (id, hq_url, kiosk_id, org_id, cabinet_id, origin, cosigner_key, config_key, enrolled_ms)
		VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		p.URL, p.KioskID, p.OrgID, p.CabinetID, p.Origin, p.CosignerKey, p.ConfigKey, d.now().UnixMilli())
	if err != nil {
		return d.wrap("pin HQ", err)
	}
	got, err := d.HQPeer(ctx)
	if err != nil {
		return err
	}
	if got.KioskID != p.KioskID || got.CosignerKey != p.CosignerKey || got.ConfigKey != p.ConfigKey {
		return keycab.Errorf(keycab.ECONFLICT, "already enrolled as kiosk %s", got.KioskID)
	}
	_, err = d.db.ExecContext(ctx, "UPDATE sync_state SET hq_url = ? WHERE id = 1", p.URL)
	return d.wrapNil("pin HQ", err)
}

// HQPeer returns the pinned HQ (keycab.ENOTFOUND before enrolment).
func (d *DB) HQPeer(ctx context.Context) (HQPeer, error) {
	var p HQPeer
	var enrolled int64
	err := d.db.QueryRowContext(ctx, "SELECT hq_url, kiosk_id, org_id, cabinet_id, origin, cosigner_key, config_key, enrolled_ms FROM hq_peer WHERE id = 1").
		Scan(&p.URL, &p.KioskID, &p.OrgID, &p.CabinetID, &p.Origin, &p.CosignerKey, &p.ConfigKey, &enrolled)
	if errors.Is(err, sql.ErrNoRows) {
		return p, keycab.Errorf(keycab.ENOTFOUND, "this kiosk is not enrolled with an HQ")
	} else if err != nil {
		return p, d.wrap("read HQ", err)
	}
	p.EnrolledAt = fromMS(enrolled)
	return p, nil
}

// SyncState is how far the log has reached HQ.
type SyncState struct {
	HQURL        string
	AckedSize    int64 // HQ's size as last reported by HQ
	CosignedSize int64 // the largest size HQ cosigned
	LastPush     time.Time
	LastPull     time.Time
}

// SyncState returns the sync state.
func (d *DB) SyncState(ctx context.Context) (SyncState, error) {
	var s SyncState
	var push, pull int64
	err := d.db.QueryRowContext(ctx, "SELECT hq_url, acked_size, cosigned_size, last_push_ms, last_pull_ms FROM sync_state WHERE id = 1").
		Scan(&s.HQURL, &s.AckedSize, &s.CosignedSize, &push, &pull)
	s.LastPush, s.LastPull = fromMS(push), fromMS(pull)
	return s, d.wrapNil("read sync state", err)
}

// SetAcked records HQ's size as HQ reported it (after a cosignature or a
// 409) and the size of a checkpoint HQ cosigned (0: none); the cosigned
// size only grows.
func (d *DB) SetAcked(ctx context.Context, acked, cosigned int64) error {
	_, err := d.db.ExecContext(ctx, "UPDATE sync_state SET acked_size = ?, last_push_ms = ?, cosigned_size = max(cosigned_size, ?) WHERE id = 1",
		acked, d.now().UnixMilli(), cosigned)
	return d.wrapNil("record sync state", err)
}

// SetPulled records a successful config pull.
func (d *DB) SetPulled(ctx context.Context) error {
	_, err := d.db.ExecContext(ctx, "UPDATE sync_state SET last_pull_ms = ? WHERE id = 1", d.now().UnixMilli())
	return d.wrapNil("record sync state", err)
}
