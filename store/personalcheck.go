package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// personalCheck checks the personal table against the references the
// log's entries carry (Verify runs it over the same entries it checks).
// A kept value is a recipient or notes text, or the hash of a badge
// linked at the touchscreen (audit.FieldBadge); "text" below means either,
// and audit.Event.PersonalRefs lists an entry's references. The rules:
//
//   - a kept text is good when audit.PersonalRef(salt, text) is the
//     reference it is stored under and an entry carries that reference;
//     otherwise its text or salt was edited, or it was moved here from
//     another entry's reference: tampering, named by the entry and field;
//   - a kept text no entry carries is tampering (inserted, or its
//     reference edited), except in a log that begins with log.epoch: a
//     restored kiosk carries the texts of key sets still out over from its
//     previous log, whose entries are in the archived log, and keeps them
//     after the key comes back. There a text no entry carries is accepted
//     when it matches its own reference (a weaker check: which texts were
//     carried is not recorded in the new log);
//   - a reference with no kept text is erased when a later member.erased
//     entry names the entry's actor (for a badge, the linked member,
//     Detail["member"]), the member Append files the text under:
//     store.Erase deletes the rows and logs that entry, so erasure
//     always leaves that mark in the signed log. It is counted, not an
//     error. With no such entry the text is missing: a row deleted
//     without erasure, which is tampering;
//   - a reference with no kept text is expired when a later
//     personal.expired entry (ExpirePersonal: retention) has a cut-off
//     ("before", Unix ms) after the entry's time and whose held ids
//     ("held") name neither the entry's actor nor its key set: retention
//     deleted it. It is counted (VerifyResult.Expired), not an error; a
//     held text deleted is missing. Retention never deletes a badge's
//     value, so a badge value gone without erasure is missing.
//
// Camera stills (the stills table; audit.StillKey) follow the same rules:
// a kept JPEG whose SHA-256 is not the hash its entry carries, or that no
// entry carries, is tampering named by entry ("still"); a still no longer
// kept is erased or expired as a text is, and otherwise missing.
type personalCheck struct {
	kept      map[[32]byte]*keptText
	epoch     bool             // the log begins with log.epoch (a restored kiosk)
	absent    []absentText     // references with no kept text, in index order
	erased    map[string]int64 // member -> index of the newest member.erased naming them
	expiry    []expiry         // personal.expired entries, in index order
	expired   int              // references whose text retention deleted
	first     *audit.Problem
	more      int
	checked   int
	stills    int                  // kept stills that match their entry's hash
	stillRows map[int64]*keptStill // the stills table, by entry index
}

// keptStill is a row of the stills table.
type keptStill struct {
	hash, ref []byte // the JPEG's SHA-256; the hash it is stored under
	subject   string
	used      bool
}

type keptText struct {
	ref     []byte
	subject string
	match   bool   // PersonalRef(salt, text) == ref
	flaw    string // what else is odd about the text (NUL, invalid UTF-8)
	used    bool
}

type absentText struct {
	index   int64
	field   string
	subject string // whose erasure removes it (audit.PersonalField)
	actor   string
	keySet  string
	time    int64 // the entry's wall time, Unix ms
}

// expiry is a personal.expired entry: texts of entries before before
// (Unix ms) were deleted by retention at index.
type expiry struct {
	index, before int64
	held          []string
}

