package qr

import (
	"image"
	"math"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// The last try, for small modules: when the tolerant search found two
// finder patterns of 2.2 to 4.5 pixels a module that could belong to one
// code but no triple decoded, the region around them is cut out, doubled
// in size (bilinear) and decoded again. At 3 pixels a module the
// binarizers and the finder runs are a pixel off by a third of a module;
// at 6 they are a sixth. Only a small crop is upscaled, so the try stays
// cheap.

const (
	minCropModule = 2.2
	maxCropModule = 4.5
	// One crop a frame: a second one read one more frame of the 120 at
	// about 3% more time a frame.
	maxCrops = 1
	// maxCropArea bounds a crop (before doubling): the time, and the
	// memory the Decoder keeps for it (4 bytes a pixel doubled, about
	// 260 kB). The crops that read a code on the robustness set were
	// at most 236x222.
	maxCropArea = 256 * 256
)

// decodeCrops tries up to maxCrops regions around pairs of small-module
// candidates and returns the first codes read, in frame coordinates.
func (d *Decoder) decodeCrops(y []byte, width, height, stride int, cands []*detector.FinderPattern) ([]Code, error) {
	var small []*detector.FinderPattern
	for _, c := range cands {
		if ms := c.GetEstimatedModuleSize(); c.GetCount() > 1 && ms >= minCropModule && ms <= maxCropModule {
			small = append(small, c)
		}
	}
	tried := 0
	for i := 0; i < len(small) && tried < maxCrops; i++ {
		for j := i + 1; j < len(small) && tried < maxCrops; j++ {
			a, b := small[i], small[j]
			ma, mb := a.GetEstimatedModuleSize(), b.GetEstimatedModuleSize()
			if max(ma, mb) > 1.5*min(ma, mb) {
				continue
			}
			ms := (ma + mb) / 2
			dist := gozxing.ResultPoint_Distance(a, b)
			// Two finder patterns of one code are 14 to 45 modules apart
			// (side or diagonal of a version 1 to 5 code).
			if dist < 10*ms || dist > 45*ms {
				continue
			}
			// The third finder pattern is within dist of both, whichever
			// side the code lies on; add the quiet zone.
			pad := dist + 6*ms
			x0 := max(0, int(math.Min(a.GetX(), b.GetX())-pad))
			y0 := max(0, int(math.Min(a.GetY(), b.GetY())-pad))
			x1 := min(width, int(math.Max(a.GetX(), b.GetX())+pad)+1)
			y1 := min(height, int(math.Max(a.GetY(), b.GetY())+pad)+1)
			if (x1-x0)*(y1-y0) > maxCropArea {
				continue
			}
			tried++
			codes, err := d.decodeUpscaled(y, stride, x0, y0, x1-x0, y1-y0)
			if err != nil || len(codes) > 0 {
				return codes, err
			}
		}
	}
	return nil, nil
}

// decodeUpscaled doubles the w x h region at (x0, y0) and decodes it with
// the hybrid binarization and both searches.
func (d *Decoder) decodeUpscaled(y []byte, stride, x0, y0, w, h int) ([]Code, error) {
	if w < 2 || h < 2 {
		return nil, nil
	}
	uw, uh := 2*w, 2*h
	if cap(d.up) < uw*uh {
		d.up = make([]byte, uw*uh)
	}
	up := d.up[:uw*uh]
	upscale2(up, y[y0*stride+x0:], stride, w, h)
	s := d.sub
	hm := s.bin.hybrid(up, uw, uh, uw)
	codes, err := s.decodeMatrix(hm)
	if err == nil && len(codes) == 0 {
		codes, _, err = s.decodeTolerant(hm)
	}
	for i := range codes {
		for k, p := range codes[i].Points {
			codes[i].Points[k] = image.Pt(x0+p.X/2, y0+p.Y/2)
		}
	}
	return codes, err
}

// upscale2 writes the w x h plane src (rows stride apart) doubled into dst
// (2w x 2h): each pixel, then the means of it and its right, lower and
// lower-right neighbours (the last row and column repeat).
func upscale2(dst, src []byte, stride, w, h int) {
	dw := 2 * w
	for yy := 0; yy < h; yy++ {
		r0 := src[yy*stride : yy*stride+w]
		r1 := r0
		if yy+1 < h {
			r1 = src[(yy+1)*stride : (yy+1)*stride+w]
		}
		d0 := dst[2*yy*dw : 2*yy*dw+dw]
		d1 := dst[(2*yy+1)*dw : (2*yy+1)*dw+dw]
		for x := 0; x < w; x++ {
			nx := min(x+1, w-1)
			p, q, r, s := int(r0[x]), int(r0[nx]), int(r1[x]), int(r1[nx])
			d0[2*x] = byte(p)
			d0[2*x+1] = byte((p + q + 1) >> 1)
			d1[2*x] = byte((p + r + 1) >> 1)
			d1[2*x+1] = byte((p + q + r + s + 2) >> 2)
		}
	}
}
