package badge

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// LineDecoder splits the output of a GM65-style scanner into codes: one
// scan per line ended by CR, LF or CRLF. Empty lines are skipped; lines
// longer than MaxLen, with control characters or invalid UTF-8 are
// rejected. The zero value is ready to use.
type LineDecoder struct {
	MaxLen int // default 512

	line    []byte
	tooLong bool
}

// Feed consumes p and returns the lines it completed.
func (d *LineDecoder) Feed(p []byte) []Frame {
	max := d.MaxLen
	if max <= 0 {
		max = 512
	}
	var out []Frame
	for _, c := range p {
		if c != '\r' && c != '\n' {
			if len(d.line) < max {
				d.line = append(d.line, c)
			} else {
				d.tooLong = true
			}
			continue
		}
		line, tooLong := d.line, d.tooLong
		d.line, d.tooLong = nil, false
		switch {
		case tooLong:
			out = append(out, Frame{Err: fmt.Errorf("line longer than %d bytes", max), Raw: line})
		case len(line) == 0:
		case !utf8.Valid(line):
			out = append(out, Frame{Err: errors.New("line is not UTF-8"), Raw: line})
		case hasControl(line):
			out = append(out, Frame{Err: errors.New("line has control characters"), Raw: line})
		default:
			out = append(out, Frame{Code: string(line), Raw: line})
		}
	}
	return out
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// NewLine returns a reader for a serial scanner that sends one code per
// line (GM65 and similar, usually 9600 8N1). The port is opened on the
// first Read. Repeated scans are all reported; cool-down is the kiosk's.
func NewLine(cfg SerialConfig) Reader {
	return newStreamReader(cfg.Port, "line", openSerial(cfg), &LineDecoder{}, cfg.Clock, cfg.Logger, cfg.Backoff)
}
