package deploy_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The amd64 packages TestChrootInstall installs, in this order.
var chrootPkgs = []string{"keycab", "keycab-hq", "keycab-kiosk"}

// chrootCache returns $KEYCAB_CACHE, else ~/.cache/keycab.
func chrootCache(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("KEYCAB_CACHE"); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(home, ".cache", "keycab")
}

// MustChroot makes a clean Debian Bookworm root (debootstrap
// --variant=minbase) from the mirror this machine's apt uses, with /proc
// mounted, and removes it when the test ends. debootstrap's packages are
// kept in a tarball in the cache, and so are the packages apt fetches in
// the root, so that a second run downloads nothing.
func MustChroot(t *testing.T) (root, archives string) {
	t.Helper()
	MustTool(t, "debootstrap")
	mirror, err := exec.Command("./mirror.sh").Output()
	if err != nil {
		t.Fatalf("mirror.sh: %v", err)
	}
	cache := chrootCache(t)
	archives = filepath.Join(cache, "chroot-apt")
	if err := os.MkdirAll(archives, 0o755); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(cache, "debootstrap-bookworm-minbase-amd64.tgz")
	if _, err := os.Stat(tarball); errors.Is(err, fs.ErrNotExist) {
		work, err := os.MkdirTemp("", "keycab-debootstrap-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(work)
		t.Logf("debootstrap --make-tarball %s from %s", tarball, mirror)
		MustRun(t, "debootstrap", "--variant=minbase", "--arch=amd64", "--make-tarball="+tarball+".part",
			"bookworm", filepath.Join(work, "root"), strings.TrimSpace(string(mirror)))
		if err := os.Rename(tarball+".part", tarball); err != nil {
			t.Fatal(err)
		}
	}

	root, err = os.MkdirTemp("", "keycab-chroot-")
	if err != nil {
		t.Fatal(err)
	}
	proc := filepath.Join(root, "proc")
	t.Cleanup(func() {
		// Only a root with nothing mounted in it is removed.
		if out, err := exec.Command("umount", proc).CombinedOutput(); err != nil && !strings.Contains(string(out), "not mounted") {
			t.Errorf("umount %s: %v %s; %s left in place", proc, err, out, root)
			return
		}
		if err := os.RemoveAll(root); err != nil {
			t.Error(err)
		}
	})
	MustRun(t, "debootstrap", "--variant=minbase", "--arch=amd64", "--unpack-tarball="+tarball,
		"bookworm", root, strings.TrimSpace(string(mirror)))
	MustRun(t, "mount", "-t", "proc", "proc", proc)
	return root, archives
}

// MustRun runs a command on the host and returns its output, failing the
// test with that output if it fails.
func MustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copyDebs copies the .deb files of dir src into dir dst.
func copyDebs(t *testing.T, src, dst string) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(src, "*.deb"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestChrootInstall installs the amd64 keycab, keycab-hq and keycab-kiosk
// packages with apt on a clean Debian Bookworm root, checks what they
// made (files and their modes, the users and the kiosk user's groups, the
// data directories, the enabled units, the programs running and finding
// their libraries), reinstalls them as an upgrade does, removes them and
// checks that changed config and data stay, then purges them and checks
// that both are gone.
//
// It runs only with KEYCAB_CHROOT=1 (make chroot-test): it needs root,
// debootstrap and the Debian mirror.
func TestChrootInstall(t *testing.T) {
	if os.Getenv("KEYCAB_CHROOT") == "" {
		t.Skip("KEYCAB_CHROOT is not set: run make chroot-test")
	}
	dist := distDir(t)
	if os.Geteuid() != 0 {
		t.Fatal("chroot-test needs root (debootstrap, chroot, mount)")
	}
	found := debs(t, dist)
	root, archives := MustChroot(t)

	// in runs a command in the root.
	in := func(args ...string) string {
		t.Helper()
		return MustRun(t, "chroot", append([]string{root}, args...)...)
	}
	// stat returns "owner:group mode" of a path in the root, or "" when it
	// is missing.
	stat := func(path string) string {
		t.Helper()
		out, err := exec.Command("chroot", root, "stat", "-c", "%U:%G %a", path).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	exists := func(path string) bool {
		_, err := os.Lstat(filepath.Join(root, path))
		return err == nil
	}

	var debPaths []string
	if err := os.MkdirAll(filepath.Join(root, "tmp/debs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, pkg := range chrootPkgs {
		deb := found[pkg+"_amd64"]
		if deb == "" {
			t.Fatalf("no %s_amd64 package in %s", pkg, dist)
		}
		copyDebs(t, filepath.Dir(deb), filepath.Join(root, "tmp/debs"))
		debPaths = append(debPaths, "/tmp/debs/"+filepath.Base(deb))
	}
	aptArchives := filepath.Join(root, "var/cache/apt/archives")
	copyDebs(t, archives, aptArchives)
	in("apt-get", "update", "-q")
	t.Logf("apt-get install %v", debPaths)
	out := in(append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends"}, debPaths...)...)
	t.Logf("%s", lastLines(out, 3))
	copyDebs(t, aptArchives, archives)

	wantFiles := map[string]string{
		"/usr/bin/keycab":                          "root:root 755",
		"/usr/bin/keycab-hq":                       "root:root 755",
		"/usr/bin/keycab-kiosk":                    "root:root 755",
		"/lib/systemd/system/keycab-hq.service":    "root:root 644",
		"/lib/systemd/system/keycab-kiosk.service": "root:root 644",
		"/etc/keycab/hq.env":                       "root:root 600",
		"/etc/keycab/kiosk.conf":                   "root:root 644",
		"/var/lib/keycab":                          "keycab:keycab 700",
		"/var/lib/keycab-hq":                       "keycab-hq:keycab-hq 700",
	}
	checkFiles := func(when string) {
		t.Helper()
		for path, want := range wantFiles {
			if got := stat(path); got != want {
				t.Errorf("%s: %s is %q, want %q", when, path, got, want)
			}
		}
	}
	checkFiles("installed")

	// The users: system users without a login, the kiosk's in the groups of
	// its devices.
	for user, home := range map[string]string{"keycab": "/var/lib/keycab", "keycab-hq": "/var/lib/keycab-hq"} {
		f := strings.Split(strings.TrimSpace(in("getent", "passwd", user)), ":")
		if len(f) != 7 {
			t.Fatalf("getent passwd %s: %q", user, f)
		}
		uid, _ := strconv.Atoi(f[2])
		if uid == 0 || uid >= 1000 || f[5] != home || !strings.HasSuffix(f[6], "nologin") {
			t.Errorf("user %s: uid %d, home %s, shell %s; want a system uid, home %s, nologin", user, uid, f[5], f[6], home)
		}
	}
	groups := strings.Fields(in("id", "-nG", "keycab"))
	for _, g := range []string{"keycab", "gpio", "i2c", "dialout", "input", "video", "render"} {
		if !slices.Contains(groups, g) {
			t.Errorf("keycab is not in group %s: %v", g, groups)
		}
	}

	// The units are enabled on a new install.
	for _, link := range []string{
		"/etc/systemd/system/multi-user.target.wants/keycab-hq.service",
		"/etc/systemd/system/graphical.target.wants/keycab-kiosk.service",
	} {
		if !exists(link) {
			t.Errorf("%s is missing: the unit is not enabled", link)
		}
	}

	// The programs run; the kiosk finds every library it links, and those
	// GLFW opens with dlopen are installed.
	in("keycab-hq", "migrate", "--db", "sqlite:/tmp/check.db")
	if ldd := in("ldd", "/usr/bin/keycab-kiosk"); strings.Contains(ldd, "not found") {
		t.Errorf("keycab-kiosk misses libraries in the root:\n%s", ldd)
	}
	cache := in("ldconfig", "-p")
	for _, lib := range []string{"libEGL.so.1", "libwayland-cursor.so.0", "libwayland-egl.so.1", "libxkbcommon.so.0"} {
		if !strings.Contains(cache, lib+" ") {
			t.Errorf("%s (opened by GLFW) is not installed by keycab-kiosk's Depends", lib)
		}
	}
	if !exists("/usr/bin/cage") {
		t.Error("cage is not installed by keycab-kiosk's Depends")
	}

	// Data and changed config, which every step below but purge must keep.
	kept := map[string]string{
		"/var/lib/keycab/keycab.db":       "kiosk data\n",
		"/var/lib/keycab-hq/keycab-hq.db": "hq data\n",
	}
	for path, text := range kept {
		if err := os.WriteFile(filepath.Join(root, path), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, conf := range []string{"/etc/keycab/hq.env", "/etc/keycab/kiosk.conf"} {
		b, err := os.ReadFile(filepath.Join(root, conf))
		if err != nil {
			t.Fatal(err)
		}
		kept[conf] = string(b) + "# changed by the administrator\n"
		if err := os.WriteFile(filepath.Join(root, conf), []byte(kept[conf]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	in("chmod", "0644", "/etc/keycab/kiosk.conf")
	checkKept := func(when string) {
		t.Helper()
		for path, want := range kept {
			if b, err := os.ReadFile(filepath.Join(root, path)); err != nil || string(b) != want {
				t.Errorf("%s: %s not kept: %v", when, path, err)
			}
		}
	}

	// An upgrade (here a reinstall: dpkg runs the same scripts) keeps them,
	// and the files' modes.
	in(append([]string{"apt-get", "install", "-y", "-q", "--reinstall", "--no-install-recommends"}, debPaths...)...)
	checkKept("reinstalled")
	checkFiles("reinstalled")

	// Remove keeps config and data, takes the programs and units.
	in(append([]string{"apt-get", "remove", "-y", "-q"}, chrootPkgs...)...)
	checkKept("removed")
	for _, gone := range []string{"/usr/bin/keycab", "/usr/bin/keycab-hq", "/usr/bin/keycab-kiosk",
		"/lib/systemd/system/keycab-hq.service", "/lib/systemd/system/keycab-kiosk.service"} {
		if exists(gone) {
			t.Errorf("removed: %s is still there", gone)
		}
	}
	for _, pkg := range chrootPkgs[1:] {
		if st := in("dpkg-query", "-W", "-f=${Status}", pkg); st != "deinstall ok config-files" {
			t.Errorf("removed: %s is %q, want config-files", pkg, st)
		}
	}

	// Purge deletes config and data, and leaves nothing of the units.
	in(append([]string{"apt-get", "purge", "-y", "-q"}, chrootPkgs...)...)
	for _, gone := range []string{"/etc/keycab", "/var/lib/keycab", "/var/lib/keycab-hq"} {
		if exists(gone) {
			t.Errorf("purged: %s is still there", gone)
		}
	}
	if left := strings.TrimSpace(in("find", "/etc/systemd", "/var/lib/systemd", "-name", "keycab*")); left != "" {
		t.Errorf("purged: left in systemd's directories:\n%s", left)
	}
	if left := strings.TrimSpace(in("sh", "-c", "dpkg -l 'keycab*' 2>/dev/null | grep '^[a-z][a-z] ' | grep -v '^un' || true")); left != "" {
		t.Errorf("purged: dpkg still knows:\n%s", left)
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
