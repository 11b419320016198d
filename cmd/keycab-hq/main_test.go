package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"keycab.dev/keycab/hardware/qr"
	"keycab.dev/keycab/hq/store/pgtest"
	"keycab.dev/keycab/sync/wire"
)

func run(t *testing.T, ctx context.Context, args ...string) (string, string, *Main, error) {
	t.Helper()
	var out, errb bytes.Buffer
	m := NewMain(&out, &errb)
	m.Config.NotesKeyEnv = ""
	if err := m.ParseFlags(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	err := m.Run(ctx)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return out.String(), errb.String(), m, err
}

func TestParseFlags(t *testing.T) {
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags(nil); err != nil || m.Config.Command != "serve" || m.Config.DB != "sqlite:./keycab-hq.db" || m.Config.Listen != "127.0.0.1:8080" {
		t.Fatalf("defaults: %v %+v", err, m.Config)
	}
	m = NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"serve", "--db", "postgres://u@h/db", "--listen", ":9"}); err != nil || m.Config.DB != "postgres://u@h/db" || m.Config.Listen != ":9" {
		t.Fatalf("serve flags: %v %+v", err, m.Config)
	}
	if err := NewMain(io.Discard, io.Discard).ParseFlags([]string{"frobnicate"}); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := NewMain(io.Discard, io.Discard).ParseFlags([]string{"migrate", "--listen", ":1"}); err == nil {
		t.Fatal("migrate accepted --listen")
	}
}

