package ui

import (
	"fmt"
	"image/color"
	"math"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"keycab.dev/keycab/internal/i18n"
)

// tileKind says how a tile looks, and so how important it is.
type tileKind int

const (
	tileNormal   tileKind = iota // a choice among others
	tilePrimary                  // the next step
	tileDanger                   // stops or clears something
	tileQuiet                    // secondary: cancel, back, admin
	tileSelected                 // a chosen option
	tileField                    // a text field filled from the on-screen keyboard
)

// tile is the kiosk's touch target: a big rounded button with a title and
// an optional second line. It is at least touchHeight high.
type tile struct {
	widget.BaseWidget
	title, detail string
	detailColor   color.Color // nil for the kind's default
	kind          tileKind
	size          float32 // title text size; sizeBody when zero
	align         fyne.TextAlign
	minWidth      float32
	minHeight     float32
	disabled      bool
	focused       bool // fields: the keyboard types here
	// shrink lets the tile be narrower than its text, which is then cut
	// with an ellipsis: for tiles whose text is not known in advance
	// (key set labels, alarm details) in a column that must fit.
	shrink bool
	// cutDetail is shrink for the second line only: the title is whole.
	cutDetail bool
	onTap     func()
}

var (
	_ fyne.Tappable = (*tile)(nil)
	_ fyne.Widget   = (*tile)(nil)
)

// newTile returns a tile that calls onTap when touched.
func newTile(title string, kind tileKind, onTap func()) *tile {
	t := &tile{title: title, kind: kind, onTap: onTap, align: fyne.TextAlignCenter}
	t.ExtendBaseWidget(t)
	return t
}

// withDetail sets the second line and returns the tile.
func (t *tile) withDetail(detail string, c color.Color) *tile {
	t.detail, t.detailColor = detail, c
	t.align = fyne.TextAlignLeading
	return t
}

// Tapped runs the tile's action unless it is disabled.
func (t *tile) Tapped(*fyne.PointEvent) {
	if !t.disabled && t.onTap != nil {
		t.onTap()
	}
}

// setKind changes the look and redraws.
func (t *tile) setKind(k tileKind) {
	t.kind = k
	t.Refresh()
}

func (t *tile) colours() (bg, fg, sub, stroke color.Color) {
	bg, fg, sub = colours.surface, colours.text, colours.muted
	switch t.kind {
	case tilePrimary, tileSelected:
		bg, fg, sub = colours.accent, colours.onAccent, colours.onAccent
	case tileDanger:
		bg = colours.danger
		sub = colours.text
	case tileQuiet:
		bg = colours.surfaceHigh
	case tileField:
		bg = colours.header
		if t.focused {
			stroke = colours.accent
		} else {
			stroke = colours.surfaceHigh
		}
	}
	if t.disabled {
		bg, fg, sub = colours.surface, colours.muted, colours.muted
	}
	if t.detailColor != nil && !t.disabled && t.kind != tileSelected {
		sub = t.detailColor
	}
	return bg, fg, sub, stroke
}

// CreateRenderer draws the tile.
func (t *tile) CreateRenderer() fyne.WidgetRenderer {
	r := &tileRenderer{t: t, bg: canvas.NewRectangle(color.Transparent), title: canvas.NewText("", nil), detail: canvas.NewText("", nil)}
	r.bg.CornerRadius = 14
	r.title.TextStyle.Bold = true
	r.Refresh()
	return r
}

type tileRenderer struct {
	t      *tile
	bg     *canvas.Rectangle
	title  *canvas.Text
	detail *canvas.Text
}

func (r *tileRenderer) titleSize() float32 {
	if r.t.size > 0 {
		return px(r.t.size)
	}
	return px(sizeBody)
}

