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
	"keycab.dev/keycab/internal/i18n"
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
	pages   map[string]map[string]*template.Template // by locale (internal/i18n), then name
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
	d.key, d.pages, d.static = d.Key, map[string]map[string]*template.Template{}, map[string]staticFile{}
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
	handle("GET /sso", d.ssoPage)
	handle("POST /sso", d.ssoPost)
	handle("GET /sso/start", d.ssoStart)
	handle("GET /sso/callback", d.ssoCallback)
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
		"POST /settings/language":   {d.setOwnLanguage, auth.AllowEnrol},
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
		// dashboard_sso.go
		"GET /settings/sso":         d.ssoSettings,
		"POST /settings/sso":        d.saveSSOSettings,
		"POST /settings/sso/delete": d.deleteSSOSettings,
		// dashboard_passes.go
		"GET /passes":              d.passes,
		"POST /passes":             d.issuePass,
		"GET /passes/{id}":         d.passPage,
		"POST /passes/{id}/revoke": d.revokePass,
		"POST /passes/{id}/mail":   d.mailPass,
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
		"POST /webhooks/{id}/delete":                       removeThen(d.Store.Outbox().DeleteWebhook, "/webhooks?notice=deleted"),
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
		"POST /people/{id}/language":              d.setLanguage,
		"POST /people/{id}/jobs":                  d.createJob,
		"POST /people/{id}/jobs/{job}/end":        d.endJob,
		"GET /people/{id}/jobs/new":               managerPage(d.newJob),
		"GET /people/{id}/jobs/{job}":             managerPage(d.jobPage),
		"POST /people/{id}/jobs/{job}":            d.updateJob,
	} {
		mux.Handle(pattern, d.signedIn(h))
	}
	// A history entry's camera still (dashboard_history.go).
	mux.Handle("GET /history/stills/{kiosk}/{index}", d.signedIn(d.historyStill))
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

// templateFuncs are the templates' functions in locale l: "t" and "tn"
// say a message of the catalogue ({{t "dash.nav.history"}}, {{tn
// "dash.keysets_out" .N}}), and the times, roles, event kinds and alarms
// are said in l's words and formats.
func templateFuncs(l *i18n.Localizer, now func() time.Time) template.FuncMap {
	return template.FuncMap{
		"t":  func(id string, kv ...any) template.HTML { return template.HTML(l.T(id, escapeArgs(kv)...)) },
		"tn": func(id string, n int, kv ...any) template.HTML { return template.HTML(l.N(id, n, escapeArgs(kv)...)) },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return l.DateTime(t.UTC()) + " UTC"
		},
		"date": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02")
		},
		// ago is how long before now t was ("5 minutes ago", "vor 5
		// Minuten"); the zero time is "—".
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return l.Ago(t, now())
		},
		// stamp says t relative to now ("2 hours ago", "in 3 hours"),
		// with the exact time in zone on hover.
		"stamp": func(t time.Time, zone string) template.HTML {
			if t.IsZero() {
				return "—"
			}
			return timeTag(t, l.Ago(t, now()), zoned(l, t, zone))
		},
		// local says t's date and time in zone without naming the zone
		// (the table says it once), with the exact time, its zone and how
		// long ago on hover.
		"local": func(t time.Time, zone string) template.HTML {
			if t.IsZero() {
				return "—"
			}
			return timeTag(t, l.DateTime(t.In(siteLocation(zone))), zoned(l, t, zone)+" · "+l.Ago(t, now()))
		},
		"role":  func(r keycab.Role) string { return roleName(l, r) },
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
		"kind":    func(k keycab.EventKind) string { return keycab.EventTitleIn(l, k) },
		// alarm says an alarm name in the shared staff-facing words
		// (keycab.AlarmTitle): "Door forced open while locked".
		"alarm": func(name string) string { return keycab.AlarmTitleIn(l, name) },
		// human turns an identifier like door_forced into "Door forced".
		"human": func(s string) string {
			s = strings.ReplaceAll(s, "_", " ")
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
		// dashboard_time.go: a time in a site's zone, and a datetime-local value.
		"zoned":      func(t time.Time, zone string) string { return zoned(l, t, zone) },
		"localInput": localInput,
		"weekday":    l.Weekday,
		"schedule":   func(ws []keycab.Window) string { return scheduleWords(l, ws) },
		// locales are the languages a picker offers (internal/i18n).
		"locales": i18n.Locales,
	}
}

// escapeArgs HTML-escapes the values of a message's name/value pairs:
// "t" and "tn" give HTML, the catalogue's own text as the templates' text
// was (it holds no markup), the values (names, labels, times) escaped.
func escapeArgs(kv []any) []any {
	out := make([]any, len(kv))
	for i, x := range kv {
		if i%2 == 1 {
			x = template.HTMLEscapeString(fmt.Sprint(x))
		}
		out[i] = x
	}
	return out
}

// loadTemplates parses every page with the layout, once a locale: a
// template's functions are bound before it first runs.
func (d *Dashboard) loadTemplates() error {
	base, err := template.New("layout.html").Funcs(templateFuncs(i18n.English(), d.now)).ParseFS(webFS, "web/templates/layout.html")
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
		for _, loc := range i18n.Locales() {
			if d.pages[loc.Tag] == nil {
				d.pages[loc.Tag] = map[string]*template.Template{}
			}
			lt, err := t.Clone()
			if err != nil {
				return fmt.Errorf("dashboard template %s: %w", name, err)
			}
			d.pages[loc.Tag][name] = lt.Funcs(templateFuncs(i18n.For(loc.Tag), d.now))
		}
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
	// Lang is the member's own language (empty: the browser's); L the
	// Localizer the request speaks (Dashboard.localizer).
	Lang string
	L    *i18n.Localizer
}

