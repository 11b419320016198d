// Package workload generates a realistic, deterministic stream of kiosk
// log records, for benchmarks (keycab bench audit) and tests that need a
// log that looks like a busy cabinet's.
package workload

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
)

// Workload generates a realistic stream of kiosk events: members
// identifying, taking and returning key sets with reasons and the
// occasional recipient, the door opening and closing, and now and then a
// failed identification or an alarm. It is deterministic for a seed.
type Workload struct {
	rng     *rand.Rand
	now     time.Time
	out     map[string]string // key set -> member
	pending []store.Record
	Members int
	KeySets int
}

// New returns a workload over a cabinet of 40 key sets and 60 members.
func New(seed uint64) *Workload {
	return &Workload{
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:     time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
		out:     map[string]string{},
		Members: 60,
		KeySets: 40,
	}
}

// Next returns the next record.
func (w *Workload) Next() store.Record {
	if len(w.pending) == 0 {
		w.session()
	}
	r := w.pending[0]
	w.pending = w.pending[1:]
	return r
}

func (w *Workload) tick(d time.Duration) int64 {
	w.now = w.now.Add(d)
	return w.now.UnixMilli()
}

func (w *Workload) session() {
	member := "m" + strconv.Itoa(1+w.rng.IntN(w.Members))
	ev := func(kind keycab.EventKind, f func(e *audit.Event)) store.Record {
		e := &audit.Event{Kind: kind, Time: w.tick(time.Duration(1+w.rng.IntN(20)) * time.Second), Actor: member}
		if f != nil {
			f(e)
		}
		return store.Record{Event: e}
	}
	if w.rng.IntN(20) == 0 {
		w.pending = append(w.pending, ev(keycab.EventIdentifyFail, func(e *audit.Event) {
			e.Actor = ""
			e.Detail = map[string]string{"reason": "unknown badge", "reader": "rdm6300"}
		}))
		return
	}
	if w.rng.IntN(50) == 0 {
		w.pending = append(w.pending, ev(keycab.EventAlarmRaised, func(e *audit.Event) {
			e.Actor = ""
			e.Detail = map[string]string{"alarm": keycab.AlarmDoorHeld, "seconds": "75"}
		}))
	}
	w.pending = append(w.pending, ev(keycab.EventIdentified, func(e *audit.Event) { e.Detail = map[string]string{"via": "rfid"} }))
	w.pending = append(w.pending, ev(keycab.EventDoorOpened, nil))
	n := 1 + w.rng.IntN(w.KeySets)
	ks, slot := "ks"+strconv.Itoa(n), uint(n)
	if holder, ok := w.out[ks]; ok {
		delete(w.out, ks)
		w.pending = append(w.pending, ev(keycab.EventKeyReturned, func(e *audit.Event) {
			e.KeySet, e.Slot = ks, slot
			if holder != member {
				e.Detail = map[string]string{"holder": holder}
			}
		}))
	} else {
		w.out[ks] = member
		r := ev(keycab.EventKeyTaken, func(e *audit.Event) {
			e.KeySet, e.Slot = ks, slot
			e.Due = w.now.Add(8 * time.Hour).UnixMilli()
			e.Reason = []string{"viewing", "maintenance", "inspection", "move-in"}[w.rng.IntN(4)]
		})
		if w.rng.IntN(4) == 0 {
			r.Recipient = fmt.Sprintf("Visitor %d Example", w.rng.IntN(1000))
		}
		w.pending = append(w.pending, r)
	}
	w.pending = append(w.pending, ev(keycab.EventDoorClosed, nil))
}
