package store_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// recordWorkload is n events of a kiosk from index start: takes and
// returns of its two key sets, door openings and closings, and now and
// then an alarm, as a busy cabinet logs them.
func recordWorkload(tn tenant, start int64, n int) []store.Event {
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	out := make([]store.Event, 0, n)
	out2 := map[string]bool{}
	for i := range n {
		idx := start + int64(i)
		e := store.Event{LogIndex: idx, At: at.Add(time.Duration(idx) * time.Minute)}
		ks := []string{tn.ks1.ID, tn.ks2.ID}[i%2]
		switch i % 7 {
		case 0, 3:
			if out2[ks] {
				e.Kind, e.KeySetID, e.ActorID = keycab.EventKeyReturned, ks, tn.staff.ID
			} else {
				e.Kind, e.KeySetID, e.ActorID, e.DueAt = keycab.EventKeyTaken, ks, tn.staff.ID, e.At.Add(time.Hour)
			}
			out2[ks] = !out2[ks]
		case 1:
			e.Kind = keycab.EventDoorOpened
		case 2:
			e.Kind = keycab.EventDoorClosed
		case 4:
			e.Kind, e.ActorID = keycab.EventIdentified, tn.staff.ID
		case 5:
			e.Kind, e.Detail = keycab.EventAlarmRaised, keycab.AlarmDoorHeld
		default:
			e.Kind = keycab.EventIdentifyFail
		}
		out = append(out, e)
	}
	return out
}

// BenchmarkRecordEvents records a kiosk's events at HQ in pushes of
// 1,000, as ingest does after verifying them: ns/op is per event.
//
//	go test -run '^$' -bench RecordEvents -benchtime 20000x ./hq/store
func BenchmarkRecordEvents(b *testing.B) {
	for _, e := range engines() {
		b.Run(e.Name, func(b *testing.B) {
			if e.Name == "postgres" && testing.Short() {
				b.Skip("-short")
			}
			app, _ := e.New(b)
			s, err := store.Open(context.Background(), app, store.Options{NotesKey: testNotesKey()})
			MustNoErr(b, err)
			defer s.Close()
			tn := MustTenant(b, s, "A")
			evs := recordWorkload(tn, 0, b.N)
			b.ResetTimer()
			for i := 0; i < len(evs); i += 1000 {
				MustNoErr(b, s.RecordEvents(context.Background(), tn.kiosk(), evs[i:min(i+1000, len(evs))]))
			}
		})
	}
}
