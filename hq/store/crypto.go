package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// NotesKeySize is the size of the site-notes key: AES-256.
const NotesKeySize = 32

// Every value HQ seals with the notes key (site notes, TOTP secrets,
// retried mail bodies, kiosks' personal texts, webhook secrets) has one
// format, made by one sealer:
//
//	generation (1 byte) || 12-byte nonce || AES-256-GCM ciphertext and tag
//
// with associated data that names what the value is and the row it
// belongs to (notesAD, totpAD, mailAD, personalAD, webhookAD), so that a sealed
// value copied into another row, table or organisation does not open.
// The generation is the notes key's: 1 for the first key (and every value
// sealed before generations existed, whose first byte was the format
// version 1), one more at each rotation (RotateNotesKey). The database
// records the current generation and a check value sealed under its key
// (table notes_key, migration 0016), so HQ started with another key than
// the one its values are sealed under refuses to start instead of sealing
// new values under a second key.

// DecodeNotesKey decodes a notes key given as 64 hex digits or as base64
// (standard or URL alphabet), as it comes from an environment variable.
func DecodeNotesKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == NotesKeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == NotesKeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("decode notes key: want %d bytes as hex or base64", NotesKeySize)
}

// ReadNotesKey reads a notes key file: the key as text (hex or base64) or
// as exactly 32 raw bytes.
func ReadNotesKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read notes key: %w", err)
	}
	if len(b) == NotesKeySize {
		return b, nil
	}
	k, err := DecodeNotesKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("read notes key %s: %w", path, err)
	}
	return k, nil
}

// sealer seals and opens values under the notes key of one generation.
// A nil sealer is an HQ without a notes key: it seals and opens nothing
// (errNoNotesKey).
type sealer struct {
	gen  byte
	aead cipher.AEAD
}

var errNoNotesKey = errors.New("no notes key configured")

func newSealer(key []byte, gen byte) (*sealer, error) {
	if len(key) != NotesKeySize {
		return nil, fmt.Errorf("notes key: want %d bytes, have %d", NotesKeySize, len(key))
	}
	if gen == 0 {
		return nil, fmt.Errorf("notes key: generation 0")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("notes key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("notes key: %w", err)
	}
	return &sealer{gen: gen, aead: aead}, nil
}

// seal encrypts plaintext for the row ad names.
func (s *sealer) seal(plaintext, ad []byte) ([]byte, error) {
	if s == nil {
		return nil, errNoNotesKey
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := append([]byte{s.gen}, nonce...)
	return s.aead.Seal(out, nonce, plaintext, ad), nil
}

// open decrypts a value sealed for the row ad names; what names the
// value in errors.
func (s *sealer) open(sealed, ad []byte, what string) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("open %s: %w", what, errNoNotesKey)
	}
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() {
		return nil, fmt.Errorf("open %s: unknown format", what)
	}
	if sealed[0] != s.gen {
		return nil, fmt.Errorf("open %s: sealed under notes key generation %d, and this HQ holds generation %d's key", what, sealed[0], s.gen)
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	return pt, nil
}

// reseal opens a value sealed under old and seals it under s, for the same
// row. A NULL (empty) value stays NULL.
func (s *sealer) reseal(old *sealer, sealed, ad []byte, what string) ([]byte, error) {
	if len(sealed) == 0 {
		return sealed, nil
	}
	pt, err := old.open(sealed, ad, what)
	if err != nil {
		return nil, err
	}
	return s.seal(pt, ad)
}

func notesAD(orgID, siteID string) []byte {
	return []byte("keycab site notes v1\x00" + orgID + "\x00" + siteID)
}

// sealNotes encrypts a site's notes for its row; empty notes store NULL.
func sealNotes(s *sealer, orgID, siteID, notes string) ([]byte, error) {
	if notes == "" {
		return nil, nil
	}
	if s == nil {
		return nil, invalid("site notes need a notes key, and this HQ has none configured")
	}
	return s.seal([]byte(notes), notesAD(orgID, siteID))
}

// openNotes decrypts sealed notes of the row (orgID, siteID).
func openNotes(s *sealer, orgID, siteID string, sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	pt, err := s.open(sealed, notesAD(orgID, siteID), "site notes of "+siteID)
	return string(pt), err
}
