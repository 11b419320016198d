package hq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// Server is HQ's HTTP service: the edges it serves, behind one set of
// middleware. Set the fields, then serve Handler().
type Server struct {
	// Store answers /readyz (Ping).
	Store *store.Store
	// API is the JSON API (hq/api): /v1/ and /openapi.json.
	API Edge
	// Dashboard is the HTML dashboard (hq/dashboard); it also answers
	// unknown paths and, for browsers, requests the middleware refuses.
	Dashboard Pages
	// SCIM is the SCIM 2.0 provisioning edge (hq/scim) under SCIMPrefix;
	// nil serves none. The middleware's refusals there are its error
	// bodies when it is an ErrorWriter.
	SCIM Edge
	// KioskAPI serves the kiosks' sync protocol under /v1/kiosk/ (it
	// sees the full path); nil answers 404 there.
	KioskAPI http.Handler
	// Logger receives request and security logs; nil discards them.
	Logger *slog.Logger
	// TrustedOrigins are origins besides HQ's own allowed to make
	// cross-origin unsafe requests (CrossOriginProtection); normally none.
	TrustedOrigins []string
	// Metrics counts requests; nil makes a fresh one.
	Metrics *Metrics
	// TrustedProxies are the reverse proxies in front of HQ: from them,
	// and only from them, X-Forwarded-For names the client (rate limits
	// and logs per client, not per proxy). See ParseTrustedProxies.
	TrustedProxies []netip.Prefix
	// SecurityTxt is served at /.well-known/security.txt; nil answers 404
	// there (no contact is invented). The caller validates it.
	SecurityTxt *SecurityTxt
}

// SCIMPrefix is where the SCIM edge answers.
const SCIMPrefix = "/scim/v2/"

// An ErrorWriter is an edge that answers errors in its own format.
type ErrorWriter interface {
	WriteError(w http.ResponseWriter, r *http.Request, err error)
}

// A Mux is where an edge registers its routes (http.ServeMux patterns).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// An Edge is one front end of HQ: it registers its routes on the
// server's mux.
type Edge interface {
	Register(mux Mux) error
}

// Pages is the edge that answers people with HTML: it renders the
// middleware's refusals for browsers.
type Pages interface {
	Edge
	RenderError(w http.ResponseWriter, r *http.Request, err error)
}

// SessionCookie is the session cookie of the dashboard, which the API
// also accepts: __Host- pins it to this host, Secure, path /.
const SessionCookie = "__Host-keycab_session"

// Handler returns the service's handler with every middleware applied.
func (s *Server) Handler() (http.Handler, error) {
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.Metrics == nil {
		s.Metrics = NewMetrics()
	}
	mux, err := s.newMux()
	if err != nil {
		return nil, fmt.Errorf("hq handler: %w", err)
	}

	cop := http.NewCrossOriginProtection()
	for _, o := range s.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("hq handler: %w", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Logger.Warn("denied request", "reason", "cross-origin", "method", r.Method, "path", r.URL.Path,
			"ip", ClientIP(r), "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		s.refuse(w, r, keycab.Errorf(keycab.EFORBIDDEN, "cross-origin request refused"))
	}))
	// The kiosk API authenticates every request with the kiosk's key,
	// not a cookie: cross-origin protection does not apply there.
	cop.AddInsecureBypassPattern("/v1/kiosk/")
	// Nor SCIM, which takes a bearer token and never a cookie.
	cop.AddInsecureBypassPattern(SCIMPrefix)
	h := s.observe(securityHeaders(s.recoverPanics(cop.Handler(s.validText(mux)))))
	if len(s.TrustedProxies) > 0 {
		h = behindProxies(s.TrustedProxies, h)
	}
	return h, nil
}

// routeTable is the service's mux, remembering the patterns registered.
type routeTable struct {
	*http.ServeMux
	patterns []string
}

func (t *routeTable) Handle(pattern string, h http.Handler) {
	t.patterns = append(t.patterns, pattern)
	t.ServeMux.Handle(pattern, h)
}

func (t *routeTable) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	t.Handle(pattern, http.HandlerFunc(h))
}

