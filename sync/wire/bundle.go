package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
)

const bundleHeader = "keycab config bundle v1"

// Bundle is a config bundle's content.
type Bundle struct {
	KioskID string
	Version int64
	Config  keycab.Config // Config.Version equals Version
}

// BundleText returns the note text of a bundle.
func BundleText(b Bundle) (string, error) {
	c := b.Config
	c.Version = b.Version
	js, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("encode config bundle: %w", err)
	}
	if bytes.ContainsAny(js, "\n") {
		return "", errors.New("encode config bundle: JSON has a newline")
	}
	return fmt.Sprintf("%s\n%s\n%d\n%s\n", bundleHeader, b.KioskID, b.Version, js), nil
}

// ContentHash returns the bytes that identify a config's content
// regardless of its version (HQ keeps the version while they are equal).
func ContentHash(c keycab.Config) ([]byte, error) {
	c.Version = 0
	return json.Marshal(&c)
}

// SignBundle signs a bundle with HQ's config key.
func SignBundle(b Bundle, signer note.Signer) ([]byte, error) {
	text, err := BundleText(b)
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: text}, signer)
}

// OpenBundle verifies a signed bundle with HQ's pinned config key and
// parses it.
func OpenBundle(msg []byte, configKey string) (Bundle, error) {
	v, err := note.NewVerifier(configKey)
	if err != nil {
		return Bundle{}, fmt.Errorf("config key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Bundle{}, fmt.Errorf("config bundle signature: %w", err)
	}
	lines := strings.SplitN(strings.TrimSuffix(n.Text, "\n"), "\n", 4)
	if len(lines) != 4 || lines[0] != bundleHeader {
		return Bundle{}, errors.New("config bundle: not a keycab config bundle v1")
	}
	var b Bundle
	b.KioskID = lines[1]
	if b.Version, err = strconv.ParseInt(lines[2], 10, 64); err != nil || b.Version <= 0 {
		return Bundle{}, fmt.Errorf("config bundle: bad version %q", lines[2])
	}
	if err := json.Unmarshal([]byte(lines[3]), &b.Config); err != nil {
		return Bundle{}, fmt.Errorf("config bundle: %w", err)
	}
	if b.Config.Version != b.Version {
		return Bundle{}, errors.New("config bundle: version line and config disagree")
	}
	return b, nil
}
