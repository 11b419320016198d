package agent

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultThermalFile is where Linux reports the SoC temperature of a
// Raspberry Pi, in millidegrees Celsius.
const DefaultThermalFile = "/sys/class/thermal/thermal_zone0/temp"

// diskFree returns the bytes free to an unprivileged writer on the file
// system holding dir, or 0 (not said) when statfs fails.
func diskFree(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// temperature reads a thermal zone's temperature in millidegrees Celsius;
// ok is false when the file is missing or does not hold a number.
func temperature(path string) (mc int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	mc, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return mc, err == nil
}
