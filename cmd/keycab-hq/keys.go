package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/sync/wire"
)

// The HQ keys file holds HQ's two signing keys as C2SP note private keys,
// one a line:
//
//	PRIVATE+KEY+<name>/cosigner+<hash>+<key>   cosigns kiosk checkpoints
//	PRIVATE+KEY+<name>/config+<hash>+<key>     signs kiosk config bundles
//
// Kiosks pin both verifier keys at enrolment, so the file must outlive any
// HQ process and be shared by every HQ process of one database. serve
// creates it (mode 0600) when it is missing; a file readable by others is
// refused.

// hqKeys are HQ's signing keys.
type hqKeys struct {
	Cosigner *wire.Cosigner
	Config   *audit.Signer
	// Dashboard keys the dashboard's signed export links and CSRF tokens.
	// It is derived from the cosigner's seed, so every HQ process that
	// shares the key file agrees on it, and it never leaves the process.
	Dashboard []byte
	// OrgLog seeds the signing keys of the organisations' HQ logs
	// (store.OrgLogKeys), derived from the cosigner's seed like Dashboard.
	OrgLog []byte
}

// loadOrCreateKeys reads the keys file at path, creating it with new keys
// named after name when it does not exist.
func loadOrCreateKeys(path, name string) (*hqKeys, bool, error) {
	created := false
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var lines []string
		for _, role := range []string{"cosigner", "config"} {
			skey, _, err := note.GenerateKey(rand.Reader, name+"/"+role)
			if err != nil {
				return nil, false, fmt.Errorf("create HQ keys: %w", err)
			}
			lines = append(lines, skey)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("create HQ keys: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("create HQ keys: %w", err)
		}
		_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, false, fmt.Errorf("create HQ keys: %w", err)
		}
		b, created = []byte(strings.Join(lines, "\n")), true
	} else if err != nil {
		return nil, false, fmt.Errorf("read HQ keys: %w", err)
	} else if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("HQ keys %s: mode %v lets others read it; chmod 600", path, fi.Mode().Perm())
	}
	k, err := parseKeys(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("HQ keys %s: %w", path, err)
	}
	return k, created, nil
}

func parseKeys(text string) (*hqKeys, error) {
	var k hqKeys
	for _, line := range strings.Fields(text) {
		f := strings.SplitN(line, "+", 5)
		if len(f) != 5 || f[0] != "PRIVATE" || f[1] != "KEY" {
			return nil, errors.New("want lines of PRIVATE+KEY+name+hash+key")
		}
		switch {
		case strings.HasSuffix(f[2], "/cosigner"):
			raw, err := base64.StdEncoding.DecodeString(f[4])
			if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
				return nil, errors.New("the cosigner key is not an Ed25519 note key")
			}
			if k.Cosigner, err = wire.NewCosigner(f[2], ed25519.NewKeyFromSeed(raw[1:]), nil); err != nil {
				return nil, err
			}
			mac := hmac.New(sha256.New, raw[1:])
			mac.Write([]byte("keycab dashboard links and forms v1"))
			k.Dashboard = mac.Sum(nil)
			mac = hmac.New(sha256.New, raw[1:])
			mac.Write([]byte("keycab org log keys v1"))
			k.OrgLog = mac.Sum(nil)
		case strings.HasSuffix(f[2], "/config"):
			s, err := audit.ParseSignerKey(line)
			if err != nil {
				return nil, fmt.Errorf("the config key: %w", err)
			}
			k.Config = s
		default:
			return nil, fmt.Errorf("key %q is neither NAME/cosigner nor NAME/config", f[2])
		}
	}
	if k.Cosigner == nil || k.Config == nil {
		return nil, errors.New("want a NAME/cosigner and a NAME/config key")
	}
	return &k, nil
}
