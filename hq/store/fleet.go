package store

import (
	"context"
	"database/sql"
	"time"
)

// OrgFleet is one organisation's state as HQ's monitoring reads it: the
// counts an operator alerts on, and each kiosk's health with what its
// newest heartbeat reported.
type OrgFleet struct {
	OrgID string
	// KeySetsOut are held by someone now; Overdue are held past their
	// due time.
	KeySetsOut, Overdue int
	// AlarmsOpen counts the open alarms by kind (keycab.Alarm*).
	AlarmsOpen map[string]int
	// Equivocations counts the pieces of evidence HQ kept of a kiosk
	// showing two histories (a fork, a rewritten entry): each one
	// quarantined a log.
	Equivocations int
	// Notices counts the notice mail of the organisation by state
	// (pending, sent, dry-run, failed).
	Notices map[string]int
	// Webhooks counts the organisation's webhook deliveries by state
	// (pending: the queue, delivered, failed: given up).
	Webhooks map[string]int
	// Kiosks are the organisation's kiosks, revoked ones included.
	Kiosks []KioskHealth
	// At is the store's clock when this was read.
	At time.Time
}

// ReadFleet reads every organisation's OrgFleet, one read transaction per
// organisation (bound to it, as every tenant read is); a kiosk not seen
// for offlineAfter is offline. An organisation being deleted is left out.
func (s *Store) ReadFleet(ctx context.Context, offlineAfter time.Duration) ([]OrgFleet, error) {
	orgs, err := s.Outbox().NoticeOrgs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]OrgFleet, 0, len(orgs))
	for _, org := range orgs {
		f := OrgFleet{OrgID: org, AlarmsOpen: map[string]int{}, Notices: map[string]int{}, Webhooks: map[string]int{}}
		deleting := false
		err := s.tenant(ctx, "read fleet", org, false, func(ctx context.Context, t *tx) error {
			f.At = t.now
			after, err := t.orgDeleteAfter(ctx)
			if err != nil || after != 0 {
				deleting = after != 0
				return err
			}
			return t.fleet(ctx, &f, offlineAfter)
		})
		if err != nil {
			return nil, err
		}
		if !deleting {
			out = append(out, f)
		}
	}
	return out, nil
}

func (t *tx) fleet(ctx context.Context, f *OrgFleet, offlineAfter time.Duration) error {
	if err := t.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_us > 0 AND due_us <= $2 THEN 1 ELSE 0 END), 0)
		FROM custody WHERE org_id = $1`, t.org(), us(t.now)).Scan(&f.KeySetsOut, &f.Overdue); err != nil {
		return err
	}
	if err := t.queryRow(ctx, "SELECT COUNT(*) FROM log_evidence WHERE org_id = $1", t.org()).Scan(&f.Equivocations); err != nil {
		return err
	}
	count := func(into map[string]int, q string) error {
		return t.each(ctx, func(r *sql.Rows) error {
			var k string
			var n int
			if err := r.Scan(&k, &n); err != nil {
				return err
			}
			into[k] = n
			return nil
		}, q, t.org())
	}
	if err := count(f.AlarmsOpen, "SELECT alarm, COUNT(*) FROM alarms WHERE org_id = $1 AND cleared_us = 0 GROUP BY alarm"); err != nil {
		return err
	}
	if err := count(f.Notices, "SELECT state, COUNT(*) FROM notice_outbox WHERE org_id = $1 GROUP BY state"); err != nil {
		return err
	}
	if err := count(f.Webhooks, "SELECT state, COUNT(*) FROM webhook_deliveries WHERE org_id = $1 GROUP BY state"); err != nil {
		return err
	}
	var err error
	f.Kiosks, err = t.kioskHealth(ctx, offlineAfter, func(string) bool { return true })
	return err
}
