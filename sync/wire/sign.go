package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request signature headers.
const (
	HeaderKiosk     = "Keycab-Kiosk"     // "<org id>/<kiosk id>"
	HeaderDate      = "Keycab-Date"      // Unix seconds
	HeaderNonce     = "Keycab-Nonce"     // 16 random bytes, base64url
	HeaderDigest    = "Content-Digest"   // "sha-256=:<base64>:" (RFC 9530) of the body as sent
	HeaderSignature = "Keycab-Signature" // base64 Ed25519 signature of SigningString
)

// SigningString is what a kiosk signs for a request:
//
//	keycab-request/v1\n<METHOD>\n<path?query>\n<org>/<kiosk>\n<date>\n<nonce>\n<digest>\n
//
// Headers other than these, and the host, are not covered (proxies
// rewrite them); the body is covered through its digest.
func SigningString(method, uri, kiosk, date, nonce, digest string) []byte {
	return []byte("keycab-request/v1\n" + method + "\n" + uri + "\n" + kiosk + "\n" + date + "\n" + nonce + "\n" + digest + "\n")
}

// BodyDigest returns the Content-Digest header value for body.
func BodyDigest(body []byte) string {
	h := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(h[:]) + ":"
}

// SignRequest signs r, whose body (as sent) is body, for kiosk
// "<org>/<kiosk>" with key at time now.
func SignRequest(r *http.Request, body []byte, orgID, kioskID string, key ed25519.PrivateKey, now time.Time) {
	nb := make([]byte, 16)
	rand.Read(nb)
	kiosk := orgID + "/" + kioskID
	date := strconv.FormatInt(now.Unix(), 10)
	nonce := base64.RawURLEncoding.EncodeToString(nb)
	digest := BodyDigest(body)
	sig := ed25519.Sign(key, SigningString(r.Method, r.URL.RequestURI(), kiosk, date, nonce, digest))
	r.Header.Set(HeaderKiosk, kiosk)
	r.Header.Set(HeaderDate, date)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderDigest, digest)
	r.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
}

// SignedRequest is a request's signature headers, parsed.
type SignedRequest struct {
	OrgID, KioskID string
	Date           time.Time
	Nonce          string
	digest, date   string
	sig            []byte
}

// ParseSignedRequest reads the signature headers of r.
func ParseSignedRequest(r *http.Request) (*SignedRequest, error) {
	s := &SignedRequest{}
	kiosk := r.Header.Get(HeaderKiosk)
	var ok bool
	if s.OrgID, s.KioskID, ok = strings.Cut(kiosk, "/"); !ok || s.OrgID == "" || s.KioskID == "" {
		return nil, errors.New("request is not signed by a kiosk")
	}
	s.date = r.Header.Get(HeaderDate)
	sec, err := strconv.ParseInt(s.date, 10, 64)
	if err != nil {
		return nil, errors.New("request date is not Unix seconds")
	}
	s.Date = time.Unix(sec, 0)
	s.Nonce = r.Header.Get(HeaderNonce)
	if n, err := base64.RawURLEncoding.DecodeString(s.Nonce); err != nil || len(n) < 16 {
		return nil, errors.New("request nonce is missing or short")
	}
	s.digest = r.Header.Get(HeaderDigest)
	if s.sig, err = base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature)); err != nil || len(s.sig) != ed25519.SignatureSize {
		return nil, errors.New("request signature is missing or malformed")
	}
	return s, nil
}

// Verify checks the signature with the kiosk's public key, the date
// against now within window, and the body (as received) against the
// digest. The nonce is the caller's to check for reuse.
func (s *SignedRequest) Verify(r *http.Request, body []byte, pub ed25519.PublicKey, now time.Time, window time.Duration) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("kiosk has no public key")
	}
	msg := SigningString(r.Method, r.URL.RequestURI(), s.OrgID+"/"+s.KioskID, s.date, s.Nonce, s.digest)
	if !ed25519.Verify(pub, msg, s.sig) {
		return errors.New("bad request signature")
	}
	if d := now.Sub(s.Date); d > window || d < -window {
		return fmt.Errorf("request date is %s off HQ's clock", d.Round(time.Second))
	}
	if BodyDigest(body) != s.digest {
		return errors.New("body does not match its digest")
	}
	return nil
}