func (r *tileRenderer) Layout(s fyne.Size) {
	r.bg.Resize(s)
	pad := px(20)
	// A shrinking tile keeps its padding; another only cuts a text that
	// would overflow it (a grid cell narrower than the tile wants).
	room, detailRoom := max(s.Width-px(4), 0), max(s.Width-px(4), 0)
	if r.t.shrink {
		room = max(s.Width-2*pad, 0)
	}
	if r.t.shrink || r.t.cutDetail {
		detailRoom = max(s.Width-2*pad, 0)
	}
	r.title.Text = ellipsize(r.t.title, room, r.title.TextSize, r.title.TextStyle)
	r.detail.Text = ellipsize(r.t.detail, detailRoom, r.detail.TextSize, r.detail.TextStyle)
	tw := r.title.MinSize()
	if r.t.detail == "" {
		x := float32(pad)
		switch r.t.align {
		case fyne.TextAlignCenter:
			x = (s.Width - tw.Width) / 2
		case fyne.TextAlignTrailing:
			x = s.Width - pad - tw.Width
		}
		r.title.Move(fyne.NewPos(x, (s.Height-tw.Height)/2))
		r.title.Resize(tw)
		return
	}
	dw := r.detail.MinSize()
	top := (s.Height - tw.Height - dw.Height - 2) / 2
	if r.t.kind == tileField { // caption above the value
		r.detail.Move(fyne.NewPos(pad, top))
		r.detail.Resize(dw)
		r.title.Move(fyne.NewPos(pad, top+dw.Height+2))
		r.title.Resize(tw)
		return
	}
	r.title.Move(fyne.NewPos(pad, top))
	r.title.Resize(tw)
	r.detail.Move(fyne.NewPos(pad, top+tw.Height+2))
	r.detail.Resize(dw)
}

func (r *tileRenderer) MinSize() fyne.Size {
	pad := px(20)
	// The whole texts, whatever the last layout cut.
	tw := fyne.MeasureText(r.t.title, r.titleSize(), r.title.TextStyle)
	dw := fyne.MeasureText(r.t.detail, px(sizeCaption), fyne.TextStyle{})
	if r.t.title == "" {
		tw.Height = fyne.MeasureText("Xg", r.titleSize(), r.title.TextStyle).Height
	}
	if r.t.detail == "" {
		dw = fyne.Size{}
	}
	if r.t.cutDetail {
		dw.Width = 0
	}
	w := float32(math.Max(float64(tw.Width), float64(dw.Width))) + 2*pad
	if r.t.shrink {
		w = 2*pad + fyne.MeasureText("…", r.titleSize(), r.title.TextStyle).Width
	}
	h := tw.Height + dw.Height + px(24)
	minH := px(max(r.t.minHeight, touchHeight))
	return fyne.NewSize(max(w, px(r.t.minWidth)), max(h, minH))
}

func (r *tileRenderer) Refresh() {
	bg, fg, sub, stroke := r.t.colours()
	r.bg.FillColor = bg
	r.bg.StrokeColor = stroke
	r.bg.StrokeWidth = 0
	if stroke != nil {
		r.bg.StrokeWidth = 2
		if r.t.focused {
			r.bg.StrokeWidth = 4
		}
	}
	r.title.Text, r.title.Color, r.title.TextSize = r.t.title, fg, r.titleSize()
	r.detail.Text, r.detail.Color, r.detail.TextSize = r.t.detail, sub, px(sizeCaption)
	r.detail.TextStyle = fyne.TextStyle{}
	r.detail.Hidden = r.t.detail == ""
	r.bg.Refresh()
	r.title.Refresh()
	r.detail.Refresh()
	r.Layout(r.t.Size())
}

func (r *tileRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.bg, r.title, r.detail}
}

func (r *tileRenderer) Destroy() {}

