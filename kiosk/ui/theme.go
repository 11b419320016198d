package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
)

// palette is the kiosk's colour scheme: dark, high-contrast, with one
// warm accent that marks what to touch next.
type palette struct {
	background, surface, surfaceHigh, header color.Color
	text, muted, onAccent                    color.Color
	accent, success, danger, emergency       color.Color
	sim, simSurface                          color.Color
}

// colours is the theme: the one package-level value.
var colours = palette{
	background:  color.NRGBA{R: 0x0b, G: 0x16, B: 0x26, A: 0xff},
	surface:     color.NRGBA{R: 0x17, G: 0x28, B: 0x40, A: 0xff},
	surfaceHigh: color.NRGBA{R: 0x22, G: 0x3a, B: 0x5c, A: 0xff},
	header:      color.NRGBA{R: 0x06, G: 0x0e, B: 0x1a, A: 0xff},
	text:        color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff},
	muted:       color.NRGBA{R: 0xb4, G: 0xc3, B: 0xd6, A: 0xff},
	onAccent:    color.NRGBA{R: 0x14, G: 0x10, B: 0x00, A: 0xff},
	accent:      color.NRGBA{R: 0xff, G: 0xb4, B: 0x1f, A: 0xff},
	success:     color.NRGBA{R: 0x1f, G: 0xb8, B: 0x6e, A: 0xff},
	danger:      color.NRGBA{R: 0xe8, G: 0x3b, B: 0x3b, A: 0xff},
	emergency:   color.NRGBA{R: 0xb0, G: 0x10, B: 0x18, A: 0xff},
	sim:         color.NRGBA{R: 0x23, G: 0x23, B: 0x2b, A: 0xff},
	simSurface:  color.NRGBA{R: 0x33, G: 0x33, B: 0x3e, A: 0xff},
}

// Text sizes, in Fyne's device-independent pixels.
const (
	sizeHuge    float32 = 56 // the one line that says what to do
	sizeTitle   float32 = 40
	sizeLarge   float32 = 30
	sizeBody    float32 = 24
	sizeCaption float32 = 18
	touchHeight float32 = 72 // the minimum height of anything to touch
)

// scale is the kiosk's size on the display it has: 1 on the 1280 x 800
// panel, less on a smaller one (0.6 on the 7-inch 800 x 480), so that
// every screen keeps its layout and fits. Every size the kiosk draws goes
// through px. It is set on the Fyne thread only (fitScale, when the
// window's size changes), and a kiosk has one display.
var scale float32 = 1

// px is v device-independent pixels of the 1280 x 800 design at the
// current scale.
func px(v float32) float32 { return v * scale }

// The size the screens are designed for.
const designW, designH = 1280, 800

// fitScale is the scale for a kiosk area of size: the design's, shrunk to
// fit, in steps of 0.05 (so that a pixel more or less does not redraw
// everything), never below a half.
func fitScale(size fyne.Size) float32 {
	if size.Width <= 0 || size.Height <= 0 {
		return scale
	}
	f := min(size.Width/designW, size.Height/designH, 1)
	f = float32(int(f*20+0.001)) / 20
	return max(f, 0.5)
}

// padded insets obj by top, bottom, left and right at the current scale.
func padded(top, bottom, left, right float32, obj fyne.CanvasObject) *fyne.Container {
	return container.New(layout.NewCustomPaddedLayout(px(top), px(bottom), px(left), px(right)), obj)
}

// Custom size names, so rich text can use the kiosk's sizes.
const (
	sizeNameMessage fyne.ThemeSizeName = "keycab-message"
	sizeNameLarge   fyne.ThemeSizeName = "keycab-large"
	sizeNameHuge    fyne.ThemeSizeName = "keycab-huge"    // sizeHuge
	sizeNameDisplay fyne.ThemeSizeName = "keycab-display" // sizeHuge+16, the idle and emergency titles
	sizeNameTitle   fyne.ThemeSizeName = "keycab-title"   // sizeTitle
)

// kioskTheme is the Fyne theme of the kiosk: the palette above on the
// default theme's fonts and icons, with bigger text and padding.
type kioskTheme struct{}

var _ fyne.Theme = kioskTheme{}

