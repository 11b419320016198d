package qr_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/makiuchi-d/gozxing"

	"keycab.dev/keycab/hardware/qr"
)

// TestBinarizersMatchGozxing checks that the in-place binarizers produce
// bit for bit what gozxing's HybridBinarizer and GlobalHistogramBinarizer
// produce, on generated frames and on odd sizes and strides where the last
// block row and column overlap the one before.
func TestBinarizersMatchGozxing(t *testing.T) {
	type frame struct {
		y                     []byte
		width, height, stride int
	}
	var frames []frame
	for _, s := range scenes(6, 640, 480) {
		frames = append(frames, frame{s.img.Pix, 640, 480, s.img.Stride})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{645, 483, 650}, {41, 43, 41}, {100, 60, 128}, {39, 200, 40}, {333, 17, 333}, {1, 1, 1}} {
		w, h, stride := sz[0], sz[1], sz[2]
		y := make([]byte, stride*h)
		for i := range y {
			// Smooth gradient plus noise, with flat patches, so both the
			// low-contrast and the normal block paths run.
			x, r := i%stride, i/stride
			v := (x*3+r*2)%256 + rng.IntN(40) - 20
			if (x/16+r/16)%3 == 0 {
				v = 128
			}
			y[i] = byte(max(0, min(255, v)))
		}
		frames = append(frames, frame{y, w, h, stride})
	}
	for _, f := range frames {
		src, err := gozxing.NewPlanarYUVLuminanceSource(f.y, f.stride, f.height, 0, 0, f.width, f.height, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			ours func([]byte, int, int, int) *gozxing.BitMatrix
			ref  func(gozxing.LuminanceSource) gozxing.Binarizer
		}{
			{"hybrid", qr.HybridMatrix, gozxing.NewHybridBinarizer},
			{"global", qr.GlobalMatrix, gozxing.NewGlobalHistgramBinarizer},
		} {
			want, werr := c.ref(src).GetBlackMatrix()
			got := c.ours(f.y, f.width, f.height, f.stride)
			if (werr != nil) != (got == nil) {
				t.Fatalf("%s %dx%d stride %d: gozxing error %v, ours nil %v", c.name, f.width, f.height, f.stride, werr, got == nil)
			}
			if got == nil {
				continue
			}
			if got.String() != want.String() {
				t.Errorf("%s %dx%d stride %d: matrices differ", c.name, f.width, f.height, f.stride)
			}
		}
	}
}

// TestLE8 compares the eight-at-a-time threshold with pixel-by-pixel
// comparisons for every threshold and every pixel value in every position.
func TestLE8(t *testing.T) {
	for th := 0; th < 256; th++ {
		for v := 0; v < 256; v++ {
			var w uint64
			var want uint32
			for i := 0; i < 8; i++ {
				p := (v + 37*i) & 255
				w |= uint64(p) << (8 * i)
				if p <= th {
					want |= 1 << i
				}
			}
			if got := qr.LE8(w, th); got != want {
				t.Fatalf("le8(%#x, %d) = %08b, want %08b", w, th, got, want)
			}
		}
	}
}

// TestUpscale2 checks the crop doubling of crop.go on a 3x2 region read
// through a stride of 4: pixels kept, means between them, the last row and
// column repeated.
func TestUpscale2(t *testing.T) {
	src := []byte{
		0, 100, 200, 9,
		50, 150, 250, 9,
	}
	dst := make([]byte, 6*4)
	qr.Upscale2(dst, src, 4, 3, 2)
	want := []byte{
		0, 50, 100, 150, 200, 200,
		25, 75, 125, 175, 225, 225,
		50, 100, 150, 200, 250, 250,
		50, 100, 150, 200, 250, 250,
	}
	if !bytes.Equal(dst, want) {
		t.Fatalf("upscale2:\n got %v\nwant %v", dst, want)
	}
}
