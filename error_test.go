package keycab_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/i18n"
)

// errorLanguages returns the catalogue languages with an error catalogue
// (messages/errors/LANG.json), failing unless every language the
// dashboard and kiosk speak but English (the formats themselves) has one.
func errorLanguages(t *testing.T) []string {
	entries, err := fs.ReadDir(keycab.ErrorCatalogue, "messages/errors")
	if err != nil {
		t.Fatal(err)
	}
	var langs []string
	for _, e := range entries {
		langs = append(langs, strings.TrimSuffix(e.Name(), ".json"))
	}
	for _, l := range i18n.Locales() {
		if lang := i18n.For(l.Tag).Lang(); lang != "en" && !slices.Contains(langs, lang) {
			t.Errorf("%s (%s) has no messages/errors/%s.json", l.Name, l.Tag, lang)
		}
	}
	return langs
}

// wrapper is a function that hands its format parameter, after prefix,
// to keycab.Errorf or to another wrapper: store's invalid, a validator's
// bad.
type wrapper struct {
	formatArg int    // the index of the format among the call's arguments
	prefix    string // what the wrapper puts before the format
}

// errorFormats returns every format keycab.Errorf is given in the
// module's code (tests aside), directly or through a wrapper, with where
// it is given; a format that is not a string literal, or a literal
// prefix and a wrapper's format parameter, is an error naming its place.
func errorFormats(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	type file struct {
		path string
		f    *ast.File
	}
	var files []file
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); path != "." && err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files = append(files, file{path, f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// wrappers by name: "keycab.Errorf", a function of a package by its
	// directory and name, a func literal by its file and variable.
	wrappers := map[string]wrapper{"keycab.Errorf": {formatArg: 1}}

	// callee names the function a call calls, as wrappers keys it.
	callee := func(path string, f *ast.File, c *ast.CallExpr) string {
		switch fn := c.Fun.(type) {
		case *ast.SelectorExpr:
			if x, ok := fn.X.(*ast.Ident); ok && x.Name == "keycab" && fn.Sel.Name == "Errorf" {
				return "keycab.Errorf"
			}
		case *ast.Ident:
			if f.Name.Name == "keycab" && filepath.Dir(path) == "." && fn.Name == "Errorf" {
				return "keycab.Errorf"
			}
			if _, ok := wrappers[path+"."+fn.Name]; ok {
				return path + "." + fn.Name // a func literal of this file
			}
			return filepath.Dir(path) + "." + fn.Name
		}
		return ""
	}

	// formatParam returns the name of fn's parameter "format string" and
	// its index, or "".
	formatParam := func(ft *ast.FuncType) (string, int) {
		i := 0
		for _, field := range ft.Params.List {
			for _, n := range field.Names {
				if id, ok := field.Type.(*ast.Ident); ok && id.Name == "string" && n.Name == "format" {
					return n.Name, i
				}
				i++
			}
		}
		return "", -1
	}
	// literalPlus reads e as "LIT" + ... + param, the literal prefix of
	// a wrapper's format.
	var literalPlus func(e ast.Expr, param string) (string, bool)
	literalPlus = func(e ast.Expr, param string) (string, bool) {
		switch e := e.(type) {
		case *ast.Ident:
			return "", e.Name == param
		case *ast.BinaryExpr:
			lit, ok := e.X.(*ast.BasicLit)
			if e.Op != token.ADD || !ok || lit.Kind != token.STRING {
				return "", false
			}
			rest, ok := literalPlus(e.Y, param)
			s, _ := strconv.Unquote(lit.Value)
			return s + rest, ok
		}
		return "", false
	}
	// Find the wrappers: functions with a format parameter that pass it
	// on to Errorf or to a wrapper found before (so again until no new
	// one is found). A func literal is known by the variable it is
	// assigned to.
	for changed := true; changed; {
		changed = false
		for _, fl := range files {
			ast.Inspect(fl.f, func(n ast.Node) bool {
				var name string
				var ft *ast.FuncType
				var body *ast.BlockStmt
				switch n := n.(type) {
				case *ast.FuncDecl:
					if n.Recv != nil || n.Body == nil {
						return true
					}
					name, ft, body = n.Name.Name, n.Type, n.Body
				case *ast.AssignStmt:
					if len(n.Lhs) != 1 || len(n.Rhs) != 1 {
						return true
					}
					id, ok1 := n.Lhs[0].(*ast.Ident)
					lit, ok2 := n.Rhs[0].(*ast.FuncLit)
					if !ok1 || !ok2 {
						return true
					}
					name, ft, body = id.Name, lit.Type, lit.Body
				default:
					return true
				}
				param, idx := formatParam(ft)
				key := filepath.Dir(fl.path) + "." + name
				if _, ok := n.(*ast.AssignStmt); ok {
					key = fl.path + "." + name
				}
				if param == "" || key == "keycab.Errorf" {
					return true
				}
				if _, ok := wrappers[key]; ok {
					return true
				}
				ast.Inspect(body, func(m ast.Node) bool {
					c, ok := m.(*ast.CallExpr)
					if !ok {
						return true
					}
					w, ok := wrappers[callee(fl.path, fl.f, c)]
					if !ok || len(c.Args) <= w.formatArg {
						return true
					}
					if prefix, ok := literalPlus(c.Args[w.formatArg], param); ok {
						wrappers[key] = wrapper{formatArg: idx, prefix: prefix + w.prefix}
						changed = true
						return false
					}
					return true
				})
				return true
			})
		}
	}

	formats := map[string][]string{}
	for _, fl := range files {
		ast.Inspect(fl.f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			w, ok := wrappers[callee(fl.path, fl.f, c)]
			if !ok || len(c.Args) <= w.formatArg {
				return true
			}
			pos := fset.Position(c.Pos()).String()
			arg := c.Args[w.formatArg]
			if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				formats[w.prefix+s] = append(formats[w.prefix+s], pos)
				return true
			}
			if id, ok := arg.(*ast.Ident); ok && id.Name == "format" {
				return true // a wrapper handing on its own format
			}
			if _, ok := literalPlus(arg, "format"); ok {
				return true // the same, after a prefix
			}
			t.Errorf("%s: the format given to Errorf is not a string literal, so no catalogue can translate it", pos)
			return true
		})
	}
	return formats
}

