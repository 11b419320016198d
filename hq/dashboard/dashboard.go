package dashboard

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

//go:embed web
var webFS embed.FS

// Dashboard cookies: the session (hq.SessionCookie), and the pending MFA step
// between password and code.
const mfaCookie = "__Host-keycab_mfa"

// Dashboard is HQ's HTML dashboard. Set the fields, then register it on
// the server (hq.Server.Dashboard).
type Dashboard struct {
	Store  *store.Store
	Auth   *auth.Service
	Logger *slog.Logger
	// Key signs the dashboard's CSRF tokens and export links; HQ
	// processes sharing a database should share it. Nil makes a random
	// one: links then work only on this process.
	Key []byte
	// Now is the dashboard's clock (export link expiry); nil is time.Now.
	Now func() time.Time
	// OfflineAfter is how long a kiosk may be silent before the kiosks
	// page calls it offline: the notifier's setting (notify.Config), so
	// the page and the mails agree. Zero is the notifier's default.
	OfflineAfter time.Duration
	// ConfigBehindAfter is how long a kiosk may go without applying the
	// config HQ issued it before the kiosks page flags it; zero is
	// DefaultConfigBehindAfter.
	ConfigBehindAfter time.Duration
	// DeletionGrace is how long a deleted organisation can be restored;
	// zero means store.DefaultDeletionGrace.
	DeletionGrace time.Duration
	// Webhooks, when set, is woken when a webhook test or resend is
	// queued (the webhook sender, hq/webhook).
	Webhooks interface{ Wake() }

	key     []byte
	pages   map[string]*template.Template
	static  map[string]staticFile
	version string // a digest of the static files, for cache busting
}

// DefaultConfigBehindAfter is Dashboard.ConfigBehindAfter's default: a
// running kiosk applies a change within seconds (its long poll), so ten
// minutes behind means it is offline, failing to apply, or stuck.
const DefaultConfigBehindAfter = 10 * time.Minute

type staticFile struct {
	body  []byte
	ctype string
	etag  string
}

