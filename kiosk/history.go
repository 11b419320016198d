package kiosk

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
)

// HistoryFilter selects entries of the local log for the admin screen.
type HistoryFilter struct {
	Kind   keycab.EventKind // empty: every kind
	Member string           // member id (as actor or second); empty: anyone
	KeySet string           // key set id; empty: any
	Limit  int              // newest first, at most this many; 0 means 100
}

// HistoryItem is one log entry as the admin screen shows it.
type HistoryItem struct {
	Index  int64
	Time   time.Time // the kiosk's wall clock then
	Kind   keycab.EventKind
	Who    string // display name of the actor (and the second)
	KeySet string // label of the key set
	Slot   int
	Detail string
}

// History returns the newest log entries that match f. It reads the store
// directly and may be called from any goroutine.
func (c *Controller) History(ctx context.Context, f HistoryFilter) ([]HistoryItem, error) {
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
			KeySet: nameOr(labels, ev.KeySet), Slot: int(ev.Slot), Detail: strings.Join(detail, ", ")})
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

func nameOr(m map[string]string, id string) string {
	if n, ok := m[id]; ok && n != "" {
		return n
	}
	return id
}

// indexNames refreshes the display names History uses.
func (c *Controller) indexNames() {
	names, labels := map[string]string{}, map[string]string{}
	for _, m := range c.conf.Members {
		names[m.ID] = m.Name
	}
	for _, k := range c.conf.KeySets {
		labels[k.ID] = k.Label
	}
	c.screenMu.Lock()
	c.names, c.labels = names, labels
	c.screenMu.Unlock()
}
