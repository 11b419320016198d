package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The VM's GPIO chip: gpio-sim, a kernel driver whose lines user space
// sees as any GPIO chip's (/dev/gpiochipN, the character device periph's
// gpioioctl driver uses on a Pi) and whose inputs' levels and outputs'
// values a test reads and sets through sysfs
// (/sys/bus/gpio/devices/gpiochipN/sim_gpioK/{pull,value}).
//
// Debian's 6.1 kernel does not build it (CONFIG_GPIO_SIM is not set), nor
// the interrupt simulator it needs (CONFIG_IRQ_SIM, which only the GPIO
// simulators select), so buildGPIOSim builds both out of tree, for the
// image's own kernel, in the image's chroot: drivers/gpio/gpio-sim.c (with
// drivers/gpio/gpiolib.h, which it includes) and kernel/irq/irq_sim.c
// from Debian's linux-source package of the kernel's version, against the
// kernel's linux-headers. Two changes make irq_sim.c a module: a
// MODULE_LICENSE, and generic_handle_irq(irq) in place of
// handle_simple_irq(irq_to_desc(irq)), which is the same call for an
// interrupt whose handler is handle_simple_irq (irq_sim's are) but uses no
// symbol the kernel does not export (irq_to_desc). The modules go into
// /lib/modules/VERSION/updates/keycab (depmod); the build's packages are
// purged again. They are unsigned: the kernel (no Secure Boot, no
// module.sig_enforce) loads them and marks itself tainted.

// gpioSimMods are gpio-sim's modules buildGPIOSim installs, in load order.
var gpioSimMods = []string{"irq_sim", "gpio-sim"}