// ellipsize cuts s to fit width at size and style, ending it with an
// ellipsis; s as it is when it fits.
func ellipsize(s string, width, size float32, style fyne.TextStyle) string {
	if s == "" || fyne.MeasureText(s, size, style).Width <= width {
		return s
	}
	rs := []rune(s)
	lo, hi := 0, len(rs) // the longest prefix that fits is lo runes
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fyne.MeasureText(string(rs[:mid])+"…", size, style).Width <= width {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return strings.TrimRight(string(rs[:lo]), " ·,") + "…"
}

// line is a line of text that takes the width it is given and cuts
// itself with an ellipsis where it is too long: for labels whose length is
// not known in advance, in a slot that stretches (a VBox, a Border's
// centre), never in an HBox (which gives it only its minimum).
type line struct {
	widget.BaseWidget
	full string
	text *canvas.Text
}

func newLine(s string, size float32, c color.Color, bold bool) *line {
	l := &line{full: s, text: label(s, size, c, bold)}
	l.ExtendBaseWidget(l)
	return l
}

// CreateRenderer draws the line.
func (l *line) CreateRenderer() fyne.WidgetRenderer { return &lineRenderer{l: l} }

type lineRenderer struct{ l *line }

func (r *lineRenderer) Layout(s fyne.Size) {
	t := r.l.text
	t.Text = ellipsize(r.l.full, s.Width, t.TextSize, t.TextStyle)
	h := t.MinSize().Height
	t.Move(fyne.NewPos(0, (s.Height-h)/2))
	t.Resize(fyne.NewSize(s.Width, h))
}

func (r *lineRenderer) MinSize() fyne.Size {
	t := r.l.text
	return fyne.NewSize(fyne.MeasureText("…", t.TextSize, t.TextStyle).Width, fyne.MeasureText("Xg", t.TextSize, t.TextStyle).Height)
}

func (r *lineRenderer) Refresh() {
	r.Layout(r.l.Size())
	r.l.text.Refresh()
}

func (r *lineRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.l.text} }

func (r *lineRenderer) Destroy() {}

// heading is a bold title that wraps onto more lines when it is too long
// for one.
func heading(s string, size fyne.ThemeSizeName, align fyne.TextAlign) *widget.RichText {
	rt := widget.NewRichText(&widget.TextSegment{Text: s, Style: widget.RichTextStyle{
		Alignment: align, SizeName: size, ColorName: theme.ColorNameForeground, Inline: false,
		TextStyle: fyne.TextStyle{Bold: true},
	}})
	rt.Wrapping = fyne.TextWrapWord
	return rt
}

// label returns a line of text in the kiosk's sizes.
func label(s string, size float32, c color.Color, bold bool) *canvas.Text {
	t := canvas.NewText(s, c)
	t.TextSize = px(size)
	t.TextStyle.Bold = bold
	return t
}

// centred returns a line of centred text.
func centred(s string, size float32, c color.Color, bold bool) *canvas.Text {
	t := label(s, size, c, bold)
	t.Alignment = fyne.TextAlignCenter
	return t
}

// paragraph returns word-wrapped text, for the controller's messages
// whose length is not known in advance.
func paragraph(s string, size fyne.ThemeSizeName, colour fyne.ThemeColorName, align fyne.TextAlign) *widget.RichText {
	rt := widget.NewRichText(&widget.TextSegment{Text: s, Style: widget.RichTextStyle{
		Alignment: align, SizeName: size, ColorName: colour, Inline: false,
	}})
	rt.Wrapping = fyne.TextWrapWord
	return rt
}

// caption is a small upper-case heading over a group.
// caption is a section's title in capitals ("TAKE A KEY"): the catalogue
// has it in sentence case.
func caption(s string) *canvas.Text {
	return label(strings.ToUpper(s), sizeCaption, colours.muted, true)
}

// sized makes obj at least size big.
func sized(obj fyne.CanvasObject, size fyne.Size) fyne.CanvasObject {
	return container.New(minLayout{size}, obj)
}

// minLayout stacks its objects and reports at least a minimum size.
type minLayout struct{ min fyne.Size }

func (l minLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.Position{})
		o.Resize(s)
	}
}

func (l minLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	m := fyne.NewSize(px(l.min.Width), px(l.min.Height))
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	return m
}

