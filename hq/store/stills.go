package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// Camera stills at HQ (keycab.Policy Stills; sync/wire minor 11). A
// kiosk's key.taken, key.returned and alarm.raised entries hold, in
// Detail[audit.StillKey], the SHA-256 of a JPEG from its camera; the kiosk
// keeps the JPEG off its log like a personal text and sends it beside the
// push. HQ keeps one only when its SHA-256 is exactly the hash its entry
// holds: RecordStills refuses the whole push (EINVALID, nothing stored)
// for a still that is not, one for an entry outside the push or with no
// hash, a second one for the same entry, or one that is empty or over
// audit.MaxStill.
//
// A kept still is sealed with the notes key under associated data naming
// its row (organisation, kiosk, log index), in still_images (migration
// 0029, RLS), with the entry's actor as its subject: erasing the member
// deletes it (erasureSteps), and the personal-text retention rule covers
// it (retentionSteps). Without a notes key HQ checks stills and keeps
// none, as with texts.
//
// Who sees a still is who sees the entry's personal text (textSites):
// owners and admins every one; site managers, staff and contractors only
// those of events at a site where they hold a key set now, and of events
// their history shows them; auditors none.

// Still is one camera still a kiosk sent with a push: the JPEG whose
// SHA-256 the entry at LogIndex holds.
type Still struct {
	LogIndex int64
	JPEG     []byte
}

// checkedStill is a Still found to be what its entry commits to.
type checkedStill struct {
	Still
	subject string // the entry's actor
}

// CheckStills checks stills sent with the leaves [start,
// start+len(leaves)) of a kiosk's log: each must be the JPEG its entry's
// hash names. The first that is not is an EINVALID error naming it.
func CheckStills(start int64, leaves [][]byte, stills []Still) error {
	_, err := checkStills(start, leaves, stills)
	return err
}

func checkStills(start int64, leaves [][]byte, stills []Still) ([]checkedStill, error) {
	if len(stills) > len(leaves) {
		return nil, invalid("%d camera stills for %d entries: at most one an entry", len(stills), len(leaves))
	}
	out := make([]checkedStill, 0, len(stills))
	seen := map[int64]bool{}
	for i, st := range stills {
		bad := func(format string, args ...any) error {
			return invalid("camera still %d (entry %d): "+format, append([]any{i, st.LogIndex}, args...)...)
		}
		switch {
		case st.LogIndex < start || st.LogIndex >= start+int64(len(leaves)):
			return nil, bad("not an entry of this push (%d to %d)", start, start+int64(len(leaves))-1)
		case len(st.JPEG) == 0:
			return nil, bad("empty")
		case len(st.JPEG) > audit.MaxStill:
			return nil, bad("%d bytes, more than %d", len(st.JPEG), audit.MaxStill)
		case seen[st.LogIndex]:
			return nil, bad("sent twice")
		}
		seen[st.LogIndex] = true
		ev, err := audit.Decode(leaves[st.LogIndex-start])
		if err != nil {
			return nil, bad("its entry does not decode: %v", err)
		}
		ref := ev.StillRef()
		if len(ref) != 32 {
			return nil, bad("the entry holds no still hash")
		}
		if !bytes.Equal(audit.StillHash(st.JPEG), ref) {
			return nil, bad("tampered: the JPEG's SHA-256 is not the hash the entry holds")
		}
		out = append(out, checkedStill{st, ev.Actor})
	}
	return out, nil
}

func stillAD(orgID, kioskID string, index int64) []byte {
	return fmt.Appendf(nil, "keycab still v1\x00%s\x00%s\x00%d", orgID, kioskID, index)
}

