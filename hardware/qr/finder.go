package qr

import (
	"math"
	"math/bits"
	"sort"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// findPatterns scans every third row of m for the 1:1:3:1:1 run pattern
// of a finder pattern and confirms each candidate with gozxing's cross
// checks (FinderPatternFinder.HandlePossibleCenter), exactly as gozxing's
// MultiFinderPatternFinder.FindMulti with TRY_HARDER does. It differs only
// in walking the row run by run, counting runs a 32-bit word at a time,
// instead of calling BitMatrix.Get per pixel, which was most of the cost of
// finding codes.
func findPatterns(f *detector.FinderPatternFinder, m *gozxing.BitMatrix, row *gozxing.BitArray) {
	maxI, maxJ := m.GetHeight(), m.GetWidth()
	var sc [5]int
	counts := sc[:]
	for i := detector.FinderPatternFinder_MIN_SKIP - 1; i < maxI; i += detector.FinderPatternFinder_MIN_SKIP {
		row = m.GetRow(i, row)
		words := row.GetBitArray()
		clear(counts)
		state := 0
		for j := 0; j < maxJ; {
			// Length of the run of equal pixels starting at j.
			black := words[j>>5]>>(j&31)&1 == 1
			n := runLength(words, j, maxJ, black)
			if black {
				if state&1 == 1 {
					state++
				}
				counts[state] += n
				j += n
				continue
			}
			// White run: the first pixel or two may change state, the rest
			// only add to an odd (white) state.
			for ; n > 0 && state&1 == 0; n, j = n-1, j+1 {
				if state != 4 {
					state++
					counts[state]++
					continue
				}
				if mayBeCross(counts) && detector.FinderPatternFinder_foundPatternCross(counts) && f.HandlePossibleCenter(counts, i, j) {
					state = 0
					clear(counts)
				} else {
					detector.FinderPatternFinder_doShiftCounts2(counts)
					state = 3
				}
			}
			counts[state] += n
			j += n
		}
		if detector.FinderPatternFinder_foundPatternCross(counts) {
			f.HandlePossibleCenter(counts, i, maxJ)
		}
	}
}

// mayBeCross is false for the counts FinderPatternFinder_foundPatternCross
// surely rejects, in integers and without a call: with t the total, each
// outer count must lie within [t/14, 3t/14] and the centre one within
// [3t/14, 9t/14]. It lets the exact (floating point) check decide at the
// bounds, so it never rejects what that check accepts.
func mayBeCross(c []int) bool {
	_ = c[4]
	t := c[0] + c[1] + c[2] + c[3] + c[4]
	out := func(v int) bool { return 14*v < t || 14*v > 3*t }
	if out(c[0]) || out(c[4]) || out(c[1]) || out(c[3]) {
		return false
	}
	v := 14 * c[2]
	return v >= 3*t && v <= 9*t
}

// runLength returns how many pixels from j on (before end) have the colour
// black.
func runLength(words []uint32, j, end int, black bool) int {
	start := j
	for j < end {
		w := words[j>>5]
		if !black {
			w = ^w
		}
		w >>= j & 31
		// Ones in w are pixels of the run's colour; count the leading ones.
		k := bits.TrailingZeros32(^w)
		if left := 32 - j&31; k >= left {
			j += left
			continue
		}
		j += k
		break
	}
	return min(j, end) - start
}

// Limits from gozxing's MultiFinderPatternFinder.
const (
	maxModulesPerEdge   = 180
	minModulesPerEdge   = 9
	diffModSizeCutoff   = 0.5
	diffModSizeCutoffPc = 0.05
)

// selectTriples returns every triple of candidates that looks like one QR
// code: similar module sizes and a near isosceles right triangle. It is
// gozxing's (unexported) MultiFinderPatternFinder.selectMultipleBestPatterns.
func selectTriples(centers []*detector.FinderPattern) [][3]*detector.FinderPattern {
	size := len(centers)
	if size < 3 {
		return nil
	}
	if size == 3 {
		return [][3]*detector.FinderPattern{{centers[0], centers[1], centers[2]}}
	}
	sort.Slice(centers, func(i, j int) bool {
		return centers[j].GetEstimatedModuleSize() < centers[i].GetEstimatedModuleSize()
	})
	differ := func(a, b float64) bool {
		return math.Abs(a-b) > diffModSizeCutoff && (a-b)/math.Min(a, b) >= diffModSizeCutoffPc
	}
	var out [][3]*detector.FinderPattern
	for i1 := 0; i1 < size-2; i1++ {
		p1 := centers[i1]
		for i2 := i1 + 1; i2 < size-1; i2++ {
			p2 := centers[i2]
			if differ(p1.GetEstimatedModuleSize(), p2.GetEstimatedModuleSize()) {
				break
			}
			for i3 := i2 + 1; i3 < size; i3++ {
				p3 := centers[i3]
				if differ(p2.GetEstimatedModuleSize(), p3.GetEstimatedModuleSize()) {
					break
				}
				bl, tl, tr := gozxing.ResultPoint_OrderBestPatterns(p1, p2, p3)
				dA := gozxing.ResultPoint_Distance(tl, bl)
				dC := gozxing.ResultPoint_Distance(tr, bl)
				dB := gozxing.ResultPoint_Distance(tl, tr)
				modules := (dA + dB) / (p1.GetEstimatedModuleSize() * 2)
				if modules > maxModulesPerEdge || modules < minModulesPerEdge {
					continue
				}
				if math.Abs((dA-dB)/math.Min(dA, dB)) >= 0.1 {
					continue
				}
				dCpy := math.Sqrt(dA*dA + dB*dB)
				if math.Abs((dC-dCpy)/math.Min(dC, dCpy)) >= 0.1 {
					continue
				}
				out = append(out, [3]*detector.FinderPattern{
					bl.(*detector.FinderPattern), tl.(*detector.FinderPattern), tr.(*detector.FinderPattern),
				})
			}
		}
	}
	return out
}
