package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Signer is a log's note signer together with its public verifier key.
type Signer struct {
	note.Signer
	VerifierKey string // note verifier key, "name+hash+base64"
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
	return &Signer{Signer: s, VerifierKey: vkey}, nil
}

// Verifier returns the note verifier for the signer's public key.
func (s *Signer) Verifier() note.Verifier {
	v, err := note.NewVerifier(s.VerifierKey)
	if err != nil {
		panic(fmt.Sprintf("audit: derived verifier key does not parse: %v", err))
	}
	return v
}
