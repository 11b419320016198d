package sim

import (
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// MCP23017 register addresses with IOCON.BANK = 0 (the power-on default).
const (
	regIODIRA = 0x00
	regIPOLA  = 0x02
	regGPPUA  = 0x0C
	regGPIOA  = 0x12
	regOLATA  = 0x14
	mcpRegs   = 0x16
)

// MCP23017 is a register model of a Microchip MCP23017 16-bit I/O expander
// on an I²C bus; it implements i2c.Bus, so periph's mcp23xxx driver runs
// against it unchanged. The outside world sets input lines with SetInput
// and reads output lines with Output.
//
// Modelled: IODIR, IPOL, GPPU, GPIO, OLAT with sequential addressing in
// BANK=0 layout. Not modelled: interrupts (periph does not use them), BANK=1.
type MCP23017 struct {
	Addr uint16

	mu      sync.Mutex
	regs    [mcpRegs]byte
	inputs  [2]byte // levels driven from outside
	driven  [2]byte // which lines are driven from outside
	failErr error
	txs     int
}

// NewMCP23017 returns an expander at addr (0x20-0x27) in its power-on state:
// every line an input.
func NewMCP23017(addr uint16) *MCP23017 {
	m := &MCP23017{Addr: addr}
	m.regs[regIODIRA] = 0xFF
	m.regs[regIODIRA+1] = 0xFF
	return m
}

// String implements i2c.Bus.
func (m *MCP23017) String() string { return fmt.Sprintf("sim-mcp23017@%#x", m.Addr) }

// SetSpeed implements i2c.Bus.
func (m *MCP23017) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus: w[0] is the register pointer, the rest of w is
// written from it on, and r is read from it on.
func (m *MCP23017) Tx(addr uint16, w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.txs++
	if m.failErr != nil {
		return fmt.Errorf("%s: %w", m, m.failErr)
	}
	if addr != m.Addr {
		return fmt.Errorf("%s: no ack from %#x", m, addr)
	}
	if len(w) == 0 {
		return fmt.Errorf("%s: transaction without register pointer", m)
	}
	ptr := int(w[0])
	for _, b := range w[1:] {
		m.writeLocked(ptr%mcpRegs, b)
		ptr++
	}
	for i := range r {
		r[i] = m.readLocked(ptr % mcpRegs)
		ptr++
	}
	return nil
}

func (m *MCP23017) writeLocked(reg int, b byte) {
	switch reg {
	case regGPIOA, regGPIOA + 1:
		m.regs[regOLATA+reg-regGPIOA] = b
	default:
		m.regs[reg] = b
	}
}

func (m *MCP23017) readLocked(reg int) byte {
	if reg == regGPIOA || reg == regGPIOA+1 {
		port := reg - regGPIOA
		return m.linesLocked(port) ^ (m.regs[regIPOLA+port] & m.regs[regIODIRA+port])
	}
	return m.regs[reg]
}

// linesLocked returns the electrical level of port's eight lines.
func (m *MCP23017) linesLocked(port int) byte {
	dir := m.regs[regIODIRA+port]
	out := m.regs[regOLATA+port] &^ dir
	in := (m.inputs[port] & m.driven[port]) | (m.regs[regGPPUA+port] &^ m.driven[port])
	return out | (in & dir)
}

// SetInput drives line bit (0-7) of port (0 = A, 1 = B) from outside.
func (m *MCP23017) SetInput(port, bit int, l gpio.Level) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.driven[port] |= 1 << bit
	if l {
		m.inputs[port] |= 1 << bit
	} else {
		m.inputs[port] &^= 1 << bit
	}
}

// Output returns the level of line bit of port and whether it is an output.
func (m *MCP23017) Output(port, bit int) (level gpio.Level, isOutput bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.linesLocked(port)&(1<<bit) != 0, m.regs[regIODIRA+port]&(1<<bit) == 0
}

// Fail makes every later transaction fail with err (nil heals the bus).
func (m *MCP23017) Fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failErr = err
}

// Transactions returns how many transactions the bus has seen.
func (m *MCP23017) Transactions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.txs
}

// Interface guards.
var _ i2c.Bus = (*MCP23017)(nil)
