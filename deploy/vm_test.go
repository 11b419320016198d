package deploy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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
	return cachedVMImage(t, debs, "amd64", "vm", vmImageVersion, vmPackages, buildVMImage)
}

// cachedVMImage returns the image of architecture arch for the packages
// debs from $cache/dir, named by a digest of version, packages and the
// debs' dependencies, which build builds when it is not there.
func cachedVMImage(t *testing.T, debs []string, arch, dir, version string, packages []string, build func(*testing.T, vmImage, string)) vmImage {
	t.Helper()
	var deps []string
	for _, deb := range debs {
		deps = append(deps, debDepends(t, deb)...)
	}
	slices.Sort(deps)
	deps = slices.Compact(deps)
	sum := sha256.Sum256([]byte(version + "\n" + strings.Join(packages, " ") + "\n" + strings.Join(deps, " ")))
	cache := chrootCache(t)
	img := vmImage{dir: filepath.Join(cache, dir, "bookworm-"+arch+"-"+hex.EncodeToString(sum[:6])), packages: packages, dependencies: deps}
	img.disk, img.kernel, img.initrd = filepath.Join(img.dir, "root.raw"), filepath.Join(img.dir, "vmlinuz"), filepath.Join(img.dir, "initrd.img")
	img.sshKey = filepath.Join(img.dir, "id_ed25519")
	if _, err := os.Stat(filepath.Join(img.dir, "ready")); err == nil {
		t.Logf("%s VM image %s (cached)", arch, img.dir)
		return img
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	start := time.Now()
	build(t, img, cache)
	t.Logf("%s VM image %s built in %v", arch, img.dir, time.Since(start).Round(time.Second))
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
		writeFile(t, root, path, text, mode)
	}
	write("etc/hostname", "keycab-vm\n", 0o644)
	write("etc/hosts", "127.0.0.1 localhost\n127.0.1.1 keycab-vm\n", 0o644)
	write("etc/fstab", "/dev/vda / ext4 defaults,errors=remount-ro 0 1\n", 0o644)
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

	vmAccess(t, root, img.sshKey)
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

// vmAccess gives the image root its network (DHCP on every interface;
// the user-mode networks' DHCP gives eth0 10.0.2.15) and the test its
// way in: an SSH key made with the image, sshKey, which root accepts.
func vmAccess(t *testing.T, root, sshKey string) {
	t.Helper()
	writeFile(t, root, "etc/systemd/network/10-eth.network", "[Match]\nName=eth* en*\n\n[Network]\nDHCP=ipv4\n", 0o644)
	MustRun(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "keycab-vm-test", "-f", sshKey)
	pub, err := os.ReadFile(sshKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "root/.ssh/authorized_keys", string(pub), 0o600)
	writeFile(t, root, "etc/ssh/sshd_config.d/keycab-vm.conf", "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n", 0o644)
}

// writeFile writes text into the file path under root, making its
// directories.
func writeFile(t *testing.T, root, path, text string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
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

// vmArch is what booting a VM of one architecture takes besides its
// image.
type vmArch struct {
	qemu, qemuPackage string // the qemu-system program and its Debian package
	// machine returns qemu's options for the machine (accelerator, CPU,
	// memory, CPUs, no default devices, no reboot), and why it chose them.
	machine func() ([]string, string)
	console string   // the guest's serial console
	devices []string // further devices
	uart    bool     // a second serial port (ttyS1) on a unix socket
}

// vmAMD64 is the amd64 VM: KVM where usable (vmAccel), 1 GiB, the
// i6300esb watchdog and a second UART for the RDM6300 reader.
var vmAMD64 = vmArch{
	qemu: "qemu-system-x86_64", qemuPackage: "qemu-system-x86",
	machine: func() ([]string, string) {
		accel, why := vmAccel()
		return append(accel, "-m", "1024", "-smp", "2", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"), why
	},
	console: "ttyS0",
	devices: []string{"-device", "i6300esb"},
	uart:    true,
}

// vm is a qemu guest booted from a vmImage: its disk a qcow2 overlay on
// the image (the image is not changed) that keeps the guest's writes
// from one boot to the next, as a Pi's SD card does across power cuts. It
// is reached by SSH through a port forwarded from the host's loopback.
type vm struct {
	arch   vmArch
	img    vmImage
	hqAddr string
	dir    string // the test's directory: the overlay, each boot's console and sockets
	disk   string // the overlay
	boots  int

	sshPort string
	console string // this boot's serial console's file
	uart    string // the unix socket of this boot's second serial port (ttyS1)
	qmpPath string // the unix socket of this boot's QMP monitor
	control string // the socket of this boot's SSH master connection
	master  *exec.Cmd
	cmd     *exec.Cmd
	qerr    *bytes.Buffer
	done    chan error
}

// bootVM boots img, of architecture arch, (vm.boot) on a new overlay and
// waits up to wait for SSH to answer.
func bootVM(t *testing.T, arch vmArch, img vmImage, hqAddr string, wait time.Duration) *vm {
	t.Helper()
	testenv.MustHaveTool(t, arch.qemu, arch.qemuPackage)
	qemuImg := testenv.MustHaveTool(t, "qemu-img", "qemu-utils")
	testenv.MustHaveTool(t, "ssh", "openssh-client")
	v := &vm{arch: arch, img: img, hqAddr: hqAddr, dir: t.TempDir()}
	v.disk = filepath.Join(v.dir, "disk.qcow2")
	MustRun(t, qemuImg, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", img.disk, v.disk)
	t.Cleanup(func() {
		v.powerCut()
		if t.Failed() {
			b, _ := os.ReadFile(v.console)
			t.Logf("serial console of boot %d (last lines):\n%s", v.boots, lastLines(string(b), 60))
		}
	})
	v.boot(t, wait)
	return v
}

// boot starts qemu on the VM's disk (its architecture's machine): the
// serial console to a file of this boot, on amd64 a second serial port
// (ttyS1, where vmWiring's RDM6300 reader is) on a unix socket the test
// writes into, the QMP monitor on another, and two user-mode networks
// restricted to their forwards on the host's loopback: eth0
// (10.0.2.0/24) reaches only vmHQAddr, relayed to hqAddr (the cabinet's
// network, which vm.link cuts), eth1 (10.0.3.0/24) only answers SSH from
// the host (the test's way in, which stays up). It waits up to wait for
// SSH to answer.
func (v *vm) boot(t *testing.T, wait time.Duration) {
	t.Helper()
	qemu := testenv.MustHaveTool(t, v.arch.qemu, v.arch.qemuPackage)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	v.boots++
	n := strconv.Itoa(v.boots)
	v.sshPort = freePortNumber(t)
	v.console = filepath.Join(v.dir, "console-"+n+".log")
	v.uart = filepath.Join(v.dir, "ttyS1-"+n+".sock")
	v.qmpPath = filepath.Join(v.dir, "qmp-"+n+".sock")
	v.done = make(chan error, 1)
	machine, why := v.arch.machine()
	if v.boots == 1 {
		t.Logf("%s %v: %s; serial consoles in %s", v.arch.qemu, machine, why, v.dir)
	}
	args := append(machine,
		"-kernel", v.img.kernel, "-initrd", v.img.initrd,
		"-append", "root=/dev/vda rw console="+v.arch.console+" net.ifnames=0 panic=-1",
		"-drive", "file="+v.disk+",format=qcow2,if=none,id=d0", "-device", "virtio-blk-pci,drive=d0",
		"-netdev", fmt.Sprintf("user,id=n0,restrict=on,guestfwd=tcp:%s-cmd:%s", vmHQAddr, self),
		"-device", "virtio-net-pci,netdev=n0",
		"-netdev", fmt.Sprintf("user,id=n1,net=10.0.3.0/24,restrict=on,hostfwd=tcp:127.0.0.1:%s-:22", v.sshPort),
		"-device", "virtio-net-pci,netdev=n1",
		"-device", "virtio-rng-pci", "-serial", "file:"+v.console)
	if v.arch.uart {
		args = append(args, "-serial", "unix:"+v.uart+",server=on,wait=off")
	}
	args = append(append(args, v.arch.devices...), "-qmp", "unix:"+v.qmpPath+",server=on,wait=off", "-monitor", "none")
	v.cmd = exec.Command(qemu, args...)
	v.cmd.Env = append(os.Environ(), "KEYCAB_VM_RELAY="+v.hqAddr)
	v.qerr = &bytes.Buffer{}
	v.cmd.Stdout, v.cmd.Stderr = v.qerr, v.qerr
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, done := v.cmd, v.done
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(wait)
	for {
		select {
		case err := <-v.done:
			v.done <- err
			b, _ := os.ReadFile(v.console)
			t.Fatalf("qemu ended: %v\n%s\nserial console (last lines):\n%s", err, v.qerr.String(), lastLines(string(b), 60))
		default:
		}
		if _, err := v.try(20*time.Second, "true"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(v.console)
			t.Fatalf("no SSH into the VM after %v; serial console:\n%s", wait, lastLines(string(b), 60))
		}
		time.Sleep(time.Second)
	}
	// One SSH connection for the rest of the boot, which every command
	// shares (ControlMaster): a login of its own costs seconds under TCG
	// (the key exchange, sshd's re-exec, the PAM session). A command run
	// before the master listens, or after it died, connects on its own.
	v.control = filepath.Join(v.dir, "ssh-"+n)
	v.master = exec.Command("ssh", append([]string{"-M", "-N"}, v.sshArgs()...)...)
	if err := v.master.Start(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := os.Stat(v.control); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("boot %d: the SSH master connection did not start: each command logs in on its own", v.boots)
}

// powerCut ends the VM at once, as pulling a Pi's plug does: qemu is
// killed (SIGKILL), so the guest's kernel flushes nothing; what it had
// written to the disk stays, what was in its page cache is gone.
func (v *vm) powerCut() {
	if v.master != nil {
		v.master.Process.Kill()
		v.master.Wait()
		v.master = nil
		os.Remove(v.control)
		v.control = ""
	}
	if v.cmd == nil || v.cmd.Process == nil {
		return
	}
	v.cmd.Process.Kill()
	err := <-v.done
	v.done <- err
}

// qmp runs a QMP command on the running VM and returns its answer.
func (v *vm) qmp(t *testing.T, command string, args any) json.RawMessage {
	t.Helper()
	c, err := net.DialTimeout("unix", v.qmpPath, 5*time.Second)
	if err != nil {
		t.Fatalf("QMP: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	dec := json.NewDecoder(c)
	answer := func(what string) json.RawMessage {
		for {
			var m struct {
				Return json.RawMessage `json:"return"`
				Error  *struct {
					Class, Desc string
				} `json:"error"`
				QMP   json.RawMessage `json:"QMP"`
				Event string          `json:"event"`
			}
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("QMP %s: %v", what, err)
			}
			switch {
			case m.Error != nil:
				t.Fatalf("QMP %s: %s: %s", what, m.Error.Class, m.Error.Desc)
			case m.Return != nil:
				return m.Return
			}
		}
	}
	send := func(cmd string, args any) json.RawMessage {
		b, err := json.Marshal(map[string]any{"execute": cmd, "arguments": args})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatalf("QMP %s: %v", cmd, err)
		}
		return answer(cmd)
	}
	var greeting map[string]json.RawMessage
	if err := dec.Decode(&greeting); err != nil || greeting["QMP"] == nil {
		t.Fatalf("QMP greeting: %v %v", greeting, err)
	}
	send("qmp_capabilities", map[string]any{})
	return send(command, args)
}

// link sets the cabinet's network (eth0, the way to HQ) up or down, as
// plugging or pulling its cable does; SSH (eth1) stays.
func (v *vm) link(t *testing.T, up bool) {
	t.Helper()
	v.qmp(t, "set_link", map[string]any{"name": "n0", "up": up})
}

// sshArgs are ssh's options for the guest: its key, this boot's master
// connection, no host key checks (each boot of the image is new, and the
// port is on loopback), bounded connection time.
func (v *vm) sshArgs() []string {
	control := "none"
	if v.control != "" {
		control = v.control
	}
	return []string{"-i", v.img.sshKey, "-p", v.sshPort, "-o", "ControlPath=" + control, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
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
