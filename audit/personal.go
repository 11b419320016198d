package audit

import (
	"encoding/hex"

	"keycab.dev/keycab"
)

// The fields of an entry that hold a personal value's reference
// (PersonalRef): the recipient and notes of a custody change (keys 11 and
// 12), and the badge of a badge.linked admin.change, whose value (the
// badge's hex keycab.BadgeHash) is kept off the log like a text so that
// erasure can remove it (Detail[BadgeRefKey]).
const (
	FieldRecipient = "recipient"
	FieldNotes     = "notes"
	FieldBadge     = "badge"
)

// BadgeRefKey is the Detail key of a badge.linked admin.change entry
// that holds, in hex, PersonalRef(salt, hex badge hash). Entries of
// kiosks before it (sync/wire minor 8) hold the hash itself in
// Detail["badge_hash"].
const BadgeRefKey = "badge_ref"

// PersonalField is a reference an entry carries to a value kept off the
// log.
type PersonalField struct {
	Field string
	// Ref is the reference, normally 32 bytes; a badge reference that
	// is not hex is an empty, non-nil Ref, which no value matches.
	Ref []byte
	// Subject is the member the value belongs to, whose erasure removes
	// it: the entry's actor for a recipient or notes, the linked member
	// (Detail["member"]) for a badge.
	Subject string
}

// PersonalRefs returns every reference e carries, in field order
// (recipient, notes, badge). One code serves the kiosk's verify, its
// sync agent, and HQ's check of the values a push carries.
func (e *Event) PersonalRefs() []PersonalField {
	var out []PersonalField
	if e.Recipient != nil {
		out = append(out, PersonalField{FieldRecipient, e.Recipient, e.Actor})
	}
	if e.Notes != nil {
		out = append(out, PersonalField{FieldNotes, e.Notes, e.Actor})
	}
	if s, ok := e.Detail[BadgeRefKey]; ok && e.Kind == keycab.EventAdminChange {
		ref, err := hex.DecodeString(s)
		if err != nil || ref == nil {
			ref = []byte{}
		}
		out = append(out, PersonalField{FieldBadge, ref, e.Detail["member"]})
	}
	return out
}

// Reference returns e's reference in field, nil if it carries none.
func (e *Event) Reference(field string) *PersonalField {
	for _, f := range e.PersonalRefs() {
		if f.Field == field {
			return &f
		}
	}
	return nil
}
