package ui

import (
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"keycab.dev/keycab/internal/i18n"
)

// maxPIN bounds what the keypad accepts; the controller decides what is right.
const maxPIN = 12

// keypad is the in-app PIN pad: ten digits, Delete and Clear, and OK that
// hands the digits over. What is typed shows only as dots.
type keypad struct {
	digits   string
	dots     *pinDots
	ok       *tile
	onSubmit func(digits string)
	tr       *i18n.Localizer // the language of its keys; nil is English
}

func newKeypad(onSubmit func(string)) *keypad {
	return &keypad{dots: newPinDots(), onSubmit: onSubmit}
}

func (k *keypad) press(d string) {
	if len(k.digits) < maxPIN {
		k.digits += d
	}
	k.changed()
}

func (k *keypad) changed() {
	k.dots.set(len(k.digits))
	k.ok.disabled = k.digits == ""
	k.ok.Refresh()
}

// object lays the keypad out: the dots over a 3 by 4 grid of keys and OK.
func (k *keypad) object() fyne.CanvasObject {
	l := k.tr
	if l == nil {
		l = i18n.English()
	}
	key := func(title string, kind tileKind, f func()) fyne.CanvasObject {
		t := newTile(title, kind, f)
		t.size = sizeTitle
		t.minWidth, t.minHeight = 124, touchHeight
		return t
	}
	var keys []fyne.CanvasObject
	for i := 1; i <= 9; i++ {
		d := strconv.Itoa(i)
		keys = append(keys, key(d, tileNormal, func() { k.press(d) }))
	}
	clear := key(l.T("ui.key_clear"), tileQuiet, func() { k.digits = ""; k.changed() })
	clear.(*tile).size = sizeBody
	del := key(l.T("ui.key_delete"), tileQuiet, func() {
		if k.digits != "" {
			k.digits = k.digits[:len(k.digits)-1]
		}
		k.changed()
	})
	del.(*tile).size = sizeBody
	keys = append(keys, clear, key("0", tileNormal, func() { k.press("0") }), del)
	k.ok = newTile("OK", tilePrimary, func() {
		if k.digits == "" {
			return
		}
		d := k.digits
		k.digits = ""
		k.changed()
		k.onSubmit(d)
	})
	k.ok.size = sizeLarge
	k.changed()
	return container.NewVBox(k.dots, container.NewGridWithColumns(3, keys...), k.ok)
}