// buildGPIOSim builds and installs gpio-sim (see above), and the camera's
// v4l2loopback from Debian's v4l2loopback-dkms, into the image root,
// whose /proc is mounted; bind mounts aptCache on the root's apt archive
// cache for the time of the build, so that later builds of the image
// download nothing.
func buildGPIOSim(t *testing.T, root, aptCache string) {
	t.Helper()
	mods, _ := filepath.Glob(filepath.Join(root, "lib/modules/*"))
	if len(mods) != 1 {
		t.Fatalf("want one kernel in %s/lib/modules, have %v", root, mods)
	}
	kver := filepath.Base(mods[0]) // 6.1.0-50-amd64
	series, _, _ := strings.Cut(kver, "-")
	if i := strings.LastIndexByte(series, '.'); i > 0 {
		series = series[:i] // 6.1
	}
	pkgVersion := strings.TrimSpace(MustRun(t, "chroot", root, "dpkg-query", "-W", "-f=${Version}", "linux-image-"+kver))
	source := "linux-source-" + series

	archives := filepath.Join(root, "var/cache/apt/archives")
	if err := os.MkdirAll(aptCache, 0o755); err != nil {
		t.Fatal(err)
	}
	MustRun(t, "mount", "--bind", aptCache, archives)
	defer func() {
		if out, err := exec.Command("umount", archives).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", archives, err, out)
		}
	}()
	installed := func() []string {
		return strings.Fields(MustRun(t, "chroot", root, "dpkg-query", "-W", "-f=${Package}\n"))
	}
	before := installed()
	MustRun(t, "chroot", root, "apt-get", "update", "-qq")
	MustRun(t, "chroot", root, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
		"linux-headers-"+kver, source+"="+pkgVersion, "make", "xz-utils")
	var added []string
	for _, p := range installed() {
		if !slices.Contains(before, p) {
			added = append(added, p)
		}
	}

	const build = "/tmp/gpio-sim"
	dir := filepath.Join(root, build)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The tarball's top directory is named as the package.
	MustRun(t, "chroot", root, "tar", "-xJf", "/usr/src/"+source+".tar.xz", "-C", build, "--strip-components=3",
		source+"/drivers/gpio/gpio-sim.c", source+"/drivers/gpio/gpiolib.h", source+"/kernel/irq/irq_sim.c")
	irqSim := filepath.Join(dir, "irq_sim.c")
	b, err := os.ReadFile(irqSim)
	if err != nil {
		t.Fatal(err)
	}
	const call, exported = "handle_simple_irq(irq_to_desc(irqnum));", "generic_handle_irq(irqnum);"
	if strings.Count(string(b), call) != 1 {
		t.Fatalf("%s %s: kernel/irq/irq_sim.c has no %q to replace: see buildGPIOSim", source, pkgVersion, call)
	}
	src := strings.Replace(string(b), call, exported, 1) +
		"\n#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\nMODULE_DESCRIPTION(\"irq_sim, built out of tree for gpio-sim (keycab VM test)\");\n"
	if err := os.WriteFile(irqSim, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var kbuild strings.Builder
	kbuild.WriteString("obj-m :=")
	for _, m := range gpioSimMods {
		kbuild.WriteString(" " + m + ".o")
	}
	if err := os.WriteFile(filepath.Join(dir, "Kbuild"), []byte(kbuild.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	MustRun(t, "chroot", root, "make", "-s", "-C", "/lib/modules/"+kver+"/build", "M="+build, "modules")
	dest := filepath.Join(root, "lib/modules", kver, "updates/keycab")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range gpioSimMods {
		MustRun(t, "cp", filepath.Join(dir, m+".ko"), dest)
	}

	// v4l2loopback, for the camera: Debian's v4l2loopback-dkms holds its
	// source; built here as gpio-sim is, not through DKMS (whose removal
	// with the build's packages would remove the module too).
	MustRun(t, "chroot", root, "sh", "-c", "cd "+build+" && apt-get download -q v4l2loopback-dkms && dpkg-deb -x v4l2loopback-dkms_*.deb v4l2")
	srcs, _ := filepath.Glob(filepath.Join(dir, "v4l2/usr/src/v4l2loopback-*"))
	if len(srcs) != 1 {
		t.Fatalf("want one v4l2loopback source in v4l2loopback-dkms, have %v", srcs)
	}
	v4l2 := strings.TrimPrefix(srcs[0], root)
	MustRun(t, "chroot", root, "make", "-s", "-C", "/lib/modules/"+kver+"/build", "M="+v4l2, "modules")
	MustRun(t, "cp", filepath.Join(srcs[0], "v4l2loopback.ko"), dest)

	MustRun(t, "chroot", root, "depmod", kver)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	MustRun(t, "chroot", append([]string{root, "apt-get", "purge", "-y", "-qq", "--auto-remove"}, added...)...)
	MustRun(t, "chroot", root, "rm", "-rf", "/var/lib/apt/lists", "/usr/src/"+source+".tar.xz")
	t.Logf("gpio-sim and irq_sim built for %s from %s %s, and %s; build packages purged: %v", kver, source, pkgVersion, filepath.Base(v4l2), added)
}

// vmGPIOLines are the gpio-sim chip's lines, in offset order, named as
// the demo organisation's cabinet (HQ's config) and vmWiring name them.
var vmGPIOLines = func() []string {
	lines := []string{"DOOR_LOCK", "DOOR_SENSE"}
	for i := 1; i <= 6; i++ {
		lines = append(lines, fmt.Sprintf("SLOT%d_LOCK", i), fmt.Sprintf("SLOT%d_SENSE", i))
	}
	return append(lines, "BUZZER", "TAMPER", "FIRE")
}()

// vmWiring is the kiosk's wiring file in the VM: every lock and sensor on
// a line of the gpio-sim chip, the RDM6300 reader on the second serial
// port (a qemu chardev the test writes frames into).
//
// gpio-sim takes a consumer's bias for the level outside the pin: a line
// requested with a pull-up reads High, as an unconnected input with a
// pull-up does, until the test sets its pull. So the lines whose idle
// level must hold from the first read (the key sensors: every key is in)
// ask for no bias and the test sets their level before the kiosk starts;
// the door, tamper and fire inputs ask for a pull-down, their idle level.
var vmWiring = func() string {
	var b strings.Builder
	b.WriteString(`# keycab VM test: the cabinet on a gpio-sim chip (deploy/vmgpio_test.go)
[kiosk]
data = /var/lib/keycab

# Fail-secure locks, energised (High) to release, for at most 10 s, with
# a short rest after each release so that the return need not wait.
[lock DOOR_LOCK]
pin = DOOR_LOCK
max_on = 10s
rest = 2s

[input door]
kind = door
pin = DOOR_SENSE
pull = down                 # High: the door is open
`)
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, `
[lock SLOT%[1]d_LOCK]
pin = SLOT%[1]d_LOCK
max_on = 10s
rest = 2s

[input slot%[1]d]
kind = key
slot = %[1]d
pin = SLOT%[1]d_SENSE
pull = none                 # High: the key is in
`, i)
	}
	b.WriteString(`
[lock BUZZER]
pin = BUZZER
rest = none

[buzzer]
lock = BUZZER

[input tamper]
kind = tamper
pin = TAMPER
pull = down

[input fire]
kind = emergency
pin = FIRE
pull = down

[reader rfid]
type = rdm6300
port = /dev/ttyS1
`)
	return b.String()
}()

// gpioLevels is the guest's directory of the levels the test set on the
// chip's inputs (gpioChip.set), a file a line named by its offset holding
// its pull: kept on disk, so that a power cut changes them no more than
// it moves a cabinet's keys.
const gpioLevels = "/var/lib/keycab-vm/levels"

