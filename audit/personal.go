package audit

import (
	"crypto/sha256"
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

// StillKey is the Detail key of an entry (key.taken, key.returned,
// alarm.raised) that holds, in hex, the SHA-256 of the JPEG still the
// kiosk's camera gave as the entry was made (StillHash). The JPEG is kept
// off the log like a personal text, filed under the entry's actor, so that
// erasure and retention remove it and leave the entry verifying.
// StillMissingKey says why an entry of a kiosk whose policy asks for
// stills holds none (the camera had no frame, or failed).
const (
	StillKey        = "still"
	StillMissingKey = "still_missing"
)

// StillHash returns the hash an entry holds for a still: SHA-256 of the
// JPEG's bytes.
func StillHash(jpeg []byte) []byte {
	h := sha256.Sum256(jpeg)
	return h[:]
}

// StillRef returns the still hash e carries (nil for none); a value that
// is not 32 bytes of hex is an empty, non-nil slice, which no image
// matches.
func (e *Event) StillRef() []byte {
	s, ok := e.Detail[StillKey]
	if !ok {
		return nil
	}
	ref, err := hex.DecodeString(s)
	if err != nil || len(ref) != sha256.Size {
		return []byte{}
	}
	return ref
}

// MaxStill is the largest JPEG still, in bytes, a kiosk keeps and sends
// HQ (sync/wire minor 11), and HQ keeps.
const MaxStill = 256 << 10
