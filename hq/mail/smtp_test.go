package mail_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/mail/smtptest"
)

func mustSMTP(tb testing.TB, srv *smtptest.Server) *mail.SMTPMailer {
	tb.Helper()
	m, err := mail.NewSMTPMailer(mail.SMTPConfig{Host: srv.Host(), Port: srv.Port(), Security: mail.SMTPNone,
		From: "keycab HQ <hq@keycab.test>", Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestSMTPSend: a message reaches a real SMTP server on loopback with its
// sender, recipient, subject, kind, date and message id, and its body.
func TestSMTPSend(t *testing.T) {
	srv := smtptest.Start(t)
	m := mustSMTP(t, srv)
	msg := mail.Message{Kind: "invite", To: "Ann@Example.test", Subject: "You are invited to Acme on keycab",
		Body: "Follow this link: https://hq.test/invite#tok\n"}
	d := mail.Attempt(context.Background(), m, msg)
	if d.Status != "sent" || d.Error != "" {
		t.Fatalf("delivery %+v, want sent", d)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages arrived, want 1", len(got))
	}
	g := got[0]
	if g.From != "hq@keycab.test" || len(g.To) != 1 || g.To[0] != "Ann@Example.test" {
		t.Errorf("envelope from %q to %q", g.From, g.To)
	}
	for h, want := range map[string]string{"From": `"keycab HQ" <hq@keycab.test>`, "To": "<Ann@Example.test>",
		"Subject": msg.Subject, "X-Keycab-Kind": "invite"} {
		if v := g.Header.Get(h); v != want {
			t.Errorf("header %s = %q, want %q", h, v, want)
		}
	}
	if g.Header.Get("Message-Id") == "" {
		t.Error("no Message-ID header")
	}
	if _, err := g.Header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	if !strings.Contains(g.Body, "https://hq.test/invite#tok") {
		t.Errorf("body %q lacks the link", g.Body)
	}
}

// TestSMTPFailures: a refused recipient and a dropped connection are
// errors, recorded as failed deliveries; the server keeps nothing.
func TestSMTPFailures(t *testing.T) {
	srv := smtptest.Start(t)
	m := mustSMTP(t, srv)
	ctx := context.Background()
	srv.Reject("gone@example.test", true)
	d := mail.Attempt(ctx, m, mail.Message{Kind: "reset", To: "gone@example.test", Subject: "s", Body: "b"})
	if d.Status != "failed" || !strings.Contains(d.Error, "550") {
		t.Errorf("refused recipient: delivery %+v, want failed with the 550", d)
	}
	srv.DropNext(1)
	d = mail.Attempt(ctx, m, mail.Message{Kind: "reset", To: "ann@example.test", Subject: "s", Body: "b"})
	if d.Status != "failed" || d.Error == "" {
		t.Errorf("dropped connection: delivery %+v, want failed", d)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages arrived, want none", n)
	}
	if d = mail.Attempt(ctx, m, mail.Message{Kind: "reset", To: "ann@example.test", Subject: "s", Body: "b"}); d.Status != "sent" {
		t.Errorf("after the faults: delivery %+v, want sent", d)
	}
	if d = mail.Attempt(ctx, nil, mail.Message{Kind: "reset", To: "ann@example.test"}); d.Status != "dry-run" {
		t.Errorf("nil mailer: %+v, want dry-run", d)
	}
}

// TestSMTPConfig: bad settings are refused with a clear error, and the
// password never shows in the config's text.
func TestSMTPConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  mail.SMTPConfig
		want string
	}{
		{mail.SMTPConfig{From: "hq@x.test"}, "host"},
		{mail.SMTPConfig{Host: "mail.x.test", From: "not an address"}, "sender address"},
		{mail.SMTPConfig{Host: "mail.x.test", From: "hq@x.test", Security: "ssl3"}, "security"},
		{mail.SMTPConfig{Host: "mail.x.test", From: "hq@x.test", Port: 70000}, "port"},
		{mail.SMTPConfig{Host: "mail.x.test", From: "hq@x.test", Username: "hq"}, "needs a password"},
		{mail.SMTPConfig{Host: "mail.x.test", From: "hq@x.test", Username: "hq", Password: "pw", Security: mail.SMTPNone}, "without TLS"},
	} {
		if _, err := mail.NewSMTPMailer(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one about %q", c.cfg, err, c.want)
		}
	}
	cfg := mail.SMTPConfig{Host: "mail.x.test", From: "hq@x.test", Username: "hq", Password: "hunter2-secret"}
	m, err := mail.NewSMTPMailer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.String() + cfg.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, ":587 (starttls)") {
		t.Errorf("description %q", s)
	}
}

// TestSMTPTLS: STARTTLS with AUTH PLAIN and implicit TLS deliver, with the
// server's certificate checked; a server that offers no STARTTLS, or one
// whose certificate is not trusted, gets nothing (no downgrade), and a
// wrong password fails without showing in the error.
func TestSMTPTLS(t *testing.T) {
	ctx := context.Background()
	msg := mail.Message{Kind: "magic", To: "ann@example.test", Subject: "Sign in", Body: "link"}
	for _, c := range []struct {
		name     string
		server   smtptest.Options
		security string
		password string
		trust    bool
		want     string // "" for sent, else a part of the error
	}{
		{"starttls and auth", smtptest.Options{TLS: mail.SMTPStartTLS, Username: "hq", Password: "pw-right"}, mail.SMTPStartTLS, "pw-right", true, ""},
		{"implicit tls", smtptest.Options{TLS: mail.SMTPTLS}, mail.SMTPTLS, "", true, ""},
		{"no starttls offered", smtptest.Options{}, mail.SMTPStartTLS, "", true, "STARTTLS"},
		{"untrusted certificate", smtptest.Options{TLS: mail.SMTPStartTLS}, mail.SMTPStartTLS, "", false, "certificate"},
		{"wrong password", smtptest.Options{TLS: mail.SMTPTLS, Username: "hq", Password: "pw-right"}, mail.SMTPTLS, "pw-wrong-secret", true, "535"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.StartWith(t, c.server)
			cfg := mail.SMTPConfig{Host: srv.Host(), Port: srv.Port(), Security: c.security, From: "hq@keycab.test", Timeout: 5 * time.Second}
			if c.password != "" {
				cfg.Username, cfg.Password = "hq", c.password
			}
			if c.trust {
				cfg.TLS = &tls.Config{RootCAs: srv.Roots(), ServerName: srv.Host(), MinVersion: tls.VersionTLS12}
			}
			m, err := mail.NewSMTPMailer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			d := mail.Attempt(ctx, m, msg)
			got := srv.Messages()
			if c.want == "" {
				if d.Status != "sent" || len(got) != 1 || !got[0].TLS || got[0].User != cfg.Username {
					t.Fatalf("delivery %+v, messages %+v", d, got)
				}
				return
			}
			if d.Status != "failed" || !strings.Contains(d.Error, c.want) || len(got) != 0 {
				t.Fatalf("delivery %+v (want an error about %q), messages %+v", d, c.want, got)
			}
			if c.password != "" && strings.Contains(d.Error, c.password) {
				t.Errorf("the password is in the error: %s", d.Error)
			}
		})
	}
}
