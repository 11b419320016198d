// Package passhash hashes and checks secrets people type: HQ passwords and
// kiosk PINs. Hashes are argon2id (RFC 9106) in the PHC string format,
//
//	$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
//
// with unpadded standard base64, so parameters can be raised later and old
// hashes still verify (NeedsRehash tells when to upgrade one).
package passhash

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// OWASP is the OWASP Password Storage Cheat Sheet's argon2id setting
// (19 MiB, 2 passes, 1 lane): what HQ uses for passwords and what a
// Raspberry Pi verifies a PIN with in well under a second.
var OWASP = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// ErrMismatch is returned by Verify for a wrong secret.
var ErrMismatch = errors.New("secret does not match")

const saltLen, keyLen = 16, 32

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of secret under p.
func Hash(secret string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	key := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks secret against a PHC string made by Hash. It returns
// ErrMismatch for a wrong secret and another error for a malformed hash.
func Verify(encoded, secret string) error {
	p, salt, key, err := parse(encoded)
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether encoded was made with weaker parameters than p.
func NeedsRehash(encoded string, p Params) bool {
	q, _, _, err := parse(encoded)
	return err != nil || q.Memory < p.Memory || q.Time < p.Time
}

func parse(encoded string) (Params, []byte, []byte, error) {
	var p Params
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return p, nil, nil, errors.New("not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(f[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("argon2 version %q is not supported", f[2])
	}
	if _, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("argon2 parameters %q: %w", f[3], err)
	}
	if p.Memory < 8 || p.Memory > 4<<20 || p.Time < 1 || p.Time > 100 || p.Threads < 1 {
		return p, nil, nil, fmt.Errorf("argon2 parameters %q are out of range", f[3])
	}
	salt, err1 := b64.DecodeString(f[4])
	key, err2 := b64.DecodeString(f[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return p, nil, nil, errors.New("argon2 salt or hash is malformed")
	}
	return p, salt, key, nil
}
