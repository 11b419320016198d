package deploy_test

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/testenv"
)

// vmArm64ImageVersion changes when the way the arm64 image is built
// changes, so that a cached image built the old way is not used.
const vmArm64ImageVersion = "1"

// vmArm64Packages are the Debian packages of the arm64 image besides
// debootstrap's minbase and the keycab packages' dependencies: those of
// the amd64 image (vmPackages), with the arm64 kernel.
func vmArm64Packages() []string {
	var pkgs []string
	for _, p := range vmPackages {
		if p == "linux-image-amd64" {
			p = "linux-image-arm64"
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// vmArm64FirstBootModules are the kernel modules that vminit loads to
// mount the root file system on the first boot (those they depend on are
// added): Debian's arm64 kernel builds virtio-pci, virtio-blk, ext4 and
// the crc32c that ext4's checksums ask the crypto API for as modules.
var vmArm64FirstBootModules = []string{"virtio_pci", "virtio_blk", "crc32c_generic", "ext4"}

// vmArm64Setup is the script that vminit runs in the new root after
// debootstrap's second stage, as the arm64 guest: what buildVMImage does
// in its chroot, for a guest whose serial console is the PL011 (ttyAMA0).
const vmArm64Setup = `echo keycab-vm > /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 keycab-vm\n' > /etc/hosts
echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' > /etc/fstab
systemctl enable systemd-networkd.service ssh.service
systemctl mask serial-getty@ttyAMA0.service apt-daily.timer apt-daily-upgrade.timer
passwd --lock root
apt-get clean
rm -f /etc/machine-id
: > /etc/machine-id
chmod 0444 /etc/machine-id
ls /boot
rm /etc/dpkg/dpkg.cfg.d/keycab-vm-unsafe-io /keycab-setup.sh
`

// vmArm64InitramfsHook is an initramfs-tools hook that puts the modules
// the VM's root needs into Debian's initramfs: the virtio-pci disk and
// its ext4 file system (udev and the local-top scripts load them).
const vmArm64InitramfsHook = `#!/bin/sh
[ "$1" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
manual_add_modules virtio_pci virtio_blk crc32c_generic ext4
`

// MustVMArm64Image returns the Debian Bookworm arm64 VM image for the
// arm64 keycab packages debs, building it into $cache/vm-arm64 when it
// is not there (buildVMArm64Image). Like MustVMImage, its name is a
// digest of what went into it.
func MustVMArm64Image(t *testing.T, debs []string) vmImage {
	t.Helper()
	return cachedVMImage(t, debs, "arm64", "vm-arm64", vmArm64ImageVersion, vmArm64Packages(), buildVMArm64Image)
}

// buildVMArm64Image builds img (MustVMArm64Image) without running an
// arm64 program on the host, which cannot run one (no binfmt_misc, a
// host-wide setting the test leaves alone): debootstrap --foreign only
// downloads and unpacks the packages; the raw ext4 disk is made of that
// root with mkfs.ext4 -d, and one boot of it under qemu's TCG, with
// Debian's arm64 kernel (taken from its package) and an initramfs of
// vminit and the modules it needs, runs debootstrap's second stage and
// vmArm64Setup as the guest. Debian's initramfs, which the kernel's
// package made in that boot, is then read out of the disk with debugfs.
func buildVMArm64Image(t *testing.T, img vmImage, cache string) {
	MustTool(t, "debootstrap")
	MustTool(t, "mkfs.ext4")
	MustTool(t, "debugfs")
	MustTool(t, "ssh-keygen")
	MustTool(t, "dpkg-deb")
	qemu := testenv.MustHaveTool(t, "qemu-system-aarch64", "qemu-system-arm")
	mirror, err := exec.Command("./mirror.sh").Output()
	if err != nil {
		t.Fatalf("mirror.sh: %v", err)
	}
	// Images of other package lists and builds that did not finish go
	// (nothing is mounted on the host for this build).
	stale, _ := filepath.Glob(filepath.Join(cache, "vm-arm64", "*"))
	for _, d := range stale {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	debCache := filepath.Join(cache, "vm-arm64-debootstrap")
	for _, d := range []string{img.dir, debCache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	work, err := os.MkdirTemp(filepath.Join(cache, "vm-arm64"), "build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")

	include := append(slices.Clone(img.packages), img.dependencies...)
	start := time.Now()
	t.Logf("debootstrap --foreign bookworm arm64 from %s with %v", strings.TrimSpace(string(mirror)), include)
	MustRun(t, "debootstrap", "--foreign", "--variant=minbase", "--arch=arm64", "--cache-dir="+debCache,
		"--include="+strings.Join(include, ","), "bookworm", root, strings.TrimSpace(string(mirror)))
	t.Logf("debootstrap's first stage: %v", time.Since(start).Round(time.Second))

	// The kernel, and the modules of the first boot, from the kernel's
	// package (not the meta-package linux-image-arm64).
	kdebs, _ := filepath.Glob(filepath.Join(root, "var/cache/apt/archives/linux-image-*-arm64_*_arm64.deb"))
	if len(kdebs) != 1 {
		t.Fatalf("want one arm64 kernel package in the root, have %v", kdebs)
	}
	kernel := filepath.Join(work, "kernel")
	MustRun(t, "dpkg-deb", "-x", kdebs[0], kernel)
	vmlinuz, _ := filepath.Glob(filepath.Join(kernel, "boot/vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(kernel, "lib/modules/*"))
	if len(vmlinuz) != 1 || len(mods) != 1 {
		t.Fatalf("want one kernel and one module tree in %s, have %v %v", kdebs[0], vmlinuz, mods)
	}
	version := filepath.Base(mods[0])
	MustRun(t, "cp", vmlinuz[0], img.kernel)
	initramfs := firstBootInitramfs(t, work, mods[0])

	write := func(path, text string, mode fs.FileMode) {
		t.Helper()
		writeFile(t, root, path, text, mode)
	}
	write("keycab-setup.sh", vmArm64Setup, 0o755)
	// dpkg does not sync each file it writes (the disk is a file the
	// build throws away if the boot fails); vmArm64Setup removes this.
	// (debootstrap's second stage has its own policy-rc.d, so that no
	// service starts while it configures the packages.)
	write("etc/dpkg/dpkg.cfg.d/keycab-vm-unsafe-io", "force-unsafe-io\n", 0o644)
	// Debian's initramfs with only the modules the VM boots from
	// (MODULES=list, and a hook adding them) rather than most of the
	// kernel's: under TCG, each of the thousands of modules that
	// MODULES=most copies costs seconds of emulated shell.
	write("etc/initramfs-tools/conf.d/keycab-vm", "MODULES=list\n", 0o644)
	write("etc/initramfs-tools/hooks/keycab-vm", vmArm64InitramfsHook, 0o755)
	vmAccess(t, root, img.sshKey)

	disk := img.disk + ".part"
	MustRun(t, "truncate", "-s", "4G", disk)
	MustRun(t, "mkfs.ext4", "-q", "-F", "-L", "keycab-root", "-d", root, disk)

	// The first boot: debootstrap's second stage and the setup, as the
	// guest, under TCG; vminit powers the VM off when done.
	start = time.Now()
	console := filepath.Join(work, "first-boot.log")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, append(vmArm64Machine(),
		"-kernel", img.kernel, "-initrd", initramfs, "-append", "console=ttyAMA0 rdinit=/init panic=-1",
		"-drive", "file="+disk+",format=raw,if=none,id=d0,cache=unsafe", "-device", "virtio-blk-pci,drive=d0",
		"-device", "virtio-rng-pci", "-serial", "file:"+console, "-monitor", "none")...)
	var qerr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &qerr, &qerr
	err = cmd.Run()
	log, _ := os.ReadFile(console)
	if err != nil || !strings.Contains(string(log), "\nvminit: done") {
		t.Fatalf("the arm64 image's first boot (second stage, setup) after %v: qemu %v %s; serial console (last lines):\n%s",
			time.Since(start).Round(time.Second), err, qerr.String(), lastLines(string(log), 60))
	}
	for _, l := range strings.Split(string(log), "\n") {
		if strings.HasPrefix(l, "vminit: ") && strings.Contains(l, " took ") {
			t.Log(strings.TrimSpace(l))
		}
	}
	t.Logf("first boot under TCG (debootstrap's second stage, setup): %v", time.Since(start).Round(time.Second))

	// Debian's initramfs, made in the guest by the kernel's package.
	MustRun(t, "debugfs", "-R", "dump /boot/initrd.img-"+version+" "+img.initrd, disk)
	if st, err := os.Stat(img.initrd); err != nil || st.Size() < 1<<20 {
		t.Fatalf("no initramfs /boot/initrd.img-%s in the image (%v)", version, err)
	}
	if err := os.Rename(disk, img.disk); err != nil {
		t.Fatal(err)
	}
	manifest := "packages: " + strings.Join(img.packages, " ") + "\ndependencies of the keycab packages: " + strings.Join(img.dependencies, " ") + "\nkernel: " + version + "\n"
	if err := os.WriteFile(filepath.Join(img.dir, "ready"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// vmArm64Machine are qemu's options for the arm64 guest: the virt board
// under TCG (multi-threaded) with a Cortex-A72, the Raspberry Pi 4's
// core (-cpu max would emulate pointer authentication, which is slow
// under TCG), 2 CPUs and 2 GiB, no display, no default devices, and no
// reboot: the guest's reboot or power-off ends qemu.
func vmArm64Machine() []string {
	return []string{"-M", "virt", "-accel", "tcg,thread=multi", "-cpu", "cortex-a72", "-m", "2048", "-smp", "2",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"}
}

// firstBootInitramfs writes the initramfs of the image's first boot into
// dir and returns its path: an uncompressed newc cpio archive of vminit,
// built for arm64, as /init, the modules vmArm64FirstBootModules need
// from the kernel's module tree mods, and /modules, the list of them in
// the order they load.
func firstBootInitramfs(t *testing.T, dir, mods string) string {
	t.Helper()
	// Each module's file, by the name its .modinfo dependencies use.
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(mods, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			files[strings.ReplaceAll(strings.TrimSuffix(d.Name(), ".ko"), "-", "_")] = p
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	seen := map[string]bool{}
	var add func(name string)
	add = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		p, ok := files[name]
		if !ok {
			t.Fatalf("kernel module %s: not in %s", name, mods)
		}
		for _, dep := range moduleDepends(t, p) {
			add(dep)
		}
		order = append(order, name)
	}
	for _, m := range vmArm64FirstBootModules {
		add(m)
	}

	bin := filepath.Join(dir, "vminit")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "keycab.dev/keycab/deploy/vminit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build vminit for arm64: %v\n%s", err, out)
	}
	var a cpioArchive
	a.dir("lib")
	a.dir("lib/modules")
	initBin, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	a.file("init", 0o755, initBin)
	var list strings.Builder
	for _, name := range order {
		b, err := os.ReadFile(files[name])
		if err != nil {
			t.Fatal(err)
		}
		a.file("lib/modules/"+name+".ko", 0o644, b)
		fmt.Fprintf(&list, "/lib/modules/%s.ko\n", name)
	}
	a.file("modules", 0o644, []byte(list.String()))
	t.Logf("first boot's modules: %s", strings.Join(order, " "))
	out := filepath.Join(dir, "first-boot.cpio")
	if err := os.WriteFile(out, a.close(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// moduleDepends returns the modules the kernel module file path depends
// on: the depends= entry of its .modinfo section (NUL-separated
// key=value strings), read with debug/elf since the host's modinfo may
// not be there, or may not read another architecture's modules.
func moduleDepends(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		t.Fatalf("%s has no .modinfo section", path)
	}
	b, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok && len(v) > 0 {
			return strings.Split(string(v), ",")
		}
	}
	return nil
}

// cpioArchive builds a cpio archive in the "newc" format the kernel
// unpacks an initramfs from: for each entry a header of 13 eight-digit
// hexadecimal fields after the magic 070701, the name with its NUL, and
// the data, each padded to 4 bytes; a TRAILER!!! entry ends it.
type cpioArchive struct {
	b   bytes.Buffer
	ino int
}

func (a *cpioArchive) entry(name string, mode uint32, data []byte) {
	a.ino++
	pad := func() {
		for a.b.Len()%4 != 0 {
			a.b.WriteByte(0)
		}
	}
	fmt.Fprintf(&a.b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		a.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	a.b.WriteString(name)
	a.b.WriteByte(0)
	pad()
	a.b.Write(data)
	pad()
}

// dir adds a directory (its parents must be added first).
func (a *cpioArchive) dir(name string) { a.entry(name, 0o040755, nil) }

// file adds a regular file with permissions perm.
func (a *cpioArchive) file(name string, perm uint32, data []byte) { a.entry(name, 0o100000|perm, data) }

// close ends the archive and returns it.
func (a *cpioArchive) close() []byte {
	a.entry("TRAILER!!!", 0, nil)
	return a.b.Bytes()
}

// vmARM64 is the arm64 VM (vmArm64Machine: TCG, a Cortex-A72), booted
// as the amd64 one is (bootVM), its console on the PL011 (ttyAMA0).
var vmARM64 = vmArch{
	qemu: "qemu-system-aarch64", qemuPackage: "qemu-system-arm",
	machine: func() ([]string, string) { return vmArm64Machine(), "TCG: the host is not arm64" },
	console: "ttyAMA0",
}

// vmArm64KioskUnit is the drop-in that runs the package's unit on the
// simulated cabinet (--sim, as make demo runs the kiosk) with the data
// directory the unit's condition looks at, the terminal console on
// keycab-vm-console.service's FIFO (vmUnits) and quick sync
// timing; the rest (Type=notify, the watchdog, the user, the PAM
// session, the sandbox) is the package's.
const vmArm64KioskUnit = `[Unit]
Requires=keycab-vm-console.service
After=keycab-vm-console.service

[Service]
ExecStart=
ExecStart=/usr/bin/keycab-kiosk --sim --data /var/lib/keycab --headless --push-every 200ms --heartbeat-every 1s --long-poll 2s --sync-log-every 1s
StandardInput=file:/run/keycab-console
StandardOutput=append:/run/keycab-console.out
`

// TestVMArm64 is the arm64 smoke test: it boots a Debian Bookworm arm64
// VM under qemu's TCG (MustVMArm64Image, bootVM), installs the
// arm64 keycab and keycab-kiosk packages of KEYCAB_DIST in it with apt,
// enrols the kiosk (on a simulated cabinet) with a keycab-hq the test
// runs on the host's loopback, starts it under the package's systemd
// unit and its watchdog, and checks at HQ that it is enrolled and
// heartbeating. The long flows on kernel devices stay with TestVMKiosk
// (amd64, KVM).
//
// It runs only with KEYCAB_VM_ARM64=1 (make vm-arm64-test): it needs
// root (debootstrap), qemu-system-aarch64 and the Debian mirror.
func TestVMArm64(t *testing.T) {
	if os.Getenv("KEYCAB_VM_ARM64") == "" {
		t.Skip("KEYCAB_VM_ARM64 is not set: run make vm-arm64-test")
	}
	total := time.Now()
	dist := distDir(t)
	if os.Geteuid() != 0 {
		t.Fatal("vm-arm64-test needs root (debootstrap)")
	}
	var debPaths []string
	for _, pkg := range []string{"keycab", "keycab-kiosk"} {
		m, _ := filepath.Glob(filepath.Join(dist, pkg+"_*_arm64.deb"))
		if len(m) != 1 {
			t.Fatalf("want one %s arm64 package in %s, have %v", pkg, dist, m)
		}
		debPaths = append(debPaths, m[0])
	}
	img := MustVMArm64Image(t, debPaths)

	// HQ on the host's loopback, with the demo organisation.
	hqBin, dsn, env, hqAddr := startVMHQ(t)

	start := time.Now()
	v := bootVM(t, vmARM64, img, hqAddr, 10*time.Minute)
	t.Logf("arm64 VM up (SSH answers) in %v", time.Since(start).Round(100*time.Millisecond))
	out, err := v.try(5*time.Minute, "systemctl is-system-running --wait")
	t.Logf("booted in %v: %s", time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(out))
	if err != nil {
		t.Logf("failed units: %s", v.run(t, "systemctl --failed --no-legend --no-pager; true"))
	}
	machine := strings.Fields(v.run(t, "uname -m; dpkg --print-architecture; uname -r"))
	t.Logf("uname -m: %v", machine)
	if len(machine) != 3 || machine[0] != "aarch64" || machine[1] != "arm64" {
		t.Fatalf("the guest is %v, want aarch64 with dpkg's architecture arm64", machine)
	}

	// The packages, installed with apt from the files alone: the guest
	// has no mirror, the image holds their dependencies.
	installed := time.Now()
	v.copyIn(t, "/tmp/debs", debPaths...)
	var inVM []string
	for _, p := range debPaths {
		inVM = append(inVM, "/tmp/debs/"+filepath.Base(p))
	}
	out = v.run(t, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=60 "+strings.Join(inVM, " "))
	t.Logf("apt-get install (%v): %s", time.Since(installed).Round(100*time.Millisecond), lastLines(out, 2))
	if st := strings.TrimSpace(v.run(t, "systemctl is-enabled keycab-kiosk.service || true")); st != "enabled" {
		t.Errorf("keycab-kiosk.service is %q after install, want enabled", st)
	}
	if st := strings.TrimSpace(v.run(t, "systemctl is-active keycab-kiosk.service || true")); st == "active" {
		t.Errorf("keycab-kiosk.service runs before enrolment")
	}
	pkgs := strings.TrimSpace(v.run(t, `dpkg-query -W -f '${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\n' keycab keycab-kiosk`))
	t.Logf("installed: %s", strings.ReplaceAll(pkgs, "\n", "; "))
	for _, l := range strings.Split(pkgs, "\n") {
		if f := strings.Fields(l); len(f) != 4 || f[2] != "arm64" || f[3] != "ii" {
			t.Errorf("installed package %q, want arm64 and ii", l)
		}
	}

	// Enrol as the kiosk's user, through the guestfwd to HQ, on the
	// simulated cabinet, into the data directory of the unit's condition.
	enrolVMKiosk(t, v, hqBin, dsn, env, "--sim --data /var/lib/keycab --name arm64-kiosk")
	console := "/etc/systemd/system/keycab-vm-console.service"
	v.run(t, fmt.Sprintf("cat > %s <<'EOF'\n%sEOF", console, vmUnits[console]))
	v.run(t, "mkdir -p /etc/systemd/system/keycab-kiosk.service.d && cat > /etc/systemd/system/keycab-kiosk.service.d/vm-arm64.conf <<'EOF'\n"+vmArm64KioskUnit+"EOF")
	if out, err := v.try(5*time.Minute, "systemctl daemon-reload && systemctl start keycab-kiosk.service"); err != nil {
		t.Fatalf("start keycab-kiosk.service: %v %s\n%s", err, out, v.run(t, "systemctl status --no-pager keycab-kiosk.service; journalctl --no-pager -o cat _COMM=keycab-kiosk | tail -n 20"))
	}
	show := v.run(t, "systemctl show keycab-kiosk.service -p ActiveState -p SubState -p Type -p WatchdogUSec -p User")
	for _, want := range []string{"ActiveState=active", "SubState=running", "Type=notify", "WatchdogUSec=30s", "User=keycab"} {
		if !strings.Contains(show, want+"\n") {
			t.Errorf("keycab-kiosk.service: no %s in\n%s", want, show)
		}
	}

	// At HQ: the kiosk is enrolled and heartbeats.
	st, err := hqstore.Open(context.Background(), dsn, hqstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc := ownerScope(t, st, env["KEYCAB_DEMO_EMAIL"])
	var health hqstore.KioskHealth
	first := time.Time{}
	testenv.Eventually(t, 2*time.Minute, "two heartbeats of arm64-kiosk at HQ", func() bool {
		hs, err := st.KioskLogs().ListKioskHealth(context.Background(), sc, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			if h.Name == "arm64-kiosk" && !h.Heartbeat.At.IsZero() {
				health = h
				if first.IsZero() {
					first = h.Heartbeat.At
				}
				return h.Heartbeat.At.After(first) && h.Online
			}
		}
		return false
	})
	t.Logf("enrolled and heartbeating %v after boot: kiosk %s, software %q, config version %d, log size %d",
		time.Since(start).Round(100*time.Millisecond), health.ID, health.Heartbeat.Software, health.Heartbeat.ConfigVersion, health.Heartbeat.LogSize)
	// Still running under its watchdog, never restarted.
	show = v.run(t, "systemctl show keycab-kiosk.service -p ActiveState -p NRestarts")
	if !strings.Contains(show, "ActiveState=active\n") || !strings.Contains(show, "NRestarts=0\n") {
		t.Errorf("keycab-kiosk.service after the heartbeats:\n%s", show)
	}
	t.Logf("arm64 smoke test: %v in all", time.Since(total).Round(time.Second))
}
