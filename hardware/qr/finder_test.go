package qr_test

import (
	"fmt"
	"image"
	"keycab.dev/keycab/internal/qrlabel"
	"testing"

	"github.com/makiuchi-d/gozxing"
	multidetector "github.com/makiuchi-d/gozxing/multi/qrcode/detector"

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
