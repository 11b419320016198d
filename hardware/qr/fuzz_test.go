package qr_test

import (
	"testing"

	"keycab.dev/keycab/hardware/qr"
	"keycab.dev/keycab/internal/qrlabel"
)

// FuzzDecode gives the decoder luma planes no camera would make, starting
// from real QR codes drawn at a few module sizes: whatever the bytes, it
// returns codes or an error, never panics, and a code it returns has
// text. The first byte picks the width (anything a camera frame of a
// fuzzer's size can be), the rest is the plane.
func FuzzDecode(f *testing.F) {
	for _, m := range []int{2, 3, 5} {
		mat, err := qrlabel.Matrix("KEY:0042:fuzz")
		if err != nil {
			f.Fatal(err)
		}
		side := (len(mat) + 8) * m
		plane := make([]byte, 1+side*side)
		plane[0] = byte(side)
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				i, j := x/m-4, y/m-4
				v := byte(230)
				if i >= 0 && j >= 0 && i < len(mat) && j < len(mat) && mat[j][i] {
					v = 20
				}
				plane[1+y*side+x] = v
			}
		}
		f.Add(plane)
	}
	f.Add([]byte{1, 0})
	f.Add([]byte{255})
	d := qr.NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		w := int(b[0])
		if w == 0 {
			w = 256
		}
		y := b[1:]
		h := len(y) / w
		if h == 0 {
			if _, err := d.Decode(y, w, 1, w); err == nil {
				t.Fatalf("a plane of %d bytes decoded as %dx1", len(y), w)
			}
			return
		}
		codes, err := d.Decode(y, w, h, w)
		if err != nil {
			return
		}
		for _, c := range codes {
			if c.Text == "" {
				t.Fatalf("%dx%d: a code with no text: %+v", w, h, c)
			}
		}
	})
}
