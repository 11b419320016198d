package deploy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/qrlabel"
	"keycab.dev/keycab/internal/testenv"
)

// vmImageVersion changes when the way the image is built changes, so
// that a cached image built the old way is not used.
const vmImageVersion = "5"

// vmPackages are the Debian packages of the VM image besides
// debootstrap's minbase and the dependencies of the keycab packages: a
// kernel, systemd as init with udev and logind (the kiosk's unit opens a
// PAM session), networkd for the user-mode network's DHCP, and sshd, the
// test's way in.
var vmPackages = []string{
	"linux-image-amd64", "initramfs-tools", "systemd", "systemd-sysv", "udev", "dbus", "libpam-systemd",
	"kmod", "iproute2", "procps", "openssh-server",
}

// vmHQAddr is the guest's address of HQ: a guestfwd, the only way out of
// the guest's restricted user-mode network, relayed to HQ on the host's
// loopback.
const vmHQAddr = "10.0.2.100:80"

// TestMain lets the test binary serve as the relay qemu's guestfwd runs
// for each connection the guest opens to vmHQAddr: with
// KEYCAB_VM_RELAY=HOST:PORT set it copies stdin to HOST:PORT and back,
// and exits.
func TestMain(m *testing.M) {
	if addr := os.Getenv("KEYCAB_VM_RELAY"); addr != "" {
		os.Exit(relay(addr))
	}
	os.Exit(m.Run())
}

// relay joins stdin and stdout to a TCP connection to addr.
func relay(addr string) int {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 1
	}
	defer c.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(c, os.Stdin); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(os.Stdout, c); os.Stdout.Close(); done <- struct{}{} }()
	<-done
	<-done
	return 0
}

// vmImage is a cached VM image: a raw ext4 root file system and the
// kernel and initramfs it boots with (qemu's direct kernel boot, no
// bootloader), and the SSH key its root accepts.
type vmImage struct {
	dir                    string
	disk, kernel, initrd   string
	sshKey                 string
	packages, dependencies []string
}

// debDepends returns the package names of the Depends field of a .deb,
// without versions and with the first of each alternative.
func debDepends(t *testing.T, deb string) []string {
	t.Helper()
	field := strings.TrimSpace(MustRun(t, "dpkg-deb", "-f", deb, "Depends"))
	var out []string
	for _, d := range strings.Split(field, ",") {
		d, _, _ = strings.Cut(d, "|")
		d, _, _ = strings.Cut(strings.TrimSpace(d), " ")
		if d != "" && !strings.HasPrefix(d, "keycab") {
			out = append(out, d)
		}
	}
	return out
}

