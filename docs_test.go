package keycab_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"keycab.dev/keycab/internal/testenv"
)

// programs are the commands a document may name, and their packages.
var programs = map[string]string{
	"keycab":       "./cmd/keycab",
	"keycab-hq":    "./cmd/keycab-hq",
	"keycab-kiosk": "./cmd/keycab-kiosk",
}

// TestIncidentRunbook: SECURITY.md and docs/INCIDENT.md exist, and every
// command, subcommand and flag they name in backticks exists in the
// programs as built (their -h), and every API endpoint they name is in
// the OpenAPI contract; so the runbook cannot rot.
func TestIncidentRunbook(t *testing.T) {
	var docs []string
	for _, name := range []string{"SECURITY.md", "docs/INCIDENT.md"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, stripFences(string(b)))
	}
	spans := codeSpans(strings.Join(docs, "\n"))
	if len(spans) < 20 {
		t.Fatalf("found only %d code spans", len(spans))
	}

	bin := t.TempDir()
	var pkgs []string
	for _, pkg := range programs {
		pkgs = append(pkgs, pkg)
	}
	testenv.BuildForHost(t, bin, pkgs...)
	helps := map[string]string{} // "keycab audit verify" -> its -h
	help := func(cmd []string) (string, bool) {
		key := strings.Join(cmd, " ")
		if h, ok := helps[key]; ok {
			return h, true
		}
		out, err := exec.Command(filepath.Join(bin, cmd[0]), append(cmd[1:], "-h")...).CombinedOutput()
		if err != nil {
			return string(out), false
		}
		helps[key] = string(out)
		return string(out), true
	}
	// Every command of keycab-hq, for flags named on their own.
	for _, c := range []string{"serve", "migrate", "demo-seed", "enrol-token", "backup"} {
		if _, ok := help([]string{"keycab-hq", c}); !ok {
			t.Fatalf("keycab-hq %s -h failed", c)
		}
	}

	var named, lone []string
	for _, s := range spans {
		f := strings.Fields(s)
		if len(f) == 0 {
			continue
		}
		if _, ok := programs[f[0]]; ok {
			named = append(named, s)
			cmd := []string{f[0]}
			i := 1
			for ; i < len(f) && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(f[i]); i++ {
				cmd = append(cmd, f[i])
			}
			h, ok := help(cmd)
			if !ok {
				t.Errorf("`%s`: %s -h fails: there is no such command\n%s", s, strings.Join(cmd, " "), h)
				continue
			}
			for _, a := range f[i:] {
				if name, ok := flagName(a); ok && !hasFlag(h, name) {
					t.Errorf("`%s`: %s has no flag -%s", s, strings.Join(cmd, " "), name)
				}
			}
			continue
		}
		if name, ok := flagName(s); ok && len(f) == 1 {
			lone = append(lone, name)
		}
	}
	if len(named) < 10 {
		t.Errorf("found only %d command lines in the documents: %q", len(named), named)
	}
	for _, name := range lone {
		found := false
		for _, h := range helps {
			found = found || hasFlag(h, name)
		}
		if !found {
			t.Errorf("`--%s`: no command the documents name has this flag", name)
		}
	}

	// Endpoints: "METHOD /v1/..." against the committed OpenAPI document.
	var spec struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	b, err := os.ReadFile("docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	endpoint := regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) (/v1/[^ ?]*)`)
	n := 0
	for _, s := range spans {
		m := endpoint.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		n++
		if _, ok := spec.Paths[m[2]][strings.ToLower(m[1])]; !ok {
			t.Errorf("`%s`: %s %s is not in docs/openapi.json", s, m[1], m[2])
		}
	}
	if n < 10 {
		t.Errorf("found only %d endpoints in the documents", n)
	}
}

// stripFences drops fenced code blocks (SQL and the like).
func stripFences(s string) string {
	return regexp.MustCompile("(?s)\n```.*?\n```").ReplaceAllString(s, "\n")
}

// codeSpans returns the text of each `code span`, line breaks as spaces.
func codeSpans(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(s, -1) {
		out = append(out, strings.Join(strings.Fields(m[1]), " "))
	}
	return out
}

// flagName returns NAME of --NAME, -NAME or --NAME=VALUE.
func flagName(a string) (string, bool) {
	m := regexp.MustCompile(`^--?([a-z][a-z0-9-]*)(=.*)?$`).FindStringSubmatch(a)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// hasFlag reports whether a flag set's -h lists -name.
func hasFlag(help, name string) bool {
	return regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `(\s|$)`).MatchString(help)
}