// passThrough reports whether format only hands on one argument ("%s",
// "%v"): a text said already (a catalogue message) or an error, said by
// Errorf in the reader's language.
func passThrough(format string) bool { return format == "%s" || format == "%v" }

var verbRe = regexp.MustCompile(`%(?:\[(\d+)\])?([-+# 0]*\d*(?:\.\d+)?)([a-zA-Z%])`)

// verbs returns the verbs of format by argument position: flags and verb
// letter ("%.40q" is ".40q"), explicit indexes followed as fmt does.
func verbs(format string) map[int]string {
	out := map[int]string{}
	next := 1
	for _, m := range verbRe.FindAllStringSubmatch(format, -1) {
		if m[3] == "%" {
			continue
		}
		if m[1] != "" {
			next, _ = strconv.Atoi(m[1])
		}
		out[next] = m[2] + m[3]
		next++
	}
	return out
}

// TestErrorCatalogueComplete keeps the error catalogues whole: every
// format Errorf is given has its translation in each language, with the
// same verbs for the same arguments, and no catalogue holds a format the
// code no longer gives.
func TestErrorCatalogueComplete(t *testing.T) {
	formats := errorFormats(t)
	if len(formats) < 100 {
		t.Fatalf("found %d error formats: the scan is broken", len(formats))
	}
	for _, lang := range errorLanguages(t) {
		b, err := keycab.ErrorCatalogue.ReadFile("messages/errors/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var cat map[string]string
		if err := json.Unmarshal(b, &cat); err != nil {
			t.Fatalf("messages/errors/%s.json: %v", lang, err)
		}
		var missing []string
		for f, where := range formats {
			if passThrough(f) {
				continue
			}
			tr, ok := cat[f]
			switch {
			case !ok:
				missing = append(missing, fmt.Sprintf("%q (%s)", f, where[0]))
			case strings.TrimSpace(tr) == "":
				t.Errorf("%s: %q has an empty translation", lang, f)
			case fmt.Sprint(verbs(tr)) != fmt.Sprint(verbs(f)):
				t.Errorf("%s: %q has verbs %v, its translation %q has %v", lang, f, verbs(f), tr, verbs(tr))
			}
		}
		sort.Strings(missing)
		for _, m := range missing {
			t.Errorf("messages/errors/%s.json lacks %s", lang, m)
		}
		for f := range cat {
			if _, ok := formats[f]; !ok && f != "Internal error." {
				t.Errorf("messages/errors/%s.json: %q is not a format the code gives (stale)", lang, f)
			}
		}
		if _, ok := cat["Internal error."]; !ok {
			t.Errorf("messages/errors/%s.json lacks \"Internal error.\"", lang)
		}
		if string(b) != indented(t, cat) {
			t.Errorf("messages/errors/%s.json is not written sorted with two-space indent (json.dump(sort_keys=True, ensure_ascii=False, indent=2))", lang)
		}
	}
}

// indented is v as the catalogue files are written: keys sorted, two
// spaces, no HTML escaping, a final newline.
func indented(t *testing.T, v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestErrorMessageIn(t *testing.T) {
	inner := keycab.Errorf(keycab.EINVALID, "unknown role %q", "boss")
	wrapped := fmt.Errorf("invite: %w", keycab.Errorf(keycab.EFORBIDDEN, "this change would make the policy of %s %s invalid: %s", "site", "s1", inner))
	for _, tc := range []struct {
		err        error
		lang, want string
	}{
		{inner, "de", `unbekannte Rolle "boss"`},
		{inner, "de-AT", `unbekannte Rolle "boss"`},
		{inner, "en-GB", `unknown role "boss"`},
		{inner, "", `unknown role "boss"`},
		{inner, "../../etc/passwd", `unknown role "boss"`},
		{inner, "fr", `unknown role "boss"`},
		{errors.New("disk on fire"), "en", "Internal error."},
		{errors.New("disk on fire"), "de", "Interner Fehler."},
		{&keycab.Error{Code: keycab.EINVALID, Message: "built by hand"}, "de", "built by hand"},
		{nil, "de", ""},
	} {
		if got := keycab.ErrorMessageIn(tc.err, tc.lang); got != tc.want {
			t.Errorf("ErrorMessageIn(%v, %q) = %q, want %q", tc.err, tc.lang, got, tc.want)
		}
	}
	// An error argument is said by its message in the same language.
	if got, want := keycab.ErrorMessage(wrapped), `this change would make the policy of site s1 invalid: unknown role "boss"`; got != want {
		t.Errorf("English: %q, want %q", got, want)
	}
	if got := keycab.ErrorMessageIn(wrapped, "de"); !strings.Contains(got, `unbekannte Rolle "boss"`) || strings.Contains(got, "unknown") {
		t.Errorf("German: %q, want the inner error in German too", got)
	}
}
