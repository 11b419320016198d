package dashboard

import (
	"net/http"

	"keycab.dev/keycab/hq"
)

// The phone page (issue 16): a member points a phone's camera at a key
// set's QR label, sees which key set it is, its home and who has it, and
// takes, returns or hands it over. The page is a shell: scan.js reads
// the camera (BarcodeDetector where the browser has one, else the
// vendored jsQR), and calls POST /v1/scan and POST /v1/custody with the
// session cookie, so the rules and the records are the API's.

// Scan-page security headers: every page's, plus the camera for this
// origin and the web app manifest; nothing else is loosened.
const (
	scanCSP         = hq.ContentSecurityPolicy + "; manifest-src 'self'"
	scanPermissions = "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)

// scanData is the phone page's.
type scanData struct {
	MemberID string // the viewer: "you" when they hold it
}

func (d *Dashboard) scanPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	h := w.Header()
	h.Set("Content-Security-Policy", scanCSP)
	h.Set("Permissions-Policy", scanPermissions)
	d.render(w, r, http.StatusOK, "scan", view{Title: "Scan a key set", Nav: "scan", V: v,
		Data: scanData{MemberID: v.P.MemberID}})
	return nil
}
