package ui

import (
	"strings"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"

	"keycab.dev/keycab/internal/i18n"
)

// keyHeight is the size of a key: the smallest touch target, so that the
// keyboard, the fields and the choices fit a 1280 x 720 screen.
const keyHeight = 64

// maxText bounds what a field accepts from the keyboard.
const maxText = 120

// field is a line of text typed on the on-screen keyboard, shown as a tile
// that takes the keyboard's focus when touched.
type field struct {
	caption, placeholder string
	value                string
	tile                 *tile
	plain                bool // no automatic capitals: addresses and codes
}

func newField(caption, placeholder string, onFocus func(*field)) *field {
	f := &field{caption: caption, placeholder: placeholder}
	f.tile = newTile("", tileField, nil)
	f.tile.onTap = func() { onFocus(f) }
	f.tile.minWidth = 300
	f.tile.minHeight = 80
	f.show()
	return f
}

// show redraws the field's tile, with a caret while it has the focus.
func (f *field) show() {
	f.tile.detail, f.tile.align = f.caption, fyne.TextAlignLeading
	switch {
	case f.value != "" && f.tile.focused:
		f.tile.title, f.tile.detailColor = f.value+"|", colours.accent
	case f.value != "":
		f.tile.title, f.tile.detailColor = f.value, nil
	case f.tile.focused:
		f.tile.title, f.tile.detailColor = "|", colours.accent
	default:
		f.tile.title, f.tile.detailColor = f.placeholder, nil
	}
	f.tile.Refresh()
}

// fieldSet is the fields of one screen and which has the keyboard.
type fieldSet struct {
	fields  []*field
	focus   *field
	changed func() // called after every edit
}

func (s *fieldSet) add(caption, placeholder string) *field {
	f := newField(caption, placeholder, s.setFocus)
	s.fields = append(s.fields, f)
	if s.focus == nil {
		s.setFocus(f)
	}
	return f
}

func (s *fieldSet) setFocus(f *field) {
	s.focus = f
	for _, g := range s.fields {
		g.tile.focused = g == f
		g.show()
	}
}

func (s *fieldSet) edit(fn func(string) string) {
	if s.focus == nil {
		return
	}
	s.focus.value = fn(s.focus.value)
	s.focus.show()
	if s.changed != nil {
		s.changed()
	}
}

// wantCaps reports whether the next letter should be a capital: at the
// start of the field and of each word, as names and notes begin.
func (s *fieldSet) wantCaps() bool {
	if s.focus == nil || s.focus.plain {
		return false
	}
	v := s.focus.value
	return v == "" || strings.HasSuffix(v, " ") || strings.HasSuffix(v, ". ")
}

// keyboard is the in-app text keyboard: a kiosk session has no system one.
type keyboard struct {
	fields  *fieldSet
	shift   bool
	letters []*tile
	shiftK  *tile
	symbols string          // a row of keys above the digits, when set
	tr      *i18n.Localizer // the language of its keys; nil is English
}

func newKeyboard(fs *fieldSet) *keyboard {
	return &keyboard{fields: fs}
}

func (k *keyboard) typeRune(r string) {
	k.fields.edit(func(v string) string {
		if len(v) >= maxText {
			return v
		}
		return v + r
	})
	k.setShift(k.fields.wantCaps())
}

func (k *keyboard) setShift(on bool) {
	k.shift = on
	for _, t := range k.letters {
		if on {
			t.title = strings.ToUpper(t.title)
		} else {
			t.title = strings.ToLower(t.title)
		}
		t.Refresh()
	}
	if k.shiftK != nil {
		kind := tileQuiet
		if on {
			kind = tileSelected
		}
		k.shiftK.setKind(kind)
	}
}

// object lays the keyboard out in QWERTY rows.
func (k *keyboard) object() fyne.CanvasObject {
	l := k.tr
	if l == nil {
		l = i18n.English()
	}
	key := func(s string) *tile {
		t := newTile(s, tileNormal, nil)
		t.onTap = func() { k.typeRune(t.title) }
		t.minWidth, t.minHeight, t.size = keyHeight, keyHeight, sizeLarge
		return t
	}
	row := func(keys ...fyne.CanvasObject) fyne.CanvasObject {
		objs := append([]fyne.CanvasObject{layout.NewSpacer()}, keys...)
		return container.NewHBox(append(objs, layout.NewSpacer())...)
	}
	del := newTile(l.T("ui.key_delete"), tileQuiet, func() {
		k.fields.edit(func(v string) string {
			if v == "" {
				return v
			}
			rs := []rune(v)
			return string(rs[:len(rs)-1])
		})
		k.setShift(k.fields.wantCaps())
	})
	del.minWidth, del.minHeight = 152, keyHeight
	k.shiftK = newTile(l.T("ui.key_shift"), tileQuiet, func() { k.setShift(!k.shift) })
	k.shiftK.minWidth, k.shiftK.minHeight = 120, keyHeight
	space := newTile(l.T("ui.key_space"), tileNormal, func() { k.typeRune(" ") })
	space.minWidth, space.minHeight = 200, keyHeight

	var rows []fyne.CanvasObject
	if k.symbols != "" {
		var keys []fyne.CanvasObject
		for _, r := range k.symbols {
			keys = append(keys, key(string(r)))
		}
		rows = append(rows, row(keys...))
	}
	for i, line := range []string{"1234567890", "qwertyuiop", "asdfghjkl'", "zxcvbnm,.-"} {
		var keys []fyne.CanvasObject
		if i == 3 {
			keys = append(keys, k.shiftK)
		}
		for _, r := range line {
			t := key(string(r))
			if unicode.IsLetter(r) {
				k.letters = append(k.letters, t)
			}
			keys = append(keys, t)
		}
		switch i {
		case 2:
			keys = append(keys, del)
		case 3:
			keys = append(keys, space)
		}
		rows = append(rows, row(keys...))
	}
	k.setShift(k.fields.wantCaps())
	return container.NewVBox(rows...)
}
