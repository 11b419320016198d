package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
)

// A log's key changes with a key.rotate entry (keycab.EventKeyRotate). Its
// detail holds the old and the new note verifier key, both named with the
// log's origin, and signatures by both keys of the rotation statement
//
//	keycab key.rotate v1\n<origin>\n<index of the entry>\n<old verifier key>\n<new verifier key>\n
//
// under "old_sig" and "new_sig" (standard base64): the old key hands the
// log over, and the new key shows it is held. Checkpoints of sizes up to
// and including index+1 are signed by the old key, those from index+1 on
// by the new one; the checkpoint of size index+1, which covers the
// rotation, carries both signatures.

// Detail keys of a key.rotate entry.
const (
	RotateOldKey = "old_key"
	RotateNewKey = "new_key"
	RotateOldSig = "old_sig"
	RotateNewSig = "new_sig"
)

// RotationStatement returns the text both keys sign for a rotation at
// index of the log origin.
func RotationStatement(origin string, index int64, oldKey, newKey string) []byte {
	return []byte("keycab key.rotate v1\n" + origin + "\n" + strconv.FormatInt(index, 10) + "\n" + oldKey + "\n" + newKey + "\n")
}

// RotationEvent returns the key.rotate entry that hands the log origin
// over from old to next at index, signed by both.
func RotationEvent(origin string, index int64, old, next *Signer) (*Event, error) {
	if old.Name() != origin || next.Name() != origin {
		return nil, fmt.Errorf("rotate key: keys %q and %q are not both named %q", old.Name(), next.Name(), origin)
	}
	if old.VerifierKey == next.VerifierKey {
		return nil, errors.New("rotate key: the new key is the old one")
	}
	msg := RotationStatement(origin, index, old.VerifierKey, next.VerifierKey)
	oldSig, err := old.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("rotate key: %w", err)
	}
	newSig, err := next.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("rotate key: %w", err)
	}
	return &Event{Kind: keycab.EventKeyRotate, Detail: map[string]string{
		RotateOldKey: old.VerifierKey, RotateNewKey: next.VerifierKey,
		RotateOldSig: base64.StdEncoding.EncodeToString(oldSig), RotateNewSig: base64.StdEncoding.EncodeToString(newSig),
	}}, nil
}

// VerifyRotation checks the key.rotate entry e at index of the log origin
// whose key until then is current, and returns the new verifier key. Both
// signatures must verify, the old key must be current, and the new key
// must be another Ed25519 key named origin.
func VerifyRotation(origin string, index int64, current string, e *Event) (string, error) {
	if e.Kind != keycab.EventKeyRotate {
		return "", fmt.Errorf("entry %d is %s, not %s", index, e.Kind, keycab.EventKeyRotate)
	}
	oldKey, newKey := e.Detail[RotateOldKey], e.Detail[RotateNewKey]
	if oldKey != current {
		return "", fmt.Errorf("key.rotate at %d hands over from a key that is not the log's key", index)
	}
	if newKey == oldKey {
		return "", fmt.Errorf("key.rotate at %d keeps the same key", index)
	}
	msg := RotationStatement(origin, index, oldKey, newKey)
	for _, k := range []struct{ vkey, sig, who string }{{oldKey, RotateOldSig, "old"}, {newKey, RotateNewSig, "new"}} {
		v, err := note.NewVerifier(k.vkey)
		if err != nil || v.Name() != origin { // note verifiers are Ed25519 only
			return "", fmt.Errorf("key.rotate at %d: the %s key is not an Ed25519 key of %s", index, k.who, origin)
		}
		sig, err := base64.StdEncoding.DecodeString(e.Detail[k.sig])
		if err != nil || !v.Verify(msg, sig) {
			return "", fmt.Errorf("key.rotate at %d is not signed by the %s key", index, k.who)
		}
	}
	return newKey, nil
}

// LogKey is one key of a log's key chain: it signs the log's checkpoints
// of sizes From to Until (inclusive; Until 0: no end).
type LogKey struct {
	VerifierKey string
	Verifier    note.Verifier
	From, Until int64
}

// Covers reports whether the key may sign a checkpoint of size.
func (k LogKey) Covers(size int64) bool {
	return size >= k.From && (k.Until == 0 || size <= k.Until)
}

// PublicKey returns the raw Ed25519 key of a note verifier key.
func PublicKey(vkey string) (ed25519.PublicKey, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("malformed verifier key")
	}
	b, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(b) != 1+ed25519.PublicKeySize || b[0] != 1 {
		return nil, errors.New("verifier key is not Ed25519")
	}
	return ed25519.PublicKey(b[1:]), nil
}