// Color returns the kiosk palette whatever the variant: a kiosk has one look.
func (kioskTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	switch n {
	case theme.ColorNameBackground, theme.ColorNameOverlayBackground, theme.ColorNameMenuBackground:
		return colours.background
	case theme.ColorNameButton, theme.ColorNameInputBackground, theme.ColorNameHeaderBackground:
		return colours.surface
	case theme.ColorNameDisabledButton:
		return colours.header
	case theme.ColorNameDisabled, theme.ColorNamePlaceHolder:
		return colours.muted
	case theme.ColorNameForeground, theme.ColorNameForegroundOnError, theme.ColorNameForegroundOnSuccess:
		return colours.text
	case theme.ColorNameForegroundOnPrimary, theme.ColorNameForegroundOnWarning:
		return colours.onAccent
	case theme.ColorNamePrimary, theme.ColorNameFocus, theme.ColorNameHyperlink, theme.ColorNameWarning:
		return colours.accent
	case theme.ColorNameSelection:
		return color.NRGBA{R: 0xff, G: 0xb4, B: 0x1f, A: 0x55}
	case theme.ColorNameError:
		return colours.danger
	case theme.ColorNameSuccess:
		return colours.success
	case theme.ColorNameInputBorder, theme.ColorNameSeparator:
		return colours.surfaceHigh
	case theme.ColorNameHover, theme.ColorNamePressed:
		return color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0x22}
	case theme.ColorNameScrollBar:
		return colours.muted
	case theme.ColorNameShadow:
		return color.NRGBA{A: 0x66}
	}
	return theme.DefaultTheme().Color(n, theme.VariantDark)
}

// Font returns the default theme's fonts.
func (kioskTheme) Font(s fyne.TextStyle) fyne.Resource { return theme.DefaultTheme().Font(s) }

// Icon returns the default theme's icons.
func (kioskTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }

// Size makes text readable at arm's length and scroll bars touchable.
func (kioskTheme) Size(n fyne.ThemeSizeName) float32 {
	return px(designSize(n))
}

// designSize is a theme size at the design's scale.
func designSize(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameText:
		return sizeBody
	case theme.SizeNameHeadingText:
		return sizeTitle
	case theme.SizeNameSubHeadingText, sizeNameLarge:
		return sizeLarge
	case sizeNameMessage:
		return 28
	case sizeNameHuge:
		return sizeHuge
	case sizeNameDisplay:
		return sizeHuge + 16
	case sizeNameTitle:
		return sizeTitle
	case theme.SizeNameCaptionText:
		return sizeCaption
	case theme.SizeNamePadding:
		return 8
	case theme.SizeNameInnerPadding:
		return 16
	case theme.SizeNameInputBorder:
		return 2
	case theme.SizeNameInputRadius, theme.SizeNameButtonRadius:
		return 12
	case theme.SizeNameScrollBar:
		return 20
	case theme.SizeNameScrollBarSmall:
		return 8
	case theme.SizeNameInlineIcon:
		return 32
	}
	return theme.DefaultTheme().Size(n)
}

// simTheme is the simulator panel's theme: smaller and grey, so that the
// developer's tool is never taken for part of the kiosk.
type simTheme struct{ kioskTheme }

var _ fyne.Theme = simTheme{}

// Color greys out the kiosk palette.
func (t simTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	switch n {
	case theme.ColorNameBackground:
		return colours.sim
	case theme.ColorNameButton, theme.ColorNameInputBackground:
		return colours.simSurface
	case theme.ColorNameInputBorder, theme.ColorNameSeparator:
		return color.NRGBA{R: 0x4a, G: 0x4a, B: 0x58, A: 0xff}
	}
	return t.kioskTheme.Color(n, v)
}

// Size is a desktop's, not a touchscreen's.
func (t simTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameText:
		return 15
	case theme.SizeNameCaptionText:
		return 13
	case theme.SizeNamePadding:
		return 4
	case theme.SizeNameInnerPadding:
		return 8
	case theme.SizeNameInlineIcon:
		return 20
	case theme.SizeNameScrollBar:
		return 12
	}
	return t.kioskTheme.Size(n)
}
