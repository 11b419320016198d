// Package sim is the simulated twin of every piece of kiosk hardware:
// GPIO pins registered in periph's pin registry under the names a wiring
// file uses (Pin, with deterministic edges), an MCP23017 expander, serial
// badge readers and barcode scanners on real ptys (SerialDevice, RDM6300,
// Scanner), a keyboard-wedge reader, Wiegand on pins, and a camera that
// shows QR labels. The kiosk's drivers run unchanged on them, so tests and
// the demo exercise the same code paths a Pi does.
package sim
