package audit

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Signer is a log's note signer together with its public verifier key.
type Signer struct {
	note.Signer
	VerifierKey string // note verifier key, "name+hash+base64"
	// tailKey authenticates entries no signed checkpoint covers yet
	// (TailMAC); it is derived from the private key and as secret.
	tailKey []byte
}

// GenerateSigner makes a fresh Ed25519 signer for the log named origin and
// returns its private key text (PRIVATE+KEY+..., to be kept secret) too.
func GenerateSigner(origin string) (skey string, s *Signer, err error) {
	skey, _, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", nil, fmt.Errorf("generate signer key: %w", err)
	}
	s, err = ParseSignerKey(skey)
	return skey, s, err
}

// ParseSignerKey parses a note private key ("PRIVATE+KEY+name+hash+key",
// as written by note.GenerateKey and keycab keygen).
func ParseSignerKey(skey string) (*Signer, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, errors.New("not a note signer key (want PRIVATE+KEY+name+hash+key)")
	}
	// The fifth field is base64 of the algorithm byte and the Ed25519 seed
	// (base64 may itself hold '+', so cut the first four off).
	rest := skey
	for range 4 {
		_, rest, _ = strings.Cut(rest, "+")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("signer key is not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("derive verifier key: %w", err)
	}
	return &Signer{Signer: s, VerifierKey: vkey, tailKey: deriveTailKey(raw[1:])}, nil
}

// deriveTailKey derives the key of TailMAC from a signer's Ed25519 seed.
func deriveTailKey(seed []byte) []byte {
	m := hmac.New(sha256.New, seed)
	m.Write([]byte("keycab audit tail mac v1"))
	return m.Sum(nil)
}

// TailMAC authenticates the entry at index, whose leaf hash is leaf, until
// a signed checkpoint covers it: HMAC-SHA256, under a key derived from the
// signer's private key, of the index (8 bytes, big-endian) and the leaf
// hash. The writer stores it beside each entry; when it opens a log whose
// newest entries no checkpoint covers (a crash before their head was
// signed), it signs a head over them only if every one carries its MAC,
// so it never signs entries another program wrote (see the package doc).
func (s *Signer) TailMAC(index int64, leaf tlog.Hash) []byte {
	m := hmac.New(sha256.New, s.tailKey)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(index))
	m.Write(b[:])
	m.Write(leaf[:])
	return m.Sum(nil)
}

// Verifier returns the note verifier for the signer's public key.
func (s *Signer) Verifier() note.Verifier {
	v, err := note.NewVerifier(s.VerifierKey)
	if err != nil {
		panic(fmt.Sprintf("audit: derived verifier key does not parse: %v", err))
	}
	return v
}
