package kiosk

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/store"
)

// HistoryFilter selects entries of the local log for the admin screen.
type HistoryFilter struct {
	Kind   keycab.EventKind // empty: every kind
	Member string           // member id (as actor or second); empty: anyone
	KeySet string           // key set id; empty: any
	Limit  int              // newest first, at most this many; 0 means 100
	Lang   string           // the locale of the items' Text (internal/i18n); empty is English
}

// HistoryItem is one log entry as the admin screen shows it.
type HistoryItem struct {
	Index  int64
	Time   time.Time // the kiosk's wall clock then
	Kind   keycab.EventKind
	Who    string // display name of the actor (and the second)
	KeySet string // label of the key set
	Slot   int
	Detail string // every detail as key: value, for the technically minded
	// Text is the entry in staff-facing words (keycab.Describe): what
	// the screens and the console show.
	Text string
}

// recentLog is what History needs of the log: its newest entries, read
// backwards (store.DB.Recent).
type recentLog interface {
	Recent(ctx context.Context, before int64, n int, fn func(store.Entry) error) error
}

// History returns the newest log entries that match f. It reads the store
// directly and may be called from any goroutine. It reads the log from its
// end, a page at a time, and decodes only what it reads: without a filter
// that is f.Limit entries however long the log; a filter that matches
// rarely reads further back, in growing pages, until it has f.Limit
// entries or reaches the start.
func (c *Controller) History(ctx context.Context, f HistoryFilter) ([]HistoryItem, error) {
	return c.history(ctx, c.db, f)
}

// errHistoryFull stops a page of History once it has enough entries.
var errHistoryFull = errors.New("history full")

// maxHistoryPage bounds the entries one page of History holds in memory.
const maxHistoryPage = 4096

func (c *Controller) history(ctx context.Context, log recentLog, f HistoryFilter) ([]HistoryItem, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	c.screenMu.Lock()
	names, labels := c.names, c.labels
	c.screenMu.Unlock()
	var items []HistoryItem
	before, page := int64(-1), f.Limit
	for len(items) < f.Limit {
		read := 0
		err := log.Recent(ctx, before, page, func(e store.Entry) error {
			read++
			before = e.Index
			ev, err := audit.Decode(e.Leaf)
			if err != nil {
				return fmt.Errorf("entry %d: %w", e.Index, err)
			}
			if f.matches(ev) {
				items = append(items, historyItem(e.Index, ev, names, labels, f.Lang))
			}
			if len(items) == f.Limit {
				return errHistoryFull
			}
			return nil
		})
		if errors.Is(err, errHistoryFull) {
			break
		}
		if err != nil {
			return nil, err
		}
		if read < page || before == 0 {
			break // the start of the log
		}
		page = min(2*page, max(maxHistoryPage, f.Limit))
	}
	return items, nil
}

func (f HistoryFilter) matches(ev *audit.Event) bool {
	return (f.Kind == "" || ev.Kind == f.Kind) && (f.KeySet == "" || ev.KeySet == f.KeySet) &&
		(f.Member == "" || ev.Actor == f.Member || ev.Second == f.Member || ev.Detail["member"] == f.Member)
}

func historyItem(index int64, ev *audit.Event, names, labels map[string]string, lang string) HistoryItem {
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
	return HistoryItem{Index: index, Time: ev.WallTime(), Kind: ev.Kind, Who: who,
		KeySet: nameOr(labels, ev.KeySet), Slot: int(ev.Slot), Detail: strings.Join(detail, ", "),
		Text: keycab.DescribeIn(i18n.For(lang), ev.Kind, ev.Detail)}
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
