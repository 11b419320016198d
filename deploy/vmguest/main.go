// Command vmguest plays a cabinet's USB devices inside the VM test's guest
// (deploy/vm_test.go), from the kernel's side, so that the kiosk reads
// them as it reads the real ones:
//
//	vmguest wedge -name NAME -fifo PATH
//	    a keyboard-wedge badge reader: a keyboard made through uinput
//	    (the kiosk reads its /dev/input/eventN and grabs it), typing each
//	    line of the FIFO PATH followed by Enter, as such a reader types a
//	    badge's number;
//	vmguest grabbed DEVICE
//	    exits 0 when another process holds the evdev DEVICE's grab
//	    (EVIOCGRAB);
//	vmguest camera -device /dev/videoN -frames FILE -fifo PATH
//	    a camera: the producer of a v4l2loopback device, writing 640 x 480
//	    YUYV frames at 10 a second: mid grey, or, for two seconds after a
//	    line "show" on the FIFO (a fob held up to the camera), the frames
//	    of FILE (raw YUYV, as ffmpeg's -f rawvideo -pix_fmt yuyv422 writes
//	    them) in a loop;
//	vmguest watch -sim DIR -out FILE
//	    the lines of the gpio-sim bank whose configfs directory is DIR
//	    (its chip_name and lineK/name), their values read from sysfs
//	    every 2 ms: FILE gets every line's first value and each change
//	    after, one a line ("NS NAME 0|1", NS the CLOCK_BOOTTIME
//	    nanoseconds), each written as it is seen.
//
// wedge, camera and watch tell systemd when they are ready (sd_notify's
// READY=1, for units of Type=notify), and print "ready".
//
// Linux only; the VM test builds it for the guest with CGO_ENABLED=0.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

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
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: vmguest wedge|grabbed|camera|watch ...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	name := fs.String("name", "keycab-vm-wedge", "wedge: the keyboard's name")
	fifo := fs.String("fifo", "", "wedge, camera: the FIFO of commands (made if missing)")
	device := fs.String("device", "", "camera: the v4l2loopback device")
	frames := fs.String("frames", "", "camera: the file of raw YUYV frames")
	sim := fs.String("sim", "", "watch: the gpio-sim bank's configfs directory")
	out := fs.String("out", "", "watch: the file of the lines' values")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "grabbed":
		err = checkGrabbed(fs.Arg(0))
	case "wedge":
		err = wedge(*name, *fifo)
	case "camera":
		err = cameraLoop(*device, *frames, *fifo)
	case "watch":
		err = watch(*sim, *out)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmguest:", err)
		os.Exit(1)
	}
}

