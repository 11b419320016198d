package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/sync/wire"
)

func TestTrustedProxyFlag(t *testing.T) {
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"serve", "--trusted-proxy", "127.0.0.1, ::1, 10.0.0.0/8"}); err != nil {
		t.Fatalf("good list refused: %v", err)
	}
	if err := NewMain(io.Discard, io.Discard).ParseFlags([]string{"serve", "--trusted-proxy", "proxy.example.com"}); err == nil {
		t.Fatal("a host name was accepted as a trusted proxy")
	}
}

// TestWebhookAllowFlag: serve's allow-list of internal webhook targets is
// parsed at start, a bad entry refused with the flag's name.
func TestWebhookAllowFlag(t *testing.T) {
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"serve", "--webhook-allow", "127.0.0.1, 10.20.0.0/16,fd00::/8"}); err != nil {
		t.Fatalf("good list refused: %v", err)
	}
	if got := fmt.Sprint(m.Config.Webhook.Allow); got != "[127.0.0.1/32 10.20.0.0/16 fd00::/8]" {
		t.Fatalf("allow %s", got)
	}
	if len(NewMain(io.Discard, io.Discard).Config.Webhook.Allow) != 0 {
		t.Fatal("an allow-list by default")
	}
	for _, bad := range [][]string{{"--webhook-allow", "hooks.internal"}, {"--webhook-allow", "10.0.0.0/40"}, {"--webhook-interval", "-1s"}} {
		err := NewMain(io.Discard, io.Discard).ParseFlags(append([]string{"serve"}, bad...))
		if err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestSecurityTxtFlags: serve refuses to start with a security.txt RFC
// 9116 would not accept, and builds it, Canonical from --base-url, from
// the flags.
func TestSecurityTxtFlags(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	parse := func(args ...string) (*Main, error) {
		m := NewMain(io.Discard, io.Discard)
		m.now = func() time.Time { return now }
		return m, m.ParseFlags(append([]string{"serve"}, args...))
	}

	m, err := parse("--security-contact", "mailto:security@example.com, https://example.com/report",
		"--security-contact", "mailto:cert@example.com", "--security-expires", "180d",
		"--security-languages", "en, de", "--security-policy", "https://example.com/disclosure",
		"--base-url", "https://hq.example.com/")
	if err != nil {
		t.Fatalf("good settings refused: %v", err)
	}
	got := m.Config.SecurityTxt
	if got == nil {
		t.Fatal("no security.txt made")
	}
	if want := []string{"mailto:security@example.com", "https://example.com/report", "mailto:cert@example.com"}; !slices.Equal(got.Contacts, want) {
		t.Errorf("contacts %q, want %q", got.Contacts, want)
	}
	if want := now.AddDate(0, 0, 180); !got.Expires.Equal(want) {
		t.Errorf("expires %v, want %v", got.Expires, want)
	}
	if got.Canonical != "https://hq.example.com/.well-known/security.txt" || got.Policy != "https://example.com/disclosure" || got.PreferredLanguages != "en, de" {
		t.Errorf("made %+v", got)
	}
	for _, v := range []string{"2026-12-31", "2026-12-31T12:00:00+01:00", "4320h"} {
		if _, err := parse("--security-contact", "mailto:security@example.com", "--security-expires", v); err != nil {
			t.Errorf("expiry %q refused: %v", v, err)
		}
	}

	m, err = parse()
	if err != nil || m.Config.SecurityTxt != nil {
		t.Fatalf("no contact: security.txt %v, err %v; want none, no error", m.Config.SecurityTxt, err)
	}

	for name, args := range map[string][]string{
		"past expiry":     {"--security-contact", "mailto:security@example.com", "--security-expires", "2026-03-01"},
		"over a year":     {"--security-contact", "mailto:security@example.com", "--security-expires", "2027-03-03"},
		"400 days":        {"--security-contact", "mailto:security@example.com", "--security-expires", "400d"},
		"not a time":      {"--security-contact", "mailto:security@example.com", "--security-expires", "soon"},
		"no expiry":       {"--security-contact", "mailto:security@example.com"},
		"http contact":    {"--security-contact", "http://example.com/report", "--security-expires", "90d"},
		"bare address":    {"--security-contact", "security@example.com", "--security-expires", "90d"},
		"one bad of two":  {"--security-contact", "mailto:security@example.com,ftp://example.com", "--security-expires", "90d"},
		"expiry alone":    {"--security-expires", "90d"},
		"http policy":     {"--security-contact", "mailto:security@example.com", "--security-expires", "90d", "--security-policy", "http://example.com/p"},
		"negative expiry": {"--security-contact", "mailto:security@example.com", "--security-expires", "-24h"},
	} {
		if _, err := parse(args...); err == nil {
			t.Errorf("%s: %q accepted", name, args)
		} else if !strings.Contains(err.Error(), "security") {
			t.Errorf("%s: error %q does not name the security.txt setting", name, err)
		}
	}
}

// TestServeSecurityTxt: the program serves the security.txt its flags
// describe, and without a contact answers 404 and says once that it is off.
func TestServeSecurityTxt(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "hq.db")
	serve := func(args ...string) (status int, body, contentType, logs string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var lb bytes.Buffer
		m := NewMain(io.Discard, &lb)
		if err := m.ParseFlags(append([]string{"serve", "--db", dsn, "--listen", "127.0.0.1:0"}, args...)); err != nil {
			t.Fatal(err)
		}
		base, done := startServe(t, ctx, m)
		res, err := http.Get(base + "/.well-known/security.txt")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		waitStopped(t, done)
		m.Close()
		return res.StatusCode, string(b), res.Header.Get("Content-Type"), lb.String()
	}

	expires := time.Now().AddDate(0, 6, 0).UTC().Format(time.DateOnly)
	status, body, ct, _ := serve("--security-contact", "mailto:security@example.com", "--security-expires", expires,
		"--base-url", "https://hq.example.com")
	want := "Contact: mailto:security@example.com\nExpires: " + expires + "T00:00:00Z\nCanonical: https://hq.example.com/.well-known/security.txt\n"
	if status != http.StatusOK || body != want || ct != "text/plain; charset=utf-8" {
		t.Errorf("security.txt: %d %q %q, want 200 %q text/plain", status, ct, body, want)
	}

	status, body, _, logs := serve()
	if status != http.StatusNotFound || strings.Contains(body, "Contact:") {
		t.Errorf("without a contact: %d %q, want 404", status, body)
	}
	if n := strings.Count(logs, "security.txt is off"); n != 1 {
		t.Errorf("%q logged %d times, want once:\n%s", "security.txt is off", n, logs)
	}
}

