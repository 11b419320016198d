package dashboard

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/qrlabel"
	"keycab.dev/keycab/sync/wire"
)

// SeesAdminLog reports whether the viewer may read HQ's admin log (the
// store decides; this only hides a link that would fail).
func (v *viewer) SeesAdminLog() bool { return v.Admin() || v.Role == keycab.RoleAuditor }

// enrolShown is an enrolment token just issued, shown once on the
// cabinet's page with HQ's address, the command that enrols the kiosk,
// and the enrolment code (wire.EnrolCode) as text and as a QR code that
// the kiosk's setup screen reads from its camera.
type enrolShown struct {
	Token   string
	Expires time.Time
	HQ      string
	Command string
	Code    string
	QR      template.URL // a data: URL of the code's PNG; empty if it could not be drawn
	QRSide  int          // the PNG's side in pixels, shown unscaled
}

// enrolQRModule is the enrolment QR code's module in pixels: big enough
// for a kiosk's camera to read it off a phone or a laptop screen.
const enrolQRModule = 6

// qrDataURL draws text's QR code, module pixels per module with a quiet
// zone, as a PNG data: URL (the dashboard's CSP allows data: images, so
// a secret in the code needs no second request), and the PNG's side.
func qrDataURL(text string, module int) (template.URL, int, error) {
	img, err := qrlabel.Image(text, module)
	if err != nil {
		return "", 0, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", 0, fmt.Errorf("write qr png: %w", err)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())), img.Bounds().Dx(), nil
}

// enrolToken issues a single-use kiosk enrolment token for the cabinet.
func (d *Dashboard) enrolToken(w http.ResponseWriter, r *http.Request, v *viewer) error {
	h, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("ttl_hours")))
	if err != nil {
		h = 0
	}
	ttl, err := store.EnrolTokenTTL(h)
	if err != nil {
		return err
	}
	text, tok, err := d.Store.CreateEnrolToken(r.Context(), v.P.Scope(), r.PathValue("id"), ttl)
	if err != nil {
		return err
	}
	base := d.Auth.BaseURL()
	e := &enrolShown{Token: text, Expires: tok.ExpiresAt, HQ: base, Code: wire.EnrolCode{HQ: d.Auth.BaseURL(), Token: text}.String(),
		Command: "sudo -u keycab keycab-kiosk enroll --hq " + base + " --token " + text + " --wiring /etc/keycab/kiosk.conf"}
	if e.QR, e.QRSide, err = qrDataURL(e.Code, enrolQRModule); err != nil {
		// The error quotes the code, which holds the token: not logged.
		d.Logger.Warn("enrolment code not drawn as a QR code", "cabinet", tok.CabinetID, "code_bytes", len(e.Code))
	}
	// The page holds a secret shown once: never cached.
	w.Header().Set("Cache-Control", "no-store")
	return d.cabinetPage(w, r, v, e)
}

// auditLog shows HQ's own append-only log of admin actions.
func (d *Dashboard) auditLog(w http.ResponseWriter, r *http.Request, v *viewer) error {
	as, err := d.Store.ListAdminLog(r.Context(), v.P.Scope(), 500)
	if err != nil {
		return err
	}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "audit", view{Title: "Admin log", Nav: "audit", V: v, Data: struct {
		Actions any
		Dir     *directory
	}{as, dir}})
	return nil
}

// revokeKiosk revokes a kiosk's key from the kiosks page.
func (d *Dashboard) revokeKiosk(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Store.RevokeKiosk(r.Context(), v.P.Scope(), r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/kiosks?notice=kioskrevoked", http.StatusSeeOther)
	return nil
}
