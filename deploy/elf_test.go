package deploy_test

import (
	"debug/elf"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// bookwormLibs are the shared libraries keycab-kiosk may link against (its
// DT_NEEDED entries), each with the Debian 12 package that has it.
// Raspberry Pi OS Bookworm is Debian 12 with the Pi's own packages added,
// and has each of these packages for arm64 and armhf; the kiosk's Depends
// must name the package of every library its binary needs. (GLFW also
// opens libEGL, libwayland-cursor, libwayland-egl and libxkbcommon with
// dlopen; those are in Depends too but do not show in the ELF.)
var bookwormLibs = map[string]string{
	"libc.so.6":              "libc6",
	"libm.so.6":              "libc6",
	"libdl.so.2":             "libc6",
	"libpthread.so.0":        "libc6",
	"librt.so.1":             "libc6",
	"ld-linux-armhf.so.3":    "libc6",
	"ld-linux-aarch64.so.1":  "libc6",
	"libGL.so.1":             "libgl1",             // libglvnd
	"libEGL.so.1":            "libegl1",            // libglvnd
	"libwayland-client.so.0": "libwayland-client0", // wayland 1.21
	"libwayland-cursor.so.0": "libwayland-cursor0",
	"libwayland-egl.so.1":    "libwayland-egl1",
	"libxkbcommon.so.0":      "libxkbcommon0", // libxkbcommon 1.5
}

// bookwormGlibc is the glibc of Debian 12 and Raspberry Pi OS Bookworm
// (2.36): the kiosk may need no newer GLIBC_ symbol version.
var bookwormGlibc = [2]int{2, 36}

// kioskELF is what keycab-kiosk must be for each Debian architecture: the
// machine, the class and the dynamic loader (armhf's names the hard-float
// ABI).
var kioskELF = map[string]struct {
	machine elf.Machine
	class   elf.Class
	interp  string
}{
	"amd64": {elf.EM_X86_64, elf.ELFCLASS64, "/lib64/ld-linux-x86-64.so.2"},
	"arm64": {elf.EM_AARCH64, elf.ELFCLASS64, "/lib/ld-linux-aarch64.so.1"},
	"armhf": {elf.EM_ARM, elf.ELFCLASS32, "/lib/ld-linux-armhf.so.3"},
}

// glibcVersion parses "GLIBC_2.34" (or "2.34") into {2, 34}.
func glibcVersion(s string) ([2]int, error) {
	major, minor, ok := strings.Cut(strings.TrimPrefix(s, "GLIBC_"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	a, err1 := strconv.Atoi(major)
	b, err2 := strconv.Atoi(minor)
	if !ok || err1 != nil || err2 != nil {
		return [2]int{}, fmt.Errorf("not a glibc version: %q", s)
	}
	return [2]int{a, b}, nil
}

func versionLess(a, b [2]int) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }

// depends parses a Depends field into the packages it names, each with
// its lowest version (">= V"), or "" when it has none.
func depends(field string) map[string]string {
	deps := make(map[string]string)
	for _, alt := range strings.FieldsFunc(field, func(r rune) bool { return r == ',' || r == '|' }) {
		name, rest, _ := strings.Cut(strings.TrimSpace(alt), " ")
		name, _, _ = strings.Cut(name, ":")
		var v string
		if r, ok := strings.CutPrefix(strings.TrimSpace(rest), "(>="); ok {
			v = strings.TrimSpace(strings.TrimSuffix(r, ")"))
		}
		deps[name] = v
	}
	return deps
}

// TestKioskELF checks the keycab-kiosk binary of every kiosk package: an
// ELF for its architecture that needs only libraries of bookwormLibs
// whose packages its Depends names, and glibc symbol versions no newer
// than Bookworm's, nor than the libc6 version its Depends asks for.
func TestKioskELF(t *testing.T) {
	dir := distDir(t)
	MustTool(t, "dpkg-deb")
	found := debs(t, dir)
	for _, arch := range []string{"arm64", "armhf", "amd64"} {
		t.Run(arch, func(t *testing.T) {
			deb := found["keycab-kiosk_"+arch]
			if deb == "" {
				t.Fatalf("no keycab-kiosk package for %s in %s", arch, dir)
			}
			root := t.TempDir()
			if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb -x %s: %v\n%s", deb, err, out)
			}
			field, err := exec.Command("dpkg-deb", "-f", deb, "Depends").Output()
			if err != nil {
				t.Fatalf("dpkg-deb -f %s Depends: %v", deb, err)
			}
			deps := depends(string(field))
			checkKioskELF(t, filepath.Join(root, "usr/bin/keycab-kiosk"), arch, deps)
		})
	}
}

func checkKioskELF(t *testing.T, bin, arch string, deps map[string]string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s is not an ELF: %v", bin, err)
	}
	defer f.Close()
	want := kioskELF[arch]
	if f.Machine != want.machine || f.Class != want.class || f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		t.Errorf("%s: %v %v %v, want an executable for %v %v", arch, f.Machine, f.Class, f.Type, want.machine, want.class)
	}
	interp := ""
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatalf("read PT_INTERP: %v", err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if interp != want.interp {
		t.Errorf("%s: dynamic loader %q, want %q", arch, interp, want.interp)
	}

	needed, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("DT_NEEDED: %v", err)
	}
	if len(needed) == 0 {
		t.Fatalf("%s: no DT_NEEDED libraries: not the cgo build of the kiosk", arch)
	}
	t.Logf("%s: DT_NEEDED %v", arch, needed)
	for _, lib := range needed {
		pkg, ok := bookwormLibs[lib]
		switch {
		case !ok:
			t.Errorf("%s: needs %s, which is not in the Bookworm libraries the kiosk may use", arch, lib)
		case pkg != "libc6":
			if _, ok := deps[pkg]; !ok {
				t.Errorf("%s: needs %s from %s, which keycab-kiosk's Depends does not name", arch, lib, pkg)
			}
		}
	}

	vneeds, err := f.DynamicVersionNeeds()
	if err != nil {
		t.Fatalf("SHT_GNU_verneed: %v", err)
	}
	var newest [2]int
	for _, vn := range vneeds {
		for _, dep := range vn.Needs {
			if !strings.HasPrefix(dep.Dep, "GLIBC_") || dep.Dep == "GLIBC_PRIVATE" {
				continue
			}
			v, err := glibcVersion(dep.Dep)
			if err != nil {
				t.Errorf("%s: %s: %v", arch, vn.Name, err)
				continue
			}
			if versionLess(newest, v) {
				newest = v
			}
		}
	}
	// GLIBC_PRIVATE binds to one build of glibc: only errno (the arm builds
	// read the TLS variable directly), which Bookworm's one glibc has.
	syms, err := f.ImportedSymbols()
	if err != nil {
		t.Fatalf("imported symbols: %v", err)
	}
	for _, s := range syms {
		if s.Version == "GLIBC_PRIVATE" && s.Name != "errno" {
			t.Errorf("%s: needs %s@GLIBC_PRIVATE", arch, s.Name)
		}
	}
	if newest == [2]int{} {
		t.Fatalf("%s: no GLIBC_ symbol versions: not a glibc build", arch)
	}
	t.Logf("%s: newest glibc symbol version GLIBC_%d.%d (Bookworm has %d.%d)", arch, newest[0], newest[1], bookwormGlibc[0], bookwormGlibc[1])
	if versionLess(bookwormGlibc, newest) {
		t.Errorf("%s: needs GLIBC_%d.%d, newer than Bookworm's glibc %d.%d", arch, newest[0], newest[1], bookwormGlibc[0], bookwormGlibc[1])
	}
	min, ok := deps["libc6"]
	if !ok || min == "" {
		t.Fatalf("%s: Depends has no libc6 (>= VERSION)", arch)
	}
	mv, err := glibcVersion(min)
	if err != nil {
		t.Fatalf("%s: Depends libc6 (>= %s): %v", arch, min, err)
	}
	if versionLess(mv, newest) {
		t.Errorf("%s: needs GLIBC_%d.%d but Depends asks only libc6 (>= %s)", arch, newest[0], newest[1], min)
	}
}
