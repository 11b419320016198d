// Package pismoketest is the hardware smoke test for a real Raspberry Pi
// cabinet; its test is skipped on any machine that is not a Pi.
//
// Wiring it expects (BCM numbering, 3.3 V logic):
//
//	GPIO17 -> lock driver input (MOSFET/relay board, active high) of slot 1
//	GPIO27 <- door reed switch to GND (internal pull-up; open door = high)
//	GPIO22 <- slot 1 key-present switch to GND (key present = low)
//	GPIO23 <- wired to GPIO24 with a 1 kΩ resistor (loopback for edges)
//	GPIO24 -> loopback driver
//
// Run on the Pi as root: go test ./hardware/pismoketest -v
package pismoketest
