package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// DefaultEnrolTokenTTL is how long an enrolment token stays valid unless
// the admin asks for another lifetime.
const DefaultEnrolTokenTTL = 24 * time.Hour

// MaxEnrolTokenTTL bounds how long an enrolment token may stay valid.
const MaxEnrolTokenTTL = 7 * 24 * time.Hour

// EnrolTokenTTL checks a token lifetime asked for in hours: 0 is
// DefaultEnrolTokenTTL; otherwise 1 hour to MaxEnrolTokenTTL.
func EnrolTokenTTL(hours int) (time.Duration, error) {
	ttl := time.Duration(hours) * time.Hour
	switch {
	case hours == 0:
		return DefaultEnrolTokenTTL, nil
	case hours < 0 || ttl > MaxEnrolTokenTTL:
		return 0, keycab.Errorf(keycab.EINVALID, "ttl_hours must be between 1 and %d", int(MaxEnrolTokenTTL/time.Hour))
	}
	return ttl, nil
}

// EnrolToken describes an enrolment token; the secret itself is shown once
// and stored only as its SHA-256.
type EnrolToken struct {
	OrgID     string
	CabinetID string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// enrolTokenSep separates the organisation from the secret in a token:
// "<org id>.<secret>". The organisation is not secret; it lets HQ find the
// token's tenant before anyone is authenticated.
const enrolTokenSep = "."

// CreateEnrolToken makes a single-use token that enrols one kiosk for the
// cabinet. ttl zero means DefaultEnrolTokenTTL. Owners, admins and the
// cabinet's site managers.
func (s *Store) CreateEnrolToken(ctx context.Context, sc Scope, cabinetID string, ttl time.Duration) (string, EnrolToken, error) {
	if ttl <= 0 {
		ttl = DefaultEnrolTokenTTL
	}
	secret := make([]byte, 20)
	rand.Read(secret)
	text := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))
	var tok EnrolToken
	err := s.write(ctx, "create enrolment token", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("enrolling a kiosk"); err != nil {
			return err
		}
		c, err := t.cabinet(ctx, cabinetID)
		if err != nil {
			return err
		}
		if !t.p.managesSite(c.SiteID) {
			return forbidden("enrolling a kiosk needs an owner, admin or the site's manager")
		}
		tok = EnrolToken{OrgID: t.org(), CabinetID: cabinetID, CreatedBy: t.p.member, CreatedAt: t.now, ExpiresAt: t.now.Add(ttl)}
		if _, err := t.exec(ctx, `INSERT INTO enrol_tokens (org_id, hash, cabinet_id, created_by, created_us, expires_us) VALUES ($1, $2, $3, $4, $5, $6)`,
			t.org(), tokenHash(text), cabinetID, t.p.member, us(tok.CreatedAt), us(tok.ExpiresAt)); err != nil {
			return err
		}
		return t.logAction(ctx, "kiosk.enrol_token", cabinetID, "expires "+tok.ExpiresAt.Format(time.RFC3339))
	})
	if err != nil {
		return "", EnrolToken{}, err
	}
	return tok.OrgID + enrolTokenSep + text, tok, nil
}

func tokenHash(secret string) []byte {
	h := sha256.Sum256([]byte("keycab enrol token\x00" + secret))
	return h[:]
}

// NewKioskLog names the log of a kiosk being enrolled: given the new
// kiosk's id, it returns the log's origin and the note verifier key of
// the kiosk's public key under that name (hq/kioskapi builds them).
type NewKioskLog func(kioskID string) (origin, verifierKey string, err error)

// Enrol burns an enrolment token and creates the kiosk it was made for,
// with publicKey (the kiosk's raw Ed25519 key) and the log named by
// newLog. It needs no principal: the token is the credential. An unknown,
// used or expired token is EUNAUTHORIZED, and all three look alike.
func (s *Store) Enrol(ctx context.Context, token string, publicKey []byte, name string, newLog NewKioskLog) (Kiosk, KioskLog, error) {
	bad := keycab.Errorf(keycab.EUNAUTHORIZED, "enrolment token is unknown, used or expired")
	org, secret, ok := strings.Cut(strings.TrimSpace(token), enrolTokenSep)
	if !ok || org == "" || secret == "" {
		return Kiosk{}, KioskLog{}, bad
	}
	var k Kiosk
	var kl KioskLog
	t, err := s.begin(ctx, org, true)
	if err != nil {
		return k, kl, err
	}
	defer t.sql.Rollback()
	var cabinet string
	var expires, used int64
	h := tokenHash(secret)
	err = t.queryRow(ctx, "SELECT cabinet_id, expires_us, used_us FROM enrol_tokens WHERE org_id = $1 AND hash = $2", org, h).
		Scan(&cabinet, &expires, &used)
	if err != nil || used != 0 || expires <= us(t.now) {
		return k, kl, bad
	}
	if after, err := t.orgDeleteAfter(ctx); err != nil {
		return k, kl, err
	} else if after != 0 {
		return k, kl, errDeleting(after)
	}
	k = Kiosk{ID: newID("kiosk"), OrgID: org, CabinetID: cabinet, Name: name, PublicKey: publicKey, EnrolledAt: t.now}
	kl.KioskID, kl.OrgID = k.ID, org
	if kl.Origin, kl.VerifierKey, err = newLog(k.ID); err != nil {
		return Kiosk{}, KioskLog{}, keycab.Errorf(keycab.EINVALID, "kiosk key: %v", err)
	}
	res, err := t.exec(ctx, "UPDATE enrol_tokens SET used_us = $1, kiosk_id = $2 WHERE org_id = $3 AND hash = $4 AND used_us = 0", us(t.now), k.ID, org, h)
	if err != nil {
		return Kiosk{}, KioskLog{}, s.classify(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return Kiosk{}, KioskLog{}, bad
	}
	if _, err := t.exec(ctx, `INSERT INTO kiosks (org_id, id, cabinet_id, name, public_key, enrolled_us) VALUES ($1, $2, $3, $4, $5, $6)`,
		org, k.ID, k.CabinetID, k.Name, k.PublicKey, us(k.EnrolledAt)); err != nil {
		return Kiosk{}, KioskLog{}, s.classify(err)
	}
	if _, err := t.exec(ctx, `INSERT INTO kiosk_logs (org_id, kiosk_id, origin, verifier_key) VALUES ($1, $2, $3, $4)`,
		org, k.ID, kl.Origin, kl.VerifierKey); err != nil {
		return Kiosk{}, KioskLog{}, s.classify(err)
	}
	t.p = principal{org: org, kiosk: k.ID, role: keycab.RoleKiosk, cabinet: cabinet}
	if err := t.logAction(ctx, "kiosk.enrol", k.ID, cabinet); err != nil {
		return Kiosk{}, KioskLog{}, err
	}
	if err := t.sql.Commit(); err != nil {
		return Kiosk{}, KioskLog{}, s.classify(err)
	}
	return k, kl, nil
}
