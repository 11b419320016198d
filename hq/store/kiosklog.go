package store

import (
	"context"

	"golang.org/x/mod/sumdb/tlog"
)

// KioskTreeHashes returns stored tree hashes (tlog stored-hash indexes)
// of a kiosk's log as HQ holds them, for serving the log as tiles, to
// those who may see the kiosk.
func (s *KioskLogs) KioskTreeHashes(ctx context.Context, sc Scope, kioskID string, indexes []int64) ([]tlog.Hash, error) {
	var out []tlog.Hash
	err := s.store().read(ctx, "kiosk tree hashes "+kioskID, sc, func(ctx context.Context, t *tx) error {
		if err := t.seesKiosk(ctx, kioskID); err != nil {
			return err
		}
		var err error
		out, err = (&LogTx{t: t, log: KioskLog{KioskID: kioskID}}).HashReader(ctx).ReadHashes(indexes)
		return err
	})
	return out, err
}
