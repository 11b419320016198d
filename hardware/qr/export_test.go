package qr

import (
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// HybridMatrix and GlobalMatrix expose the binarizers to the black-box
// tests, which compare them with gozxing's.
func HybridMatrix(y []byte, width, height, stride int) *gozxing.BitMatrix {
	var b binarizer
	return b.hybrid(y, width, height, stride)
}

func GlobalMatrix(y []byte, width, height, stride int) *gozxing.BitMatrix {
	var b binarizer
	return b.global(y, width, height, stride)
}

// FinderCenters runs the run-length finder pattern scan on m and returns
// the confirmed candidates, for comparison with gozxing's.
func FinderCenters(m *gozxing.BitMatrix) []*detector.FinderPattern {
	f := detector.NewFinderPatternFinder(m, nil)
	findPatterns(f, m, nil)
	return f.GetPossibleCenters()
}

// Triples is selectTriples.
func Triples(centers []*detector.FinderPattern) [][3]*detector.FinderPattern {
	return selectTriples(centers)
}

// MayBeCross and E2EModule expose the finder pattern run checks.
func MayBeCross(c []int) bool { return mayBeCross(c) }

func E2EModule(r [5]int) float64 { return e2eModule(&r) }

// LE8 is le8, the eight-pixel threshold comparison.
func LE8(w uint64, t int) uint32 { return le8(w, t) }

// Upscale2 is upscale2, the crop doubling.
func Upscale2(dst, src []byte, stride, w, h int) { upscale2(dst, src, stride, w, h) }