// MustVMImage returns the Debian Bookworm amd64 VM image for the keycab
// packages debs, building it into the cache when it is not there:
// debootstrap (minbase, from the mirror this machine's apt uses, its
// packages kept in the cache) with vmPackages and the packages' own
// dependencies, so that the guest, which has no way to a mirror, can
// install them. The image's name is a digest of what went into it.
func MustVMImage(t *testing.T, debs []string) vmImage {
	t.Helper()
	var deps []string
	for _, deb := range debs {
		deps = append(deps, debDepends(t, deb)...)
	}
	slices.Sort(deps)
	deps = slices.Compact(deps)
	sum := sha256.Sum256([]byte(vmImageVersion + "\n" + strings.Join(vmPackages, " ") + "\n" + strings.Join(deps, " ")))
	cache := chrootCache(t)
	img := vmImage{dir: filepath.Join(cache, "vm", "bookworm-amd64-"+hex.EncodeToString(sum[:6])), packages: vmPackages, dependencies: deps}
	img.disk, img.kernel, img.initrd = filepath.Join(img.dir, "root.raw"), filepath.Join(img.dir, "vmlinuz"), filepath.Join(img.dir, "initrd.img")
	img.sshKey = filepath.Join(img.dir, "id_ed25519")
	if _, err := os.Stat(filepath.Join(img.dir, "ready")); err == nil {
		t.Logf("VM image %s (cached)", img.dir)
		return img
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	start := time.Now()
	buildVMImage(t, img, cache)
	t.Logf("VM image %s built in %v", img.dir, time.Since(start).Round(time.Second))
	return img
}

// buildVMImage builds img (MustVMImage).
func buildVMImage(t *testing.T, img vmImage, cache string) {
	MustTool(t, "debootstrap")
	MustTool(t, "mkfs.ext4")
	MustTool(t, "ssh-keygen")
	mirror, err := exec.Command("./mirror.sh").Output()
	if err != nil {
		t.Fatalf("mirror.sh: %v", err)
	}
	// Images of other package lists (1 GB each) and builds that did not
	// finish go; this one is built afresh.
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	stale, _ := filepath.Glob(filepath.Join(cache, "vm", "*"))
	for _, d := range stale {
		if strings.Contains(string(mounts), " "+d+"/") {
			t.Fatalf("%s has something mounted in it (a build that could not unmount): unmount it and remove it", d)
		}
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	debCache := filepath.Join(cache, "vm-debootstrap")
	archives := filepath.Join(cache, "chroot-apt")
	for _, d := range []string{img.dir, debCache, archives} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	work, err := os.MkdirTemp(filepath.Join(cache, "vm"), "build-")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(work, "root")
	proc := filepath.Join(root, "proc")
	mounted := false
	defer func() {
		if mounted {
			if out, err := exec.Command("umount", proc).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v %s; %s left in place", proc, err, out, work)
				return
			}
		}
		// Nothing mounted in it is removed with it (buildGPIOSim's bind
		// mount of the apt cache, should its unmount have failed).
		if m, err := os.ReadFile("/proc/self/mounts"); err != nil || strings.Contains(string(m), " "+work+"/") {
			t.Errorf("%s has something mounted in it (%v): left in place", work, err)
			return
		}
		os.RemoveAll(work)
	}()

	include := append(slices.Clone(img.packages), img.dependencies...)
	t.Logf("debootstrap bookworm from %s with %v", strings.TrimSpace(string(mirror)), include)
	MustRun(t, "debootstrap", "--variant=minbase", "--arch=amd64", "--cache-dir="+debCache,
		"--include="+strings.Join(include, ","), "bookworm", root, strings.TrimSpace(string(mirror)))
	MustRun(t, "mount", "-t", "proc", "proc", proc)
	mounted = true

	write := func(path, text string, mode fs.FileMode) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/hostname", "keycab-vm\n", 0o644)
	write("etc/hosts", "127.0.0.1 localhost\n127.0.1.1 keycab-vm\n", 0o644)
	write("etc/fstab", "/dev/vda / ext4 defaults,errors=remount-ro 0 1\n", 0o644)
	// The user-mode network's DHCP gives the guest 10.0.2.15.
	write("etc/systemd/network/10-eth.network", "[Match]\nName=eth* en*\n\n[Network]\nDHCP=ipv4\n", 0o644)
	MustRun(t, "chroot", root, "systemctl", "enable", "systemd-networkd.service", "ssh.service")
	// The serial console shows the boot; nothing logs in there.
	// apt's daily timers would find no mirror, and could hold dpkg's
	// lock when the test installs.
	MustRun(t, "chroot", root, "systemctl", "mask", "serial-getty@ttyS0.service", "apt-daily.timer", "apt-daily-upgrade.timer")
	MustRun(t, "chroot", root, "passwd", "--lock", "root")
	// The GPIO chips as Raspberry Pi OS has them: a gpio group (made here,
	// so that udevd, which reads its rules at boot, knows it) and a udev
	// rule giving it the chips.
	buildGPIOSim(t, root, filepath.Join(cache, "vm-kbuild-apt"))
	MustRun(t, "chroot", root, "groupadd", "--system", "gpio")
	write("etc/udev/rules.d/60-keycab-vm-gpio.rules", vmGPIORules, 0o644)

	MustRun(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "keycab-vm-test", "-f", img.sshKey)
	pub, err := os.ReadFile(img.sshKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	write("root/.ssh/authorized_keys", string(pub), 0o600)
	write("etc/ssh/sshd_config.d/keycab-vm.conf", "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n", 0o644)
	MustRun(t, "chroot", root, "apt-get", "clean")
	os.Remove(filepath.Join(root, "etc/machine-id"))
	write("etc/machine-id", "", 0o444) // systemd makes one at first boot

	kernels, _ := filepath.Glob(filepath.Join(root, "boot/vmlinuz-*"))
	initrds, _ := filepath.Glob(filepath.Join(root, "boot/initrd.img-*"))
	if len(kernels) != 1 || len(initrds) != 1 {
		t.Fatalf("want one kernel and one initramfs in /boot, have %v %v", kernels, initrds)
	}
	MustRun(t, "cp", kernels[0], img.kernel)
	MustRun(t, "cp", initrds[0], img.initrd)

	MustRun(t, "umount", proc)
	mounted = false
	MustRun(t, "truncate", "-s", "4G", img.disk+".part")
	MustRun(t, "mkfs.ext4", "-q", "-F", "-L", "keycab-root", "-d", root, img.disk+".part")
	if err := os.Rename(img.disk+".part", img.disk); err != nil {
		t.Fatal(err)
	}
	manifest := "packages: " + strings.Join(img.packages, " ") + "\ndependencies of the keycab packages: " + strings.Join(img.dependencies, " ") + "\n"
	if err := os.WriteFile(filepath.Join(img.dir, "ready"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// vmAccel returns qemu's accelerator options and why they were chosen:
// KVM with the host's CPU when /dev/kvm opens for reading and writing and
// a hardware KVM module (kvm_intel, kvm_amd) drives it, TCG otherwise.
// KVM_CREATE_VM working is not enough: on a host whose KVM is kvm_pvm
// (nested virtualisation without VMX, as on some cloud machines) only a
// guest kernel built for PVM boots, and Debian's stops after "Probing
// EDD". KEYCAB_VM_ACCEL=kvm or tcg chooses by hand.
func vmAccel() (args []string, why string) {
	kvm := []string{"-enable-kvm", "-cpu", "host"}
	tcg := []string{"-accel", "tcg,thread=multi", "-cpu", "max"}
	switch os.Getenv("KEYCAB_VM_ACCEL") {
	case "kvm":
		return kvm, "KEYCAB_VM_ACCEL=kvm"
	case "tcg":
		return tcg, "KEYCAB_VM_ACCEL=tcg"
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return tcg, fmt.Sprintf("TCG: /dev/kvm: %v", err)
	}
	f.Close()
	for _, mod := range []string{"kvm_intel", "kvm_amd"} {
		if _, err := os.Stat("/sys/module/" + mod); err == nil {
			return kvm, "KVM (" + mod + ")"
		}
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return tcg, "TCG: this host's KVM is kvm_pvm, which boots only PVM guest kernels, not Debian's"
	}
	return tcg, "TCG: /dev/kvm opens but neither kvm_intel nor kvm_amd is loaded"
}

// vm is a running qemu guest booted from a vmImage, its disk a snapshot
// (the image is not changed), reached by SSH through a port forwarded
// from the host's loopback.
type vm struct {
	img     vmImage
	sshPort string
	console string // the serial console's file
	uart    string // the unix socket of the second serial port (ttyS1)
	cmd     *exec.Cmd
	done    chan error
}

// bootVM boots img with qemu-system-x86_64 (KVM when /dev/kvm is usable,
// else TCG): 1 GiB, 2 CPUs, the serial console (ttyS0) to a file in the
// test's directory, a second serial port (ttyS1, where vmWiring's RDM6300
// reader is) on a unix socket the test writes into, a user-mode network restricted to two forwards on the
// host's loopback: SSH from the host, and vmHQAddr from the guest to
// hqAddr. It waits up to wait for SSH to answer.
func bootVM(t *testing.T, img vmImage, hqAddr string, wait time.Duration) *vm {
	t.Helper()
	qemu := testenv.MustHaveTool(t, "qemu-system-x86_64", "qemu-system-x86")
	testenv.MustHaveTool(t, "ssh", "openssh-client")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	v := &vm{img: img, sshPort: freePortNumber(t), console: filepath.Join(tmp, "console.log"), uart: filepath.Join(tmp, "ttyS1.sock"), done: make(chan error, 1)}
	accel, why := vmAccel()
	t.Logf("qemu %v: %s; serial console in %s", accel, why, v.console)
	netdev := fmt.Sprintf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%s-:22,guestfwd=tcp:%s-cmd:%s", v.sshPort, vmHQAddr, self)
	args := append(accel,
		"-m", "1024", "-smp", "2", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", img.kernel, "-initrd", img.initrd,
		"-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1",
		"-drive", "file="+img.disk+",format=raw,if=virtio,snapshot=on",
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
		"-device", "virtio-rng-pci", "-device", "i6300esb",
		"-serial", "file:"+v.console, "-serial", "unix:"+v.uart+",server=on,wait=off", "-monitor", "none")
	v.cmd = exec.Command(qemu, args...)
	v.cmd.Env = append(os.Environ(), "KEYCAB_VM_RELAY="+hqAddr)
	var qerr bytes.Buffer
	v.cmd.Stdout, v.cmd.Stderr = &qerr, &qerr
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { v.done <- v.cmd.Wait() }()
	t.Cleanup(func() {
		v.cmd.Process.Kill()
		<-v.done
		if t.Failed() {
			b, _ := os.ReadFile(v.console)
			t.Logf("serial console (last lines):\n%s", lastLines(string(b), 60))
		}
	})
	deadline := time.Now().Add(wait)
	for {
		select {
		case err := <-v.done:
			v.done <- err
			t.Fatalf("qemu ended: %v\n%s", err, qerr.String())
		default:
		}
		if _, err := v.try(10*time.Second, "true"); err == nil {
			return v
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(v.console)
			t.Fatalf("no SSH into the VM after %v; serial console:\n%s", wait, lastLines(string(b), 60))
		}
		time.Sleep(time.Second)
	}
}

// sshArgs are ssh's options for the guest: its key, no host key checks
// (each boot of the image is new, and the port is on loopback), bounded
// connection time.
func (v *vm) sshArgs() []string {
	return []string{"-i", v.img.sshKey, "-p", v.sshPort, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "root@127.0.0.1"}
}

// try runs a shell command in the guest as root, for at most timeout,
// and returns its output.
func (v *vm) try(timeout time.Duration, command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", append(v.sshArgs(), command)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v", timeout)
	}
	return string(out), err
}

// run runs a shell command in the guest and fails the test if it fails.
func (v *vm) run(t *testing.T, command string) string {
	t.Helper()
	out, err := v.try(5*time.Minute, command)
	if err != nil {
		t.Fatalf("in the VM: %s: %v\n%s", command, err, out)
	}
	return out
}

// copyIn copies host files into dir in the guest (cat over SSH: no scp
// or sftp needed in the guest).
func (v *vm) copyIn(t *testing.T, dir string, files ...string) {
	t.Helper()
	v.run(t, "mkdir -p "+dir)
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "ssh", append(v.sshArgs(), "cat > "+dir+"/"+filepath.Base(f))...)
		cmd.Stdin = in
		out, err := cmd.CombinedOutput()
		cancel()
		in.Close()
		if err != nil {
			t.Fatalf("copy %s into the VM: %v\n%s", f, err, out)
		}
	}
}

// freePortNumber returns a free TCP port on the host's loopback.
func freePortNumber(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// vmConsoleUnits run the kiosk's terminal console under the package's
// unit in the VM: the drop-in replaces only how the kiosk is started
// (the wiring file the test writes, on the gpio-sim chip and the second
// serial port; the terminal console; quick sync timing), its standard
// input, a FIFO that keycab-vm-console.service holds open (so the console
// never reads end of file) and that the test writes console commands
// into, and its standard output, a file the test reads (the log, standard
// error, stays in the journal). Everything else (Type=notify, the
// watchdog, the user and its groups, the PAM session, the sandbox) is the
// package's.
var vmConsoleUnits = map[string]string{
	"/etc/systemd/system/keycab-vm-console.service": `[Unit]
Description=keycab VM test: holds the kiosk's console FIFO open

[Service]
Type=exec
ExecStartPre=/bin/rm -f /run/keycab-console
ExecStartPre=/usr/bin/mkfifo -m 0600 /run/keycab-console
ExecStart=/bin/sh -c 'exec sleep infinity <>/run/keycab-console'
`,
	"/etc/systemd/system/keycab-kiosk.service.d/vm-test.conf": `[Unit]
Requires=keycab-vm-console.service
After=keycab-vm-console.service

[Service]
ExecStart=
ExecStart=/usr/bin/keycab-kiosk --wiring /etc/keycab/kiosk.conf --headless --push-every 200ms --heartbeat-every 1s --long-poll 2s --sync-log-every 1s
StandardInput=file:/run/keycab-console
StandardOutput=append:/run/keycab-console.out
`,
}

// TestVMKiosk boots a Debian Bookworm VM (MustVMImage, bootVM), installs
// the amd64 keycab and keycab-kiosk packages of KEYCAB_DIST in it with
// apt, makes the cabinet's devices there (vmgpio_test.go, vmguest): GPIO
// lines on a gpio-sim chip, an RDM6300 reader on the second UART, a
// keyboard-wedge reader through uinput, a camera on v4l2loopback, systemd
// on the i6300esb watchdog; writes a wiring file naming them, enrols the
// kiosk with a keycab-hq the test runs on the host's loopback, starts it
// under the package's systemd unit and its watchdog, checks at HQ that it
// is enrolled and heartbeating, and takes and returns a key: the badges
// as RDM6300 frames and as typed keys, the choices on the kiosk's console
// and the fob on the camera, the door and the key sensor as levels the
// test sets on the chip's input lines, the locks as the levels the kiosk
// drives on its output lines. It checks that HQ holds the take and the
// return, that the kiosk does not start on a wiring file that names a
// line the chip does not have, and that the watchdog resets the VM when
// systemd freezes.
//
// It runs only with KEYCAB_VM=1 (make vm-test): it needs root
// (debootstrap, chroot, mount), qemu and the Debian mirror.
func TestVMKiosk(t *testing.T) {
	if os.Getenv("KEYCAB_VM") == "" {
		t.Skip("KEYCAB_VM is not set: run make vm-test")
	}
	dist := distDir(t)
	if os.Geteuid() != 0 {
		t.Fatal("vm-test needs root (debootstrap, chroot, mount)")
	}
	testenv.MustHaveTool(t, "qemu-system-x86_64", "qemu-system-x86")
	var debPaths []string
	for _, pkg := range []string{"keycab", "keycab-kiosk"} {
		m, _ := filepath.Glob(filepath.Join(dist, pkg+"_*_amd64.deb"))
		if len(m) != 1 {
			t.Fatalf("want one %s amd64 package in %s, have %v", pkg, dist, m)
		}
		debPaths = append(debPaths, m[0])
	}
	img := MustVMImage(t, debPaths)

	// HQ on the host's loopback, with the demo organisation.
	bin := testenv.BuildForHost(t, t.TempDir(), "keycab.dev/keycab/cmd/keycab-hq")
	hqBin := filepath.Join(bin, "keycab-hq")
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "hq.db")
	MustRun(t, hqBin, "demo-seed", "--db", dsn, "--out", filepath.Join(dir, "demo.env"))
	env := testenv.ReadEnvFile(t, filepath.Join(dir, "demo.env"))
	hqAddr := "127.0.0.1:" + freePortNumber(t)
	hqLog := &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	hq := exec.CommandContext(ctx, hqBin, "serve", "--db", dsn, "--listen", hqAddr, "--keys", filepath.Join(dir, "hq.keys"),
		"--config-poll", "200ms", "--shutdown-timeout", "5s")
	hq.Stdout, hq.Stderr = hqLog, hqLog
	if err := hq.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		hq.Wait()
		if t.Failed() {
			t.Logf("HQ's log (end):\n%s", lastLines(hqLog.String(), 30))
		}
	})
	testenv.Eventually(t, 30*time.Second, "HQ serving", func() bool { return strings.Contains(hqLog.String(), `"msg":"serving"`) })

	start := time.Now()
	v := bootVM(t, img, hqAddr, 3*time.Minute)
	t.Logf("VM up (SSH answers) in %v: %s", time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(v.run(t, "uname -sr; systemctl is-system-running --wait || true")))

	// The guest reaches HQ only through the guestfwd: not through the
	// host alias 10.0.2.2 (the host's loopback, closed by restrict=on),
	// nor anywhere else.
	_, hqPort, _ := net.SplitHostPort(hqAddr)
	for _, addr := range []string{"10.0.2.2/" + hqPort, "10.0.2.2/22", "1.1.1.1/443"} {
		if out, err := v.try(30*time.Second, "timeout 10 bash -c 'exec 3<>/dev/tcp/"+addr+"' && echo connected"); err == nil || strings.Contains(out, "connected") {
			t.Errorf("the guest connects to %s: the network is not restricted to the forwards (%v %s)", addr, err, out)
		}
	}
	if out, err := v.try(30*time.Second, "timeout 10 bash -c 'exec 3<>/dev/tcp/"+strings.Replace(vmHQAddr, ":", "/", 1)+"' && echo connected"); err != nil || !strings.Contains(out, "connected") {
		t.Errorf("the guest does not reach HQ at %s: %v %s", vmHQAddr, err, out)
	}

	// The packages, installed with apt from the files alone: the guest
	// has no mirror, the image holds their dependencies.
	v.copyIn(t, "/tmp/debs", debPaths...)
	var inVM []string
	for _, p := range debPaths {
		inVM = append(inVM, "/tmp/debs/"+filepath.Base(p))
	}
	out := v.run(t, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=60 "+strings.Join(inVM, " "))
	t.Logf("apt-get install: %s", lastLines(out, 2))
	if st := strings.TrimSpace(v.run(t, "systemctl is-enabled keycab-kiosk.service || true")); st != "enabled" {
		t.Errorf("keycab-kiosk.service is %q after install, want enabled", st)
	}
	// Not enrolled: the unit's condition skips it.
	if st := strings.TrimSpace(v.run(t, "systemctl is-active keycab-kiosk.service || true")); st == "active" {
		t.Errorf("keycab-kiosk.service runs before enrolment")
	}

	// The cabinet's lines: a gpio-sim chip named as HQ's config names the
	// locks and sensors, every key in its slot, and the wiring file.
	chip := gpioChip{v: v, name: strings.TrimSpace(v.run(t, gpioSimScript(vmGPIOLines)))}
	if !strings.HasPrefix(chip.name, "gpiochip") {
		t.Fatalf("gpio-sim made no chip: %q", chip.name)
	}
	for i := 1; i <= 6; i++ {
		chip.set(t, fmt.Sprintf("SLOT%d_SENSE", i), true)
	}
	t.Logf("gpio-sim chip %s (%d lines): %s", chip.name, len(vmGPIOLines), strings.TrimSpace(v.run(t, "ls -l /dev/"+chip.name+"; lsmod | grep -E '^(gpio_sim|irq_sim) '; cat /proc/sys/kernel/tainted")))
	if perm := strings.Fields(v.run(t, "stat -c '%A %G' /dev/"+chip.name)); len(perm) != 2 || perm[1] != "gpio" || perm[0] != "crw-rw----" {
		t.Errorf("/dev/%s is %v, want crw-rw---- of group gpio (the image's udev rule)", chip.name, perm)
	}

	// The hardware watchdog: qemu's i6300esb, which systemd pings
	// (RuntimeWatchdogSec=, as on a cabinet's Pi with bcm2835_wdt).
	v.run(t, fmt.Sprintf("mkdir -p /etc/systemd/system.conf.d && printf '[Manager]\\nRuntimeWatchdogSec=%s\\n' > /etc/systemd/system.conf.d/keycab-watchdog.conf && systemctl daemon-reexec", vmWatchdog))
	wd := v.run(t, "systemctl show -P WatchdogDevice; cat /sys/class/watchdog/watchdog0/identity /sys/class/watchdog/watchdog0/state /sys/class/watchdog/watchdog0/timeout")
	if f := strings.Fields(wd); len(f) < 4 || f[0] != "/dev/watchdog0" || !strings.Contains(wd, "i6300ESB timer\nactive\n"+strings.TrimSuffix(vmWatchdog, "s")+"\n") {
		t.Errorf("systemd does not run the i6300esb watchdog with a %s timeout: %q", vmWatchdog, wd)
	}

	// The keyboard-wedge reader: a uinput keyboard vmguest makes in the
	// guest, typing the lines the test writes into /run/keycab-wedge.
	v.copyIn(t, "/usr/local/bin", filepath.Join(testenv.BuildForHost(t, t.TempDir(), "keycab.dev/keycab/deploy/vmguest"), "vmguest"))
	v.run(t, "chmod 0755 /usr/local/bin/vmguest && systemd-run --unit keycab-vm-wedge --property Type=exec /usr/local/bin/vmguest wedge -name keycab-vm-wedge -fifo /run/keycab-wedge")
	var wedge string
	testenv.Eventually(t, 30*time.Second, "the uinput keyboard keycab-vm-wedge", func() bool {
		wedge = strings.TrimSpace(v.run(t, `for d in /sys/class/input/event*; do [ "$(cat $d/device/name)" = keycab-vm-wedge ] && echo /dev/input/${d##*/}; done; true`))
		return wedge != ""
	})

	// The camera: a v4l2loopback device, its producer vmguest, showing
	// grey until the test has it show ffmpeg's frames of slot 1's fob.
	fobs := strings.Fields(env["KEYCAB_DEMO_FOBS"])
	if len(fobs) == 0 {
		t.Fatalf("demo-seed wrote no fobs: %v", env)
	}
	v.copyIn(t, "/var/tmp", fobFrames(t, fobs[0]))
	v.run(t, "modprobe v4l2loopback video_nr=10 card_label=keycab-vm-camera exclusive_caps=1 && udevadm settle && "+
		"systemd-run --unit keycab-vm-camera --property Type=exec /usr/local/bin/vmguest camera -device /dev/video10 -frames /var/tmp/fob.yuyv -fifo /run/keycab-camera")
	testenv.Eventually(t, 30*time.Second, "vmguest feeding /dev/video10", func() bool {
		return strings.Contains(v.run(t, "journalctl --no-pager -o cat -u keycab-vm-camera; true"), "ready")
	})
	wiring := vmWiring + "\n[reader wedge]\ntype = wedge\ndevice = " + wedge +
		"\n\n[camera]\ntype = v4l2\ndevice = /dev/video10\nwidth = 640\nheight = 480\nfps = 10\n"
	v.run(t, "mkdir -p /etc/keycab && cat > /etc/keycab/kiosk.conf <<'EOF'\n"+wiring+"EOF")

	// Enrol as the kiosk's user, through the guestfwd to HQ.
	tok, err := exec.Command(hqBin, "enrol-token", "--db", dsn, "--as", env["KEYCAB_DEMO_EMAIL"], "--cabinet", env["KEYCAB_DEMO_CABINET"]).Output()
	if err != nil {
		t.Fatalf("keycab-hq enrol-token: %v", err)
	}
	token := strings.TrimSpace(string(tok))
	out = v.run(t, fmt.Sprintf("runuser -u keycab -- keycab-kiosk enroll --wiring /etc/keycab/kiosk.conf --hq http://%s --token %s --name vm-kiosk 2>&1", vmHQAddr, token))
	if !strings.Contains(out, "config version") {
		t.Fatalf("enroll in the VM: %s", out)
	}
	for path, text := range vmConsoleUnits {
		v.run(t, fmt.Sprintf("mkdir -p %s && cat > %s <<'EOF'\n%sEOF", filepath.Dir(path), path, text))
	}
	if out, err := v.try(5*time.Minute, "systemctl daemon-reload && systemctl start keycab-kiosk.service"); err != nil {
		t.Fatalf("start keycab-kiosk.service: %v %s\n%s", err, out, v.run(t, "systemctl status --no-pager keycab-kiosk.service; journalctl --no-pager -o cat _COMM=keycab-kiosk | tail -n 20"))
	}
	show := v.run(t, "systemctl show keycab-kiosk.service -p ActiveState -p SubState -p Type -p WatchdogUSec -p User -p MainPID")
	for _, want := range []string{"ActiveState=active", "SubState=running", "Type=notify", "WatchdogUSec=30s", "User=keycab"} {
		if !strings.Contains(show, want+"\n") {
			t.Errorf("keycab-kiosk.service: no %s in\n%s", want, show)
		}
	}
	// The kiosk holds every line of the chip through the character
	// device (periph's gpioioctl names itself program@pid), its locks
	// secured.
	pid := strings.TrimSpace(v.run(t, "systemctl show -P MainPID keycab-kiosk.service"))
	debug := v.run(t, "mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug; cat /sys/kernel/debug/gpio")
	for _, l := range vmGPIOLines {
		if !regexp.MustCompile(`\(` + l + ` +\|keycab-kiosk@` + pid + ` *\)`).MatchString(debug) {
			t.Errorf("line %s is not held by the kiosk (keycab-kiosk@%s) in /sys/kernel/debug/gpio:\n%s", l, pid, debug)
		}
	}
	t.Logf("the chip's lines in /sys/kernel/debug/gpio:\n%s", strings.TrimSpace(debug))
	if on := chip.released(t); len(on) > 0 {
		t.Errorf("lock lines %v are High (released) after the kiosk started", on)
	}
	testenv.Eventually(t, 30*time.Second, "the kiosk grabbing "+wedge+" (EVIOCGRAB)", func() bool {
		_, err := v.try(30*time.Second, "/usr/local/bin/vmguest grabbed "+wedge)
		return err == nil
	})

	// At HQ: the kiosk is enrolled and heartbeats.
	st, err := hqstore.Open(context.Background(), dsn, hqstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc := ownerScope(t, st, env["KEYCAB_DEMO_EMAIL"])
	var health hqstore.KioskHealth
	first := time.Time{}
	testenv.Eventually(t, 60*time.Second, "two heartbeats of vm-kiosk at HQ", func() bool {
		hs, err := st.KioskLogs().ListKioskHealth(context.Background(), sc, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			if h.Name == "vm-kiosk" && !h.Heartbeat.At.IsZero() {
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

	// A take and a return: the badge on the UART, the choices on the
	// console, the door and the key on the chip's lines.
	uart, err := net.Dial("unix", v.uart)
	if err != nil {
		t.Fatalf("the VM's second serial port: %v", err)
	}
	defer uart.Close()
	mark := 0
	expect := func(after, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := v.run(t, "cat /run/keycab-console.out")
			if i := strings.Index(got[min(mark, len(got)):], want); i >= 0 {
				mark += i + len(want)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s no %q on the kiosk's console; its journal (end):\n%s", after, want,
					lastLines(v.run(t, "tail -c 3000 /run/keycab-console.out; systemctl status --no-pager keycab-kiosk.service; journalctl --no-pager -o short-monotonic -n 30"), 60))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	say := func(line, want string) {
		t.Helper()
		v.run(t, fmt.Sprintf("printf '%%s\\n' '%s' > /run/keycab-console", line))
		expect(fmt.Sprintf("%q", line), want)
	}
	badge := func(code, want string) {
		t.Helper()
		if _, err := uart.Write(rdm6300Frame(code)); err != nil {
			t.Fatalf("write to the VM's ttyS1: %v", err)
		}
		expect("badge "+code+" on the RDM6300 (ttyS1)", want)
	}
	typed := func(code, want string) {
		t.Helper()
		v.run(t, fmt.Sprintf("printf '%%s\\n' '%s' > /run/keycab-wedge", code))
		expect("badge "+code+" typed by the wedge reader", want)
	}
	secured := func(when string) {
		t.Helper()
		var on []string
		testenv.Eventually(t, 30*time.Second, "every lock line Low "+when, func() bool {
			on = chip.released(t)
			return len(on) == 0
		})
	}
	releasedNow := func(want string) {
		t.Helper()
		on := chip.released(t)
		if !slices.Contains(on, want) {
			t.Fatalf("lock line %s is not High (released) with the slot open; High: %v; the kiosk's console and journal (end):\n%s", want, on,
				lastLines(v.run(t, "tail -c 2000 /run/keycab-console.out; journalctl --no-pager -o short-monotonic -n 40"), 80))
		}
		t.Logf("lock lines High with slot 1 open: %v", on)
	}
	ben := "0A00B1C2D4"
	say("status", "Scan your badge")
	badge(ben, "Hello")
	say("take 1", "reasons:")
	say("reason viewing", "Slot 1 is open")
	releasedNow("SLOT1_LOCK")
	chip.set(t, "DOOR_SENSE", true)
	chip.set(t, "SLOT1_SENSE", false)
	expect("slot 1's key sensor Low", "Taken:")
	chip.set(t, "DOOR_SENSE", false)
	secured("after the take")
	say("cancel", "Scan your badge")
	time.Sleep(3100 * time.Millisecond) // the scan cool-down ignores the same badge for 3 s
	typed(ben, "return 1:")
	v.run(t, "echo show > /run/keycab-camera")
	expect("slot 1's fob held up to the camera", "Slot 1 is open")
	releasedNow("SLOT1_LOCK")
	chip.set(t, "DOOR_SENSE", true)
	chip.set(t, "SLOT1_SENSE", true)
	expect("slot 1's key sensor High", "Returned:")
	chip.set(t, "DOOR_SENSE", false)
	secured("after the return")
	say("cancel", "Scan your badge")

	testenv.Eventually(t, 30*time.Second, "the take, the return and the door at HQ", func() bool {
		evs, err := st.ListEvents(context.Background(), sc, hqstore.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var taken, returned, opened, closed bool
		for _, e := range evs {
			if e.KioskID != health.ID {
				continue
			}
			taken = taken || e.Kind == "key.taken"
			returned = returned || e.Kind == "key.returned"
			opened = opened || e.Kind == "door.opened"
			closed = closed || e.Kind == "door.closed"
		}
		return taken && returned && opened && closed
	})
	if out := v.run(t, "systemctl show -P NRestarts keycab-kiosk.service"); strings.TrimSpace(out) != "0" {
		t.Errorf("the kiosk restarted %s times", strings.TrimSpace(out))
	}
	t.Logf("take and return at HQ %v after boot", time.Since(start).Round(100*time.Millisecond))
	if out := v.run(t, "journalctl --no-pager -o cat _COMM=keycab-kiosk | grep -F -e 'no edge detection' -e 'edge wait returns at once' || true"); strings.TrimSpace(out) != "" {
		t.Logf("inputs polled, not edge-driven:\n%s", out)
	}
	// Known, not yet fixed: the unit's PAM session (PAMName=login) moves
	// the kiosk out of the service's cgroup into the session's scope, so
	// the cgroup's settings (DevicePolicy=, DeviceAllow=, accounting) do
	// not apply to it and journalctl -u keycab-kiosk does not show its log
	// (journalctl _COMM=keycab-kiosk does). Logged, for the fix to show.
	t.Logf("the kiosk's cgroup: %s", strings.TrimSpace(v.run(t, "cat /proc/"+pid+"/cgroup")))

	// A wiring file naming a line the chip does not have: the kiosk does
	// not start, and says which line.
	v.run(t, "systemctl stop keycab-kiosk.service")
	secured("after the kiosk stopped")
	bad := strings.Replace(vmWiring, "pin = SLOT6_LOCK\n", "pin = SLOT7_LOCK\n", 1)
	if bad == vmWiring {
		t.Fatal("vmWiring has no pin = SLOT6_LOCK")
	}
	v.run(t, "cat > /etc/keycab/missing-line.conf <<'EOF'\n"+bad+"EOF")
	out, err = v.try(2*time.Minute, "runuser -u keycab -- keycab-kiosk --wiring /etc/keycab/missing-line.conf --headless </dev/null 2>&1")
	t.Logf("keycab-kiosk on a wiring file naming line SLOT7_LOCK: %v\n%s", err, lastLines(out, 3))
	if err == nil || !strings.Contains(out, "pin SLOT7_LOCK not found") || !strings.Contains(out, "keycab-kiosk: ") {
		t.Errorf("the kiosk on a wiring file naming a line the chip lacks: want it to fail naming SLOT7_LOCK, got %v\n%s", err, out)
	}
	secured("after the refused start")

	// The hardware watchdog bites: with systemd (PID 1) frozen, nothing
	// pings the i6300esb, which resets the VM (and qemu, run with
	// -no-reboot, ends) with no orderly shutdown on the console.
	froze := time.Now()
	v.run(t, "echo 1 > /sys/fs/cgroup/init.scope/cgroup.freeze")
	select {
	case err := <-v.done:
		v.done <- err
		t.Logf("systemd frozen: the i6300esb watchdog reset the VM %v later (qemu: %v)", time.Since(froze).Round(100*time.Millisecond), err)
	case <-time.After(3 * time.Minute):
		t.Fatalf("systemd frozen for 3 minutes, and the %s hardware watchdog has not reset the VM", vmWatchdog)
	}
	if b, _ := os.ReadFile(v.console); strings.Contains(string(b), "reboot: ") {
		t.Errorf("the VM shut down in order after systemd froze, not by the watchdog:\n%s", lastLines(string(b), 10))
	}
}

// fobFrames has ffmpeg make a second of 640 x 480 YUYV frames (10, raw,
// as vmguest camera reads them) of text's QR label on a fob held still
// before the camera, a little out of focus and with sensor noise, and
// returns the file, fob.yuyv.
func fobFrames(t *testing.T, text string) string {
	t.Helper()
	ffmpeg := testenv.MustHaveTool(t, "ffmpeg", "ffmpeg")
	dir := t.TempDir()
	png := filepath.Join(dir, "fob.png")
	f, err := os.Create(png)
	if err != nil {
		t.Fatal(err)
	}
	if err := qrlabel.WritePNG(f, text, 4); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "fob.yuyv")
	MustRun(t, ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "color=c=0x6e6e6e:s=640x480:r=10:d=1",
		"-loop", "1", "-framerate", "10", "-i", png,
		"-filter_complex", "[1:v]format=gray,pad=iw+40:ih+40:20:20:color=0x9a9a9a[q];"+
			"[0:v][q]overlay=x=(W-w)/2:y=(H-h)/2:shortest=1,gblur=sigma=1,noise=alls=10:allf=t+u,format=yuyv422",
		"-frames:v", "10", "-f", "rawvideo", "-pix_fmt", "yuyv422", out)
	return out
}

// vmWatchdog is systemd's RuntimeWatchdogSec= in the VM: 15 s, the
// longest the Pi's bcm2835_wdt takes.
const vmWatchdog = "15s"

// ownerScope returns the scope of the member whose account is email.
func ownerScope(t *testing.T, st *hqstore.Store, email string) hqstore.Scope {
	t.Helper()
	ctx := context.Background()
	acc, err := st.Accounts().AccountByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := st.Accounts().Memberships(ctx, acc.ID)
	if err != nil || len(ms) != 1 {
		t.Fatalf("memberships %v %v", ms, err)
	}
	return hqstore.MemberScope(ms[0].OrgID, ms[0].MemberID)
}
