package badge

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

const (
	stx         = 0x02
	etx         = 0x03
	rdmFrameLen = 14 // STX + 10 data + 2 checksum + ETX
	maxGarbage  = 64
)

// RDM6300Decoder splits a byte stream from an RDM6300/EM4100 module into
// frames: STX, 10 ASCII hex digits (version byte and 32-bit card number),
// 2 ASCII hex digits of the XOR of the five data bytes, ETX. Bytes outside
// a frame, truncated frames, bad digits and bad checksums are returned as
// rejected Frames. Frames may be split across Feed calls or glued together.
// The zero value is ready to use.
type RDM6300Decoder struct {
	frame   []byte
	garbage []byte
}

// Feed consumes p and returns the frames it completed.
func (d *RDM6300Decoder) Feed(p []byte) []Frame {
	var out []Frame
	flushGarbage := func() {
		if len(d.garbage) > 0 {
			out = append(out, Frame{Err: fmt.Errorf("%d bytes outside a frame", len(d.garbage)), Raw: d.garbage})
			d.garbage = nil
		}
	}
	for _, c := range p {
		if d.frame == nil {
			if c == stx {
				flushGarbage()
				d.frame = append(make([]byte, 0, rdmFrameLen), c)
				continue
			}
			if len(d.garbage) < maxGarbage {
				d.garbage = append(d.garbage, c)
			}
			continue
		}
		if c == stx {
			out = append(out, Frame{Err: fmt.Errorf("frame truncated after %d bytes", len(d.frame)), Raw: d.frame})
			d.frame = append(make([]byte, 0, rdmFrameLen), c)
			continue
		}
		d.frame = append(d.frame, c)
		if len(d.frame) < rdmFrameLen {
			continue
		}
		f := d.frame
		d.frame = nil
		code, err := ParseRDM6300(f)
		out = append(out, Frame{Code: code, Err: err, Raw: f})
	}
	// Garbage is reported once no frame can follow in this chunk.
	if d.frame == nil {
		flushGarbage()
	}
	return out
}

// ParseRDM6300 checks one complete 14-byte frame and returns its 10 data
// digits in upper case.
func ParseRDM6300(f []byte) (string, error) {
	if len(f) != rdmFrameLen {
		return "", fmt.Errorf("frame is %d bytes, want %d", len(f), rdmFrameLen)
	}
	if f[0] != stx {
		return "", errors.New("frame does not start with STX")
	}
	if f[rdmFrameLen-1] != etx {
		return "", fmt.Errorf("frame ends with %#02x, want ETX", f[rdmFrameLen-1])
	}
	var raw [6]byte
	if _, err := hex.Decode(raw[:], f[1:13]); err != nil {
		return "", fmt.Errorf("bad hex digit: %w", err)
	}
	sum := raw[0] ^ raw[1] ^ raw[2] ^ raw[3] ^ raw[4]
	if sum != raw[5] {
		return "", fmt.Errorf("checksum %02X, frame says %02X", sum, raw[5])
	}
	return fmt.Sprintf("%X", raw[:5]), nil
}

// RDM6300Frame builds the frame a module sends for a 10-digit hex code; the
// simulator and tests use it.
func RDM6300Frame(code string) ([]byte, error) {
	var raw [5]byte
	if len(code) != 10 {
		return nil, fmt.Errorf("rdm6300 code %q: want 10 hex digits", code)
	}
	if _, err := hex.Decode(raw[:], []byte(code)); err != nil {
		return nil, fmt.Errorf("rdm6300 code %q: %w", code, err)
	}
	sum := raw[0] ^ raw[1] ^ raw[2] ^ raw[3] ^ raw[4]
	return fmt.Appendf([]byte{stx}, "%X%02X\x03", raw[:], sum), nil
}

// Presence turns the repeated frames of a card held in the field into one
// report per presentation: a code is reported when it differs from the last
// one, or when nothing was read for longer than Hold.
type Presence struct {
	Hold time.Duration // default 500ms

	last string
	seen time.Time
}

// Accept reports whether code read at now starts a new presentation.
func (p *Presence) Accept(code string, now time.Time) bool {
	hold := p.Hold
	if hold <= 0 {
		hold = 500 * time.Millisecond
	}
	fresh := code != p.last || p.seen.IsZero() || now.Sub(p.seen) > hold
	p.last, p.seen = code, now
	return fresh
}

// RDM6300Config configures an RDM6300 reader.
type RDM6300Config struct {
	SerialConfig
	// Hold is how long a card may go unread and still be the same
	// presentation; the module repeats about every 100ms. Default 500ms.
	// The Clock's Now is called exactly once per valid frame.
	Hold time.Duration
}

// NewRDM6300 returns a reader for an RDM6300 module. The port is opened on
// the first Read.
func NewRDM6300(cfg RDM6300Config) Reader {
	r := newStreamReader(cfg.Port, "rdm6300", openSerial(cfg.SerialConfig), &RDM6300Decoder{}, cfg.Clock, cfg.Logger, cfg.Backoff)
	pres := &Presence{Hold: cfg.Hold}
	r.accept = pres.Accept
	return r
}