// badgeIcon is an icon on a filled circle, the picture of a screen.
func badgeIcon(res fyne.Resource, fill color.Color, diameter float32) fyne.CanvasObject {
	c := canvas.NewCircle(fill)
	img := canvas.NewImageFromResource(res)
	img.FillMode = canvas.ImageFillContain
	pad := diameter / 5
	return container.New(centreLayout{size: fyne.NewSquareSize(diameter), pad: pad}, c, img)
}

// ringIcon is an icon inside an outlined circle.
func ringIcon(res fyne.Resource, stroke color.Color, diameter float32) fyne.CanvasObject {
	c := canvas.NewCircle(colours.surface)
	c.StrokeColor, c.StrokeWidth = stroke, 6
	img := canvas.NewImageFromResource(res)
	img.FillMode = canvas.ImageFillContain
	return container.New(centreLayout{size: fyne.NewSquareSize(diameter), pad: diameter / 4}, c, img)
}

// centreLayout places a fixed-size first object in the middle and the
// others inside it, inset by pad.
type centreLayout struct {
	size fyne.Size
	pad  float32
}

func (l centreLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	l.size, l.pad = fyne.NewSquareSize(px(l.size.Width)), px(l.pad)
	pos := fyne.NewPos((s.Width-l.size.Width)/2, (s.Height-l.size.Height)/2)
	for i, o := range objs {
		if i == 0 {
			o.Move(pos)
			o.Resize(l.size)
			continue
		}
		o.Move(pos.AddXY(l.pad, l.pad))
		o.Resize(l.size.SubtractWidthHeight(2*l.pad, 2*l.pad))
	}
}

func (l centreLayout) MinSize([]fyne.CanvasObject) fyne.Size {
	return fyne.NewSize(px(l.size.Width), px(l.size.Height))
}

// pinDots shows how many digits are typed, never which.
type pinDots struct {
	widget.BaseWidget
	n int
}

func newPinDots() *pinDots {
	d := &pinDots{}
	d.ExtendBaseWidget(d)
	return d
}

func (d *pinDots) set(n int) {
	d.n = n
	d.Refresh()
}

// CreateRenderer draws one filled circle per digit, and open circles up
// to four so the person sees where the PIN goes.
func (d *pinDots) CreateRenderer() fyne.WidgetRenderer {
	r := &dotsRenderer{d: d, bg: canvas.NewRectangle(colours.header)}
	r.bg.CornerRadius = 14
	r.bg.StrokeColor, r.bg.StrokeWidth = colours.surfaceHigh, 2
	r.Refresh()
	return r
}

type dotsRenderer struct {
	d    *pinDots
	bg   *canvas.Rectangle
	dots []*canvas.Circle
}

const dotSize, dotGap = 28, 22

func (r *dotsRenderer) Layout(s fyne.Size) {
	r.bg.Resize(s)
	size, gap := px(dotSize), px(dotGap)
	w := float32(len(r.dots))*(size+gap) - gap
	x := (s.Width - w) / 2
	for _, c := range r.dots {
		c.Move(fyne.NewPos(x, (s.Height-size)/2))
		c.Resize(fyne.NewSquareSize(size))
		x += size + gap
	}
}

func (r *dotsRenderer) MinSize() fyne.Size {
	n := max(len(r.dots), 8)
	return fyne.NewSize(px(float32(n)*(dotSize+dotGap)+40), px(touchHeight))
}

func (r *dotsRenderer) Refresh() {
	shown := max(r.d.n, 4)
	for len(r.dots) < shown {
		r.dots = append(r.dots, canvas.NewCircle(nil))
	}
	r.dots = r.dots[:shown]
	for i, c := range r.dots {
		c.StrokeColor, c.StrokeWidth = colours.muted, 3
		c.FillColor = color.Transparent
		if i < r.d.n {
			c.FillColor, c.StrokeColor = colours.accent, colours.accent
		}
		c.Refresh()
	}
	r.Layout(r.d.Size())
	canvas.Refresh(r.d)
}

