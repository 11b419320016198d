package badge_test

import (
	"bytes"
	"strings"
	"testing"

	"keycab.dev/keycab/hardware/badge"
)

func feedAll(d interface{ Feed([]byte) []badge.Frame }, data []byte, chunk int) (codes []string, rejects int) {
	for len(data) > 0 {
		n := min(chunk, len(data))
		for _, f := range d.Feed(data[:n]) {
			if f.Err != nil {
				rejects++
			} else {
				codes = append(codes, f.Code)
			}
		}
		data = data[n:]
	}
	return codes, rejects
}

func TestRDM6300DecoderAnySplit(t *testing.T) {
	a, _ := badge.RDM6300Frame("0A1B2C3D4E")
	b, _ := badge.RDM6300Frame("FFFFFFFFFF")
	stream := bytes.Join([][]byte{[]byte("xx"), a, []byte("\x02ZZZZZZZZZZZZ\x03"), b, a}, nil)
	for chunk := 1; chunk <= len(stream); chunk++ {
		codes, rejects := feedAll(&badge.RDM6300Decoder{}, stream, chunk)
		if strings.Join(codes, ",") != "0A1B2C3D4E,FFFFFFFFFF,0A1B2C3D4E" || rejects < 2 {
			t.Fatalf("chunk %d: codes %v rejects %d", chunk, codes, rejects)
		}
	}
}

func TestWiegandRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		n    int
		data uint64
	}{{26, 0}, {26, 1<<24 - 1}, {26, 0x7B_B26E}, {34, 0}, {34, 1<<32 - 1}, {34, 0x1234_5678}} {
		bits, err := badge.WiegandFrame(tc.n, tc.data)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := badge.DecodeWiegand(bits); err != nil {
			t.Fatalf("%d bits %x: %v", tc.n, tc.data, err)
		}
		for i := range bits {
			bits[i] ^= 1
			if _, _, err := badge.DecodeWiegand(bits); err == nil {
				t.Fatalf("%d bits %x: flipped bit %d accepted", tc.n, tc.data, i)
			}
			bits[i] ^= 1
		}
	}
}

func FuzzRDM6300Decoder(f *testing.F) {
	a, _ := badge.RDM6300Frame("0A1B2C3D4E")
	f.Add(a, 3)
	f.Add(append(append([]byte("junk"), a...), a...), 1)
	f.Add([]byte("\x020A1B2C3D4EFF\x03"), 14)
	f.Add([]byte("\x02\x02\x03\x03"), 2)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk < 1 || chunk > 64 {
			chunk = 1
		}
		whole, _ := feedAll(&badge.RDM6300Decoder{}, data, len(data)+1)
		split, _ := feedAll(&badge.RDM6300Decoder{}, data, chunk)
		if strings.Join(whole, ",") != strings.Join(split, ",") {
			t.Fatalf("split changes codes: %v vs %v", whole, split)
		}
		for _, c := range whole {
			// Modules send upper-case hex; the decoder also takes lower
			// case, so compare without regard to it.
			f, err := badge.RDM6300Frame(c)
			if err != nil || !bytes.Contains(bytes.ToUpper(data), f) {
				t.Fatalf("code %q not backed by a valid frame in input", c)
			}
		}
	})
}

func FuzzLineDecoder(f *testing.F) {
	f.Add([]byte("ABC\r\n"), 1)
	f.Add([]byte("\r\n\n\x00\xff\r"), 2)
	f.Add([]byte(strings.Repeat("x", 600)+"\n"), 7)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk < 1 || chunk > 64 {
			chunk = 1
		}
		whole, _ := feedAll(&badge.LineDecoder{}, data, len(data)+1)
		split, _ := feedAll(&badge.LineDecoder{}, data, chunk)
		if strings.Join(whole, "\n") != strings.Join(split, "\n") {
			t.Fatalf("split changes codes")
		}
		for _, c := range whole {
			if c == "" || strings.ContainsAny(c, "\r\n\x00") || len(c) > 512 {
				t.Fatalf("bad code %q", c)
			}
		}
	})
}

func FuzzKeyDecoder(f *testing.F) {
	var typed []byte
	for _, k := range []uint16{30, 2, 28} {
		typed = badge.AppendInputEvent(typed, badge.InputEvent{Type: 1, Code: k, Value: 1})
	}
	f.Add(typed, 5)
	f.Add(badge.AppendInputEvent(nil, badge.InputEvent{Type: 1, Code: 999, Value: 1}), 1)
	f.Add([]byte{1, 2, 3}, 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk < 1 || chunk > 64 {
			chunk = 1
		}
		whole, _ := feedAll(&badge.KeyDecoder{}, data, len(data)+1)
		split, _ := feedAll(&badge.KeyDecoder{}, data, chunk)
		if strings.Join(whole, "\n") != strings.Join(split, "\n") {
			t.Fatalf("split changes codes")
		}
	})
}

func FuzzWiegand(f *testing.F) {
	ok26, _ := badge.WiegandFrame(26, 0x7BB26E)
	ok34, _ := badge.WiegandFrame(34, 0xDEADBEEF)
	f.Add(ok26)
	f.Add(ok34)
	f.Add(ok26[:25])
	f.Add([]byte{2, 0, 1})
	f.Fuzz(func(t *testing.T, bits []byte) {
		code, source, err := badge.DecodeWiegand(bits)
		if err != nil {
			return
		}
		if (len(bits) != 26 && len(bits) != 34) || code == "" || !strings.HasPrefix(source, "wiegand") {
			t.Fatalf("accepted %v as %q %q", bits, code, source)
		}
	})
}
