package qr

import (
	"encoding/binary"
	"math/bits"

	"github.com/makiuchi-d/gozxing"
)

// The binarizers below compute exactly the same bit matrices as gozxing's
// HybridBinarizer and GlobalHistogramBinarizer (TestBinarizersMatchGozxing
// checks this), but read the luma plane in place through its stride and
// reuse their buffers and the output matrix from one frame to the next.
// gozxing's versions first copy the plane (LuminanceSource.GetMatrix) and set
// one bit at a time; on a 640x480 frame that made binarization cost more than
// finding and decoding the code.

const (
	blockPower = 3 // gozxing.BLOCK_SIZE_POWER
	blockSize  = 1 << blockPower
	minDynamic = 24 // gozxing.MIN_DYNAMIC_RANGE
	// minHybrid is gozxing.MINIMUM_DIMENSION: smaller frames get the
	// global histogram.
	minHybrid = blockSize * 5
)

// binarizer holds the scratch state of both binarizers.
type binarizer struct {
	matrix      *gozxing.BitMatrix
	row         *gozxing.BitArray
	blackPoints []int
	thresholds  []int
}

// bitMatrix returns the reused matrix cleared for a width x height frame.
func (b *binarizer) bitMatrix(width, height int) *gozxing.BitMatrix {
	if b.matrix == nil || b.matrix.GetWidth() != width || b.matrix.GetHeight() != height {
		b.matrix, _ = gozxing.NewBitMatrix(width, height) // width, height > 0 checked by Decode
		b.row = gozxing.NewBitArray(width)
	}
	return b.matrix
}

// hybrid binarizes with a threshold per 8x8 block from the 5x5 blocks
// around it, as gozxing.HybridBinarizer does.
func (b *binarizer) hybrid(y []byte, width, height, stride int) *gozxing.BitMatrix {
	if width < minHybrid || height < minHybrid {
		return b.global(y, width, height, stride)
	}
	m := b.bitMatrix(width, height)
	subW := (width + blockSize - 1) >> blockPower
	subH := (height + blockSize - 1) >> blockPower
	if cap(b.blackPoints) < subW*subH {
		b.blackPoints = make([]int, subW*subH)
	}
	bp := b.blackPoints[:subW*subH]
	maxY, maxX := height-blockSize, width-blockSize

	for by := 0; by < subH; by++ {
		yoff := min(by<<blockPower, maxY)
		for bx := 0; bx < subW; bx++ {
			xoff := min(bx<<blockPower, maxX)
			sum, lo, hi := 0, 255, 0
			off := yoff*stride + xoff
			for yy := 0; yy < blockSize; yy, off = yy+1, off+stride {
				px := y[off : off+blockSize : off+blockSize]
				for _, p := range px {
					v := int(p)
					sum += v
					lo = min(lo, v)
					hi = max(hi, v)
				}
				if hi-lo > minDynamic {
					// Enough contrast: just add up the remaining rows, eight
					// bytes at a time in four 16-bit lanes (at most 7 rows
					// of two bytes of 255 a lane: no overflow).
					var lanes uint64
					for yy, off = yy+1, off+stride; yy < blockSize; yy, off = yy+1, off+stride {
						w := binary.LittleEndian.Uint64(y[off : off+blockSize : off+blockSize])
						lanes += w&evenBytes + w>>8&evenBytes
					}
					sum += int(lanes * lanes16 >> 48)
				}
			}
			avg := sum >> (2 * blockPower)
			if hi-lo <= minDynamic {
				avg = lo / 2
				if by > 0 && bx > 0 {
					nb := (bp[(by-1)*subW+bx] + 2*bp[by*subW+bx-1] + bp[(by-1)*subW+bx-1]) / 4
					if lo < nb {
						avg = nb
					}
				}
			}
			bp[by*subW+bx] = avg
		}
	}

	// Threshold each block by the mean of the 5x5 block averages around it.
	if cap(b.thresholds) < subW*subH {
		b.thresholds = make([]int, subW*subH)
	}
	th := b.thresholds[:subW*subH]
	for by := 0; by < subH; by++ {
		top := min(max(by, 2), subH-3)
		for bx := 0; bx < subW; bx++ {
			left := min(max(bx, 2), subW-3)
			sum := 0
			for z := top - 2; z <= top+2; z++ {
				r := bp[z*subW+left-2 : z*subW+left+3]
				sum += r[0] + r[1] + r[2] + r[3] + r[4]
			}
			th[by*subW+bx] = sum / 25
		}
	}
	words := b.row.GetBitArray()
	for by := 0; by < subH; by++ {
		yoff := min(by<<blockPower, maxY)
		rowTh := th[by*subW : (by+1)*subW]
		for yy := 0; yy < blockSize; yy++ {
			py := yoff + yy
			if by > 0 && py < (by<<blockPower) {
				// Rows shared with the previous block row (last, clamped block
				// row of an odd-sized frame): gozxing sets bits from both.
				m.GetRow(py, b.row)
			} else {
				clear(words)
			}
			line := y[py*stride : py*stride+width]
			for bx, t := range rowTh {
				xoff := min(bx<<blockPower, maxX)
				// Bit i is set when pixel i <= t.
				bits := le8(binary.LittleEndian.Uint64(line[xoff:xoff+blockSize:xoff+blockSize]), t)
				words[xoff>>5] |= bits << (xoff & 31)
				if s := xoff & 31; s > 32-blockSize {
					words[xoff>>5+1] |= bits >> (32 - s)
				}
			}
			m.SetRow(py, b.row)
		}
	}
	return m
}

