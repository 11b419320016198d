// Package qr decodes QR codes straight from a camera frame's luma plane and
// renders QR codes for labels, tests and the simulated camera.
//
// Decoding reads the luma bytes in place through their stride (no copy, no
// per-pixel image.At) and binarizes them with the hybrid (local-threshold)
// algorithm of gozxing's HybridBinarizer, reimplemented here to produce
// the same bits several times faster into a reused matrix. It scans the
// bits once for finder patterns (again gozxing's algorithm, walked run by
// run), decodes every code found, so one frame may yield several, and falls
// back to the best-looking single triple of patterns. When that finds
// nothing it retries once on a global-histogram binarization, which rescues
// some blurred and low-contrast frames, and last searches the hybrid
// binarization again with a finder pattern check tolerant of blur and
// several triples and dimensions (tolerant.go, after zxing-cpp's detector),
// and when that finds two small-module finder patterns but reads nothing,
// decodes the region around them doubled in size (crop.go). gozxing still
// samples the grid and decodes.
package qr

import (
	"errors"
	"fmt"
	"image"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// Code is one decoded QR code.
type Code struct {
	Text string
	// Points are the finder pattern centres in frame coordinates.
	Points []image.Point
}

// Decoder decodes frames. It keeps scratch buffers from one frame to the
// next, so it is not safe for concurrent use; give each goroutine its own.
type Decoder struct {
	hints map[gozxing.DecodeHintType]any
	bin   binarizer // hybrid
	gbin  binarizer // global histogram, its own matrix: the hybrid one is searched again
	qr    *decoder.Decoder
	// scanRow holds one matrix row for the finder pattern search.
	scanRow *gozxing.BitArray
	// sub decodes the upscaled crops (crop.go), up holds them; nil in
	// sub itself, which does not crop again.
	sub *Decoder
	up  []byte
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{
		// TRY_HARDER only makes the finder search scan every third row
		// whatever the frame height; 640x480 frames get that anyway.
		hints: map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true},
		qr:    decoder.NewDecoder(),
		sub: &Decoder{
			hints: map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true},
			qr:    decoder.NewDecoder(),
		},
	}
}

// Decode finds every QR code in the luma plane y of a width x height frame
// whose rows are stride bytes apart. Codes are ordered top to bottom, left
// to right. No code found is not an error.
//
// It binarizes the frame with the hybrid (local-threshold) binarizer and
// looks for finder patterns once; every clean triple of them is decoded, and
// when none decodes the best-looking triple is tried, which forgives more
// perspective. Only if that finds nothing does it try again on a
// global-histogram binarization, which rescues some blurred and low-contrast
// frames, then the tolerant search on the hybrid bits (decodeTolerant), then
// an upscaled crop around small-module candidates (decodeCrops): the cheap
// tries first, so that frames read at once stay cheap.
func (d *Decoder) Decode(y []byte, width, height, stride int) ([]Code, error) {
	if width <= 0 || height <= 0 || stride < width || len(y) < stride*(height-1)+width {
		return nil, fmt.Errorf("decode qr: luma plane of %d bytes too small for %dx%d stride %d", len(y), width, height, stride)
	}
	hm := d.bin.hybrid(y, width, height, stride)
	if hm == nil {
		return nil, nil // too small to hold a code
	}
	codes, err := d.decodeMatrix(hm)
	if err != nil || len(codes) > 0 {
		return codes, err
	}
	if width >= minHybrid && height >= minHybrid { // else hybrid was global already
		if gm := d.gbin.global(y, width, height, stride); gm != nil {
			codes, err := d.decodeMatrix(gm)
			if err != nil || len(codes) > 0 {
				return codes, err
			}
		}
	}
	codes, cands, err := d.decodeTolerant(hm)
	if err != nil || len(codes) > 0 || d.sub == nil {
		return codes, err
	}
	return d.decodeCrops(y, width, height, stride, cands)
}

// decodeMatrix finds and decodes the codes in one binarized frame, scanning
// it for finder patterns only once.
func (d *Decoder) decodeMatrix(m *gozxing.BitMatrix) ([]Code, error) {
	if m == nil {
		return nil, nil
	}
	finder := detector.NewFinderPatternFinder(m, nil)
	if d.scanRow == nil || d.scanRow.GetSize() < m.GetWidth() {
		d.scanRow = gozxing.NewBitArray(m.GetWidth())
	}
	findPatterns(finder, m, d.scanRow)
	det := detector.NewDetector(m)
	var out []Code
	seen := map[string]bool{}
	try := func(info *detector.FinderPatternInfo) error {
		dr, err := det.ProcessFinderPatternInfo(info)
		if err != nil {
			return notFoundOr(err)
		}
		res, err := d.qr.Decode(dr.GetBits(), d.hints)
		if err != nil {
			return notFoundOr(err)
		}
		points := dr.GetPoints()
		if md, ok := res.GetOther().(*decoder.QRCodeDecoderMetaData); ok {
			md.ApplyMirroredCorrection(points)
		}
		if seen[res.GetText()] {
			return nil
		}
		seen[res.GetText()] = true
		c := Code{Text: res.GetText()}
		for _, p := range points {
			c.Points = append(c.Points, image.Pt(int(p.GetX()+0.5), int(p.GetY()+0.5)))
		}
		out = append(out, c)
		return nil
	}
	for _, t := range selectTriples(finder.GetPossibleCenters()) {
		bl, tl, tr := gozxing.ResultPoint_OrderBestPatterns(t[0], t[1], t[2])
		info := detector.NewFinderPatternInfo(bl.(*detector.FinderPattern), tl.(*detector.FinderPattern), tr.(*detector.FinderPattern))
		if err := try(info); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		// The multi-code selection insists on clean finder triples; the
		// single-code one (best isosceles right triangle among the same
		// candidates) is more forgiving of perspective.
		fps, err := finder.SelectBestPatterns()
		if err != nil {
			return nil, nil
		}
		bl, tl, tr := gozxing.ResultPoint_OrderBestPatterns(fps[0], fps[1], fps[2])
		info := detector.NewFinderPatternInfo(bl.(*detector.FinderPattern), tl.(*detector.FinderPattern), tr.(*detector.FinderPattern))
		if err := try(info); err != nil {
			return nil, err
		}
	}
	sortCodes(out)
	return out, nil
}

// notFoundOr returns nil for the gozxing errors that just mean "no code
// here" and err wrapped otherwise.
func notFoundOr(err error) error {
	if isNotFound(err) {
		return nil
	}
	return fmt.Errorf("decode qr: %w", err)
}

// isNotFound reports the gozxing errors that just mean "no code here".
func isNotFound(err error) bool {
	var re gozxing.ReaderException
	return errors.As(err, &re)
}

func sortCodes(cs []Code) {
	key := func(c Code) (int, int) {
		if len(c.Points) == 0 {
			return 0, 0
		}
		x, y := 0, 0
		for _, p := range c.Points {
			x += p.X
			y += p.Y
		}
		return y / len(c.Points), x / len(c.Points)
	}
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0; j-- {
			y1, x1 := key(cs[j-1])
			y2, x2 := key(cs[j])
			if y2 < y1-20 || (y2 <= y1+20 && x2 < x1) {
				cs[j-1], cs[j] = cs[j], cs[j-1]
			}
		}
	}
}
