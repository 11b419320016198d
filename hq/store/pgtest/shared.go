package pgtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// Shared is one server for a whole test binary, started by the package's
// TestMain and handed to each test by Must:
//
//	var pg pgtest.Shared
//
//	func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }
type Shared struct {
	srv *Server
	err error
}

// Main starts the server (not with -short), runs the tests, stops the
// server and returns the exit code.
func (sh *Shared) Main(m *testing.M) int {
	flag.Parse()
	if !testing.Short() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		sh.srv, sh.err = Start(ctx)
		cancel()
	}
	code := m.Run()
	if sh.srv != nil {
		if err := sh.srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop postgres:", err)
			code = 1
		}
	}
	return code
}

// Must returns the server. With -short the test is skipped; a server that
// did not start fails it.
func (sh *Shared) Must(tb testing.TB) *Server {
	tb.Helper()
	if testing.Short() {
		tb.Skip("-short: PostgreSQL tests skipped")
	}
	if sh.err != nil {
		tb.Fatalf("PostgreSQL is needed for this test: %v", sh.err)
	}
	return sh.srv
}
