package qr_test

import (
	"fmt"
	"image"
	"keycab.dev/keycab/internal/qrlabel"
	"testing"

	"github.com/makiuchi-d/gozxing"
	multidetector "github.com/makiuchi-d/gozxing/multi/qrcode/detector"
	"github.com/makiuchi-d/gozxing/qrcode/detector"

	"keycab.dev/keycab/hardware/qr"
)

func patternsString[T interface{ GetX() float64 }](ps []T) string {
	s := ""
	for _, p := range ps {
		s += fmt.Sprintf("%v;", p)
	}
	return s
}

// TestFinderMatchesGozxing checks that the run-length finder pattern scan
// confirms the same candidates, and the triple selection picks the same
// triples, as gozxing's MultiFinderPatternFinder with TRY_HARDER.
func TestFinderMatchesGozxing(t *testing.T) {
	frames := []*image.Gray{}
	for _, s := range scenes(10, 640, 480) {
		frames = append(frames, s.img)
	}
	// Several codes in one odd-sized frame (width not a multiple of 32).
	multi := image.NewGray(image.Rect(0, 0, 651, 301))
	for i := range multi.Pix {
		multi.Pix[i] = 210
	}
	for i, text := range []string{"KEY:A", "KEY:B", "KEY:C"} {
		if _, err := qrlabel.Draw(multi.Pix, 651, 301, multi.Stride, text, 40+i*210, 90, 4); err != nil {
			t.Fatal(err)
		}
	}
	frames = append(frames, multi)
	hints := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	for i, img := range frames {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		m := qr.HybridMatrix(img.Pix, w, h, img.Stride)
		ref := multidetector.NewMultiFinderPatternFinder(m, nil)
		infos, _ := ref.FindMulti(hints)
		got := qr.FinderCenters(m)
		triples := qr.Triples(got) // sorts got as gozxing sorted its own
		if a, b := patternsString(got), patternsString(ref.GetPossibleCenters()); a != b {
			t.Fatalf("frame %d: candidates differ\nours    %s\ngozxing %s", i, a, b)
		}
		if len(triples) != len(infos) {
			t.Fatalf("frame %d: %d triples, gozxing %d", i, len(triples), len(infos))
		}
		for k, tr := range triples {
			bl, tl, trp := gozxing.ResultPoint_OrderBestPatterns(tr[0], tr[1], tr[2])
			a := fmt.Sprint(bl, tl, trp)
			b := fmt.Sprint(infos[k].GetBottomLeft(), infos[k].GetTopLeft(), infos[k].GetTopRight())
			if a != b {
				t.Fatalf("frame %d: triple %d is %s, gozxing %s", i, k, a, b)
			}
		}
	}
}

// TestMayBeCrossNeverRejectsAPattern checks every run length combination
// up to 20 pixels: mayBeCross, the integer pre-check, is false only where
// gozxing's foundPatternCross is false too, so findPatterns still finds
// exactly gozxing's candidates.
func TestMayBeCrossNeverRejectsAPattern(t *testing.T) {
	var c [5]int
	var walk func(k int)
	walk = func(k int) {
		if k == 5 {
			if detector.FinderPatternFinder_foundPatternCross(c[:]) && !qr.MayBeCross(c[:]) {
				t.Fatalf("mayBeCross rejects %v, which gozxing accepts", c)
			}
			return
		}
		for c[k] = 0; c[k] <= 20; c[k]++ {
			walk(k + 1)
		}
	}
	walk(0)
}

// TestE2EModuleToleratesBlur: blur and a dark-biased threshold swell a
// finder pattern's bars and shrink its spaces; 3-pixel modules then give
// runs like 4:1:11:1:4, which gozxing's ratio check rejects and the
// edge-to-edge check (as zxing-cpp's) accepts. Plain noise runs stay out.
func TestE2EModuleToleratesBlur(t *testing.T) {
	for _, r := range [][5]int{{4, 1, 11, 1, 4}, {4, 1, 10, 2, 4}, {3, 3, 9, 3, 3}, {5, 3, 13, 2, 5}} {
		if qr.E2EModule(r) == 0 {
			t.Errorf("%v: edge-to-edge check rejects a blurred finder pattern", r)
		}
	}
	for _, r := range [][]int{{4, 1, 11, 1, 4}, {4, 1, 10, 2, 4}} {
		if detector.FinderPatternFinder_foundPatternCross(r) {
			t.Errorf("gozxing accepts %v now; the example no longer shows the difference", r)
		}
	}
	for _, r := range [][5]int{{1, 1, 1, 1, 1}, {3, 3, 3, 3, 3}, {1, 6, 9, 6, 1}, {9, 1, 9, 1, 9}} {
		if qr.E2EModule(r) != 0 {
			t.Errorf("%v: accepted as a finder pattern", r)
		}
	}
}