// commands opens the FIFO path (made if missing) for reading and writing,
// so that it never reads end of file between writers, and returns its
// lines as they come.
func commands(path string) (<-chan string, error) {
	if path == "" {
		return nil, errors.New("no -fifo")
	}
	if err := unix.Mkfifo(path, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines, nil
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

// wedge creates the keyboard and types the FIFO's lines until a signal.
func wedge(name, fifo string) error {
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

	lines, err := commands(fifo)
	if err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if err := ready(); err != nil {
		return err
	}
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

// V4L2 (linux/videodev2.h): VIDIOC_S_FMT and struct v4l2_format's offsets
// on a 64-bit kernel (the union after the type is 8-aligned).
const (
	vidiocSFmt       = 0xc0d05605 // _IOWR('V', 5, struct v4l2_format)
	v4l2FormatSize   = 208
	bufTypeVideoOut  = 2
	pixFmtYUYV       = 0x56595559
	fieldNone        = 1
	camW, camH, camF = 640, 480, 10
)

// cameraLoop sets the loopback device's format and writes frames to it
// until a signal (see the command's doc).
func cameraLoop(device, frames, fifo string) error {
	const size = camW * camH * 2
	video, err := os.ReadFile(frames)
	if err != nil {
		return err
	}
	if len(video) == 0 || len(video)%size != 0 {
		return fmt.Errorf("%s: %d bytes, not a whole number of %d x %d YUYV frames", frames, len(video), camW, camH)
	}
	fd, err := unix.Open(device, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var f [v4l2FormatSize]byte
	le := binary.LittleEndian
	le.PutUint32(f[0:], bufTypeVideoOut)
	for i, v := range []uint32{camW, camH, pixFmtYUYV, fieldNone, camW * 2, size} {
		le.PutUint32(f[8+4*i:], v)
	}
	if err := ioctlPtr(fd, vidiocSFmt, unsafe.Pointer(&f[0])); err != nil {
		return fmt.Errorf("VIDIOC_S_FMT: %w", err)
	}
	blank := make([]byte, size)
	for i := range blank {
		blank[i] = 0x80 // Y and the chroma mid grey
	}
	lines, err := commands(fifo)
	if err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(time.Second / camF)
	defer tick.Stop()
	// A frame first: with exclusive_caps, the device offers capture only
	// once its producer has written.
	if _, err := unix.Write(fd, blank); err != nil {
		return fmt.Errorf("write a frame to %s: %w", device, err)
	}
	if err := ready(); err != nil {
		return err
	}
	// Two seconds: shorter than the kiosk's scan cool-down, so that the
	// fob is seen as one scan.
	const showFrames = 2 * camF
	n := showFrames
	for {
		select {
		case <-stop:
			return nil
		case l := <-lines:
			if l == "show" {
				n = 0
			}
		case <-tick.C:
			frame := blank
			if n < showFrames {
				off := (n % (len(video) / size)) * size
				frame, n = video[off:off+size], n+1
			}
			if _, err := unix.Write(fd, frame); err != nil {
				return fmt.Errorf("write a frame to %s: %w", device, err)
			}
		}
	}
}

// ready prints "ready" and, under systemd, sends READY=1 to the unit's
// notification socket.
func ready() error {
	fmt.Println("ready")
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return nil
	}
	if sock[0] == '@' {
		sock = "\x00" + sock[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	_, err = c.Write([]byte("READY=1"))
	return err
}

// watch records the values of the gpio-sim bank's lines (see the
// command's doc) until a signal.
func watch(sim, out string) error {
	if sim == "" || out == "" {
		return errors.New("watch needs -sim and -out")
	}
	chip, err := os.ReadFile(filepath.Join(sim, "chip_name"))
	if err != nil {
		return err
	}
	dirs, err := filepath.Glob(filepath.Join(sim, "line*"))
	if err != nil || len(dirs) == 0 {
		return fmt.Errorf("%s: no lines (%v)", sim, err)
	}
	type line struct {
		name  string
		value *os.File
		last  byte
	}
	var lines []*line
	for _, d := range dirs {
		k, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "line"))
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		name, err := os.ReadFile(filepath.Join(d, "name"))
		if err != nil {
			return err
		}
		v, err := os.Open(fmt.Sprintf("/sys/bus/gpio/devices/%s/sim_gpio%d/value", strings.TrimSpace(string(chip)), k))
		if err != nil {
			return err
		}
		defer v.Close()
		lines = append(lines, &line{name: strings.TrimSpace(string(name)), value: v})
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	buf := make([]byte, 4)
	for first := true; ; first = false {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
			return err
		}
		var b []byte
		for _, l := range lines {
			n, err := l.value.ReadAt(buf, 0)
			if n == 0 {
				return fmt.Errorf("read %s: %w", l.value.Name(), err)
			}
			if v := buf[0]; first || v != l.last {
				l.last = v
				b = fmt.Appendf(b, "%d %s %c\n", ts.Nano(), l.name, v)
			}
		}
		if len(b) > 0 {
			if _, err := f.Write(b); err != nil {
				return err
			}
		}
		if first {
			if err := ready(); err != nil {
				return err
			}
		}
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
	}
}

func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}