func (d *Dashboard) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Register adds the dashboard's routes to mux, and the catch-all that
// answers unknown paths with an HTML page to browsers and JSON to others.
func (d *Dashboard) Register(mux hq.Mux) error {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	d.key, d.pages, d.static = d.Key, map[string]*template.Template{}, map[string]staticFile{}
	if len(d.key) == 0 {
		d.key = make([]byte, 32)
		rand.Read(d.key)
	}
	if err := d.loadStatic(); err != nil {
		return err
	}
	if err := d.loadTemplates(); err != nil {
		return err
	}
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, withClient(h)) }
	handle("GET /static/{name}", d.serveStatic)

	// Signed out.
	handle("GET /signup", d.signupPage)
	handle("POST /signup", d.signupPost)
	handle("GET /login", d.loginPage)
	handle("POST /login", d.loginPost)
	handle("GET /login/mfa", d.mfaPage)
	handle("POST /login/mfa", d.mfaPost)
	handle("GET /reset", d.resetPage)
	handle("POST /reset", d.resetPost)
	handle("POST /reset/confirm", d.resetConfirmPost)
	handle("GET /magic", d.magicPage)
	handle("POST /magic", d.magicRequestPost)
	handle("POST /magic/confirm", d.magicConfirmPost)
	handle("GET /invite", d.invitePage)
	handle("POST /invite", d.invitePost)
	handle("GET /export/history.csv", d.exportCSV)
	handle("GET /verify", d.verifyPage)
	handle("GET /unsubscribe", d.unsubscribePage)
	handle("POST /unsubscribe", d.unsubscribePost)
	handle("POST /verify", d.verifyPost)

	// Signed in, but open to an account that has yet to verify its
	// address, or (AllowEnrol) that its organisation's rule sends to MFA
	// enrolment: everything else sends it to /verify or /settings.
	for pattern, a := range map[string]struct {
		h     pageFunc
		allow auth.Allow
	}{
		"POST /verify/resend":       {d.resendVerify, auth.AllowUnverified},
		"POST /logout":              {d.logout, auth.AllowUnverified},
		"GET /settings":             {d.settings, auth.AllowEnrol},
		"POST /settings/mfa/setup":  {d.mfaSetup, auth.AllowEnrol},
		"POST /settings/mfa/enable": {d.mfaEnable, auth.AllowEnrol},
	} {
		mux.Handle(pattern, d.signedInAs(a.h, a.allow))
	}
	handle("GET /export/subject.zip", d.subjectArchive)

	// Signed in.
	for pattern, h := range map[string]pageFunc{
		"GET /{$}":                        d.overview,
		"GET /keys":                       d.keysOut,
		"GET /scan":                       d.scanPage,
		"GET /search":                     d.search,
		"GET /overdue":                    d.overdue,
		"GET /history":                    d.history,
		"GET /history/export":             d.exportLink,
		"GET /reports":                    d.reports,
		"GET /reports.csv":                d.reportsCSV,
		"POST /reports/mail":              d.subscribeReport,
		"POST /reports/mail/{id}/delete":  d.unsubscribeReport,
		"GET /alarms":                     d.alarms,
		"POST /alarms/{id}/clear":         d.clearAlarm,
		"GET /kiosks":                     d.kiosks,
		"GET /people":                     d.people,
		"POST /people/invite":             d.invitePeople,
		"POST /invites/{id}/revoke":       d.revokeInvite,
		"GET /key-sets":                   d.keySets,
		"GET /sites":                      d.sites,
		"GET /sites/{id}":                 d.site,
		"GET /cabinets":                   d.cabinets,
		"GET /cabinets/{id}":              d.cabinet,
		"POST /cabinets/{id}/enrol-token": d.enrolToken,
		"GET /audit":                      d.auditLog,
		"POST /kiosks/{id}/revoke":        d.revokeKiosk,
		"GET /kiosks/{id}/actions":        d.remoteActions,
		"POST /kiosks/{id}/actions":       d.askRemote,
		"GET /organisation":               d.organisation,
		"GET /settings/my-data":           d.subjectLink,
		"GET /people/{id}/export":         d.subjectLink,
		"POST /organisation/delete":       d.deleteOrg,
		"POST /organisation/restore":      d.restoreOrg,
		"POST /settings/password":         d.changePassword,
		// dashboard_account.go
		"POST /settings/mfa/disable":          d.mfaDisable,
		"POST /settings/mfa/recovery-codes":   d.regenerateCodes,
		"POST /settings/email":                d.changeEmail,
		"POST /settings/sessions/{id}/revoke": d.revokeSession,
		"POST /settings/org-security":         d.setOrgSecurity,
		"POST /settings/public-logs":          d.setPublicLogs,
		"POST /people/{id}/mfa/reset":         d.resetMemberMFA,
		// dashboard_groups.go
		"GET /groups":                    d.groups,
		"POST /groups":                   d.createGroup,
		"POST /groups/{id}/entries":      d.setGroupEntries,
		"POST /groups/{id}/delete":       removeThen(d.Store.DeleteGroup, "/groups?notice=deleted"),
		"POST /groups/rules":             d.createRule,
		"POST /groups/rules/{id}/delete": removeThen(d.Store.DeleteAccessRule, "/groups?notice=deleted"),
		// dashboard_labels.go
		"GET /labels":  managerPage(d.labelsPage),
		"POST /labels": managerPage(d.printLabels),
		// dashboard_import.go
		"GET /import":  managerPage(d.importForm),
		"POST /import": managerPage(d.importPost),
		// dashboard_apikeys.go
		"GET /api-keys":              d.apiKeys,
		"POST /api-keys":             d.createAPIKey,
		"POST /api-keys/{id}/revoke": d.revokeAPIKey,
		// dashboard_scim.go
		"GET /scim-tokens":              d.scimTokens,
		"POST /scim-tokens":             d.createSCIMToken,
		"POST /scim-tokens/{id}/revoke": d.revokeSCIMToken,
		// dashboard_webhooks.go
		"GET /webhooks":                                    d.webhooks,
		"POST /webhooks":                                   d.createWebhook,
		"GET /webhooks/{id}":                               d.webhook,
		"POST /webhooks/{id}":                              d.updateWebhook,
		"POST /webhooks/{id}/delete":                       removeThen(d.Store.DeleteWebhook, "/webhooks?notice=deleted"),
		"POST /webhooks/{id}/rotate":                       d.rotateWebhook,
		"POST /webhooks/{id}/test":                         d.testWebhook,
		"POST /webhooks/{id}/deliveries/{delivery}/resend": d.resendWebhook,
		// dashboard_records.go
		"GET /records":                 d.records,
		"POST /records/holds":          d.createHold,
		"POST /records/holds/{id}/end": d.endHold,
		"POST /records/retention":      d.setRetention,
		// dashboard_policy.go
		"GET /policy":                d.policy,
		"POST /policy":               d.setPolicy,
		"GET /sites/{id}/policy":     d.policy,
		"POST /sites/{id}/policy":    d.setPolicy,
		"GET /cabinets/{id}/policy":  d.policy,
		"POST /cabinets/{id}/policy": d.setPolicy,
		// dashboard_manage.go
		"GET /sites/new":                                d.newSite,
		"POST /sites/new":                               d.createSite,
		"GET /sites/{id}/edit":                          managerPage(d.editSite),
		"POST /sites/{id}/edit":                         d.updateSite,
		"POST /sites/{id}/delete":                       removeThen(d.Store.DeleteSite, "/sites?notice=deleted"),
		"GET /cabinets/new":                             managerPage(d.newCabinet),
		"POST /cabinets/new":                            d.createCabinet,
		"GET /cabinets/{id}/edit":                       managerPage(d.editCabinet),
		"POST /cabinets/{id}/edit":                      d.updateCabinet,
		"POST /cabinets/{id}/delete":                    removeThen(d.Store.DeleteCabinet, "/cabinets?notice=deleted"),
		"GET /key-sets/new":                             managerPage(d.newKeySet),
		"POST /key-sets/new":                            d.createKeySet,
		"GET /key-sets/{id}":                            d.keySetPage,
		"POST /key-sets/{id}":                           d.updateKeySet,
		"POST /key-sets/{id}/delete":                    removeThen(d.Store.DeleteKeySet, "/key-sets?notice=deleted"),
		"POST /key-sets/{id}/token":                     d.keySetToken,
		"POST /key-sets/{id}/reservations":              d.createReservation,
		"POST /key-sets/{id}/reservations/{res}/cancel": d.cancelReservation,
		// dashboard_people.go
		"GET /people/new":                         managerPage(d.newMember),
		"POST /people/new":                        d.createMember,
		"GET /people/{id}":                        d.memberView,
		"POST /people/{id}":                       d.updateMember,
		"POST /people/{id}/remove":                removeThen(d.Store.RemoveMember, "/people?notice=removed"),
		"POST /people/{id}/erase":                 d.eraseMember,
		"POST /people/{id}/badges":                d.addBadge,
		"POST /people/{id}/badges/{badge}/revoke": d.revokeBadge,
		"POST /people/{id}/pin":                   d.setPIN,
		"POST /people/{id}/access":                d.setAccess,
		"POST /people/{id}/jobs":                  d.createJob,
		"POST /people/{id}/jobs/{job}/end":        d.endJob,
		"GET /people/{id}/jobs/new":               managerPage(d.newJob),
		"GET /people/{id}/jobs/{job}":             managerPage(d.jobPage),
		"POST /people/{id}/jobs/{job}":            d.updateJob,
	} {
		mux.Handle(pattern, d.signedIn(h))
	}
	handle("/", func(w http.ResponseWriter, r *http.Request) {
		err := keycab.Errorf(keycab.ENOTFOUND, "not found")
		if hq.WantsHTML(r) {
			d.renderError(w, r, nil, err)
			return
		}
		hq.WriteError(w, r, err)
	})
	return nil
}