// newMux registers every route of the service: health, metrics,
// security.txt, the kiosk API under /v1/kiosk/, the API and the dashboard.
func (s *Server) newMux() (*routeTable, error) {
	mux := &routeTable{ServeMux: http.NewServeMux()}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, health{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Store.Accounts().Ping(ctx); err != nil {
			s.Logger.Error("not ready", "err", err)
			WriteJSON(w, http.StatusServiceUnavailable, health{Status: "database unreachable"})
			return
		}
		WriteJSON(w, http.StatusOK, health{Status: "ready"})
	})
	mux.Handle("GET /metrics", s.Metrics)
	mux.HandleFunc("GET "+SecurityTxtPath, s.securityTxt)
	mux.HandleFunc("GET /security.txt", s.legacySecurityTxt)
	kiosk := s.KioskAPI
	if kiosk == nil {
		kiosk = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, r, keycab.Errorf(keycab.ENOTFOUND, "not found"))
		})
	}
	mux.Handle("/v1/kiosk/", kiosk)
	for _, e := range []Edge{s.API, s.Dashboard, s.SCIM} {
		if e == nil {
			continue
		}
		if err := e.Register(mux); err != nil {
			return nil, err
		}
	}
	return mux, nil
}

// health is the body of /healthz and /readyz.
type health struct {
	Status string `json:"status"`
}

// refuse answers a request the middleware refuses: SCIM's error body
// under SCIMPrefix, an HTML page to a browser (when there is a
// dashboard), the error body to others.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if ew, ok := s.SCIM.(ErrorWriter); ok && strings.HasPrefix(r.URL.Path, SCIMPrefix) {
		ew.WriteError(w, r, err)
		return
	}
	if s.Dashboard != nil && WantsHTML(r) {
		s.Dashboard.RenderError(w, r, err)
		return
	}
	WriteError(w, r, err)
}

// WantsHTML reports whether r comes from a browser navigating (it
// accepts text/html) rather than from an API client.
func WantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// validText refuses, with 400, a request whose path, query or form
// (URL-encoded or multipart) holds text keycab cannot store
// (keycab.ValidText: invalid UTF-8 or NUL), before any handler sees it.
// JSON bodies are checked where they are decoded (decode, and the kiosk
// API's own).
func (s *Server) validText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := requestText(r); err != nil {
			s.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestText returns an EINVALID error if r's path, query or form
// holds text that is not keycab.ValidText. It parses the form of a form
// post, as PostFormValue would.
func requestText(r *http.Request) error {
	if !keycab.ValidText(r.URL.Path) {
		return keycab.Errorf(keycab.EINVALID, "the path holds NUL or is not valid UTF-8")
	}
	if !validValues(r.URL.Query()) {
		return keycab.Errorf(keycab.EINVALID, "the query holds NUL or is not valid UTF-8")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" && ct != "multipart/form-data" {
		return nil
	}
	if err := r.ParseMultipartForm(maxForm); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return keycab.Errorf(keycab.EINVALID, "malformed form")
	}
	ok := validValues(r.PostForm)
	if r.MultipartForm != nil {
		ok = ok && validValues(r.MultipartForm.Value)
	}
	if !ok {
		return keycab.Errorf(keycab.EINVALID, "the form holds NUL or is not valid UTF-8")
	}
	return nil
}

// maxForm bounds the memory a multipart form may take before files
// spill to disk (the dashboard posts none).
const maxForm = 1 << 20

func validValues(v map[string][]string) bool {
	for k, vs := range v {
		if !keycab.ValidText(k) {
			return false
		}
		for _, s := range vs {
			if !keycab.ValidText(s) {
				return false
			}
		}
	}
	return true
}

// ContentSecurityPolicy and PermissionsPolicy are every response's; a
// page that needs more (the phone page's camera and manifest) replaces
// them for itself alone, adding to these.
const (
	ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	PermissionsPolicy     = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)

// securityHeaders sets the security headers on every response, before the
// handler runs, so errors, 404s and panics carry them too.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Permissions-Policy", PermissionsPolicy)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				WriteError(w, r, errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs each request (never its query string: links carry
// tokens in the fragment, but be safe) and counts it in the metrics.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		s.Metrics.observe(r.Method, r.Pattern, sw.status, d)
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		} else if sw.status == http.StatusUnauthorized || sw.status == http.StatusForbidden || sw.status == http.StatusTooManyRequests {
			level = slog.LevelWarn
		}
		s.Logger.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"duration_ms", float64(d.Microseconds())/1000, "ip", ClientIP(r))
	})
}

