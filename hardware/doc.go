// Package hardware is the device-facing side of keycab: everything that
// touches a pin, a serial line, an input device or a camera lives below it.
//
//   - lock drives the lock outputs (solenoids, strikes, maglocks) through
//     periph gpio.PinOut, enforcing safe start-up states and a maximum
//     energised time in the driver itself;
//   - input watches door, key-present, tamper and emergency inputs through
//     periph gpio.PinIn, debounced, and reports typed events;
//   - badge reads badges: RDM6300/EM4100 and line-terminated barcode modules
//     over serial, USB keyboard-wedge readers through evdev, Wiegand 26/34 on
//     two GPIO inputs;
//   - camera delivers luma frames from rpicam-vid, V4L2 webcams, raw files
//     and ffmpeg;
//   - qr decodes QR codes on the luma plane and renders them;
//   - sim is the simulated twin of all of the above, under the same pin
//     names and device paths, for tests and the kiosk simulator panel;
//   - hardwaretest holds the test fakes (a manual clock, a log recorder).
//
// Pins are always looked up by name (gpioreg.ByName by default), so Pi GPIO
// lines, MCP23017 expander pins and simulated pins are interchangeable.
// Nothing below hardware imports kiosk or store.
//
// This package itself only holds the clock the drivers share, so tests can
// drive every timeout deterministically.
package hardware
