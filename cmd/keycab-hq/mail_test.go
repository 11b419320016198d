package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/hq/mail/smtptest"
)

// TestMailFlags: mail and notifier settings are checked by ParseFlags with
// a clear error, and the SMTP password comes from a file or the
// environment.
func TestMailFlags(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mail-from", "hq@x.test"}, "without --smtp-host"},
		{[]string{"--smtp-host", "mail.x.test"}, "sender address"},
		{[]string{"--smtp-host", "mail.x.test", "--mail-from", "hq@x.test", "--smtp-security", "ssl"}, "security"},
		{[]string{"--smtp-host", "mail.x.test", "--mail-from", "hq@x.test", "--mail-dir", "/tmp/x"}, "exclude each other"},
		{[]string{"--smtp-host", "mail.x.test", "--mail-from", "hq@x.test", "--smtp-user", "hq"}, "needs a password"},
		{[]string{"--smtp-host", "mail.x.test", "--mail-from", "hq@x.test", "--smtp-user", "hq", "--smtp-password-file", "/nonexistent"}, "smtp password"},
		{[]string{"--offline-after", "5s"}, "under a minute"},
	} {
		m := NewMain(io.Discard, io.Discard)
		m.Config.SMTPPassEnv = ""
		if err := m.ParseFlags(append([]string{"serve"}, c.args...)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error about %q", c.args, err, c.want)
		}
	}
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"serve", "--smtp-host", "mail.x.test", "--mail-from", "hq@x.test", "--smtp-user", "hq", "--smtp-password-file", pw}); err != nil {
		t.Fatal(err)
	}
	if m.Config.SMTP.Password != "s3cret" || m.Config.SMTP.Port != 587 || m.Config.SMTP.Security != "starttls" {
		t.Errorf("smtp config %v", m.Config.SMTP)
	}
	m = NewMain(io.Discard, io.Discard)
	m.Config.SMTPPassEnv = "from-env"
	if err := m.ParseFlags([]string{"serve", "--smtp-host", "mail.x.test", "--mail-from", "hq@x.test", "--smtp-user", "hq", "--smtp-security", "tls"}); err != nil || m.Config.SMTP.Password != "from-env" || m.Config.SMTP.Port != 465 {
		t.Errorf("password from the environment: %v %v", err, m.Config.SMTP)
	}
}

// TestServeMailsReset: serve with --smtp-host delivers a password reset
// link to a real SMTP server on loopback; the link's token is in the mail
// and nowhere in the logs.
func TestServeMailsReset(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "hq.db")
	if _, _, _, err := run(t, ctx, "demo-seed", "--db", dsn); err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var logs bytes.Buffer
	m := NewMain(io.Discard, &logs)
	if err := m.ParseFlags([]string{"serve", "--db", dsn, "--listen", "127.0.0.1:0", "--smtp-host", "127.0.0.1",
		"--smtp-port", strconv.Itoa(srv.Port()), "--smtp-security", "none", "--mail-from", "keycab <hq@keycab.test>"}); err != nil {
		t.Fatal(err)
	}
	base, done := startServe(t, sctx, m)
	body, _ := json.Marshal(map[string]string{"email": demoEmail})
	res, err := http.Post(base+"/v1/auth/reset", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cancel()
	waitStopped(t, done)
	m.Close()
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != demoEmail || msgs[0].Header.Get("X-Keycab-Kind") != "reset" {
		t.Fatalf("reset request (%d): messages %+v", res.StatusCode, msgs)
	}
	i := strings.Index(msgs[0].Body, "#")
	if i < 0 {
		t.Fatalf("no link in %q", msgs[0].Body)
	}
	token := strings.Fields(msgs[0].Body[i+1:])[0]
	if len(token) < 16 || strings.Contains(logs.String(), token) {
		t.Errorf("token %q: in the logs or too short:\n%s", token, logs.String())
	}
	if !strings.Contains(logs.String(), `"status":"sent"`) {
		t.Errorf("no sent delivery in the logs:\n%s", logs.String())
	}
}

// startServe runs m (serve, flags parsed) until ctx ends and returns its
// base URL once it listens, and the channel that receives Run's result.
func startServe(t *testing.T, ctx context.Context, m *Main) (string, <-chan error) {
	t.Helper()
	ready := make(chan string, 1)
	m.Ready = func(addr string) { ready <- addr }
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case a := <-ready:
		return "http://" + a, done
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return "", nil
}

// waitStopped waits for a cancelled serve to shut down gracefully.
func waitStopped(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no graceful shutdown")
	}
}
