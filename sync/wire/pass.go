package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
)

// An offline pass (minor version 9) is a signed note in compact form, fit
// for a QR code:
//
//	keycab-pass:<base64url(json)>.<base64url(signature)>
//
// The note's text is "keycab pass v1\n<json>\n" and the signature is HQ's
// config key's Ed25519 signature of that text, as note.Sign makes it (its
// signature line without the key name and key hash, which the kiosk knows:
// the key it pinned at enrolment for bundles). No new trust anchor.
const (
	PassPrefix = "keycab-pass:"
	passHeader = "keycab pass v1"
	// MaxPassCode bounds a pass code's length (a QR code holds ~2900
	// bytes; a pass of MaxPassKeySets key sets is well under 1000).
	MaxPassCode = 2000
)

// Pass is the signed part of an offline pass. Times are Unix seconds,
// HQ's clock.
type Pass struct {
	ID        string   `json:"id"`
	OrgID     string   `json:"org"`
	MemberID  string   `json:"member"`
	KeySetIDs []string `json:"key_sets"`
	NotBefore int64    `json:"nbf"`
	NotAfter  int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
}

// PassOf returns the signed part of a pass.
func PassOf(p keycab.Pass) Pass {
	return Pass{ID: p.ID, OrgID: p.OrgID, MemberID: p.MemberID, KeySetIDs: p.KeySetIDs,
		NotBefore: p.From.Unix(), NotAfter: p.Until.Unix(), IssuedAt: p.IssuedAt.Unix()}
}

// Pass returns the pass as the domain holds it.
func (p Pass) Pass() keycab.Pass {
	return keycab.Pass{ID: p.ID, OrgID: p.OrgID, MemberID: p.MemberID, KeySetIDs: p.KeySetIDs,
		From: time.Unix(p.NotBefore, 0).UTC(), Until: time.Unix(p.NotAfter, 0).UTC(), IssuedAt: time.Unix(p.IssuedAt, 0).UTC()}
}

func passText(js []byte) []byte {
	return []byte(passHeader + "\n" + string(js) + "\n")
}

// SignPass signs a pass with HQ's config key and returns its code.
func SignPass(p Pass, signer note.Signer) (string, error) {
	js, err := json.Marshal(&p)
	if err != nil {
		return "", fmt.Errorf("encode pass: %w", err)
	}
	if bytes.ContainsAny(js, "\n") {
		return "", fmt.Errorf("encode pass: a newline in its text")
	}
	sig, err := signer.Sign(passText(js))
	if err != nil {
		return "", fmt.Errorf("sign pass: %w", err)
	}
	code := PassPrefix + base64.RawURLEncoding.EncodeToString(js) + "." + base64.RawURLEncoding.EncodeToString(sig)
	if len(code) > MaxPassCode {
		return "", keycab.Errorf(keycab.EINVALID, "pass is %d bytes as a code; at most %d", len(code), MaxPassCode)
	}
	return code, nil
}

// IsPass reports whether a scanned code claims to be an offline pass.
func IsPass(code string) bool { return strings.HasPrefix(code, PassPrefix) }

// OpenPass verifies a pass code with HQ's pinned config key and parses
// it. Every failure is an EINVALID error in plain words ("pass is
// damaged", "pass signature does not verify"); it checks neither the
// window, the organisation nor revocation: the caller does.
func OpenPass(code, configKey string) (Pass, error) {
	var p Pass
	bad := func(what string) (Pass, error) { return Pass{}, keycab.Errorf(keycab.EINVALID, "%s", what) }
	if !IsPass(code) {
		return bad("not a keycab pass")
	}
	if len(code) > MaxPassCode {
		return bad("pass is too long")
	}
	body, sig64, ok := strings.Cut(code[len(PassPrefix):], ".")
	if !ok {
		return bad("pass is damaged or cut short")
	}
	js, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return bad("pass is damaged or cut short")
	}
	sig, err := base64.RawURLEncoding.DecodeString(sig64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return bad("pass is damaged or cut short")
	}
	v, err := note.NewVerifier(configKey)
	if err != nil {
		return Pass{}, keycab.Errorf(keycab.EINVALID, "no HQ key to check passes with")
	}
	if bytes.ContainsAny(js, "\n") || !v.Verify(passText(js), sig) {
		return bad("pass signature does not verify (forged or altered)")
	}
	// Fields a newer HQ adds are ignored: they are signed all the same.
	if err := json.Unmarshal(js, &p); err != nil {
		return bad("pass content is unreadable")
	}
	switch {
	case p.ID == "" || p.OrgID == "" || p.MemberID == "" || len(p.KeySetIDs) == 0:
		return bad("pass is incomplete")
	case !keycab.Printable(p.ID) || len(p.ID) > 100 || !keycab.Printable(p.MemberID) || !keycab.Printable(p.OrgID):
		return bad("pass content is unreadable")
	case p.NotAfter <= p.NotBefore:
		return bad("pass window is empty")
	}
	return p, nil
}