// RenderError renders a refusal of HQ's middleware (hq.Server) as a
// page for a browser.
func (d *Dashboard) RenderError(w http.ResponseWriter, r *http.Request, err error) {
	d.renderError(w, r, nil, err)
}

func (d *Dashboard) loadStatic() error {
	sum := sha256.New()
	err := fs.WalkDir(webFS, "web/static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := webFS.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		sum.Write(h[:])
		ctype := mime.TypeByExtension(path.Ext(p))
		if path.Ext(p) == ".webmanifest" { // not in Go's table nor every system's
			ctype = "application/manifest+json"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		d.static[path.Base(p)] = staticFile{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(h[:8]) + `"`}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dashboard assets: %w", err)
	}
	d.version = hex.EncodeToString(sum.Sum(nil)[:6])
	return nil
}

// serveStatic serves an embedded asset. Pages link assets with ?v= the
// assets' digest, so a versioned URL may be cached for a year.
func (d *Dashboard) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := d.static[r.PathValue("name")]
	if !ok {
		d.renderError(w, r, nil, keycab.Errorf(keycab.ENOTFOUND, "not found"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	if r.URL.Query().Get("v") == d.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(f.body)
}

var templateFuncs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"role":  roleName,
	"lower": strings.ToLower,
	// iso is a time as a sortable key (app.js's sortable tables).
	"iso": func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") },
	// The overview's chart (dashboard_overview.go).
	"add": func(a, b float64) float64 { return a + b },
	"mul": func(a, b int) int { return a * b },
	// Reports (dashboard_reports.go).
	"mulf":    func(a, b float64) float64 { return a * b },
	"div":     func(a, b int) int { return a / b },
	"mod":     func(a, b int) int { return a % b },
	"percent": func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"hours":   hoursText,
	"list":    func(xs ...int) []int { return xs },
	"kind":    kindName,
	// alarm says an alarm name in the shared staff-facing words
	// (keycab.AlarmTitle): "Door forced open while locked".
	"alarm": keycab.AlarmTitle,
	// human turns an identifier like door_forced into "Door forced".
	"human": func(s string) string {
		s = strings.ReplaceAll(s, "_", " ")
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	// dashboard_time.go: a time in a site's zone, and a datetime-local value.
	"zoned":      zoned,
	"localInput": localInput,
}

func (d *Dashboard) loadTemplates() error {
	base, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(webFS, "web/templates/layout.html")
	if err != nil {
		return fmt.Errorf("dashboard templates: %w", err)
	}
	names, err := fs.Glob(webFS, "web/templates/*.html")
	if err != nil {
		return fmt.Errorf("dashboard templates: %w", err)
	}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(webFS, n)
		if err != nil {
			return fmt.Errorf("dashboard template %s: %w", name, err)
		}
		d.pages[name] = t
	}
	return nil
}

// viewer is the signed-in person a page is rendered for.
type viewer struct {
	P       auth.Principal
	OrgName string
	Name    string
	Email   string
	Role    keycab.Role
	MFA     bool
	CSRF    string
	// Verified: the account's address is verified; NeedsMFA: the
	// organisation's rule sends this owner or admin to MFA enrolment.
	Verified, NeedsMFA bool
	// DeleteAfter is when the organisation is to be deleted (zero: it is
	// not); only its owners see pages meanwhile.
	DeleteAfter time.Time
}

func (v *viewer) Admin() bool { return v.Role == keycab.RoleOwner || v.Role == keycab.RoleAdmin }

// Manager reports whether the viewer sees alarms and kiosks.
func (v *viewer) Manager() bool {
	return v.Admin() || v.Role == keycab.RoleSiteManager || v.Role == keycab.RoleAuditor
}

// CanExport reports whether the viewer may export history.
func (v *viewer) CanExport() bool { return canExport(v.Role) }

// CanInvite reports whether the viewer may invite anyone.
func (v *viewer) CanInvite() bool { return v.Admin() || v.Role == keycab.RoleSiteManager }

func canExport(r keycab.Role) bool {
	return r == keycab.RoleOwner || r == keycab.RoleAdmin || r == keycab.RoleAuditor
}

// view is what every template gets.
type view struct {
	Title   string
	Nav     string // the nav item to highlight
	V       *viewer
	Notice  string
	Error   string
	Data    any
	Version string
	Path    string
}

type pageFunc func(w http.ResponseWriter, r *http.Request, v *viewer) error

// signedIn authenticates a page from the session cookie (else sends the
// browser to sign in), checks the CSRF token of unsafe requests, and
// renders a returned error as a friendly page. The account must be
// verified and meet its organisation's MFA rule (auth.AllowFull).
func (d *Dashboard) signedIn(f pageFunc) http.Handler { return d.signedInAs(f, auth.AllowFull) }

// signedInAs is signedIn for a page that needs allow of the principal's
// standing: a page the principal may not see yet sends a browser to
// verify its address (/verify) or to enrol in MFA (/settings); a form
// posted there is refused.
func (d *Dashboard) signedInAs(f pageFunc, allow auth.Allow) http.Handler {
	return withClient(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(hq.SessionCookie)
		if err != nil || c.Value == "" {
			d.toLogin(w, r)
			return
		}
		p, err := d.Auth.Authenticate(r.Context(), c.Value)
		if err != nil {
			d.Logger.Warn("denied request", "reason", keycab.ErrorMessage(err), "method", r.Method, "path", r.URL.Path, "ip", hq.ClientIP(r))
			clearCookie(w, hq.SessionCookie)
			d.toLogin(w, r)
			return
		}
		v, err := d.viewer(r.Context(), p)
		if err != nil {
			d.renderError(w, r, nil, err)
			return
		}
		if err := p.Gate(allow); err != nil {
			if r.Method == http.MethodGet && errors.Is(err, auth.ErrUnverified) {
				http.Redirect(w, r, "/verify", http.StatusSeeOther)
				return
			} else if r.Method == http.MethodGet {
				http.Redirect(w, r, "/settings?notice=mfarequired", http.StatusSeeOther)
				return
			}
			d.Logger.Warn("denied request", "reason", keycab.ErrorMessage(err), "method", r.Method, "path", r.URL.Path, "ip", hq.ClientIP(r))
			d.renderError(w, r, v, err)
			return
		}
		if r.Method == http.MethodPost && !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(v.CSRF)) {
			d.Logger.Warn("denied request", "reason", "bad CSRF token", "method", r.Method, "path", r.URL.Path, "ip", hq.ClientIP(r))
			d.renderError(w, r, v, keycab.Errorf(keycab.EFORBIDDEN, "This form has expired. Go back, reload the page and try again."))
			return
		}
		if err := f(w, r, v); err != nil {
			d.renderError(w, r, v, err)
		}
	})
}