const (
	evenBytes = 0x00FF00FF00FF00FF // the even bytes of a word, as 16-bit lanes
	lanes16   = 0x0001000100010001 // times this, >>48: the sum of the 16-bit lanes
	laneHigh  = 0x8000800080008000 // the top bit of each 16-bit lane
)

// le8 returns the 8 bits "byte i of w <= t" (bit i for byte i, the
// pixels of a little-endian load), comparing four bytes at a time in 16-bit
// lanes: lane | 0x8000 minus a byte keeps the lane's top bit exactly when
// t >= the byte. t is a threshold from 0 to 255.
func le8(w uint64, t int) uint32 {
	tl := uint64(t)*lanes16 | laneHigh
	even := (tl - w&evenBytes) >> 15 & lanes16   // bits 0, 16, 32, 48: bytes 0, 2, 4, 6
	odd := (tl - w>>8&evenBytes) >> 15 & lanes16 // bytes 1, 3, 5, 7
	// Gather bits 0, 16, 32, 48 to 54, 56, 58, 60 (distinct products, so no
	// carries), then down to 0, 2, 4, 6.
	const gather = 1<<54 | 1<<40 | 1<<26 | 1<<12
	return uint32((even*gather)>>54&0x55 | (odd*gather)>>53&0xAA)
}

// negative returns 1 if v < 0 and 0 otherwise: the sign bit, whatever the
// size of int (32 bits on armhf, 64 on arm64 and amd64).
func negative(v int) uint32 {
	return uint32(uint(v) >> (bits.UintSize - 1))
}

// global binarizes with one threshold from a histogram of four sampled
// rows, as gozxing.GlobalHistogramBinarizer does. It returns nil when the
// histogram shows too little contrast.
func (b *binarizer) global(y []byte, width, height, stride int) *gozxing.BitMatrix {
	var buckets [gozxing.LUMINANCE_BUCKETS]int
	for r := 1; r < 5; r++ {
		row := y[(height*r/5)*stride:]
		for x := width / 5; x < width*4/5; x++ {
			buckets[row[x]>>gozxing.LUMINANCE_SHIFT]++
		}
	}
	black, ok := estimateBlackPoint(buckets[:])
	if !ok {
		return nil
	}
	m := b.bitMatrix(width, height)
	words := b.row.GetBitArray()
	// A pixel is black when p < black, that is p <= black-1 (black is at
	// least one bucket, 8): eight pixels at a time, the rest one by one.
	for py := 0; py < height; py++ {
		clear(words)
		line := y[py*stride : py*stride+width]
		x := 0
		for ; x+8 <= width; x += 8 {
			words[x>>5] |= le8(binary.LittleEndian.Uint64(line[x:x+8:x+8]), black-1) << (x & 31)
		}
		for ; x < width; x++ {
			words[x>>5] |= negative(int(line[x])-black) << (x & 31)
		}
		m.SetRow(py, b.row)
	}
	return m
}

// estimateBlackPoint is gozxing's GlobalHistogramBinarizer.estimateBlackPoint.
func estimateBlackPoint(buckets []int) (int, bool) {
	n := len(buckets)
	maxCount, first, firstSize := 0, 0, 0
	for x, c := range buckets {
		if c > firstSize {
			first, firstSize = x, c
		}
		maxCount = max(maxCount, c)
	}
	second, secondScore := 0, 0
	for x, c := range buckets {
		d := x - first
		if s := c * d * d; s > secondScore {
			second, secondScore = x, s
		}
	}
	if first > second {
		first, second = second, first
	}
	if second-first <= n/16 {
		return 0, false
	}
	valley, valleyScore := second-1, -1
	for x := second - 1; x > first; x-- {
		f := x - first
		if s := f * f * (second - x) * (maxCount - buckets[x]); s > valleyScore {
			valley, valleyScore = x, s
		}
	}
	return valley << gozxing.LUMINANCE_SHIFT, true
}
