package keycab_test

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDoc: every package in the module has exactly one doc comment
// (in doc.go when it is long), as tailscale's pkgdoc test asks: a package
// without one leaves a new maintainer to guess what it is for, and two
// disagree sooner or later.
func TestPackageDoc(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}|{{.Dir}}|{{join .GoFiles " "}} {{join .CgoFiles " "}} {{join .IgnoredGoFiles " "}}|{{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("go list found only %d packages", len(lines))
	}
	for _, line := range lines {
		path, rest, _ := strings.Cut(line, "|")
		dir, rest, _ := strings.Cut(rest, "|")
		files, tests, _ := strings.Cut(rest, "|")
		if strings.TrimSpace(files) == "" {
			files = tests // a package of tests only (test/e2e) documents itself in one of them
		}
		var with []string
		fset := token.NewFileSet()
		for _, name := range strings.Fields(files) {
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			pkg := strings.TrimSuffix(f.Name.Name, "_test")
			switch {
			case f.Doc == nil:
			case pkg == "main" || strings.HasPrefix(f.Doc.Text(), "Package "+pkg+" "):
				with = append(with, name)
			default:
				t.Errorf("%s: %s's package comment does not begin \"Package %s\"", path, name, pkg)
			}
		}
		switch {
		case len(with) == 0:
			t.Errorf("%s has no package doc comment", path)
		case len(with) > 1:
			t.Errorf("%s has %d package doc comments (%s); keep one", path, len(with), strings.Join(with, ", "))
		}
	}
}
