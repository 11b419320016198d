package audit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"keycab.dev/keycab"
)

// MaxLeafSize is the largest encoded entry: tlog-tiles entry bundles
// prefix each entry with a 16-bit length.
const MaxLeafSize = 1<<16 - 1

// Event is one entry of the log before encoding. See doc.go for the format.
type Event struct {
	Version   uint              `cbor:"0,keyasint"`
	Kind      keycab.EventKind  `cbor:"1,keyasint"`
	Time      int64             `cbor:"2,keyasint"`
	Mono      int64             `cbor:"3,keyasint"`
	Boot      []byte            `cbor:"4,keyasint,omitempty"`
	Actor     string            `cbor:"5,keyasint,omitempty"`
	Second    string            `cbor:"6,keyasint,omitempty"`
	KeySet    string            `cbor:"7,keyasint,omitempty"`
	Slot      uint              `cbor:"8,keyasint,omitempty"`
	Due       int64             `cbor:"9,keyasint,omitempty"`
	Reason    string            `cbor:"10,keyasint,omitempty"`
	Recipient []byte            `cbor:"11,keyasint,omitempty"`
	Notes     []byte            `cbor:"12,keyasint,omitempty"`
	Detail    map[string]string `cbor:"13,keyasint,omitempty"`
	// Prev is the leaf hash (tlog.RecordHash) of the entry before this
	// one; the log's writer sets it. It chains entries so that a verifier
	// names the exact entry that was edited even when the attacker
	// recomputed the tree hashes.
	Prev []byte `cbor:"14,keyasint,omitempty"`
}

// WallTime returns the event's wall-clock time (untrusted: the kiosk may
// have had no clock).
func (e *Event) WallTime() time.Time { return time.UnixMilli(e.Time).UTC() }

var (
	encMode = func() cbor.EncMode {
		m, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
	decMode = func() cbor.DecMode {
		m, err := cbor.DecOptions{
			DupMapKey:         cbor.DupMapKeyEnforcedAPF,
			IndefLength:       cbor.IndefLengthForbidden,
			UTF8:              cbor.UTF8RejectInvalid,
			ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
			MaxNestedLevels:   4,
			MaxArrayElements:  1024,
			MaxMapPairs:       256,
		}.DecMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

// Encode returns the entry bytes of e. It fills in Version and rejects an
// event that could not be decoded again.
func Encode(e *Event) ([]byte, error) {
	if e.Version == 0 {
		e.Version = FormatVersion
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	b, err := encMode.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Kind, err)
	}
	if len(b) > MaxLeafSize {
		return nil, fmt.Errorf("encode %s event: %d bytes is more than the %d an entry may hold", e.Kind, len(b), MaxLeafSize)
	}
	return b, nil
}

// Decode parses entry bytes. It accepts exactly the bytes Encode produces
// for some event: anything else is an error that says what is wrong.
func Decode(b []byte) (*Event, error) {
	if len(b) > MaxLeafSize {
		return nil, fmt.Errorf("entry is %d bytes, more than %d", len(b), MaxLeafSize)
	}
	var e Event
	if err := decMode.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("entry is not a valid event: %w", err)
	}
	if e.Version != FormatVersion {
		return nil, fmt.Errorf("entry has format version %d, this build reads %d", e.Version, FormatVersion)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	again, err := encMode.Marshal(&e)
	if err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("entry is not in deterministic encoding")
	}
	return &e, nil
}

func (e *Event) check() error {
	if e.Kind == "" {
		return fmt.Errorf("event has no kind")
	}
	if len(e.Boot) != 0 && len(e.Boot) != 16 {
		return fmt.Errorf("event boot id is %d bytes, want 16", len(e.Boot))
	}
	for _, r := range [][]byte{e.Recipient, e.Notes, e.Prev} {
		if len(r) != 0 && len(r) != sha256.Size {
			return fmt.Errorf("event hash or reference is %d bytes, want %d", len(r), sha256.Size)
		}
	}
	return nil
}

// PersonalRef returns the reference an entry holds for a piece of personal
// text: SHA-256 over the salt and the text.
func PersonalRef(salt []byte, text string) []byte {
	h := sha256.New()
	h.Write([]byte("keycab personal\x00"))
	h.Write(salt)
	h.Write([]byte(text))
	return h.Sum(nil)
}

// MaxPersonalText is the longest personal text, in bytes, a kiosk sends
// HQ for a reference (sync/wire minor 4) and HQ keeps.
const MaxPersonalText = 4096

// NewSalt returns a fresh random salt for PersonalRef.
func NewSalt() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}
