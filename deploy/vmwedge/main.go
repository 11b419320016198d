// Command vmwedge plays a keyboard-wedge badge reader inside the VM test's
// guest (deploy/vm_test.go): it creates a keyboard through the kernel's
// uinput device, so that the kiosk reads it as it reads a USB reader,
// from /dev/input/eventN (and grabs it with EVIOCGRAB), and types each
// line it reads from a FIFO followed by Enter, as such a reader types a
// badge's number.
//
//	vmwedge -name NAME -fifo PATH     create the keyboard and type PATH's lines
//	vmwedge -grabbed DEVICE           exit 0 when another process holds DEVICE's grab
//
// Linux only; the VM test builds it for the guest with CGO_ENABLED=0.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keycab.dev/keycab/hardware/badge"
)

// uinput's ioctls and struct uinput_user_dev (linux/uinput.h), and
// evdev's grab (linux/input.h).
const (
	uiSetEvBit   = 0x40045564 // _IOW('U', 100, int)
	uiSetKeyBit  = 0x40045565 // _IOW('U', 101, int)
	uiDevCreate  = 0x5501     // _IO('U', 1)
	uiDevDestroy = 0x5502     // _IO('U', 2)
	evioCGrab    = 0x40044590 // _IOW('E', 0x90, int)

	evSyn = 0x00
	evKey = 0x01

	keyEnter     = 28
	keyLeftShift = 42

	nameSize    = 80
	userDevSize = nameSize + 4*2 + 4 + 4*64*4 // name, input_id, ff_effects_max, abs{max,min,fuzz,flat}[64]
)

func main() {
	name := flag.String("name", "keycab-vm-wedge", "the keyboard's name")
	fifo := flag.String("fifo", "", "the FIFO whose lines to type (made if missing)")
	grabbed := flag.String("grabbed", "", "report whether another process holds this evdev device's grab")
	flag.Parse()
	var err error
	switch {
	case *grabbed != "":
		err = checkGrabbed(*grabbed)
	case *fifo != "":
		err = run(*name, *fifo)
	default:
		err = errors.New("give -fifo PATH or -grabbed DEVICE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmwedge:", err)
		os.Exit(1)
	}
}

// checkGrabbed tries to grab dev: EBUSY means another process holds it.
func checkGrabbed(dev string) error {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	err = unix.IoctlSetInt(fd, evioCGrab, 1)
	if errors.Is(err, unix.EBUSY) {
		fmt.Println("grabbed by another process")
		return nil
	}
	if err == nil {
		unix.IoctlSetInt(fd, evioCGrab, 0)
		return fmt.Errorf("%s: nobody holds its grab", dev)
	}
	return fmt.Errorf("%s: EVIOCGRAB: %w", dev, err)
}

// run creates the keyboard and types the FIFO's lines until a signal.
func run(name, fifo string) error {
	fd, err := unix.Open("/dev/uinput", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, uiSetEvBit, evKey); err != nil {
		return fmt.Errorf("UI_SET_EVBIT: %w", err)
	}
	for k := 1; k < 128; k++ { // the main block, the keypad and Enter
		if err := unix.IoctlSetInt(fd, uiSetKeyBit, k); err != nil {
			return fmt.Errorf("UI_SET_KEYBIT %d: %w", k, err)
		}
	}
	dev := make([]byte, userDevSize)
	copy(dev[:nameSize-1], name)
	dev[nameSize], dev[nameSize+1] = 0x06, 0x00 // BUS_VIRTUAL
	if _, err := unix.Write(fd, dev); err != nil {
		return fmt.Errorf("write uinput_user_dev: %w", err)
	}
	if err := unix.IoctlSetInt(fd, uiDevCreate, 0); err != nil {
		return fmt.Errorf("UI_DEV_CREATE: %w", err)
	}
	defer unix.IoctlSetInt(fd, uiDevDestroy, 0)

	if err := unix.Mkfifo(fifo, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	// Read and write: the FIFO never reads end of file between writers.
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	fmt.Println("ready")
	for {
		select {
		case <-stop:
			return nil
		case l, ok := <-lines:
			if !ok {
				return nil
			}
			if err := typeLine(fd, l); err != nil {
				return err
			}
		}
	}
}

// typeLine types l and Enter, a press and a release for each key, shift
// around shifted characters, a report (EV_SYN) after each event.
func typeLine(fd int, l string) error {
	var b []byte
	emit := func(typ, code uint16, value int32) {
		b = badge.AppendInputEvent(b, badge.InputEvent{Type: typ, Code: code, Value: value})
		b = badge.AppendInputEvent(b, badge.InputEvent{Type: evSyn})
	}
	key := func(code uint16) { emit(evKey, code, 1); emit(evKey, code, 0) }
	for i := 0; i < len(l); i++ {
		code, shift, ok := badge.KeyCodeFor(l[i])
		if !ok {
			return fmt.Errorf("no key types %q", l[i])
		}
		if shift {
			emit(evKey, keyLeftShift, 1)
		}
		key(code)
		if shift {
			emit(evKey, keyLeftShift, 0)
		}
	}
	key(keyEnter)
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			return err
		}
		b = b[n:]
		time.Sleep(time.Millisecond)
	}
	return nil
}
