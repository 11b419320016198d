package qrlabel

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Label is one key fob label: the QR token and the text printed under it.
type Label struct {
	Token   string // the QR code's content
	Title   string // e.g. the key set's label, "12 High St, front door"
	Caption string // e.g. site and slot, "Front office · slot 3"
}

// Sheet lays labels out for printing on A4 at 300 dots per inch: a grid
// of 3 by 6 cut-outs of 60 by 40 mm, each a QR code beside its title and
// caption. Labels beyond one page are refused: call it once per page.
type Sheet struct {
	Labels []Label
}

// A4 at 300 dpi, and the grid.
const (
	dpi          = 300
	pageW, pageH = 2480, 3508 // 210 x 297 mm
	cols, rows   = 3, 6
	PerPage      = cols * rows
	margin       = 118 // 10 mm
)

// Image renders the sheet.
func (s Sheet) Image() (*image.Gray, error) {
	if len(s.Labels) > PerPage {
		return nil, fmt.Errorf("qr label sheet: %d labels, a page holds %d", len(s.Labels), PerPage)
	}
	bold, err := face(gobold.TTF, 11)
	if err != nil {
		return nil, err
	}
	regular, err := face(goregular.TTF, 8)
	if err != nil {
		return nil, err
	}
	page := image.NewGray(image.Rect(0, 0, pageW, pageH))
	draw.Draw(page, page.Bounds(), image.White, image.Point{}, draw.Src)
	cellW, cellH := (pageW-2*margin)/cols, (pageH-2*margin)/rows
	for i, l := range s.Labels {
		x0, y0 := margin+(i%cols)*cellW, margin+(i/cols)*cellH
		outline(page, image.Rect(x0, y0, x0+cellW, y0+cellH))
		m, err := Matrix(l.Token)
		if err != nil {
			return nil, err
		}
		// The largest whole module size that fits the cell's height with
		// a quiet zone of 4 modules, and at least 6 dots a module.
		module := min((cellH-40)/(len(m)+8), (cellW*42/100)/(len(m)+8))
		if module < 6 {
			return nil, fmt.Errorf("qr label sheet: token %q is too long for a label", l.Token)
		}
		side := (len(m) + 8) * module
		qx, qy := x0+20, y0+(cellH-side)/2
		if _, err := Draw(page.Pix, pageW, pageH, page.Stride, l.Token, qx+4*module, qy+4*module, module); err != nil {
			return nil, err
		}
		tx, w := qx+side+10, x0+cellW-(qx+side+10)-24
		lines := wrap(bold, l.Title, w, 3)
		y := y0 + cellH/2 - 25*len(lines)
		for _, line := range lines {
			text(page, bold, tx, y, line, w)
			y += 50
		}
		text(page, regular, tx, y+10, l.Caption, w)
	}
	return page, nil
}

// WritePNG renders the sheet as a 300 dpi PNG.
func (s Sheet) WritePNG(w io.Writer) error {
	img, err := s.Image()
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("write label sheet: %w", err)
	}
	return nil
}

func face(ttf []byte, points float64) (font.Face, error) {
	f, err := opentype.Parse(ttf)
	if err != nil {
		return nil, fmt.Errorf("label font: %w", err)
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: points, DPI: dpi, Hinting: font.HintingFull})
}

// text draws s at (x, baseline y), cut with an ellipsis to fit width.
func text(dst draw.Image, f font.Face, x, y int, s string, width int) {
	d := &font.Drawer{Dst: dst, Src: image.Black, Face: f}
	d.Dot = fixed.P(x, y)
	d.DrawString(ellipsis(f, s, width))
}

// ellipsis cuts s with "…" so that it fits width.
func ellipsis(f font.Face, s string, width int) string {
	if font.MeasureString(f, s).Ceil() <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && font.MeasureString(f, string(r)+"…").Ceil() > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// wrap breaks s into at most n lines of whole words that fit width; the
// last line is cut with an ellipsis when words remain.
func wrap(f font.Face, s string, width, n int) []string {
	words := strings.Fields(s)
	var lines []string
	for len(words) > 0 && len(lines) < n-1 {
		k := 1
		for k < len(words) && font.MeasureString(f, strings.Join(words[:k+1], " ")).Ceil() <= width {
			k++
		}
		lines = append(lines, ellipsis(f, strings.Join(words[:k], " "), width))
		words = words[k:]
	}
	if len(words) > 0 {
		lines = append(lines, ellipsis(f, strings.Join(words, " "), width))
	}
	return lines
}

// outline draws a light grey cutting guide around r.
func outline(dst *image.Gray, r image.Rectangle) {
	grey := color.Gray{Y: 200}
	for x := r.Min.X; x < r.Max.X; x++ {
		dst.SetGray(x, r.Min.Y, grey)
		dst.SetGray(x, r.Max.Y-1, grey)
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		dst.SetGray(r.Min.X, y, grey)
		dst.SetGray(r.Max.X-1, y, grey)
	}
}
