// Package qrlabel draws QR codes: the labels printed on key fobs, QR
// badges, and the codes HQ shows people (MFA enrolment). It encodes with
// gozxing at error correction level M. Decoding camera frames is
// hardware/qr's; this package has no device in it, so HQ may use it.
package qrlabel

import (
	"fmt"
	"image"
	"image/png"
	"io"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

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