// ClientIP is the peer's address: the client's, from a trusted proxy's
// X-Forwarded-For (Server.TrustedProxies), when HQ is behind one.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// StatusOf maps a keycab error code to an HTTP status: the one place
// codes become statuses, for every edge (API, dashboard, kiosk API).
func StatusOf(code string) int {
	switch code {
	case keycab.EINVALID:
		return http.StatusBadRequest
	case keycab.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case keycab.EFORBIDDEN:
		return http.StatusForbidden
	case keycab.ENOTFOUND:
		return http.StatusNotFound
	case keycab.ECONFLICT:
		return http.StatusConflict
	case keycab.ECAPACITY:
		return http.StatusConflict
	case keycab.ELOCKED:
		return http.StatusTooManyRequests
	case keycab.ETAMPERED:
		return http.StatusUnprocessableEntity
	case keycab.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case keycab.ENOTIMPLEMENTED:
		return http.StatusNotImplemented
	case keycab.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// StatusClientClosed is the status recorded for a request whose client
// went away before its answer (nginx's 499): no answer reaches anyone,
// and it is not a server error.
const StatusClientClosed = 499

// ClientGone reports whether r's client went away (its context is done):
// whatever failed then failed for that reason, or is answered to no one.
func ClientGone(r *http.Request) bool { return r.Context().Err() != nil }

// RequestLanguage is the locale r asks for with Accept-Language (de for
// "de-DE,de;q=0.9"), or "" (English) when it asks for none HQ speaks. The
// API says its error messages in it; codes stay the same.
func RequestLanguage(r *http.Request) string {
	return i18n.Match(r.Header.Get("Accept-Language"))
}

// WriteError answers err as its status (StatusOf) and keycab.ErrorBody,
// with Retry-After for a rate limit and WWW-Authenticate for
// EUNAUTHORIZED; to a client that went away, StatusClientClosed and no
// body. The message is keycab.ErrorMessageIn's in the request's language
// (RequestLanguage): an internal error's text is never sent.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if ClientGone(r) {
		w.WriteHeader(StatusClientClosed)
		return
	}
	code := keycab.ErrorCode(err)
	var le *auth.LimitedError
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", strconv.Itoa(int(le.RetryAfter.Round(time.Second)/time.Second)))
	}
	if code == keycab.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keycab"`)
	}
	w.Header().Add("Vary", "Accept-Language")
	WriteJSON(w, StatusOf(code), keycab.BodyIn(err, RequestLanguage(r)))
}

// WriteJSON answers v as indented JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// MaxBody is the largest JSON request body Decode accepts.
const MaxBody = 64 << 10

// Decode reads a JSON body of at most MaxBody bytes into v: one object,
// no field v does not have, nothing after it, no text keycab cannot
// store (keycab.ValidJSONText).
func Decode(r *http.Request, v any) error { return DecodeUpTo(r, v, MaxBody) }

// DecodeUpTo is Decode for a body of at most limit bytes, for the few
// requests that carry a file (an import).
func DecodeUpTo(r *http.Request, v any, limit int) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return keycab.Errorf(keycab.EINVALID, "send application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return keycab.Errorf(keycab.EINVALID, "request body unreadable")
	}
	if len(body) > limit {
		return keycab.Errorf(keycab.ETOOLARGE, "request body larger than %d KiB", limit>>10)
	}
	if !keycab.ValidJSONText(body) {
		return keycab.Errorf(keycab.EINVALID, "request body holds NUL (\\u0000) or is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var te *json.UnmarshalTypeError
	switch {
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field "):
		return keycab.Errorf(keycab.EINVALID, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.As(err, &te):
		return keycab.Errorf(keycab.EINVALID, "field %s: want %s", te.Field, te.Type)
	case err != nil:
		return keycab.Errorf(keycab.EINVALID, "malformed JSON body")
	case dec.More():
		return keycab.Errorf(keycab.EINVALID, "malformed JSON body: data after the object")
	}
	return nil
}
