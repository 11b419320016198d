package keycab_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayout enforces the import rules of DESIGN.md over what each package
// links (its transitive dependencies), as go list reports them.
func TestLayout(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "keycab.dev/keycab"
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		deps[f[0]] = f[1:]
	}
	if len(deps) < 4 {
		t.Fatalf("go list found only %d packages", len(deps))
	}
	std := func(p string) bool { return !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") }
	under := func(p, dir string) bool { return p == mod+"/"+dir || strings.HasPrefix(p, mod+"/"+dir+"/") }
	for pkg, ds := range deps {
		for _, d := range ds {
			switch {
			case pkg == mod && !std(d):
				t.Errorf("the domain package imports %s; it may use the standard library only", d)
			case strings.HasPrefix(d, "fyne.io/") && !under(pkg, "kiosk/ui") && !under(pkg, "cmd/keycab-kiosk"):
				t.Errorf("%s links Fyne (%s); only kiosk/ui and cmd/keycab-kiosk may", pkg, d)
			case under(pkg, "cmd/keycab-hq") && (under(d, "hardware") || under(d, "kiosk")):
				t.Errorf("the HQ program links %s", d)
			case under(pkg, "audit") && !under(pkg, "audit/exportcheck") && (under(d, "store") || under(d, "hardware") || under(d, "kiosk") || under(d, "hq")):
				t.Errorf("%s links %s; audit may use only the domain package", pkg, d)
			case under(pkg, "store") && (under(d, "hardware") || under(d, "kiosk") || under(d, "hq")):
				t.Errorf("%s links %s; store may use only the domain and audit", pkg, d)
			case under(pkg, "hardware") && strings.HasPrefix(d, mod+"/") && !under(d, "hardware") && !under(d, "internal"):
				t.Errorf("%s links %s; hardware depends on no other keycab layer and no top-level helper", pkg, d)
			case under(pkg, "hq") && (under(d, "hardware") || under(d, "kiosk")):
				t.Errorf("%s links %s", pkg, d)
			case under(pkg, "sync") && strings.HasPrefix(d, mod+"/") && d != mod && !under(d, "audit") && !under(d, "sync/wire") &&
				!(under(pkg, "sync/agent") && under(d, "store") && !under(d, "store/storetest")) && !under(d, "internal"):
				t.Errorf("%s links %s; sync/* uses only the domain, audit, sync/wire and (the agent) store", pkg, d)
			case under(pkg, "hq/kioskapi") && under(d, "hq/api"), under(pkg, "hq/api") && under(d, "hq/kioskapi"):
				t.Errorf("%s links %s; the kiosk API and the JSON API do not import each other", pkg, d)
			case under(pkg, "hq/dashboard") && (under(d, "hq/api") || under(d, "hq/kioskapi")),
				under(pkg, "hq/api") && under(d, "hq/dashboard"), under(pkg, "hq/kioskapi") && under(d, "hq/dashboard"):
				t.Errorf("%s links %s; HQ's edges (api, dashboard, kioskapi) do not import each other", pkg, d)
			case pkg == mod+"/hq" && (under(d, "hq/api") || under(d, "hq/dashboard") || under(d, "hq/kioskapi")):
				t.Errorf("hq links the edge %s; the Server takes its edges as hq.Edge values", d)
			case under(pkg, "cmd") && (d == "testing" || strings.HasPrefix(d, mod+"/") && strings.HasSuffix(d, "test")):
				t.Errorf("the program %s links %s: production binaries link no test helpers", pkg, d)
			case d == "github.com/tarm/serial":
				t.Errorf("%s links tarm/serial (unmaintained; Close deadlocks during Read): use go.bug.st/serial", pkg)
			}
		}
	}
}