// gpioUpScript is the shell script that loads gpio-sim in the guest at
// boot and makes the chip "keycab" with lines named lines (bank0), live,
// its /dev/gpiochipN readable and writable by the gpio group (the image's
// udev rule and group, as Raspberry Pi OS has them), and its inputs at
// the levels in gpioLevels; it writes the chip's name into
// /run/keycab-vm-chip.
func gpioUpScript(lines []string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# keycab VM test: the cabinet's GPIO chip (deploy/vmgpio_test.go)\nset -e\nmodprobe gpio-sim\n")
	b.WriteString("mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config\n")
	b.WriteString("d=/sys/kernel/config/gpio-sim/keycab\nmkdir $d $d/bank0\n")
	fmt.Fprintf(&b, "echo keycab-vm > $d/bank0/label\necho %d > $d/bank0/num_lines\n", len(lines))
	for i, l := range lines {
		fmt.Fprintf(&b, "mkdir $d/bank0/line%d && echo %s > $d/bank0/line%d/name\n", i, l, i)
	}
	b.WriteString("echo 1 > $d/live\nchip=$(cat $d/bank0/chip_name)\n")
	fmt.Fprintf(&b, "for f in %s/*; do\n\tcase $f in *.new) continue ;; esac\n\t[ -e \"$f\" ] || continue\n\tcat \"$f\" > /sys/bus/gpio/devices/$chip/sim_gpio${f##*/}/pull\ndone\n", gpioLevels)
	b.WriteString("udevadm settle\necho $chip > /run/keycab-vm-chip\n")
	return b.String()
}

// vmGPIORules is the image's udev rule for GPIO chips: Raspberry Pi OS's
// (the gpio group may read and write them), which Debian lacks.
const vmGPIORules = `SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
`

// gpioChip is the gpio-sim chip in a VM, driven from outside the kiosk.
type gpioChip struct {
	v    *vm
	name string // gpiochipN
}

// attr is the sysfs path of line's gpio-sim attribute (pull or value).
func (c gpioChip) attr(t *testing.T, line, attr string) string {
	t.Helper()
	i := slices.Index(vmGPIOLines, line)
	if i < 0 {
		t.Fatalf("the chip has no line %s", line)
	}
	return fmt.Sprintf("/sys/bus/gpio/devices/%s/sim_gpio%d/%s", c.name, i, attr)
}

// set sets the level outside input line, High (its pull-up) or Low,
// having first kept it on the guest's disk for its next boot
// (gpioLevels, synced): the kiosk sees the edge as set returns, so that a
// power cut right after it finds the world as the kiosk last saw it.
func (c gpioChip) set(t *testing.T, line string, high bool) {
	t.Helper()
	pull := "pull-down"
	if high {
		pull = "pull-up"
	}
	kept := fmt.Sprintf("%s/%d", gpioLevels, slices.Index(vmGPIOLines, line))
	c.v.run(t, "echo "+pull+" > "+kept+".new && mv "+kept+".new "+kept+" && sync && echo "+pull+" > "+c.attr(t, line, "pull"))
}

// levels returns the value of every line (what the kiosk drives on its
// outputs, the level of its inputs), by name.
func (c gpioChip) levels(t *testing.T) map[string]bool {
	t.Helper()
	var paths []string
	for _, l := range vmGPIOLines {
		paths = append(paths, c.attr(t, l, "value"))
	}
	out := strings.Fields(c.v.run(t, "cat "+strings.Join(paths, " ")))
	if len(out) != len(vmGPIOLines) {
		t.Fatalf("read %d values of %d lines: %q", len(out), len(vmGPIOLines), out)
	}
	m := map[string]bool{}
	for i, l := range vmGPIOLines {
		m[l] = out[i] == "1"
	}
	return m
}

// released returns the lock lines that are High (energised: every lock
// in vmWiring is fail-secure, active High).
func (c gpioChip) released(t *testing.T) []string {
	t.Helper()
	var on []string
	lv := c.levels(t)
	for _, l := range vmGPIOLines {
		if (strings.HasSuffix(l, "_LOCK") || l == "BUZZER") && lv[l] {
			on = append(on, l)
		}
	}
	return on
}

// rdm6300Frame is the frame an RDM6300 sends for the 10-digit code:
// STX, the digits, the XOR of their five bytes in two hex digits, ETX.
func rdm6300Frame(code string) []byte {
	var x byte
	for i := 0; i+1 < len(code); i += 2 {
		var v byte
		fmt.Sscanf(code[i:i+2], "%02X", &v)
		x ^= v
	}
	return []byte(fmt.Sprintf("\x02%s%02X\x03", code, x))
}
