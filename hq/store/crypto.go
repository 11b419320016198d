package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// NotesKeySize is the size of the site-notes key: AES-256.
const NotesKeySize = 32

// notesVersion is the first byte of every sealed note: the format is
// version || 12-byte nonce || AES-256-GCM ciphertext and tag, with
// "keycab site notes v1\x00" + org id + "\x00" + site id as associated
// data, so that a sealed note copied into another row (or another
// organisation) does not open.
const notesVersion = 1

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

func newNotesAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != NotesKeySize {
		return nil, fmt.Errorf("notes key: want %d bytes, have %d", NotesKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("notes key: %w", err)
	}
	return cipher.NewGCM(block)
}

func notesAD(orgID, siteID string) []byte {
	return []byte("keycab site notes v1\x00" + orgID + "\x00" + siteID)
}

// sealNotes encrypts a site's notes for its row; empty notes store NULL.
func sealNotes(aead cipher.AEAD, orgID, siteID, notes string) ([]byte, error) {
	if notes == "" {
		return nil, nil
	}
	if aead == nil {
		return nil, invalid("site notes need a notes key, and this HQ has none configured")
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	out := append([]byte{notesVersion}, nonce...)
	return aead.Seal(out, nonce, []byte(notes), notesAD(orgID, siteID)), nil
}

// openNotes decrypts sealed notes of the row (orgID, siteID).
func openNotes(aead cipher.AEAD, orgID, siteID string, sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	if aead == nil {
		return "", fmt.Errorf("open site notes: no notes key configured")
	}
	n := aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != notesVersion {
		return "", fmt.Errorf("open site notes of %s: unknown format", siteID)
	}
	pt, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], notesAD(orgID, siteID))
	if err != nil {
		return "", fmt.Errorf("open site notes of %s: %w", siteID, err)
	}
	return string(pt), nil
}
