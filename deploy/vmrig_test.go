package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/testenv"
)

// vmUnits are the units and rules the test installs in the guest, which
// make the cabinet's devices at every boot before the kiosk starts, as a
// cabinet's own hardware is there before its Pi boots:
//
//   - keycab-vm-gpio: the gpio-sim chip (gpioUpScript), its inputs at the
//     levels the test last set (gpioChip.set keeps them on disk: a power
//     cut leaves the keys in their slots);
//   - keycab-vm-watch: vmguest watch, recording every line's value from
//     the chip's first moment, before the kiosk holds them;
//   - keycab-vm-wedge: the keyboard-wedge reader (vmguest wedge), and a
//     udev rule naming it /dev/input/keycab-wedge, as a real one is named
//     by its /dev/input/by-id link;
//   - keycab-vm-camera: the camera (v4l2loopback and vmguest camera);
//   - keycab-vm-console and the kiosk's drop-in: the kiosk's terminal
//     console under the package's unit. The drop-in replaces only how the
//     kiosk is started (the wiring file the test writes; the terminal
//     console; quick sync timing), its standard input, a FIFO that
//     keycab-vm-console holds open (so the console never reads end of
//     file) and that the test writes console commands into, and its
//     standard output, a file the test reads (the log, standard error,
//     stays in the journal); and it has the log verified, before the
//     kiosk starts, as the last stop left it (keycab audit verify
//     --allow-unsigned, into /run/keycab-vm-preverify). Everything else
//     (Type=notify, the watchdog, the user and its groups, the PAM
//     session, the sandbox) is the package's.
var vmUnits = map[string]string{
	"/usr/local/lib/keycab-vm/gpio-up": gpioUpScript(vmGPIOLines),
	"/etc/systemd/system/keycab-vm-gpio.service": `[Unit]
Description=keycab VM test: the cabinet's gpio-sim chip
Before=keycab-kiosk.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/lib/keycab-vm/gpio-up
`,
	"/etc/systemd/system/keycab-vm-watch.service": `[Unit]
Description=keycab VM test: every GPIO line's value from the chip's first moment
Requires=keycab-vm-gpio.service
After=keycab-vm-gpio.service
Before=keycab-kiosk.service

[Service]
Type=notify
ExecStart=/usr/local/bin/vmguest watch -sim /sys/kernel/config/gpio-sim/keycab/bank0 -out /run/keycab-vm-watch.log
`,
	"/etc/systemd/system/keycab-vm-wedge.service": `[Unit]
Description=keycab VM test: the keyboard-wedge badge reader
Before=keycab-kiosk.service

[Service]
Type=notify
ExecStart=/usr/local/bin/vmguest wedge -name keycab-vm-wedge -fifo /run/keycab-wedge
ExecStartPost=/bin/udevadm settle
`,
	"/etc/udev/rules.d/61-keycab-vm-wedge.rules": `SUBSYSTEM=="input", KERNEL=="event*", ATTRS{name}=="keycab-vm-wedge", SYMLINK+="input/keycab-wedge"
`,
	"/etc/systemd/system/keycab-vm-camera.service": `[Unit]
Description=keycab VM test: the camera
Before=keycab-kiosk.service

[Service]
Type=notify
ExecStartPre=/sbin/modprobe v4l2loopback video_nr=10 card_label=keycab-vm-camera exclusive_caps=1
ExecStartPre=/bin/udevadm settle
ExecStart=/usr/local/bin/vmguest camera -device /dev/video10 -frames /var/tmp/fob.yuyv -fifo /run/keycab-camera
`,
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
Wants=keycab-vm-gpio.service keycab-vm-watch.service keycab-vm-wedge.service keycab-vm-camera.service
After=keycab-vm-console.service keycab-vm-gpio.service keycab-vm-watch.service keycab-vm-wedge.service keycab-vm-camera.service

[Service]
ExecStartPre=+/bin/sh -c 'runuser -u keycab -- /usr/bin/keycab audit verify --db /var/lib/keycab/kiosk.db --allow-unsigned >/run/keycab-vm-preverify 2>&1; echo "exit $?" >>/run/keycab-vm-preverify'
ExecStart=
ExecStart=/usr/bin/keycab-kiosk --wiring /etc/keycab/kiosk.conf --headless --push-every 200ms --heartbeat-every 1s --long-poll 2s --sync-log-every 1s
StandardInput=file:/run/keycab-console
StandardOutput=append:/run/keycab-console.out
`,
}

// vmWedge is the keyboard-wedge reader's device, the udev rule's link.
const vmWedge = "/dev/input/keycab-wedge"

// vmBen is the demo organisation's badge the test scans.
const vmBen = "0A00B1C2D4"

// vmRig is the kiosk under test in a VM: HQ on the host, the VM, the
// cabinet's devices, and what the test knows of them.
type vmRig struct {
	v       *vm
	hqBin   string
	dsn     string
	env     map[string]string
	st      *hqstore.Store
	sc      hqstore.Scope
	kiosk   string         // the kiosk's ID at HQ
	keySets map[int]string // slot number: the key set HQ's config puts there
	chip    gpioChip
	debs    []string // the keycab and keycab-kiosk packages, installed

	uart      net.Conn
	mark      int       // how far expect has read the kiosk's console
	watchFrom int       // the watch unit's values lockHighs looks past
	lastBadge time.Time // the kiosk ignores the same badge for 3 s
	start     time.Time
}

// TestVMKiosk boots a Debian Bookworm VM (MustVMImage, bootVM), installs
// the amd64 keycab and keycab-kiosk packages of KEYCAB_DIST in it with
// apt, makes the cabinet's devices there (vmUnits, vmgpio_test.go,
// vmguest): GPIO lines on a gpio-sim chip, an RDM6300 reader on the
// second UART, a keyboard-wedge reader through uinput, a camera on
// v4l2loopback, systemd on the i6300esb watchdog; writes a wiring file
// naming them, enrols the kiosk with a keycab-hq the test runs on the
// host's loopback, starts it under the package's systemd unit and its
// watchdog, checks at HQ that it is enrolled and heartbeating, and then:
//
//   - takes and returns a key: the badges as RDM6300 frames and as typed
//     keys, the choices on the kiosk's console and the fob on the camera,
//     the door and the key sensor as levels the test sets on the chip's
//     input lines, the locks as the levels the kiosk drives on its output
//     lines; HQ holds the take and the return;
//   - refuses a wiring file that names a line the chip does not have;
//   - cuts the cabinet's network, takes and returns a key offline, and
//     sees the kiosk catch up with HQ when it is back (vmfault_test.go);
//   - freezes the kiosk (SIGSTOP) with a slot open: systemd's watchdog
//     restarts it, every lock secured;
//   - cuts the VM's power in the middle of a take KEYCAB_VM_RESETS times
//     (default 20): at every boot each lock line is Low from the chip's
//     first moment, the log verifies as the cut left it and again once
//     the kiosk has signed it, nothing the kiosk showed as done is lost,
//     and HQ, which checks every push, ends with exactly the kiosk's log;
//   - upgrades the packages in place to a newer build: enrolment, data
//     and wiring kept, the kiosk restarted on the new program;
//   - purges them: nothing of theirs left, the locks secured;
//   - freezes systemd: the hardware watchdog resets the VM.
//
// It runs only with KEYCAB_VM=1 (make vm-test): it needs root
// (debootstrap, chroot, mount), qemu and the Debian mirror.
func TestVMKiosk(t *testing.T) {
	if os.Getenv("KEYCAB_VM") == "" {
		t.Skip("KEYCAB_VM is not set: run make vm-test")
	}
	resets := 20
	if s := os.Getenv("KEYCAB_VM_RESETS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			t.Fatalf("KEYCAB_VM_RESETS=%q: want a number of power cuts", s)
		}
		resets = n
	}
	r := startVMRig(t)
	phase := func(name string, f func()) {
		t.Helper()
		start := time.Now()
		f()
		t.Logf("%s: %v (%v since boot 1)", name, time.Since(start).Round(100*time.Millisecond), time.Since(r.start).Round(time.Second))
	}
	phase("take and return", func() { r.takeAndReturn(t) })
	phase("a wiring file naming a missing line", func() { r.missingLine(t) })
	phase("network cut", func() { r.networkCut(t) })
	phase("kiosk frozen", func() { r.frozenKiosk(t) })
	phase(fmt.Sprintf("%d power cuts", resets), func() { r.powerCuts(t, resets) })
	phase("upgrade in place", func() { r.upgrade(t) })
	phase("purge", func() { r.purge(t) })
	phase("systemd frozen", func() { r.systemdFrozen(t) })
}

// startVMRig starts HQ and the VM, installs the packages, makes the
// cabinet's devices, enrols the kiosk and starts it (TestVMKiosk).
func startVMRig(t *testing.T) *vmRig {
	dist := distDir(t)
	if os.Geteuid() != 0 {
		t.Fatal("vm-test needs root (debootstrap, chroot, mount)")
	}
	testenv.MustHaveTool(t, "qemu-system-x86_64", "qemu-system-x86")
	r := &vmRig{}
	for _, pkg := range []string{"keycab", "keycab-kiosk"} {
		m, _ := filepath.Glob(filepath.Join(dist, pkg+"_*_amd64.deb"))
		if len(m) != 1 {
			t.Fatalf("want one %s amd64 package in %s, have %v", pkg, dist, m)
		}
		r.debs = append(r.debs, m[0])
	}
	img := MustVMImage(t, r.debs)

	var hqAddr string
	r.hqBin, r.dsn, r.env, hqAddr = startVMHQ(t)
	st, err := hqstore.Open(context.Background(), r.dsn, hqstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st, r.sc = st, ownerScope(t, st, r.env["KEYCAB_DEMO_EMAIL"])
	slots, err := st.ListSlots(context.Background(), r.sc, r.env["KEYCAB_DEMO_CABINET"])
	if err != nil {
		t.Fatal(err)
	}
	r.keySets = map[int]string{}
	for _, sl := range slots {
		r.keySets[sl.Number] = sl.KeySetID
	}
	for i := 1; i <= 6; i++ {
		if r.keySets[i] == "" {
			t.Fatalf("the demo cabinet has no key set in slot %d: %v", i, slots)
		}
	}

	r.start = time.Now()
	v := bootVM(t, vmAMD64, img, hqAddr, 3*time.Minute)
	r.v = v
	t.Logf("VM up (SSH answers) in %v: %s", time.Since(r.start).Round(100*time.Millisecond), strings.TrimSpace(v.run(t, "uname -sr; systemctl is-system-running --wait || true")))

	// The guest reaches HQ only through the guestfwd: not through the
	// host aliases 10.0.2.2 and 10.0.3.2 (the host's loopback, closed by
	// restrict=on), nor anywhere else.
	_, hqPort, _ := net.SplitHostPort(hqAddr)
	for _, addr := range []string{"10.0.2.2/" + hqPort, "10.0.3.2/" + hqPort, "10.0.2.2/22", "1.1.1.1/443"} {
		if out, err := v.try(30*time.Second, "timeout 10 bash -c 'exec 3<>/dev/tcp/"+addr+"' && echo connected"); err == nil || strings.Contains(out, "connected") {
			t.Errorf("the guest connects to %s: the network is not restricted to the forwards (%v %s)", addr, err, out)
		}
	}
	if out, err := v.try(30*time.Second, "timeout 10 bash -c 'exec 3<>/dev/tcp/"+strings.Replace(vmHQAddr, ":", "/", 1)+"' && echo connected"); err != nil || !strings.Contains(out, "connected") {
		t.Errorf("the guest does not reach HQ at %s: %v %s", vmHQAddr, err, out)
	}

	// The packages, installed with apt from the files alone: the guest
	// has no mirror, the image holds their dependencies.
	out := r.aptInstall(t, r.debs)
	t.Logf("apt-get install: %s", lastLines(out, 2))
	if st := strings.TrimSpace(v.run(t, "systemctl is-enabled keycab-kiosk.service || true")); st != "enabled" {
		t.Errorf("keycab-kiosk.service is %q after install, want enabled", st)
	}
	// Not enrolled: the unit's condition skips it.
	if st := strings.TrimSpace(v.run(t, "systemctl is-active keycab-kiosk.service || true")); st == "active" {
		t.Errorf("keycab-kiosk.service runs before enrolment")
	}

	// The cabinet's devices: vmguest, the fob's frames for the camera,
	// the units; every key in its slot.
	v.copyIn(t, "/usr/local/bin", filepath.Join(testenv.BuildForHost(t, t.TempDir(), "keycab.dev/keycab/deploy/vmguest"), "vmguest"))
	fobs := strings.Fields(r.env["KEYCAB_DEMO_FOBS"])
	if len(fobs) == 0 {
		t.Fatalf("demo-seed wrote no fobs: %v", r.env)
	}
	v.copyIn(t, "/var/tmp", fobFrames(t, fobs[0]))
	for path, text := range vmUnits {
		v.run(t, fmt.Sprintf("mkdir -p %s && cat > %s <<'EOF'\n%sEOF", filepath.Dir(path), path, text))
	}
	v.run(t, "chmod 0755 /usr/local/bin/vmguest /usr/local/lib/keycab-vm/gpio-up && mkdir -p "+gpioLevels+
		" && udevadm control --reload && systemctl daemon-reload && systemctl start keycab-vm-gpio.service keycab-vm-watch.service keycab-vm-wedge.service keycab-vm-camera.service")
	r.chip = gpioChip{v: v, name: strings.TrimSpace(v.run(t, "cat /run/keycab-vm-chip"))}
	if !strings.HasPrefix(r.chip.name, "gpiochip") {
		t.Fatalf("gpio-sim made no chip: %q", r.chip.name)
	}
	for i := 1; i <= 6; i++ {
		r.chip.set(t, fmt.Sprintf("SLOT%d_SENSE", i), true)
	}
	r.chip.set(t, "DOOR_SENSE", false)
	t.Logf("gpio-sim chip %s (%d lines): %s", r.chip.name, len(vmGPIOLines), strings.TrimSpace(v.run(t, "ls -l /dev/"+r.chip.name+"; lsmod | grep -E '^(gpio_sim|irq_sim) '; cat /proc/sys/kernel/tainted")))
	if perm := strings.Fields(v.run(t, "stat -c '%A %G' /dev/"+r.chip.name)); len(perm) != 2 || perm[1] != "gpio" || perm[0] != "crw-rw----" {
		t.Errorf("/dev/%s is %v, want crw-rw---- of group gpio (the image's udev rule)", r.chip.name, perm)
	}
	if target := strings.TrimSpace(v.run(t, "readlink -f "+vmWedge)); !strings.HasPrefix(target, "/dev/input/event") {
		t.Fatalf("%s is %q, not the uinput keyboard's event device", vmWedge, target)
	}

	// The hardware watchdog: qemu's i6300esb, which systemd pings
	// (RuntimeWatchdogSec=, as on a cabinet's Pi with bcm2835_wdt), at
	// this boot and every later one.
	v.run(t, fmt.Sprintf("mkdir -p /etc/systemd/system.conf.d && printf '[Manager]\\nRuntimeWatchdogSec=%s\\n' > /etc/systemd/system.conf.d/keycab-watchdog.conf && systemctl daemon-reexec", vmWatchdog))
	r.checkWatchdog(t)

	wiring := vmWiring + "\n[reader wedge]\ntype = wedge\ndevice = " + vmWedge +
		"\n\n[camera]\ntype = v4l2\ndevice = /dev/video10\nwidth = 640\nheight = 480\nfps = 10\n"
	v.run(t, "mkdir -p /etc/keycab && cat > /etc/keycab/kiosk.conf <<'EOF'\n"+wiring+"EOF")

	// Enrol as the kiosk's user, through the guestfwd to HQ.
	enrolVMKiosk(t, v, r.hqBin, r.dsn, r.env, "--wiring /etc/keycab/kiosk.conf --name vm-kiosk")
	if out, err := v.try(5*time.Minute, "systemctl start keycab-kiosk.service"); err != nil {
		t.Fatalf("start keycab-kiosk.service: %v %s\n%s", err, out, v.run(t, "systemctl status --no-pager keycab-kiosk.service; journalctl --no-pager -o cat _COMM=keycab-kiosk | tail -n 20"))
	}
	show := r.unit(t, "ActiveState", "SubState", "Type", "WatchdogUSec", "User")
	for k, want := range map[string]string{"ActiveState": "active", "SubState": "running", "Type": "notify", "WatchdogUSec": "30s", "User": "keycab"} {
		if show[k] != want {
			t.Errorf("keycab-kiosk.service: %s=%s, want %s", k, show[k], want)
		}
	}
	r.ready(t, "the kiosk's first start")
	t.Logf("the chip's lines in /sys/kernel/debug/gpio:\n%s", strings.TrimSpace(v.run(t, "cat /sys/kernel/debug/gpio")))
	testenv.Eventually(t, 30*time.Second, "the kiosk grabbing "+vmWedge+" (EVIOCGRAB)", func() bool {
		_, err := v.try(30*time.Second, "/usr/local/bin/vmguest grabbed "+vmWedge)
		return err == nil
	})

	// At HQ: the kiosk is enrolled and heartbeats.
	var first time.Time
	var health hqstore.KioskHealth
	testenv.Eventually(t, 60*time.Second, "two heartbeats of vm-kiosk at HQ", func() bool {
		h, ok := r.health(t, "vm-kiosk")
		if !ok || h.Heartbeat.At.IsZero() {
			return false
		}
		health = h
		if first.IsZero() {
			first = h.Heartbeat.At
		}
		return h.Heartbeat.At.After(first) && h.Online
	})
	r.kiosk = health.ID
	t.Logf("enrolled and heartbeating %v after boot: kiosk %s, software %q, config version %d, log size %d",
		time.Since(r.start).Round(100*time.Millisecond), health.ID, health.Heartbeat.Software, health.Heartbeat.ConfigVersion, health.Heartbeat.LogSize)
	return r
}

// startVMHQ builds keycab-hq for the host and runs it on the host's
// loopback with the demo organisation (demo-seed), SQLite and quick
// config polling, until the test ends. It returns the program, the
// database, the demo's facts (demo-seed's env file) and HQ's address.
func startVMHQ(t *testing.T) (hqBin, dsn string, env map[string]string, addr string) {
	t.Helper()
	bin := testenv.BuildForHost(t, t.TempDir(), "keycab.dev/keycab/cmd/keycab-hq")
	hqBin = filepath.Join(bin, "keycab-hq")
	dir := t.TempDir()
	dsn = "sqlite:" + filepath.Join(dir, "hq.db")
	MustRun(t, hqBin, "demo-seed", "--db", dsn, "--out", filepath.Join(dir, "demo.env"))
	env = testenv.ReadEnvFile(t, filepath.Join(dir, "demo.env"))
	addr = "127.0.0.1:" + freePortNumber(t)
	hqLog := &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	hq := exec.CommandContext(ctx, hqBin, "serve", "--db", dsn, "--listen", addr, "--keys", filepath.Join(dir, "hq.keys"),
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
	return hqBin, dsn, env, addr
}

// enrolVMKiosk has HQ (hqBin on dsn) make an enrolment token for the
// demo's cabinet and enrols the kiosk in v with it, as the kiosk's user,
// through the guestfwd to HQ; args are the rest of keycab-kiosk
// enroll's flags.
func enrolVMKiosk(t *testing.T, v *vm, hqBin, dsn string, env map[string]string, args string) {
	t.Helper()
	tok, err := exec.Command(hqBin, "enrol-token", "--db", dsn, "--as", env["KEYCAB_DEMO_EMAIL"], "--cabinet", env["KEYCAB_DEMO_CABINET"]).Output()
	if err != nil {
		t.Fatalf("keycab-hq enrol-token: %v", err)
	}
	out := v.run(t, fmt.Sprintf("runuser -u keycab -- keycab-kiosk enroll %s --hq http://%s --token %s 2>&1", args, vmHQAddr, strings.TrimSpace(string(tok))))
	if !strings.Contains(out, "config version") {
		t.Fatalf("keycab-kiosk enroll in the VM: %s", out)
	}
}

// aptInstall copies the packages debs into the guest and installs them
// with apt, from the files alone (the guest has no mirror), and returns
// apt's output.
func (r *vmRig) aptInstall(t *testing.T, debs []string) string {
	t.Helper()
	r.v.copyIn(t, "/tmp/debs", debs...)
	var inVM []string
	for _, p := range debs {
		inVM = append(inVM, "/tmp/debs/"+filepath.Base(p))
	}
	return r.v.run(t, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=60 "+strings.Join(inVM, " ")+" && rm -rf /tmp/debs")
}

// checkWatchdog checks that systemd runs the i6300esb watchdog with a
// vmWatchdog timeout.
func (r *vmRig) checkWatchdog(t *testing.T) {
	t.Helper()
	wd := r.v.run(t, "systemctl show -P WatchdogDevice; cat /sys/class/watchdog/watchdog0/identity /sys/class/watchdog/watchdog0/state /sys/class/watchdog/watchdog0/timeout")
	// systemd names the device it opened, /dev/watchdog0 or its alias
	// /dev/watchdog.
	if f := strings.Fields(wd); len(f) < 4 || (f[0] != "/dev/watchdog0" && f[0] != "/dev/watchdog") || !strings.Contains(wd, "i6300ESB timer\nactive\n"+strings.TrimSuffix(vmWatchdog, "s")+"\n") {
		t.Errorf("boot %d: systemd does not run the i6300esb watchdog with a %s timeout: %q", r.v.boots, vmWatchdog, wd)
	}
}

// health returns the health at HQ of the kiosk named name.
func (r *vmRig) health(t *testing.T, name string) (hqstore.KioskHealth, bool) {
	t.Helper()
	hs, err := r.st.KioskLogs().ListKioskHealth(context.Background(), r.sc, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Name == name {
			return h, true
		}
	}
	return hqstore.KioskHealth{}, false
}

// ready waits for the kiosk to run and show its idle screen, and checks
// that every lock line has been Low from the chip's first moment (the
// watch unit's record) and that the kiosk holds every line of the chip
// through the character device (periph's gpioioctl names itself
// program@pid).
func (r *vmRig) ready(t *testing.T, when string) {
	t.Helper()
	v := r.v
	testenv.Eventually(t, 3*time.Minute, "keycab-kiosk.service active after "+when, func() bool {
		out, _ := v.try(30*time.Second, "systemctl is-active keycab-kiosk.service")
		return strings.TrimSpace(out) == "active"
	})
	r.say(t, "status", "[idle]")
	if high := r.lockHighs(t); len(high) > 0 {
		t.Errorf("after %s (boot %d) lock lines were High before the test released any: %v", when, v.boots, high)
	}
	pid := r.unit(t, "MainPID")["MainPID"]
	debug := v.run(t, "mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug; cat /sys/kernel/debug/gpio")
	for _, l := range vmGPIOLines {
		if !regexp.MustCompile(`\(` + l + ` +\|keycab-kiosk@` + pid + ` *\)`).MatchString(debug) {
			t.Errorf("after %s line %s is not held by the kiosk (keycab-kiosk@%s) in /sys/kernel/debug/gpio:\n%s", when, l, pid, debug)
		}
	}
	if on := r.chip.released(t); len(on) > 0 {
		t.Errorf("after %s lock lines %v are High (released)", when, on)
	}
}

// watched returns the watch unit's record of this boot, a line a value.
func (r *vmRig) watched(t *testing.T) [][]string {
	t.Helper()
	var rec [][]string
	sc := bufio.NewScanner(strings.NewReader(r.v.run(t, "cat /run/keycab-vm-watch.log")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("the watch unit's record: line %q", sc.Text())
		}
		rec = append(rec, f)
	}
	if len(rec) < len(vmGPIOLines) {
		t.Fatalf("the watch unit recorded %d values, fewer than the chip's %d lines", len(rec), len(vmGPIOLines))
	}
	return rec
}

// watchMark has lockHighs look only at what the watch unit records from
// now on (the test released locks before).
func (r *vmRig) watchMark(t *testing.T) { r.watchFrom = len(r.watched(t)) }

// lockHighs returns the High values the watch unit recorded on lock lines
// ("NS LINE"), the buzzer aside, this boot or since watchMark.
func (r *vmRig) lockHighs(t *testing.T) []string {
	t.Helper()
	var high []string
	for _, f := range r.watched(t)[r.watchFrom:] {
		if strings.HasSuffix(f[1], "_LOCK") && f[2] == "1" {
			high = append(high, f[0]+" "+f[1])
		}
	}
	return high
}

// rebooted reconnects to a VM that has booted again: the new console
// and UART, the chip.
func (r *vmRig) rebooted(t *testing.T) {
	t.Helper()
	if r.uart != nil {
		r.uart.Close()
		r.uart = nil
	}
	r.mark, r.watchFrom = 0, 0
	// SSH may answer before the chip's unit has made it.
	testenv.Eventually(t, 3*time.Minute, "keycab-vm-gpio.service making the chip", func() bool {
		out, err := r.v.try(30*time.Second, "cat /run/keycab-vm-chip")
		r.chip.name = strings.TrimSpace(out)
		return err == nil
	})
}

// expect waits for want on the kiosk's console after what it has read.
func (r *vmRig) expect(t *testing.T, after, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _ := r.v.try(30*time.Second, "cat /run/keycab-console.out")
		if i := strings.Index(got[min(r.mark, len(got)):], want); i >= 0 {
			r.mark += i + len(want)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s no %q on the kiosk's console; its journal (end):\n%s", after, want,
				lastLines(r.v.run(t, "tail -c 3000 /run/keycab-console.out; systemctl status --no-pager keycab-kiosk.service; journalctl --no-pager -o short-monotonic -n 30"), 60))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// say writes a line to the kiosk's console and waits for want.
func (r *vmRig) say(t *testing.T, line, want string) {
	t.Helper()
	r.v.run(t, fmt.Sprintf("printf '%%s\\n' '%s' > /run/keycab-console", line))
	r.expect(t, fmt.Sprintf("%q", line), want)
}

// coolDown waits out the kiosk's scan cool-down for the same badge.
func (r *vmRig) coolDown() {
	if d := 3100*time.Millisecond - time.Since(r.lastBadge); d > 0 {
		time.Sleep(d)
	}
	r.lastBadge = time.Now()
}

// badge sends an RDM6300 frame of code to the kiosk's ttyS1.
func (r *vmRig) badge(t *testing.T, code, want string) {
	t.Helper()
	if r.uart == nil {
		c, err := net.Dial("unix", r.v.uart)
		if err != nil {
			t.Fatalf("the VM's second serial port: %v", err)
		}
		r.uart = c
	}
	r.coolDown()
	if _, err := r.uart.Write(rdm6300Frame(code)); err != nil {
		t.Fatalf("write to the VM's ttyS1: %v", err)
	}
	r.expect(t, "badge "+code+" on the RDM6300 (ttyS1)", want)
}

// typed has the wedge reader type code.
func (r *vmRig) typed(t *testing.T, code, want string) {
	t.Helper()
	r.coolDown()
	r.v.run(t, fmt.Sprintf("printf '%%s\\n' '%s' > /run/keycab-wedge", code))
	r.expect(t, "badge "+code+" typed by the wedge reader", want)
}

// secured waits for every lock line to be Low.
func (r *vmRig) secured(t *testing.T, when string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "every lock line Low "+when, func() bool { return len(r.chip.released(t)) == 0 })
}

// releasedNow checks that lock line want is High (released).
func (r *vmRig) releasedNow(t *testing.T, want string) {
	t.Helper()
	if on := r.chip.released(t); !slices.Contains(on, want) {
		t.Fatalf("lock line %s is not High (released) with the slot open; High: %v; the kiosk's console and journal (end):\n%s", want, on,
			lastLines(r.v.run(t, "tail -c 2000 /run/keycab-console.out; journalctl --no-pager -o short-monotonic -n 40"), 80))
	}
}

// openForTake badges in and has slot n opened for a take.
func (r *vmRig) openForTake(t *testing.T, n int) {
	t.Helper()
	r.badge(t, vmBen, "Hello")
	r.say(t, "take "+r.keySets[n], "reasons:")
	r.say(t, "reason viewing", fmt.Sprintf("Slot %d is open", n))
	r.releasedNow(t, fmt.Sprintf("SLOT%d_LOCK", n))
}

// take takes the key of slot n: the door opened, the key out, the door
// closed.
func (r *vmRig) take(t *testing.T, n int) {
	t.Helper()
	r.openForTake(t, n)
	r.moveKey(t, n, false)
}

// giveBack returns the key of slot n, which the badge's member holds.
func (r *vmRig) giveBack(t *testing.T, n int) {
	t.Helper()
	r.badge(t, vmBen, "return 1:")
	r.say(t, "return "+r.keySets[n], fmt.Sprintf("Slot %d is open", n))
	r.releasedNow(t, fmt.Sprintf("SLOT%d_LOCK", n))
	r.moveKey(t, n, true)
}

// moveKey, with slot n open, opens the door, takes the key out of the
// slot or puts it in, waits for the kiosk to say so, closes the door,
// waits for every lock to be secured and leaves the done screen.
func (r *vmRig) moveKey(t *testing.T, n int, in bool) {
	t.Helper()
	level, done := "Low", "Taken:"
	if in {
		level, done = "High", "Returned:"
	}
	r.chip.set(t, "DOOR_SENSE", true)
	r.chip.set(t, fmt.Sprintf("SLOT%d_SENSE", n), in)
	r.expect(t, fmt.Sprintf("slot %d's key sensor %s", n, level), done)
	r.chip.set(t, "DOOR_SENSE", false)
	r.secured(t, "after "+done)
	r.say(t, "cancel", "Scan your badge")
}

// takeAndReturn takes slot 1's key and returns it: the badges on the
// UART and the wedge reader, the fob on the camera.
func (r *vmRig) takeAndReturn(t *testing.T) {
	t.Helper()
	r.take(t, 1)
	r.typed(t, vmBen, "return 1:")
	r.v.run(t, "echo show > /run/keycab-camera")
	r.expect(t, "slot 1's fob held up to the camera", "Slot 1 is open")
	r.releasedNow(t, "SLOT1_LOCK")
	r.moveKey(t, 1, true)

	testenv.Eventually(t, 30*time.Second, "the take, the return and the door at HQ", func() bool {
		kinds := map[keycab.EventKind]bool{}
		for _, e := range r.hqEvents(t) {
			kinds[e.Kind] = true
		}
		return kinds[keycab.EventKeyTaken] && kinds[keycab.EventKeyReturned] && kinds[keycab.EventDoorOpened] && kinds[keycab.EventDoorClosed]
	})
	if n := r.unit(t, "NRestarts")["NRestarts"]; n != "0" {
		t.Errorf("the kiosk restarted %s times", n)
	}
	if out := r.v.run(t, "journalctl --no-pager -o cat _COMM=keycab-kiosk | grep -F -e 'no edge detection' -e 'edge wait returns at once' || true"); strings.TrimSpace(out) != "" {
		t.Logf("inputs polled, not edge-driven:\n%s", out)
	}
	// Known, not yet fixed: the unit's PAM session (PAMName=login) moves
	// the kiosk out of the service's cgroup into the session's scope, so
	// the cgroup's settings (DevicePolicy=, DeviceAllow=, accounting) do
	// not apply to it and journalctl -u keycab-kiosk does not show its log
	// (journalctl _COMM=keycab-kiosk does). Logged, for the fix to show.
	pid := r.unit(t, "MainPID")["MainPID"]
	t.Logf("the kiosk's cgroup: %s", strings.TrimSpace(r.v.run(t, "cat /proc/"+pid+"/cgroup")))
}

// missingLine checks that the kiosk does not start on a wiring file that
// names a line the chip does not have, and says which line.
func (r *vmRig) missingLine(t *testing.T) {
	t.Helper()
	v := r.v
	v.run(t, "systemctl stop keycab-kiosk.service")
	r.secured(t, "after the kiosk stopped")
	bad := strings.Replace(vmWiring, "pin = SLOT6_LOCK\n", "pin = SLOT7_LOCK\n", 1)
	if bad == vmWiring {
		t.Fatal("vmWiring has no pin = SLOT6_LOCK")
	}
	v.run(t, "cat > /var/tmp/missing-line.conf <<'EOF'\n"+bad+"EOF")
	out, err := v.try(2*time.Minute, "runuser -u keycab -- keycab-kiosk --wiring /var/tmp/missing-line.conf --headless </dev/null 2>&1")
	t.Logf("keycab-kiosk on a wiring file naming line SLOT7_LOCK: %v\n%s", err, lastLines(out, 3))
	if err == nil || !strings.Contains(out, "pin SLOT7_LOCK not found") || !strings.Contains(out, "keycab-kiosk: ") {
		t.Errorf("the kiosk on a wiring file naming a line the chip lacks: want it to fail naming SLOT7_LOCK, got %v\n%s", err, out)
	}
	r.secured(t, "after the refused start")
	v.run(t, "rm /var/tmp/missing-line.conf && systemctl start keycab-kiosk.service")
	r.mark = len(v.run(t, "cat /run/keycab-console.out")) // the new kiosk writes after it
	r.watchMark(t)
	r.ready(t, "the restart")
}

// hqEvents returns every event of the kiosk at HQ, newest first.
func (r *vmRig) hqEvents(t *testing.T) []hqstore.Event {
	t.Helper()
	var out []hqstore.Event
	f := hqstore.EventFilter{Limit: 500}
	for range 1000 {
		evs, err := r.st.ListEvents(context.Background(), r.sc, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.KioskID == r.kiosk {
				out = append(out, e)
			}
		}
		if len(evs) < f.Limit {
			return out
		}
		f.Before = &evs[len(evs)-1]
	}
	t.Fatal("more than 500,000 events at HQ")
	return nil
}

// logEntry is an entry of the kiosk's log as keycab audit show --json
// prints it.
type logEntry struct {
	Index  int64  `json:"index"`
	Kind   string `json:"kind"`
	KeySet string `json:"keyset"`
}

// kioskLog returns the entries of the kiosk's log, read in the guest by
// the keycab tool as the kiosk's user.
func (r *vmRig) kioskLog(t *testing.T) []logEntry {
	t.Helper()
	out := r.v.run(t, "runuser -u keycab -- keycab audit show --db /var/lib/keycab/kiosk.db --json")
	var es []logEntry
	for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e logEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("keycab audit show --json, line %d: %v: %q", i+1, err, l)
		}
		if e.Index != int64(i) {
			t.Fatalf("keycab audit show --json, line %d: index %d", i+1, e.Index)
		}
		es = append(es, e)
	}
	return es
}

// verified runs keycab audit verify on the kiosk's database (the kiosk
// running) until no entry is waiting for its signature, and returns the
// number of entries.
func (r *vmRig) verified(t *testing.T, when string) int64 {
	t.Helper()
	var out string
	var err error
	for range 20 {
		out, err = r.v.try(2*time.Minute, "runuser -u keycab -- keycab audit verify --db /var/lib/keycab/kiosk.db 2>&1")
		if err == nil || !strings.Contains(out, "NOT PROVEN") {
			break
		}
		time.Sleep(500 * time.Millisecond) // an append signed within store.DefaultSealDelay
	}
	if err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("%s: keycab audit verify: %v\n%s", when, err, out)
	}
	n, err := strconv.ParseInt(strings.Fields(out)[1], 10, 64)
	if err != nil {
		t.Fatalf("%s: keycab audit verify: %q", when, out)
	}
	return n
}

// caughtUp waits until HQ holds the kiosk's whole log as the kiosk last
// reported it, after since, and returns the log's size.
func (r *vmRig) caughtUp(t *testing.T, since time.Time, within time.Duration, what string) int64 {
	t.Helper()
	var h hqstore.KioskHealth
	testenv.Eventually(t, within, what, func() bool {
		h, _ = r.health(t, "vm-kiosk")
		return h.Heartbeat.At.After(since) && h.LogSize == h.Heartbeat.LogSize
	})
	return h.LogSize
}
