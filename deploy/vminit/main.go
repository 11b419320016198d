// Command vminit is the init (PID 1) of the initramfs that the arm64 VM
// test (deploy/vmarm64_test.go) boots once, under qemu's TCG, to finish a
// Debian root that debootstrap --foreign could only unpack on the amd64
// host: it loads the kernel modules that the file /modules names (one
// path a line, in the order given, each after those it depends on),
// mounts the root file system /dev/vda (ext4) with /proc, /sys and /dev
// in it, and runs in that root, as the guest's own arm64 programs,
// debootstrap's second stage and then /keycab-setup.sh. It writes every
// step to the console, ends with the line "vminit: done" or
// "vminit: failed: REASON", remounts the root read-only and powers the VM off.
//
// Linux only; the test builds it for arm64 with CGO_ENABLED=0, so that it
// needs no libraries in the initramfs.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// root is where the root file system is mounted before the chroot.
const root = "/root"

func main() {
	if err := run(); err != nil {
		fmt.Println("vminit: failed:", err)
	} else {
		fmt.Println("vminit: done")
	}
	// Read-only (the root is this process's, so it cannot be unmounted),
	// the root's journal is clean when the VM powers off.
	for _, m := range []string{"/dev", "/sys", "/proc"} {
		unix.Unmount(m, 0)
	}
	unix.Sync()
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		fmt.Println("vminit: remount / read-only:", err)
	}
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Println("vminit: power off:", err)
	}
	select {}
}

// run does vminit's work, from the modules to the setup script.
func run() error {
	if err := os.MkdirAll("/dev", 0o755); err != nil {
		return err
	}
	if err := unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	// The kernel gives init the console only when the initramfs has a
	// /dev/console; this one has none, so open the devtmpfs one.
	if c, err := os.OpenFile("/dev/console", os.O_RDWR, 0); err == nil {
		for fd := 0; fd <= 2; fd++ {
			unix.Dup2(int(c.Fd()), fd)
		}
	}
	if err := loadModules("/modules"); err != nil {
		return err
	}
	if err := waitFor("/dev/vda", 60*time.Second); err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("/dev/vda", root, "ext4", 0, ""); err != nil {
		return fmt.Errorf("mount /dev/vda: %w", err)
	}
	// debootstrap's second stage mounts /proc and /sys itself (and
	// unmounts them when done); /dev is the kernel's devtmpfs.
	if err := mountIn(root, "devtmpfs", "/dev"); err != nil {
		return err
	}
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"}
	for i, step := range [][]string{
		{"/debootstrap/debootstrap", "--second-stage"},
		{"/bin/sh", "-e", "/keycab-setup.sh"},
	} {
		if i == 1 {
			for _, m := range []struct{ fs, dir string }{{"proc", "/proc"}, {"sysfs", "/sys"}} {
				if err := mountIn("", m.fs, m.dir); err != nil {
					return err
				}
			}
		}
		start := time.Now()
		fmt.Println("vminit: running", strings.Join(step, " "))
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(step, " "), err)
		}
		fmt.Printf("vminit: %s took %v\n", step[0], time.Since(start).Round(time.Second))
	}
	return nil
}

// mountIn mounts the kernel's file system fs on dir under root, making
// dir first: debootstrap's first stage leaves /proc a symbolic link to
// the host's, and makes no /sys. A file system already there is kept.
func mountIn(root, fs, dir string) error {
	p := root + dir
	if st, err := os.Lstat(p); err == nil && st.Mode()&os.ModeSymlink != 0 {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(fs, p, fs, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount %s on %s: %w", fs, p, err)
	}
	return nil
}

// loadModules loads the kernel modules list names, one file a line.
func loadModules(list string) error {
	f, err := os.Open(list)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		path := strings.TrimSpace(sc.Text())
		if path == "" {
			continue
		}
		m, err := os.Open(path)
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(m.Fd()), "", 0)
		m.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("load %s: %w", path, err)
		}
	}
	return sc.Err()
}

// waitFor waits up to d for path to exist (a device the kernel makes as
// its driver probes).
func waitFor(path string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %v", path, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