func (d *Dashboard) toLogin(w http.ResponseWriter, r *http.Request) {
	to := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		to += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (d *Dashboard) viewer(ctx context.Context, p auth.Principal) (*viewer, error) {
	sc := p.Scope()
	org, err := d.Store.GetOrg(ctx, sc)
	if err != nil {
		return nil, err
	}
	m, err := d.Store.GetMember(ctx, sc, p.MemberID)
	if err != nil {
		return nil, err
	}
	acct, err := d.Store.GetAccount(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	del, err := d.Store.OrgDeletion(ctx, sc)
	if err != nil {
		return nil, err
	}
	return &viewer{P: p, OrgName: org.Name, Name: m.Name, Email: acct.Email, Role: m.Role, MFA: acct.MFA,
		CSRF: d.sign("csrf", p.SessionID), Verified: acct.Verified(), NeedsMFA: p.Standing.NeedsMFA(), DeleteAfter: del.DeleteAfter}, nil
}

// sign is the base64url HMAC-SHA256 of parts under the dashboard key,
// for one purpose.
func (d *Dashboard) sign(purpose string, parts ...string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte("keycab dashboard " + purpose + " v1"))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// render writes page name with status.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, vw view) {
	t, ok := d.pages[name]
	if !ok {
		panic("dashboard: no template " + name)
	}
	vw.Version, vw.Path = d.version, r.URL.Path
	if vw.Notice == "" {
		vw.Notice = notices[r.URL.Query().Get("notice")]
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, vw); err != nil {
		d.Logger.Error("render", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// notices are the messages a redirect may ask a page to show.
var notices = map[string]string{
	"subscribed":   "Report mail set up: it comes at its time, with a link to stop it.",
	"unsubscribed": "Report mail stopped.",
	"invited":      "Invitation sent.",
	"org-deleting": "The organisation will be deleted when the grace period ends. Its kiosks and other members are refused from now on; you can still export and restore it.",
	"org-restored": "The organisation is restored. Its kiosks and members work again.",
	"revoked":      "Invitation withdrawn.",
	"cleared":      "Alarm cleared.",
	"mfa":          "Two-step sign-in is on. You will be asked for a code each time you sign in.",
	"password":     "Password changed. Your other sessions were signed out.",
	"reset":        "Password changed. Sign in with your new password.",
	"signedout":    "You are signed out.",
	"welcome":      "Welcome to keycab.",
	"joined":       "Invitation accepted. Welcome aboard.",
	"resetsent":    "If an account uses this address, a reset link is on its way. It works once, for a short time.",
	"magicsent":    "If an account uses this address, a sign-in link is on its way. It works once, for a short time.",
	"mfaexpired":   "That sign-in took too long. Start again.",
	// dashboard_account.go
	"verified":     "Email address verified.",
	"verifysent":   "A new verification link is on its way. It works once, for a day.",
	"emailsent":    "A link is on its way to the new address. Your address changes when you open it; until then the old one keeps working.",
	"mfaoff":       "Two-step sign-in is off.",
	"mfarequired":  "Your organisation requires two-step sign-in for owners and admins. Set it up to carry on.",
	"signedoutone": "That session is signed out.",
	"mfareset":     "Two-step sign-in reset: they sign in with their password alone, and are signed out now.",
	"exportexpire": "That export link has expired. Make a new one.",
	// dashboard_manage.go and dashboard_people.go
	"created":            "Created.",
	"saved":              "Saved.",
	"deleted":            "Deleted.",
	"removed":            "Member removed.",
	"erased":             "Personal data erased here; every kiosk erases it with its next config.",
	"holdplaced":         "Legal hold placed.",
	"api-key-revoked":    "API key revoked: it is refused from now on.",
	"scim-token-revoked": "SCIM token revoked: the identity provider is refused from now on.",
	"webhook-test":       "Test event queued: it appears in the delivery log below once sent.",
	"webhook-resent":     "Delivery queued again, with the same message id.",
	"imported":           "Imported. Every line of the file is stored.",
	"holdended":          "Legal hold ended.",
	"kioskrevoked":       "Kiosk revoked: its key no longer works.",
	"remotesent":         "Sent to the kiosk, signed by HQ: its answer shows on the kiosk's remote actions page.",
}

// renderError renders err as a friendly page with its status. v may be
// nil (signed out).
func (d *Dashboard) renderError(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	if hq.ClientGone(r) {
		hq.WriteError(w, r, err) // answered to no one: 499 for the logs
		return
	}
	code := keycab.ErrorCode(err)
	if code == keycab.EINTERNAL {
		d.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var le *auth.LimitedError
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", fmt.Sprint(int(le.RetryAfter.Round(time.Second)/time.Second)))
	}
	status := hq.StatusOf(code)
	title := map[int]string{
		http.StatusNotFound:            "Not found",
		http.StatusForbidden:           "Not allowed",
		http.StatusUnauthorized:        "Please sign in",
		http.StatusBadRequest:          "Something is not right",
		http.StatusConflict:            "Conflict",
		http.StatusTooManyRequests:     "Too many attempts",
		http.StatusGone:                "Expired",
		http.StatusInternalServerError: "Something went wrong",
	}[status]
	if title == "" {
		title = http.StatusText(status)
	}
	msg := keycab.ErrorMessage(err)
	if status == http.StatusNotFound {
		msg = "There is nothing here, or it is not yours to see."
	}
	d.render(w, r, status, "error", view{Title: title, V: v, Data: errorData{status, msg}})
}

// errorData is the error page's.
type errorData struct {
	Status  int
	Message string
}

// formError re-renders a form page with err's message and status.
func (d *Dashboard) formError(w http.ResponseWriter, r *http.Request, name string, vw view, err error) {
	code := keycab.ErrorCode(err)
	if code == keycab.EINTERNAL {
		d.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var le *auth.LimitedError
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", fmt.Sprint(int(le.RetryAfter.Round(time.Second)/time.Second)))
	}
	vw.Error = keycab.ErrorMessage(err)
	d.render(w, r, hq.StatusOf(code), name, vw)
}

func setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Expires: expires})
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// localPath returns next if it is a path on this site, else "/": it
// must parse as a URL with no scheme, host or user, begin with one slash
// (not //, which names a host), and hold no backslash, space or control
// character, raw or percent-encoded, nor invalid UTF-8. Browsers strip
// tabs and newlines from a Location and read a backslash as a slash, so
// "/\t/evil" or "/\\evil" would land on another host.
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		!plainURLText(next) || !plainURLText(u.Path) || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

// plainURLText reports whether s is valid UTF-8 without backslashes,
// spaces or control characters.
func plainURLText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func roleName(r keycab.Role) string {
	switch r {
	case keycab.RoleSiteManager:
		return "Site manager"
	case "":
		return ""
	}
	s := string(r)
	return strings.ToUpper(s[:1]) + s[1:]
}

// kindName is an event kind for people: the words of the table the kiosk
// and its console use too (keycab.EventTitle).
func kindName(k keycab.EventKind) string { return keycab.EventTitle(k) }