// loadPersonal reads the personal table within the snapshot the entries
// are checked in.
func loadPersonal(ctx context.Context, tx *sql.Tx) (*personalCheck, error) {
	pc := &personalCheck{kept: map[[32]byte]*keptText{}, erased: map[string]int64{}, stillRows: map[int64]*keptStill{}}
	rows, err := tx.QueryContext(ctx, "SELECT ref, subject, salt, CAST(text AS BLOB) FROM personal")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var odd []*keptText // references that are not 32 bytes: no entry carries them
	for rows.Next() {
		var ref, salt, text []byte
		var subject string
		if err := rows.Scan(&ref, &subject, &salt, &text); err != nil {
			return nil, err
		}
		k := &keptText{ref: ref, subject: subject, match: bytes.Equal(audit.PersonalRef(salt, string(text)), ref)}
		switch {
		case bytes.IndexByte(text, 0) >= 0:
			k.flaw = "; its text holds a NUL byte"
		case !utf8.Valid(text):
			k.flaw = "; its text is not valid UTF-8"
		}
		if len(salt) != 32 {
			k.flaw += fmt.Sprintf("; its salt is %d bytes, not 32", len(salt))
		}
		if len(ref) != 32 {
			odd = append(odd, k)
			continue
		}
		pc.kept[[32]byte(ref)] = k
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	srows, err := tx.QueryContext(ctx, "SELECT idx, ref, subject, jpeg FROM stills")
	if err != nil {
		return nil, err
	}
	defer srows.Close()
	for srows.Next() {
		var idx int64
		var ref, jpeg []byte
		var subject string
		if err := srows.Scan(&idx, &ref, &subject, &jpeg); err != nil {
			return nil, err
		}
		pc.stillRows[idx] = &keptStill{hash: audit.StillHash(jpeg), ref: ref, subject: subject}
	}
	if err := srows.Err(); err != nil {
		return nil, err
	}
	for _, k := range odd {
		pc.problem(&audit.Problem{Index: -1, What: k.describe() + fmt.Sprintf(": its reference is %d bytes, not 32 (edited)", len(k.ref))})
	}
	return pc, nil
}

var (
	recipientKey = []byte{0x0b, 0x58, 0x20} // key 11, bytes(32)
	notesKey     = []byte{0x0c, 0x58, 0x20} // key 12, bytes(32)
	badgeRefKey  = []byte(audit.BadgeRefKey)
	erasedKind   = []byte(keycab.EventMemberErased)
	expiredKind  = []byte(keycab.EventTextsExpired)
)

// entry checks the references entry index carries. Only entries whose
// bytes could hold a reference or a member.erased kind are decoded (the
// deterministic encoding writes a recipient as 0x0b 0x58 0x20 and its 32
// bytes), so the check costs little on a log of few personal texts.
func (pc *personalCheck) entry(index int64, leaf []byte) {
	if index != 0 && !MayReference(leaf) && !MayHoldStill(leaf) && !bytes.Contains(leaf, erasedKind) && !bytes.Contains(leaf, expiredKind) {
		return
	}
	ev, err := audit.Decode(leaf)
	if err != nil {
		pc.problem(&audit.Problem{Index: index, What: fmt.Sprintf("cannot read the entry to check its personal text: %v", err)})
		return
	}
	if index == 0 && ev.Kind == keycab.EventLogEpoch {
		pc.epoch = true
	}
	if ev.Kind == keycab.EventMemberErased {
		if m := ev.Detail["member"]; m != "" {
			pc.erased[m] = index
		}
	}
	if ev.Kind == keycab.EventTextsExpired {
		if before, err := strconv.ParseInt(ev.Detail["before"], 10, 64); err == nil {
			var held []string
			if h := ev.Detail["held"]; h != "" {
				held = strings.Split(h, ",")
			}
			pc.expiry = append(pc.expiry, expiry{index, before, held})
		} else {
			pc.problem(&audit.Problem{Index: index, What: fmt.Sprintf("personal.expired: cut-off %q is not a time", ev.Detail["before"])})
		}
	}
	for _, f := range ev.PersonalRefs() {
		pc.ref(index, f, ev)
	}
	if ref := ev.StillRef(); ref != nil {
		pc.still(index, ref, ev)
	}
}

// still checks the still hash entry index carries.
func (pc *personalCheck) still(index int64, ref []byte, ev *audit.Event) {
	if len(ref) != 32 {
		pc.problem(&audit.Problem{Index: index, What: fmt.Sprintf("%s: the hash %.20q is not 32 bytes of hex", fieldStill, ev.Detail[audit.StillKey])})
		return
	}
	k := pc.stillRows[index]
	if k == nil {
		pc.absent = append(pc.absent, absentText{index, fieldStill, ev.Actor, ev.Actor, ev.KeySet, ev.Time})
		return
	}
	k.used = true
	if !bytes.Equal(k.hash, ref) || !bytes.Equal(k.ref, ref) {
		pc.problem(&audit.Problem{Index: index, What: fmt.Sprintf("%s: camera still tampered with: the kept JPEG's SHA-256 is not the hash the entry carries (the image edited or replaced)", fieldStill)})
		return
	}
	pc.stills++
}

// fieldStill names a still in problems, as a text's field names it.
const fieldStill = "still"

func (pc *personalCheck) ref(index int64, f audit.PersonalField, ev *audit.Event) {
	field, ref := f.Field, f.Ref
	if len(ref) != 32 {
		pc.problem(&audit.Problem{Index: index, What: fmt.Sprintf("%s: the reference is %d bytes, not 32", field, len(ref))})
		return
	}
	k := pc.kept[[32]byte(ref)]
	if k == nil {
		pc.absent = append(pc.absent, absentText{index, field, f.Subject, ev.Actor, ev.KeySet, ev.Time})
		return
	}
	k.used = true
	pc.checked++
	if !k.match {
		what, v := "personal text", "text"
		if field == audit.FieldBadge {
			what, v = "badge value", "value"
		}
		pc.problem(&audit.Problem{Index: index, What: fmt.Sprintf("%s: %s tampered with: the kept %s and salt do not match the reference the entry carries (the %[3]s or its salt edited, or another entry's %[3]s moved here)%[4]s", field, what, v, k.flaw)})
	}
}

// finish reports what is left once every entry was seen: references with
// no text and no erasure, and kept texts no entry carries. It returns the
// number of erased texts and the first problem found.
func (pc *personalCheck) finish() (checked, erased int, err error) {
	for _, a := range pc.absent {
		if at, ok := pc.erased[a.subject]; ok && at > a.index {
			erased++
			continue
		}
		if a.field != audit.FieldBadge && pc.retained(a) {
			pc.expired++
			continue
		}
		who := "no actor"
		if a.field == audit.FieldBadge {
			who = "no member"
		}
		if a.subject != "" {
			who = a.subject
		}
		what, v := "personal text", "text"
		switch a.field {
		case audit.FieldBadge:
			what, v = "badge value", "value"
		case fieldStill:
			what, v = "camera still", "JPEG"
		}
		pc.problem(&audit.Problem{Index: a.index, What: fmt.Sprintf("%s: %s missing: no kept %s and no later member.erased entry for %s (deleted without erasure)", a.field, what, v, who)})
	}
	var orphans []*keptText
	for _, k := range pc.kept {
		if k.used {
			continue
		}
		if pc.epoch && k.match {
			pc.checked++
			continue
		}
		orphans = append(orphans, k)
	}
	sort.Slice(orphans, func(i, j int) bool { return bytes.Compare(orphans[i].ref, orphans[j].ref) < 0 })
	for _, k := range orphans {
		what := ": no entry carries its reference (inserted, or its reference edited)"
		if !k.match {
			what = ": no entry carries its reference, and its text and salt do not match it (edited)"
		}
		pc.problem(&audit.Problem{Index: -1, What: k.describe() + what + k.flaw})
	}
	var loose []int64
	for idx, k := range pc.stillRows {
		if !k.used {
			loose = append(loose, idx)
		}
	}
	slices.Sort(loose)
	for _, idx := range loose {
		// Named by the entry it claims, when the log has it.
		pc.problem(&audit.Problem{Index: idx, What: fmt.Sprintf("%s: a camera still of %s is kept for an entry that holds no still hash (inserted)", fieldStill, pc.stillRows[idx].subject)})
	}
	if pc.first == nil {
		return pc.checked, erased, nil
	}
	if pc.more > 0 {
		pc.first.What += fmt.Sprintf(" (and %d more personal-text problems)", pc.more)
	}
	return pc.checked, erased, pc.first
}

// retained reports whether a later personal.expired entry's cut-off
// covers the absent text's entry.
func (pc *personalCheck) retained(a absentText) bool {
	for _, e := range pc.expiry {
		if e.index > a.index && a.time < e.before && !slices.Contains(e.held, a.actor) && !slices.Contains(e.held, a.keySet) {
			return true
		}
	}
	return false
}

func (k *keptText) describe() string {
	return fmt.Sprintf("personal text of %s under reference %s", k.subject, hex.EncodeToString(k.ref[:min(len(k.ref), 8)]))
}

// problem keeps the first problem by entry index (those of no entry
// last) and counts the others.
func (pc *personalCheck) problem(p *audit.Problem) {
	if pc.first != nil {
		pc.more++
		if p.Index < 0 || (pc.first.Index >= 0 && pc.first.Index <= p.Index) {
			return
		}
	}
	pc.first = p
}
