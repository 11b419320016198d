// Package qr decodes QR codes straight from a camera frame's luma plane and
// renders QR codes for labels, tests and the simulated camera.
//
// Decoding wraps the luma bytes in gozxing's planar YUV luminance source
// (no copy, no per-pixel image.At), binarizes them with the hybrid
// (local-threshold) binarizer and runs the multi-code reader, so one frame
// may yield several codes. When that finds nothing it retries once with
// TRY_HARDER and once with a global-histogram binarizer, which rescue
// blurred and low-contrast frames.
package qr

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"

	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// Code is one decoded QR code.
type Code struct {
	Text string
	// Points are the finder pattern centres in frame coordinates.
	Points []image.Point
}

// Decoder decodes frames. It is not safe for concurrent use; give each
// goroutine its own.
type Decoder struct {
	hard map[gozxing.DecodeHintType]any
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{hard: map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}}
}

// Decode finds every QR code in the luma plane y of a width x height frame
// whose rows are stride bytes apart. Codes are ordered top to bottom, left
// to right. No code found is not an error.
func (d *Decoder) Decode(y []byte, width, height, stride int) ([]Code, error) {
	if width <= 0 || height <= 0 || stride < width || len(y) < stride*(height-1)+width {
		return nil, fmt.Errorf("decode qr: luma plane of %d bytes too small for %dx%d stride %d", len(y), width, height, stride)
	}
	src, err := gozxing.NewPlanarYUVLuminanceSource(y, stride, height, 0, 0, width, height, false)
	if err != nil {
		return nil, fmt.Errorf("decode qr: %w", err)
	}
	attempts := []struct {
		bin   func(gozxing.LuminanceSource) gozxing.Binarizer
		hints map[gozxing.DecodeHintType]any
	}{
		{gozxing.NewHybridBinarizer, nil},
		{gozxing.NewHybridBinarizer, d.hard},
		{gozxing.NewGlobalHistgramBinarizer, d.hard},
	}
	for _, a := range attempts {
		bmp, err := gozxing.NewBinaryBitmap(a.bin(src))
		if err != nil {
			return nil, fmt.Errorf("decode qr: %w", err)
		}
		codes, err := decodeBitmap(bmp, a.hints)
		if err != nil {
			return nil, err
		}
		if len(codes) > 0 {
			return codes, nil
		}
	}
	return nil, nil
}

func decodeBitmap(bmp *gozxing.BinaryBitmap, hints map[gozxing.DecodeHintType]any) ([]Code, error) {
	results, err := multiqr.NewQRCodeMultiReader().DecodeMultiple(bmp, hints)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("decode qr: %w", err)
	}
	if len(results) == 0 {
		// The multi detector insists on clean finder triples; the single
		// reader's detector is more forgiving of perspective.
		r, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
		if err != nil {
			if isNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("decode qr: %w", err)
		}
		results = append(results, r)
	}
	var out []Code
	seen := map[string]bool{}
	for _, r := range results {
		if seen[r.GetText()] {
			continue
		}
		seen[r.GetText()] = true
		c := Code{Text: r.GetText()}
		for _, p := range r.GetResultPoints() {
			c.Points = append(c.Points, image.Pt(int(p.GetX()+0.5), int(p.GetY()+0.5)))
		}
		out = append(out, c)
	}
	sortCodes(out)
	return out, nil
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

// Matrix returns the modules of text's QR code (error correction level M),
// true for dark, without quiet zone.
func Matrix(text string) ([][]bool, error) {
	hints := map[gozxing.EncodeHintType]any{
		gozxing.EncodeHintType_MARGIN:           0,
		gozxing.EncodeHintType_ERROR_CORRECTION: decoder.ErrorCorrectionLevel_M,
	}
	bm, err := qrcode.NewQRCodeWriter().Encode(text, gozxing.BarcodeFormat_QR_CODE, 0, 0, hints)
	if err != nil {
		return nil, fmt.Errorf("encode qr %q: %w", text, err)
	}
	n := bm.GetWidth()
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
		for x := range m[y] {
			m[y][x] = bm.Get(x, y)
		}
	}
	return m, nil
}

// Draw paints text's QR code into the luma plane y (stride bytes per row)
// with its top-left module corner at (x0, y0) and module px per module,
// plus a 4-module white quiet zone; pixels outside the plane are skipped.
// It returns the drawn square's side in pixels.
func Draw(y []byte, width, height, stride int, text string, x0, y0, module int) (int, error) {
	m, err := Matrix(text)
	if err != nil {
		return 0, err
	}
	side := (len(m) + 8) * module
	for py := 0; py < side; py++ {
		fy := y0 - 4*module + py
		if fy < 0 || fy >= height {
			continue
		}
		my := py/module - 4
		for px := 0; px < side; px++ {
			fx := x0 - 4*module + px
			if fx < 0 || fx >= width {
				continue
			}
			mx := px/module - 4
			dark := my >= 0 && my < len(m) && mx >= 0 && mx < len(m) && m[my][mx]
			v := byte(255)
			if dark {
				v = 0
			}
			y[fy*stride+fx] = v
		}
	}
	return side, nil
}

// Image renders text's QR code as a grey image with module px per module
// and a 4-module quiet zone.
func Image(text string, module int) (*image.Gray, error) {
	if module < 1 {
		module = 1
	}
	m, err := Matrix(text)
	if err != nil {
		return nil, err
	}
	side := (len(m) + 8) * module
	img := image.NewGray(image.Rect(0, 0, side, side))
	if _, err := Draw(img.Pix, side, side, img.Stride, text, 4*module, 4*module, module); err != nil {
		return nil, err
	}
	return img, nil
}

// WritePNG writes text's QR code as a PNG.
func WritePNG(w io.Writer, text string, module int) error {
	img, err := Image(text, module)
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("write qr png: %w", err)
	}
	return nil
}