// T says message id in the viewer's language.
func (v *viewer) T(id string, kv ...any) string {
	if v == nil || v.L == nil {
		return i18n.English().T(id, kv...)
	}
	return v.L.T(id, kv...)
}

// localizer is the language a request is answered in: the signed-in
// member's own, else the first the browser asks for (Accept-Language)
// that keycab has, else English (en-GB).
func localizer(r *http.Request, member string) *i18n.Localizer {
	return i18n.For(member, i18n.Match(r.Header.Get("Accept-Language")))
}

// lang is the viewer's own language setting, "" for none or no viewer.
func (v *viewer) lang() string {
	if v == nil {
		return ""
	}
	return v.Lang
}

// errorIn says err's message in the language the page is rendered in
// (keycab.ErrorMessageIn).
func errorIn(r *http.Request, v *viewer, err error) string {
	return keycab.ErrorMessageIn(err, localizer(r, v.lang()).Lang())
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
	Lang    string // the page's language, for <html lang>
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
		v.L = localizer(r, v.Lang)
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
			d.renderError(w, r, v, keycab.Errorf(keycab.EFORBIDDEN, "%s", v.T("dash.err.csrf")))
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
	acct, err := d.Store.Accounts().GetAccount(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	del, err := d.Store.OrgDeletion(ctx, sc)
	if err != nil {
		return nil, err
	}
	return &viewer{P: p, OrgName: org.Name, Name: m.Name, Email: acct.Email, Role: m.Role, MFA: acct.MFA,
		CSRF: d.sign("csrf", p.SessionID), Verified: acct.Verified(), NeedsMFA: p.Standing.NeedsMFA(), DeleteAfter: del.DeleteAfter,
		Lang: m.Language, L: i18n.For(m.Language)}, nil
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
	l := localizer(r, vw.V.lang())
	if vw.V != nil {
		vw.V.L = l
	}
	t, ok := d.pages[l.Tag()][name]
	if !ok {
		panic("dashboard: no template " + name)
	}
	vw.Version, vw.Path, vw.Lang = d.version, r.URL.Path, l.Lang()
	if vw.Notice == "" {
		vw.Notice = notices[r.URL.Query().Get("notice")]
	}
	if i18n.Has(vw.Notice) { // a notice's id; a handler's own words stay
		vw.Notice = l.T(vw.Notice)
	}
	if id, ok := titles[vw.Title]; ok {
		vw.Title = l.T(id)
	}
	w.Header().Add("Vary", "Accept-Language")
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

// notices are the messages a redirect may ask a page to show, by their
// message id (render says them in the page's language).
var notices = map[string]string{
	"subscribed":   "notice.subscribed",
	"unsubscribed": "notice.unsubscribed",
	"invited":      "notice.invited",
	"org-deleting": "notice.org_deleting",
	"org-restored": "notice.org_restored",
	"revoked":      "notice.revoked",
	"cleared":      "notice.cleared",
	"mfa":          "notice.mfa",
	"password":     "notice.password",
	"reset":        "notice.reset",
	"signedout":    "notice.signedout",
	"welcome":      "notice.welcome",
	"joined":       "notice.joined",
	"resetsent":    "notice.resetsent",
	"magicsent":    "notice.magicsent",
	"mfaexpired":   "notice.mfaexpired",
	// dashboard_account.go
	"verified":     "notice.verified",
	"verifysent":   "notice.verifysent",
	"emailsent":    "notice.emailsent",
	"mfaoff":       "notice.mfaoff",
	"mfarequired":  "notice.mfarequired",
	"signedoutone": "notice.signedoutone",
	"mfareset":     "notice.mfareset",
	"exportexpire": "notice.exportexpire",
	// dashboard_manage.go and dashboard_people.go
	"created":            "notice.created",
	"saved":              "notice.saved",
	"deleted":            "notice.deleted",
	"removed":            "notice.removed",
	"erased":             "notice.erased",
	"holdplaced":         "notice.holdplaced",
	"imported":           "notice.imported",
	"holdended":          "notice.holdended",
	"kioskrevoked":       "notice.kioskrevoked",
	"remotesent":         "notice.remotesent",
	"api-key-revoked":    "notice.api_key_revoked",
	"sso-saved":          "notice.sso_saved",
	"sso-removed":        "notice.sso_removed",
	"webhook-test":       "notice.webhook_test",
	"webhook-resent":     "notice.webhook_resent",
	"scim-token-revoked": "notice.scim_token_revoked",
	"pass-issued":        "notice.pass_issued",
	"pass-revoked":       "notice.pass_revoked",
	"pass-mailed":        "notice.pass_mailed",
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
	msg := errorIn(r, v, err)
	if status == http.StatusNotFound {
		msg = localizer(r, v.lang()).T("dash.err.not_found")
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
	vw.Error = errorIn(r, vw.V, err)
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

// roleName is a role as the dashboard shows it: "Site manager".
func roleName(l *i18n.Localizer, r keycab.Role) string {
	if r == "" {
		return ""
	}
	if id := "dash.role." + string(r); i18n.Has(id) {
		return l.T(id)
	}
	s := string(r)
	return strings.ToUpper(s[:1]) + s[1:]
}
