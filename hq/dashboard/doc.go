// Package dashboard is HQ's dashboard: server-rendered HTML
// (html/template) over the same store and auth service as the JSON API. Its templates and assets are
// embedded from web/; every page works without JavaScript (web/static/
// app.js only fills link tokens from the URL fragment and asks before
// destructive actions), and nothing is inline, so the strict CSP holds.
//
// Sign-in sets the __Host- session cookie. Forms of a signed-in page
// carry a CSRF token (an HMAC of the session id under Dashboard.Key),
// besides the CrossOriginProtection every unsafe request passes.
package dashboard