// migrate twice, demo-seed, serve: health, readiness, metrics, a login
// with the printed password, graceful shutdown with JSON logs.
func TestMigrateSeedServe(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "hq.db")
	for range 2 {
		if out, _, _, err := run(t, ctx, "migrate", "--db", dsn); err != nil || !strings.Contains(out, "up to date") {
			t.Fatalf("migrate: %v %q", err, out)
		}
	}
	out, _, _, err := run(t, ctx, "demo-seed", "--db", dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	if pw == nil {
		t.Fatalf("no password printed: %s", out)
	}
	if out, _, _, err := run(t, ctx, "demo-seed", "--db", dsn); err != nil || !strings.Contains(out, "reusing") {
		t.Fatalf("demo-seed again: %v %q", err, out)
	}
	if _, _, _, err := run(t, ctx, "enrol-token", "--db", dsn); err == nil {
		t.Fatal("enrol-token without --as succeeded")
	}
	tok, _, _, err := run(t, ctx, "enrol-token", "--db", dsn, "--as", demoEmail, "--cabinet", "Front office cabinet")
	if err != nil || !regexp.MustCompile(`^org_\S+\.[a-z2-7]{32}\n$`).MatchString(tok) {
		t.Fatalf("enrol-token: %v %q", err, tok)
	}
	// --hq prints the enrolment code, --qr writes it as a QR code (0600).
	if _, _, _, err := run(t, ctx, "enrol-token", "--db", dsn, "--as", demoEmail, "--hq", "hq.example.com"); err == nil {
		t.Fatal("enrol-token --hq without a scheme succeeded")
	}
	qrFile := filepath.Join(t.TempDir(), "enrol.png")
	out, _, _, err = run(t, ctx, "enrol-token", "--db", dsn, "--as", demoEmail, "--cabinet", "Front office cabinet", "--hq", "https://hq.example.com", "--qr", qrFile)
	if err != nil {
		t.Fatalf("enrol-token --hq --qr: %v", err)
	}
	code, err := wire.ParseEnrolCode(out)
	if err != nil || code.HQ != "https://hq.example.com" || !regexp.MustCompile(`^org_\S+\.[a-z2-7]{32}$`).MatchString(code.Token) {
		t.Fatalf("enrolment code %q: %+v %v", out, code, err)
	}
	if fi, err := os.Stat(qrFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("QR file: %v %v", fi, err)
	}
	if got := decodeQRFile(t, qrFile); got != strings.TrimSpace(out) {
		t.Fatalf("the QR code reads %q, want %q", got, out)
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var logs bytes.Buffer
	m := NewMain(io.Discard, &logs)
	m.Config.NotesKeyEnv = strings.Repeat("ab", 32)
	if err := m.ParseFlags([]string{"serve", "--db", dsn, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	metricsAddr := make(chan string, 1)
	m.MetricsReady = func(addr string) { metricsAddr <- addr }
	base, done := startServe(t, sctx, m)
	get := func(path string) (int, string) {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if c, _ := get("/healthz"); c != 200 {
		t.Errorf("healthz %d", c)
	}
	if c, b := get("/readyz"); c != 200 {
		t.Errorf("readyz %d %s", c, b)
	}
	body, _ := json.Marshal(map[string]string{"email": demoEmail, "password": pw[1]})
	res, err := http.Post(base+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("demo login: %d", res.StatusCode)
	}
	if c, b := get("/metrics"); c != 200 || !strings.Contains(b, `keycab_hq_http_requests_total{code="200",method="POST",route="/v1/auth/login"} 1`) ||
		!strings.Contains(b, "# TYPE keycab_hq_http_request_duration_seconds histogram") {
		t.Errorf("metrics %d:\n%s", c, b)
	} else if strings.Contains(b, "keycab_key_sets_out") || strings.Contains(b, "org=") {
		t.Errorf("the public /metrics serves the fleet's metrics:\n%s", b)
	}
	// The monitoring listener adds the fleet's (the demo organisation's
	// key sets out), the runtime's and the process's, in a text
	// Prometheus's parser reads.
	res, err = http.Get("http://" + <-metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("monitoring /metrics: %d %v", res.StatusCode, err)
	}
	for _, name := range []string{"keycab_key_sets_out", "keycab_kiosks", "keycab_hq_http_requests_total", "go_goroutines", "process_resident_memory_bytes"} {
		if f := fams[name]; f == nil || len(f.Metric) == 0 {
			t.Errorf("monitoring /metrics has no %s", name)
		}
	}
	cancel()
	waitStopped(t, done)
	m.Close()
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("log line not JSON: %q", line)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) || strings.Contains(logs.String(), pw[1]) {
		t.Errorf("logs: %s", logs.String())
	}
}

// On PostgreSQL: migrate as the owner (twice), serve as the application
// role, ready.
func TestPostgresMigrateServe(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: PostgreSQL tests skipped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatalf("PostgreSQL is needed for this test: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	d := srv.MustDatabase(t)
	for range 2 {
		if _, _, _, err := run(t, ctx, "migrate", "--db", d.OwnerDSN, "--app-role", pgtest.AppRole); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := run(t, ctx, "serve", "--db", d.OwnerDSN, "--listen", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "own tables") {
		t.Fatalf("serve as the schema owner: %v", err)
	}
	sctx, stop := context.WithCancel(ctx)
	m := NewMain(io.Discard, io.Discard)
	if _, _, _, err := run(t, ctx, "serve", "--db", d.AppDSN, "--listen", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "--keys") {
		t.Fatalf("serve on PostgreSQL without keys: %v", err)
	}
	keys := filepath.Join(t.TempDir(), "hq.keys")
	if err := m.ParseFlags([]string{"serve", "--db", d.AppDSN, "--listen", "127.0.0.1:0", "--keys", keys}); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	m.Ready = func(addr string) { ready <- addr }
	done := make(chan error, 1)
	go func() { done <- m.Run(sctx) }()
	select {
	case a := <-ready:
		res, err := http.Get("http://" + a + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("readyz %d", res.StatusCode)
		}
	case err := <-done:
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m.Close()
}

// TestDashboardKeyShared: two HQ processes with one key file derive the
// same dashboard key, and another key file a different one.
func TestDashboardKeyShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keycab-hq.keys")
	a, created, err := loadOrCreateKeys(path, "hq.test")
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	b, created, err := loadOrCreateKeys(path, "hq.test")
	if err != nil || created {
		t.Fatalf("reload: %v %v", created, err)
	}
	if len(a.Dashboard) != 32 || !bytes.Equal(a.Dashboard, b.Dashboard) {
		t.Fatalf("dashboard keys differ between loads of one file")
	}
	c, _, err := loadOrCreateKeys(filepath.Join(t.TempDir(), "other.keys"), "hq.test")
	if err != nil || bytes.Equal(a.Dashboard, c.Dashboard) {
		t.Fatalf("another key file gave the same dashboard key (%v)", err)
	}
}

// decodeQRFile reads the one QR code in a PNG with the kiosk's decoder.
func decodeQRFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	gray := image.NewGray(b)
	draw.Draw(gray, b, img, b.Min, draw.Src)
	codes, err := qr.NewDecoder().Decode(gray.Pix, b.Dx(), b.Dy(), gray.Stride)
	if err != nil || len(codes) != 1 {
		t.Fatalf("decode %s: %v %v", path, codes, err)
	}
	return codes[0].Text
}
