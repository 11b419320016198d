package kiosk

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
)

// Flush returns once the controller's loop has handled every event posted
// before it: actions (Do), scans handed over by ReadScanners and the
// timers of its clock that have fired. A sensor event the loop has taken
// from Config.Sensors is handled before it too.
func (c *Controller) Flush() {
	ch := make(flushed)
	c.events <- ch
	<-ch
}

// HistoryFrom is History reading log instead of the controller's store, so
// that a test can count the entries History reads.
func (c *Controller) HistoryFrom(ctx context.Context, log recentLog, f HistoryFilter) ([]HistoryItem, error) {
	return c.history(ctx, log, f)
}

// HistoryByScan is History as it was before it read the log from its end:
// it decodes the whole log and keeps the newest matches. Tests hold the
// new History to its results.
func (c *Controller) HistoryByScan(ctx context.Context, f HistoryFilter) ([]HistoryItem, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	c.screenMu.Lock()
	names, labels := c.names, c.labels
	c.screenMu.Unlock()
	var ring []HistoryItem
	err := c.db.Scan(ctx, 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
		if (f.Kind != "" && ev.Kind != f.Kind) || (f.KeySet != "" && ev.KeySet != f.KeySet) ||
			(f.Member != "" && ev.Actor != f.Member && ev.Second != f.Member && ev.Detail["member"] != f.Member) {
			return nil
		}
		who := nameOr(names, ev.Actor)
		if ev.Second != "" {
			who += " + " + nameOr(names, ev.Second)
		}
		keys := make([]string, 0, len(ev.Detail))
		for k := range ev.Detail {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var detail []string
		for _, k := range keys {
			detail = append(detail, k+": "+ev.Detail[k])
		}
		if ev.Reason != "" {
			detail = append([]string{"reason: " + ev.Reason}, detail...)
		}
		ring = append(ring, HistoryItem{Index: e.Index, Time: ev.WallTime(), Kind: ev.Kind, Who: who,
			KeySet: nameOr(labels, ev.KeySet), Slot: int(ev.Slot), Detail: strings.Join(detail, ", "),
			Text: keycab.Describe(ev.Kind, ev.Detail)})
		if len(ring) > 2*f.Limit {
			ring = append(ring[:0], ring[len(ring)-f.Limit:]...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ring) > f.Limit {
		ring = ring[len(ring)-f.Limit:]
	}
	for i, j := 0, len(ring)-1; i < j; i, j = i+1, j-1 {
		ring[i], ring[j] = ring[j], ring[i]
	}
	return ring, nil
}