func (r *dotsRenderer) Objects() []fyne.CanvasObject {
	objs := []fyne.CanvasObject{r.bg}
	for _, c := range r.dots {
		objs = append(objs, c)
	}
	return objs
}

func (r *dotsRenderer) Destroy() {}

// countdown shows the seconds left before the step gives up, as a number
// and a draining bar.
type countdown struct {
	widget.BaseWidget
	start, deadline time.Time
	now             time.Time
	hint            string // "Time left", in the screen's language
}

func newCountdown() *countdown {
	c := &countdown{}
	c.ExtendBaseWidget(c)
	return c
}

// set starts counting to deadline (zero: hidden).
func (c *countdown) set(start, deadline, now time.Time) {
	c.start, c.deadline, c.now = start, deadline, now
	c.Refresh()
}

// tick moves the countdown to now.
func (c *countdown) tick(now time.Time) {
	if c.deadline.IsZero() {
		return
	}
	c.now = now
	c.Refresh()
}

func (c *countdown) left() time.Duration {
	if c.deadline.IsZero() {
		return 0
	}
	return max(c.deadline.Sub(c.now), 0)
}

// CreateRenderer draws the countdown.
func (c *countdown) CreateRenderer() fyne.WidgetRenderer {
	r := &countdownRenderer{c: c, track: canvas.NewRectangle(colours.surface), bar: canvas.NewRectangle(colours.accent),
		text: label("", sizeBody, colours.text, true), hint: label(i18n.English().T("ui.time_left"), sizeCaption, colours.muted, false)}
	r.track.CornerRadius, r.bar.CornerRadius = 5, 5
	r.Refresh()
	return r
}

type countdownRenderer struct {
	c          *countdown
	track, bar *canvas.Rectangle
	text, hint *canvas.Text
}

func (r *countdownRenderer) Layout(s fyne.Size) {
	tw := r.text.MinSize()
	hw := r.hint.MinSize()
	r.hint.Move(fyne.NewPos(0, (s.Height-hw.Height)/2-px(14)))
	r.hint.Resize(hw)
	r.text.Move(fyne.NewPos(s.Width-tw.Width, (s.Height-tw.Height)/2-px(14)))
	r.text.Resize(tw)
	barY := s.Height/2 + px(14)
	r.track.Move(fyne.NewPos(0, barY))
	r.track.Resize(fyne.NewSize(s.Width, px(10)))
	frac := float32(0)
	if total := r.c.deadline.Sub(r.c.start); total > 0 {
		frac = float32(r.c.left()) / float32(total)
	}
	r.bar.Move(fyne.NewPos(0, barY))
	r.bar.Resize(fyne.NewSize(s.Width*min(frac, 1), px(10)))
}

func (r *countdownRenderer) MinSize() fyne.Size { return fyne.NewSize(px(260), px(touchHeight)) }

func (r *countdownRenderer) Refresh() {
	hidden := r.c.deadline.IsZero()
	for _, o := range r.Objects() {
		if hidden {
			o.Hide()
		} else {
			o.Show()
		}
	}
	left := r.c.left()
	r.text.Text = formatLeft(left)
	if r.c.hint != "" {
		r.hint.Text = r.c.hint
	}
	r.bar.FillColor = colours.accent
	if left < 10*time.Second {
		r.bar.FillColor = colours.danger
	}
	r.Layout(r.c.Size())
	canvas.Refresh(r.c)
}

// formatLeft rounds up to whole seconds: "27 s", "1:30".
func formatLeft(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 60 {
		return fmt.Sprintf("%d s", secs)
	}
	return fmt.Sprintf("%d:%02d", secs/60, secs%60)
}

func (r *countdownRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.track, r.bar, r.text, r.hint}
}

func (r *countdownRenderer) Destroy() {}