// TestLogOriginDomainFlag: serve names new kiosks' logs under the
// operator's domain, keycab.dev unless told, and refuses a domain that is
// no schema-less URL prefix.
func TestLogOriginDomainFlag(t *testing.T) {
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"serve"}); err != nil || m.Config.LogOriginDomain != "keycab.dev" {
		t.Fatalf("default %q, %v", m.Config.LogOriginDomain, err)
	}
	m = NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"serve", "--log-origin-domain", "keys.example.com"}); err != nil || m.Config.LogOriginDomain != "keys.example.com" {
		t.Fatalf("set %q, %v", m.Config.LogOriginDomain, err)
	}
	for _, bad := range []string{"https://keys.example.com", "keys.example.com/", ""} {
		if err := NewMain(io.Discard, io.Discard).ParseFlags([]string{"serve", "--log-origin-domain", bad}); err == nil {
			t.Errorf("--log-origin-domain %q accepted", bad)
		}
	}
}

// --witness is URL=VKEY (an http(s) URL and a cosignature/v1 key), repeatable,
// each witness named once.
func TestWitnessFlag(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	c, err := wire.NewCosigner("witness.example/w1", priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"serve", "--witness", "https://w.example/w1/=" + c.VerifierKey()}); err != nil ||
		len(m.Config.Witnesses) != 1 || m.Config.Witnesses[0].Name() != "witness.example/w1" || m.Config.Witnesses[0].URL != "https://w.example/w1" {
		t.Fatalf("--witness: %v %+v", err, m.Config.Witnesses)
	}
	for _, bad := range []string{"https://w.example", "w.example=" + c.VerifierKey(), "https://w.example?x=1=" + c.VerifierKey(),
		"https://w.example=witness.example/w1+00000000+AAAA"} {
		if err := NewMain(io.Discard, io.Discard).ParseFlags([]string{"serve", "--witness", bad}); err == nil {
			t.Errorf("--witness %q accepted", bad)
		}
	}
}
