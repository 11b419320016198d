package main

import (
	"bytes"
	"context"
	"testing"
)

// run runs the keycab tool with args and returns its exit code, stdout
// and stderr.
func run(tb testing.TB, args ...string) (int, string, string) {
	tb.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), &env{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// TestHelpEverywhere asks every command for --help: each answers with its
// usage on stdout and exit 0.
func TestHelpEverywhere(t *testing.T) {
	var walk func(c *command, path []string)
	n := 0
	walk = func(c *command, path []string) {
		code, out, errs := run(t, append(path, "--help")...)
		if code != 0 || !bytes.Contains([]byte(out), []byte("usage: keycab")) {
			t.Errorf("keycab %v --help: exit %d, stdout %q, stderr %q", path, code, out, errs)
		}
		n++
		for _, s := range c.sub {
			walk(s, append(append([]string(nil), path...), s.name))
		}
	}
	walk(root(), nil)
	if n < 8 {
		t.Fatalf("only %d commands", n)
	}
	if code, _, errs := run(t, "nosuch"); code != 2 || !bytes.Contains([]byte(errs), []byte("unknown command")) {
		t.Errorf("unknown command: exit %d, %q", code, errs)
	}
	if code, _, _ := run(t, "audit", "verify", "--nosuchflag"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
}
