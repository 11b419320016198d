package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signature type of C2SP tlog-cosignature.
const algCosignatureV1 = 0x04

// Cosigner signs cosignature/v1 note signatures (a note.Signer).
type Cosigner struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
	now  func() time.Time
}

var _ note.Signer = (*Cosigner)(nil)

// NewCosigner returns a cosigner named name with key priv; now is the
// clock whose time goes into each cosignature (nil: time.Now).
func NewCosigner(name string, priv ed25519.PrivateKey, now func() time.Time) (*Cosigner, error) {
	if !validName(name) {
		return nil, fmt.Errorf("cosigner name %q is not a valid note key name", name)
	}
	if now == nil {
		now = time.Now
	}
	pub := priv.Public().(ed25519.PublicKey)
	return &Cosigner{name: name, hash: cosignKeyHash(name, pub), priv: priv, now: now}, nil
}

// Name implements note.Signer.
func (c *Cosigner) Name() string { return c.name }

// KeyHash implements note.Signer.
func (c *Cosigner) KeyHash() uint32 { return c.hash }

// Sign implements note.Signer: an 8-byte timestamp and the signature.
func (c *Cosigner) Sign(msg []byte) ([]byte, error) {
	ts := uint64(c.now().Unix())
	sig := ed25519.Sign(c.priv, cosignedMessage(ts, msg))
	out := binary.BigEndian.AppendUint64(nil, ts)
	return append(out, sig...), nil
}

// VerifierKey returns the cosigner's verifier key text.
func (c *Cosigner) VerifierKey() string {
	pub := c.priv.Public().(ed25519.PublicKey)
	return fmt.Sprintf("%s+%08x+%s", c.name, c.hash, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, pub...)))
}

func cosignedMessage(ts uint64, text []byte) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(ts, 10)+"\n"), text...)
}

func cosignKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write([]byte{algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func validName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "+ \t\n") && strings.ToValidUTF8(name, "") == name
}

// CosignatureVerifier verifies cosignature/v1 signatures (a note.Verifier)
// and reports the time of the last one it accepted.
type CosignatureVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
	// Time is set by Verify to the timestamp of an accepted signature.
	Time time.Time
}

var _ note.Verifier = (*CosignatureVerifier)(nil)

// NewCosignatureVerifier parses a cosigner verifier key
// (name+hash+base64(0x04 || key)).
func NewCosignatureVerifier(vkey string) (*CosignatureVerifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	h, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(key64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || len(hash16) != 8 || !validName(name) ||
		len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return nil, errors.New("malformed cosigner verifier key")
	}
	pub := ed25519.PublicKey(key[1:])
	if uint32(h) != cosignKeyHash(name, pub) {
		return nil, errors.New("cosigner verifier key hash does not match its key")
	}
	return &CosignatureVerifier{name: name, hash: uint32(h), pub: pub}, nil
}

// Name implements note.Verifier.
func (v *CosignatureVerifier) Name() string { return v.name }

// KeyHash implements note.Verifier.
func (v *CosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify implements note.Verifier.
func (v *CosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	if !ed25519.Verify(v.pub, cosignedMessage(ts, msg), sig[8:]) {
		return false
	}
	v.Time = time.Unix(int64(ts), 0).UTC()
	return true
}

// Cosign adds cosigner's signature to a signed checkpoint, keeping the
// signatures it already carries.
func Cosign(signed []byte, cosigner *Cosigner) ([]byte, error) {
	i := strings.Index(string(signed), "\n\n")
	if i < 0 {
		return nil, errors.New("cosign: not a signed note")
	}
	text := signed[:i+1]
	own, err := note.Sign(&note.Note{Text: string(text)}, cosigner)
	if err != nil {
		return nil, fmt.Errorf("cosign: %w", err)
	}
	// own is text, a blank line and one signature line: append that line.
	line := own[len(text)+1:]
	out := append([]byte(nil), signed...)
	return append(out, line...), nil
}

// VerifyCosignature checks that cosigned carries a valid cosignature by
// the key vkey and returns its time.
func VerifyCosignature(cosigned []byte, vkey string) (time.Time, error) {
	v, err := NewCosignatureVerifier(vkey)
	if err != nil {
		return time.Time{}, err
	}
	n, err := note.Open(cosigned, note.VerifierList(v))
	if err != nil {
		return time.Time{}, fmt.Errorf("cosignature: %w", err)
	}
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			return v.Time, nil
		}
	}
	return time.Time{}, errors.New("cosignature: not cosigned by HQ")
}
