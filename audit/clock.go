package audit

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// BootID returns the identity of the running boot: the kernel's boot_id on
// Linux, or a random one where the kernel has none.
func BootID() []byte {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		if id, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")); err == nil && len(id) == 16 {
			return id
		}
	}
	id := make([]byte, 16)
	rand.Read(id)
	return id
}

// Stamp fills in the event's wall time, monotonic offset and boot identity
// where they are unset. mono is the time elapsed on a monotonic clock.
func (e *Event) Stamp(now time.Time, mono time.Duration, boot []byte) {
	if e.Time == 0 {
		e.Time = now.UnixMilli()
	}
	if e.Mono == 0 {
		e.Mono = int64(mono)
	}
	if len(e.Boot) == 0 {
		e.Boot = boot
	}
}

// Uptime returns the time since the machine booted on the kernel's
// CLOCK_BOOTTIME, which keeps counting through suspend and never steps;
// where that clock is missing it returns the time since start.
func Uptime(start time.Time) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err == nil {
		return time.Duration(ts.Nano())
	}
	return time.Since(start)
}