// RecordStills checks the stills sent with the leaves [start,
// start+len(leaves)) just appended (CheckStills) and keeps them, sealed;
// a still that fails the check fails the transaction, so nothing of the
// push is stored. Without a notes key they are checked and not kept.
func (l *LogTx) RecordStills(ctx context.Context, start int64, leaves [][]byte, stills []Still) error {
	checked, err := checkStills(start, leaves, stills)
	if err != nil || len(checked) == 0 {
		return err
	}
	t := l.t
	if t.s.notes == nil {
		if t.s.noStillKeyWarned.CompareAndSwap(false, true) {
			t.s.log.Warn("no notes key: kiosks' camera stills are checked and not kept at HQ")
		}
		return nil
	}
	for _, c := range checked {
		sealed, err := t.s.notes.seal(c.JPEG, stillAD(t.org(), l.log.KioskID, c.LogIndex))
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO still_images (org_id, kiosk_id, log_index, subject, sealed) VALUES ($1, $2, $3, $4, $5)`,
			t.org(), l.log.KioskID, c.LogIndex, storableText(c.subject), sealed); err != nil {
			return err
		}
	}
	return nil
}

// eventStills marks the events whose still HQ keeps and the principal may
// see (visibleByKiosk).
func (t *tx) eventStills(ctx context.Context, events []Event, sites []string) error {
	return t.visibleByKiosk(ctx, events, sites, func(kiosk, in string, args []any, at func(int64) int) error {
		got, err := t.int64s(ctx, "SELECT log_index FROM still_images WHERE org_id = $1 AND kiosk_id = $2 AND log_index IN ("+in+")", args...)
		for _, index := range got {
			events[at(index)].Still = true
		}
		return err
	})
}

// int64s returns the first column of a query's rows.
func (t *tx) int64s(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// EventStill returns the camera still of entry index of a kiosk's log,
// when HQ keeps it and the principal may see it: the event is in their
// history and they may see its personal text (eventStills). Anything
// else, an erased or expired still among it, is ENOTFOUND, so that a
// reader learns nothing of stills they may not see.
func (s *Store) EventStill(ctx context.Context, sc Scope, kioskID string, index int64) ([]byte, error) {
	var jpeg []byte
	err := s.read(ctx, "read camera still", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("history"); err != nil {
			return err
		}
		notFound := keycab.Errorf(keycab.ENOTFOUND, "no camera still for entry %d of kiosk %s", index, kioskID)
		if t.s.notes == nil {
			return notFound
		}
		var actor, site string
		var sealed []byte
		err := t.queryRow(ctx, `SELECT e.actor_id, e.site_id, i.sealed FROM still_images i
			JOIN events e ON e.org_id = i.org_id AND e.kiosk_id = i.kiosk_id AND e.log_index = i.log_index
			WHERE i.org_id = $1 AND i.kiosk_id = $2 AND i.log_index = $3`, t.org(), kioskID, index).Scan(&actor, &site, &sealed)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound
		} else if err != nil {
			return err
		}
		// In their history (historyQuery's scope).
		p := t.p
		switch {
		case p.role == keycab.RoleStaff || p.role == keycab.RoleContractor:
			if actor != p.member {
				return notFound
			}
		case p.readsAll() || len(p.sites) == 0:
		case !slices.Contains(p.sites, site) && actor != p.member:
			return notFound
		}
		may, all, err := t.textSites(ctx)
		if err != nil {
			return err
		}
		if !all && !may[site] {
			return notFound
		}
		jpeg, err = t.s.notes.open(sealed, stillAD(t.org(), kioskID, index), fmt.Sprintf("camera still of %s entry %d", kioskID, index))
		return err
	})
	return jpeg, err
}

// resealStills re-seals the organisation's camera stills under next
// (RotateNotesKey).
func (t *tx) resealStills(ctx context.Context, next *sealer) (int, error) {
	return t.resealByEntry(ctx, next, "still_images", false, func(kiosk string, index int64, _ string) ([]byte, string) {
		return stillAD(t.org(), kiosk, index), fmt.Sprintf("camera still of %s entry %d", kiosk, index)
	})
}
