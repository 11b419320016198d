package qr

import (
	"image"
	"math"
	"sort"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	qrdecoder "github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// The tolerant search below is the fallback for frames the gozxing-exact
// search (findPatterns, selectTriples) reads nothing from. It follows what
// zxing-cpp's QR detector does and gozxing does not:
//
//   - A finder pattern's 1:1:3:1:1 runs are checked "edge to edge" as
//     zxing-cpp's IsPattern<E2E> does: bars and spaces get a module size
//     each, so blur or a threshold that makes dark runs swell and light
//     ones shrink (3-pixel modules lose a third of a module that way) still
//     matches. gozxing wants every run within half a module of one size.
//   - Several plausible triples are tried, best first, instead of one.
//   - The grid is sampled at the estimated dimension and, when that does not
//     decode, at the next version's: blur makes the finder patterns look
//     larger, so the estimate often falls one version short.
//   - A small code with no alignment pattern to go by is resampled with its
//     bottom-right corner nudged by up to two modules (nudgeCorner).
//   - Before sampling a whole grid, the 30 format information modules are
//     sampled alone and must decode (zxing-cpp likewise reads the format
//     first); a noise triple or a wrong dimension stops there.

// e2eModule returns the module size of the runs r (black, white, black,
// white, black) if they look like a finder pattern's 1:1:3:1:1 measured
// edge to edge, and 0 otherwise.
func e2eModule(r *[5]int) float64 {
	// zxing-cpp's fast plausibility test.
	if r[2] < 3 || r[2] < 2*max(r[0], r[4]) || r[2] < max(r[1], r[3]) {
		return 0
	}
	bar := float64(r[0]+r[2]+r[4]) / 5
	space := float64(r[1]+r[3]) / 2
	if max(bar, space) > 4*min(bar, space) {
		return 0
	}
	tb, ts := bar*0.75+0.5, space*0.6+0.5
	if math.Abs(float64(r[0])-bar) > tb || math.Abs(float64(r[2])-3*bar) > tb || math.Abs(float64(r[4])-bar) > tb ||
		math.Abs(float64(r[1])-space) > ts || math.Abs(float64(r[3])-space) > ts {
		return 0
	}
	return (bar + space) / 2
}

// crossRuns measures the five runs through (x, y), which must be black,
// along the direction (dx, dy): the centre bar both ways, then a space and
// a bar on each side, each at most limit pixels. It returns the runs and
// the centre's position along the direction (in pixels from (x, y)), ok
// false when a run runs out of the frame or past limit.
func crossRuns(m *gozxing.BitMatrix, x, y, dx, dy, limit int) (r [5]int, centre float64, ok bool) {
	w, h := m.GetWidth(), m.GetHeight()
	in := func(x, y int) bool { return x >= 0 && y >= 0 && x < w && y < h }
	// Backwards: centre bar's first half, space, bar.
	back := [3]int{}
	cx, cy := x, y
	for k, want := range [3]bool{true, false, true} {
		for in(cx, cy) && m.Get(cx, cy) == want && back[k] <= limit {
			back[k]++
			cx, cy = cx-dx, cy-dy
		}
		if !in(cx, cy) || back[k] > limit || back[k] == 0 {
			return r, 0, false
		}
	}
	fwd := [3]int{}
	cx, cy = x+dx, y+dy
	for k, want := range [3]bool{true, false, true} {
		for in(cx, cy) && m.Get(cx, cy) == want && fwd[k] <= limit {
			fwd[k]++
			cx, cy = cx+dx, cy+dy
		}
		if !in(cx, cy) || fwd[k] > limit || (k > 0 && fwd[k] == 0) {
			return r, 0, false
		}
	}
	r = [5]int{back[2], back[1], back[0] + fwd[0], fwd[1], fwd[2]}
	// Centre of the centre bar relative to (x, y).
	centre = float64(fwd[0]-(back[0]-1)) / 2
	return r, centre, true
}

// tolerantPatterns scans every third row of m for finder patterns with the
// edge-to-edge check, confirms each one vertically and again horizontally
// through its centre, and returns the candidates.
func tolerantPatterns(m *gozxing.BitMatrix, row *gozxing.BitArray) []*detector.FinderPattern {
	var found []*detector.FinderPattern
	w, h := m.GetWidth(), m.GetHeight()
	var runs []int
	for y := 2; y < h; y += 3 {
		row = m.GetRow(y, row)
		words := row.GetBitArray()
		// Runs of the row, the first one white (maybe empty).
		runs = runs[:0]
		black := false
		for x := 0; x < w; {
			n := runLength(words, x, w, black)
			runs = append(runs, n)
			x += n
			black = !black
		}
		start := runs[0]
		for i := 1; i+4 < len(runs); i += 2 {
			r := [5]int{runs[i], runs[i+1], runs[i+2], runs[i+3], runs[i+4]}
			// Under 1.2 pixels a module is speckle noise, or too small
			// to sample anyway (rankTriples wants 1.5).
			if ms := e2eModule(&r); ms >= 1.2 {
				cx := start + r[0] + r[1] + r[2]/2
				if p := confirm(m, cx, y, r[0]+r[1]+r[2]+r[3]+r[4]); p != nil {
					found = addCandidate(found, p)
				}
			}
			start += runs[i] + runs[i+1]
		}
	}
	return found
}

// confirm checks a row candidate centred at (x, y), total pixels wide, in
// the column and then the row through the refined centre.
func confirm(m *gozxing.BitMatrix, x, y, total int) *detector.FinderPattern {
	limit := total * 2
	rv, dy, ok := crossRuns(m, x, y, 0, 1, limit)
	if !ok || e2eModule(&rv) == 0 {
		return nil
	}
	cy := y + int(math.Floor(dy))
	rh, dx, ok := crossRuns(m, x, cy, 1, 0, limit)
	if !ok || e2eModule(&rh) == 0 {
		return nil
	}
	th := rh[0] + rh[1] + rh[2] + rh[3] + rh[4]
	tv := rv[0] + rv[1] + rv[2] + rv[3] + rv[4]
	if th > 3*tv || tv > 3*th {
		return nil
	}
	return detector.NewFinderPattern1(float64(x)+dx+0.5, float64(y)+dy+0.5, float64(th+tv)/14)
}

func addCandidate(found []*detector.FinderPattern, p *detector.FinderPattern) []*detector.FinderPattern {
	for i, c := range found {
		if c.AboutEquals(p.GetEstimatedModuleSize(), p.GetY(), p.GetX()) {
			found[i] = c.CombineEstimate(p.GetY(), p.GetX(), p.GetEstimatedModuleSize())
			return found
		}
	}
	return append(found, p)
}

// maxTriples bounds how many triples the tolerant search samples.
const maxTriples = 3

// rankTriples returns up to maxTriples triples (bottom left, top left, top
// right) of candidates with similar module sizes that form a roughly
// isosceles right triangle, the least distorted first. Candidates seen on
// one scanned row only, or under 1.5 pixels a module, are dropped: speckle
// noise makes hundreds of those in a frame, a real finder pattern of
// readable size crosses several scanned rows.
func rankTriples(cs []*detector.FinderPattern) [][3]*detector.FinderPattern {
	keep := make([]*detector.FinderPattern, 0, len(cs))
	for _, c := range cs {
		if c.GetCount() > 1 && c.GetEstimatedModuleSize() >= 1.5 {
			keep = append(keep, c)
		}
	}
	cs = keep
	sort.Slice(cs, func(i, j int) bool { return cs[i].GetEstimatedModuleSize() > cs[j].GetEstimatedModuleSize() })
	type ranked struct {
		t [3]*detector.FinderPattern
		d float64
	}
	var out []ranked
	d2 := func(a, b *detector.FinderPattern) float64 {
		x, y := a.GetX()-b.GetX(), a.GetY()-b.GetY()
		return x*x + y*y
	}
	for i := 0; i < len(cs); i++ {
		a := cs[i]
		for j := i + 1; j < len(cs) && a.GetEstimatedModuleSize() <= cs[j].GetEstimatedModuleSize()*1.6; j++ {
			b := cs[j]
			ab := d2(a, b)
			for k := j + 1; k < len(cs) && a.GetEstimatedModuleSize() <= cs[k].GetEstimatedModuleSize()*1.6; k++ {
				c := cs[k]
				// Cheap shape test on squared sides first: two legs of
				// similar length, the third side their hypotenuse.
				s1, s2, s3 := ab, d2(b, c), d2(a, c)
				if s1 > s3 {
					s1, s3 = s3, s1
				}
				if s2 > s3 {
					s2, s3 = s3, s2
				}
				if s1 > s2 {
					s1, s2 = s2, s1
				}
				if s2 > 1.6*s1 || math.Abs(s3-s1-s2) > 0.35*s3 {
					continue
				}
				ms := (a.GetEstimatedModuleSize() + b.GetEstimatedModuleSize() + c.GetEstimatedModuleSize()) / 3
				legs, hyp := math.Sqrt(s1), math.Sqrt(s2)
				modules := (legs + hyp) / (2 * ms)
				if modules > maxModulesPerEdge || modules < minModulesPerEdge {
					continue
				}
				bl, tl, tr := gozxing.ResultPoint_OrderBestPatterns(a, b, c)
				dist := (hyp-legs)/legs + math.Abs(math.Sqrt(s3)-math.Hypot(legs, hyp))/math.Sqrt(s3)
				out = append(out, ranked{[3]*detector.FinderPattern{
					bl.(*detector.FinderPattern), tl.(*detector.FinderPattern), tr.(*detector.FinderPattern)}, dist})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].d < out[j].d })
	ts := make([][3]*detector.FinderPattern, 0, min(len(out), maxTriples))
	for i := 0; i < len(out) && i < maxTriples; i++ {
		ts = append(ts, out[i].t)
	}
	return ts
}

// sampleDimensions samples the grid a triple spans, as gozxing's
// Detector.ProcessFinderPatternInfo does (alignment pattern included), at
// the dimension estimated from the candidates' module sizes and at the next
// version's, and calls try on each sampling whose format information
// decodes until try returns true.
func sampleDimensions(m *gozxing.BitMatrix, t [3]*detector.FinderPattern, try func(bits *gozxing.BitMatrix, points []gozxing.ResultPoint) bool) {
	bl, tl, tr := t[0], t[1], t[2]
	ms := (bl.GetEstimatedModuleSize() + tl.GetEstimatedModuleSize() + tr.GetEstimatedModuleSize()) / 3
	est := (gozxing.ResultPoint_Distance(tl, tr)+gozxing.ResultPoint_Distance(tl, bl))/(2*ms) + 7
	base := int(math.Round((est-17)/4))*4 + 17
	for _, dim := range []int{base, base + 4} {
		ver, err := qrdecoder.Version_GetProvisionalVersionForDimension(dim)
		if err != nil || dim < 21 {
			continue
		}
		var align *detector.AlignmentPattern
		if len(ver.GetAlignmentPatternCenters()) > 0 {
			brX := tr.GetX() - tl.GetX() + bl.GetX()
			brY := tr.GetY() - tl.GetY() + bl.GetY()
			corr := 1 - 3/float64(dim-7)
			ex := int(tl.GetX() + corr*(brX-tl.GetX()))
			ey := int(tl.GetY() + corr*(brY-tl.GetY()))
			for f := 4; f <= 16 && align == nil; f <<= 1 {
				align = findAlignment(m, ms, ex, ey, f)
			}
		}
		transform := detector.Detector_createTransform(tl, tr, bl, align, dim)
		if !formatPlausible(m, transform, dim) {
			continue
		}
		bits, err := detector.Detector_sampleGrid(m, transform, dim)
		if err != nil {
			continue
		}
		points := []gozxing.ResultPoint{bl, tl, tr}
		if try(bits, points) {
			return
		}
		if align == nil && dim <= maxNudgeDim && nudgeCorner(m, t, dim, func(bits *gozxing.BitMatrix) bool { return try(bits, points) }) {
			return
		}
	}
}

// maxNudgeDim is the largest dimension nudgeCorner tries: small codes (the
// kiosk's labels are version 1 or 2), whose grids are cheap to sample.
const maxNudgeDim = 29

// nudgeOffsets are nudgeCorner's moves of the bottom-right corner, in
// modules along the top and left edges, nearest first.
var nudgeOffsets = func() [][2]float64 {
	var out [][2]float64
	for r := 1; r <= 2; r++ {
		for a := -r; a <= r; a++ {
			for b := -r; b <= r; b++ {
				if max(a, -a, b, -b) == r {
					out = append(out, [2]float64{float64(a), float64(b)})
				}
			}
		}
	}
	return out
}()

// nudgeCorner resamples a grid with no alignment pattern to go by (version
// 1, or none found) with its bottom-right corner moved by up to two modules
// each way. Without an alignment pattern the corner is guessed by
// completing a parallelogram, which perspective puts off by a module or
// two; zxing-cpp finds it from the finder patterns' own corners instead.
// It returns true once try does.
func nudgeCorner(m *gozxing.BitMatrix, t [3]*detector.FinderPattern, dim int, try func(*gozxing.BitMatrix) bool) bool {
	bl, tl, tr := t[0], t[1], t[2]
	n := float64(dim - 7)
	ux, uy := (tr.GetX()-tl.GetX())/n, (tr.GetY()-tl.GetY())/n
	vx, vy := (bl.GetX()-tl.GetX())/n, (bl.GetY()-tl.GetY())/n
	brX, brY := tr.GetX()-tl.GetX()+bl.GetX(), tr.GetY()-tl.GetY()+bl.GetY()
	far := float64(dim) - 3.5
	for _, o := range nudgeOffsets {
		x, y := brX+o[0]*ux+o[1]*vx, brY+o[0]*uy+o[1]*vy
		transform := common.PerspectiveTransform_QuadrilateralToQuadrilateral(
			3.5, 3.5, far, 3.5, far, far, 3.5, far,
			tl.GetX(), tl.GetY(), tr.GetX(), tr.GetY(), x, y, bl.GetX(), bl.GetY())
		bits, err := detector.Detector_sampleGrid(m, transform, dim)
		if err == nil && try(bits) {
			return true
		}
	}
	return false
}

// formatPlausible samples only the two copies of the format information
// (30 modules) through transform and reports whether either reading, plain
// or mirrored, decodes, as the decoder's BitMatrixParser would read them
// from the whole grid. A triple of noise or a wrong dimension rarely passes,
// and sampling the whole grid costs up to dim*dim reads.
func formatPlausible(m *gozxing.BitMatrix, transform *common.PerspectiveTransform, dim int) bool {
	// Module (x, y) of the format information, in BitMatrixParser's order.
	var pos [30][2]int
	n := 0
	for i := 0; i < 6; i++ {
		pos[n] = [2]int{i, 8}
		n++
	}
	pos[n], pos[n+1], pos[n+2] = [2]int{7, 8}, [2]int{8, 8}, [2]int{8, 7}
	n += 3
	for j := 5; j >= 0; j-- {
		pos[n] = [2]int{8, j}
		n++
	}
	for j := dim - 1; j >= dim-7; j-- {
		pos[n] = [2]int{8, j}
		n++
	}
	for i := dim - 8; i < dim; i++ {
		pos[n] = [2]int{i, 8}
		n++
	}
	var pts [60]float64
	read := func(mirror bool) (uint, uint) {
		for k, p := range pos[:n] {
			x, y := p[0], p[1]
			if mirror {
				x, y = y, x
			}
			pts[2*k], pts[2*k+1] = float64(x)+0.5, float64(y)+0.5
		}
		transform.TransformPoints(pts[:2*n])
		var b [2]uint
		for k := range pos[:n] {
			x, y := int(pts[2*k]), int(pts[2*k+1])
			bit := x >= 0 && y >= 0 && x < m.GetWidth() && y < m.GetHeight() && m.Get(x, y)
			w := 0
			if k >= 15 {
				w = 1
			}
			b[w] <<= 1
			if bit {
				b[w] |= 1
			}
		}
		return b[0], b[1]
	}
	for _, mirror := range []bool{false, true} {
		if qrdecoder.FormatInformation_DecodeFormatInformation(read(mirror)) != nil {
			return true
		}
	}
	return false
}

// findAlignment is gozxing's Detector.findAlignmentInRegion (unexported).
func findAlignment(m *gozxing.BitMatrix, ms float64, ex, ey, factor int) *detector.AlignmentPattern {
	allow := int(float64(factor) * ms)
	left, right := max(ex-allow, 0), min(ex+allow, m.GetWidth()-1)
	top, bottom := max(ey-allow, 0), min(ey+allow, m.GetHeight()-1)
	if float64(right-left) < ms*3 || float64(bottom-top) < ms*3 {
		return nil
	}
	ap, err := detector.NewAlignmentPatternFinder(m, left, top, right-left, bottom-top, ms, nil).Find()
	if err != nil {
		return nil
	}
	return ap
}

// decodeTolerant is the tolerant search on one binarized frame. It also
// returns the finder pattern candidates it found.
func (d *Decoder) decodeTolerant(m *gozxing.BitMatrix) ([]Code, []*detector.FinderPattern, error) {
	var out []Code
	var ferr error
	cands := tolerantPatterns(m, d.scanRow)
	for _, t := range rankTriples(cands) {
		sampleDimensions(m, t, func(bits *gozxing.BitMatrix, points []gozxing.ResultPoint) bool {
			res, err := d.qr.Decode(bits, d.hints)
			if err != nil {
				if ferr = notFoundOr(err); ferr != nil {
					return true
				}
				return false
			}
			if md, ok := res.GetOther().(*qrdecoder.QRCodeDecoderMetaData); ok {
				md.ApplyMirroredCorrection(points)
			}
			c := Code{Text: res.GetText()}
			for _, p := range points {
				c.Points = append(c.Points, pt(p))
			}
			out = append(out, c)
			return true
		})
		if ferr != nil {
			return nil, nil, ferr
		}
		if len(out) > 0 {
			return out, nil, nil
		}
	}
	return nil, cands, nil
}

func pt(p gozxing.ResultPoint) image.Point {
	return image.Pt(int(p.GetX()+0.5), int(p.GetY()+0.5))
}
