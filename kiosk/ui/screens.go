package ui

import (
	"context"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"

	"keycab.dev/keycab"
	"keycab.dev/keycab/kiosk"
)

func itoa(n int) string { return strconv.Itoa(n) }

// renderBody draws the body and footer of the current screen.
func (u *UI) renderBody() {
	s := u.scr
	switch s.State {
	case kiosk.Idle:
		u.idle(s)
	case kiosk.EnterPIN:
		u.pin(s)
	case kiosk.Menu:
		u.menu(s)
	case kiosk.Second:
		u.second(s)
	case kiosk.Reason:
		u.reasonScreen(s)
	case kiosk.Unlocking:
		u.unlocking(s, takeOrReturn(s))
	case kiosk.Confirming:
		u.unlocking(s, theme.MediaPhotoIcon())
	case kiosk.Done:
		u.outcome(s, takeOrReturn(s), colours.success)
	case kiosk.WrongSlot:
		u.outcome(s, theme.WarningIcon(), colours.danger)
	case kiosk.Message:
		u.outcome(s, theme.InfoIcon(), colours.accent)
	case kiosk.Admin:
		u.admin(s)
	case kiosk.Emergency:
		u.emergency(s)
	case kiosk.OutOfService:
		u.outcome(s, theme.ErrorIcon(), colours.danger)
	default:
		u.outcome(s, theme.QuestionIcon(), colours.surfaceHigh)
	}
}

// rerender draws the body again after the person changed what it shows.
func (u *UI) rerender() {
	u.renderBody()
	u.root.Refresh()
}

// headline is a screen's title and message, centred.
func headline(s kiosk.Screen, size fyne.ThemeSizeName) []fyne.CanvasObject {
	objs := []fyne.CanvasObject{heading(s.Title, size, fyne.TextAlignCenter)}
	if s.Message != "" {
		objs = append(objs, paragraph(s.Message, sizeNameMessage, theme.ColorNameForeground, fyne.TextAlignCenter))
	}
	return objs
}

// stack centres objects vertically, one under another.
func stack(objs ...fyne.CanvasObject) fyne.CanvasObject {
	all := append([]fyne.CanvasObject{layout.NewSpacer()}, objs...)
	return container.NewVBox(append(all, layout.NewSpacer())...)
}

func gap(h float32) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(1, px(h)))
	return r
}

// hgap is a horizontal gap of w.
func hgap(w float32) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(px(w), 1))
	return r
}

func (u *UI) idle(s kiosk.Screen) {
	u.footer.Hide()
	hint := centred("Hold your badge or QR code to the reader", sizeLarge, colours.muted, false)
	objs := []fyne.CanvasObject{ringIcon(theme.AccountIcon(), colours.accent, 220), gap(24),
		heading(s.Title, sizeNameDisplay, fyne.TextAlignCenter), hint}
	if s.Message != "" {
		objs = append(objs, gap(16), paragraph(s.Message, sizeNameMessage, theme.ColorNameWarning, fyne.TextAlignCenter))
	}
	u.fill(stack(objs...), nil)
}

func (u *UI) pin(s kiosk.Screen) {
	u.pad = newKeypad(func(d string) { u.do(kiosk.PIN{Digits: d}) })
	left := []fyne.CanvasObject{ringIcon(theme.AccountIcon(), colours.accent, 160), gap(16),
		centred(s.Title, sizeTitle, colours.text, true)}
	if s.Message != "" {
		left = append(left, paragraph(s.Message, sizeNameMessage, theme.ColorNameWarning, fyne.TextAlignCenter))
	} else {
		left = append(left, centred("Type it on the keypad, then OK.", sizeBody, colours.muted, false))
	}
	u.fill(container.NewGridWithColumns(2, stack(left...), stack(container.NewCenter(u.pad.object()))), nil)
	u.setFooter("Cancel", nil)
}

func (u *UI) menu(s kiosk.Screen) {
	var cols []fyne.CanvasObject
	if len(s.Take) > 0 || len(s.Unavailable) > 0 {
		var tiles []fyne.CanvasObject
		for _, ch := range s.Take {
			detail := slotText(ch.Slot)
			var col = colours.muted
			if ch.Note != "" {
				detail = joinDot(detail, ch.Note)
				col = colours.accent
			}
			id := ch.KeySet.ID
			t := newTile(ch.KeySet.Label, tileNormal, func() { u.do(kiosk.ChooseTake{KeySetID: id}) }).withDetail(detail, col)
			t.size, t.minHeight, t.shrink = sizeLarge, 96, true
			tiles = append(tiles, t)
		}
		// The others, greyed and untouchable, each saying why.
		for _, ch := range s.Unavailable {
			t := newTile(ch.KeySet.Label, tileQuiet, nil).withDetail(ch.Note, colours.muted)
			t.size, t.minHeight, t.shrink = sizeLarge, 96, true
			tiles = append(tiles, t)
		}
		cols = append(cols, column("TAKE A KEY", tiles))
	}
	if len(s.Return) > 0 {
		var tiles []fyne.CanvasObject
		now := u.rt.now()
		for _, ch := range s.Return {
			detail, col := slotText(ch.Slot), colours.muted
			if !ch.Due.IsZero() {
				detail = joinDot(detail, "due "+keycab.ShortTime(ch.Due, u.rt.now(), u.rt.loc))
				if ch.Due.Before(now) {
					detail, col = joinDot(detail, "overdue"), colours.danger
				}
			}
			id := ch.KeySet.ID
			t := newTile(ch.KeySet.Label, tileNormal, func() { u.do(kiosk.ChooseReturn{KeySetID: id}) }).withDetail(detail, col)
			t.size, t.minHeight, t.shrink = sizeLarge, 96, true
			tiles = append(tiles, t)
		}
		cols = append(cols, column("RETURN A KEY", tiles))
	}
	top := container.NewVBox(newLine(s.Title, sizeTitle, colours.text, true))
	if s.Message != "" {
		top.Add(paragraph(s.Message, sizeNameMessage, theme.ColorNameWarning, fyne.TextAlignLeading))
	} else {
		top.Add(label("Touch a key to take it or to bring it back.", sizeBody, colours.muted, false))
	}
	top.Add(gap(8))
	var center fyne.CanvasObject = layout.NewSpacer()
	if len(cols) > 0 {
		center = container.NewGridWithColumns(2, cols...)
		if len(cols) == 1 {
			center = container.NewGridWithColumns(2, cols[0], layout.NewSpacer())
		}
	}
	u.fill(container.NewBorder(top, nil, nil, nil, center), nil)
	// Admin only for those who may open it (the controller refuses the
	// rest all the same).
	if s.Member == nil || !s.Member.Role.MayAdminKiosk() {
		u.setFooter("Cancel", nil)
		return
	}
	admin := newTile("Admin", tileQuiet, func() { u.do(kiosk.OpenAdmin{}) })
	admin.minWidth = 200
	u.setFooter("Cancel", admin)
}

// column is a captioned, scrolling list of tiles.
func column(title string, tiles []fyne.CanvasObject) fyne.CanvasObject {
	list := container.NewVScroll(container.NewVBox(tiles...))
	return container.NewBorder(caption(title), nil, nil, nil, list)
}

func slotText(n int) string {
	if n == 0 {
		return "open shelf"
	}
	return "Slot " + itoa(n)
}

func joinDot(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "  ·  " + b
}

func (u *UI) second(s kiosk.Screen) {
	icons := container.NewHBox(badgeIcon(theme.AccountIcon(), colours.surfaceHigh, 140), badgeIcon(theme.AccountIcon(), colours.accent, 140))
	objs := []fyne.CanvasObject{container.NewCenter(icons), gap(16)}
	objs = append(objs, headline(s, sizeNameTitle)...)
	objs = append(objs, gap(8), centred("Waiting for the second badge…", sizeBody, colours.muted, false))
	u.fill(stack(objs...), nil)
	u.setFooter("Cancel", nil)
}

func (u *UI) reasonScreen(s kiosk.Screen) {
	u.fields = &fieldSet{}
	u.recip = u.fields.add("Recipient (optional)", "Who gets the key?")
	u.notes = u.fields.add("Notes (optional)", "Anything to add?")
	u.fields.setFocus(u.recip)
	kb := newKeyboard(u.fields)
	cont := newTile("Continue", tilePrimary, func() {
		if u.reason == "" && len(s.Reasons) > 0 {
			return
		}
		u.do(kiosk.GiveReason{Reason: u.reason, Recipient: u.recip.value, Notes: u.notes.value})
	})
	cont.minWidth, cont.disabled = 240, len(s.Reasons) > 0 // no presets: nothing to choose
	u.reasons = nil
	var opts []fyne.CanvasObject
	for _, r := range s.Reasons {
		t := newTile(reasonLabel(r), tileNormal, nil)
		t.onTap = func() {
			u.reason = r
			for _, o := range u.reasons {
				o.setKind(tileNormal)
			}
			t.setKind(tileSelected)
			cont.disabled = false
			cont.Refresh()
		}
		u.reasons = append(u.reasons, t)
		opts = append(opts, t)
	}
	cols := min(max(len(opts), 1), 5)
	top := container.NewVBox(
		newLine(s.Title, sizeTitle, colours.text, true),
		container.NewGridWithColumns(cols, opts...),
		container.NewGridWithColumns(2, u.recip.tile, u.notes.tile),
	)
	if s.Message != "" {
		top.Add(paragraph(s.Message, sizeNameMessage, theme.ColorNameWarning, fyne.TextAlignLeading))
	}
	u.fill(container.NewBorder(top, nil, nil, nil, container.NewCenter(kb.object())), nil)
	u.setFooter("Cancel", cont)
}

// reasonLabel capitalises a reason preset for its button.
func reasonLabel(r string) string {
	rs := []rune(r)
	if len(rs) == 0 {
		return r
	}
	return strings.ToUpper(string(rs[0])) + string(rs[1:])
}

func (u *UI) unlocking(s kiosk.Screen, icon fyne.Resource) {
	objs := []fyne.CanvasObject{ringIcon(icon, colours.accent, 180), gap(16),
		heading(s.Title, sizeNameHuge, fyne.TextAlignCenter)}
	if s.Message != "" {
		objs = append(objs, paragraph(s.Message, sizeNameLarge, theme.ColorNameWarning, fyne.TextAlignCenter))
	}
	objs = append(objs, gap(8), paragraph("The cabinet locks again by itself when the time is up.", theme.SizeNameText, theme.ColorNamePlaceHolder, fyne.TextAlignCenter))
	if len(s.SlotMap) == 0 || s.Slot == 0 {
		u.fill(stack(objs...), nil)
		u.setFooter("Cancel", nil)
		return
	}
	// Beside the words, the cabinet's slots with the open one lit: the
	// screen's picture, instead of the icon.
	cab := container.NewVBox(caption("CABINET"), slotGrid(s.SlotMap, s.Slot))
	u.fill(container.NewBorder(nil, nil, nil, padded(0, 0, 32, 0, stack(container.NewCenter(cab))), stack(objs[2:]...)), nil)
	u.setFooter("Cancel", nil)
}

// outcome is Done and Message: a picture, the title and the detail.
// takeOrReturn is the icon of a take (out of the cabinet) or a return
// (into it), so the two never look alike.
func takeOrReturn(s kiosk.Screen) fyne.Resource {
	if s.Returning {
		return theme.LoginIcon()
	}
	return theme.LogoutIcon()
}

func (u *UI) outcome(s kiosk.Screen, icon fyne.Resource, fill color.Color) {
	objs := []fyne.CanvasObject{badgeIcon(icon, fill, 180), gap(16)}
	objs = append(objs, headline(s, sizeNameHuge)...)
	u.fill(stack(objs...), nil)
	u.setFooter("OK", nil)
}

func (u *UI) emergency(s kiosk.Screen) {
	u.footer.Hide()
	objs := []fyne.CanvasObject{badgeIcon(theme.WarningIcon(), colours.danger, 200), gap(16),
		heading(s.Title, sizeNameDisplay, fyne.TextAlignCenter)}
	if s.Message != "" {
		objs = append(objs, paragraph(s.Message, sizeNameMessage, theme.ColorNameForeground, fyne.TextAlignCenter))
	}
	u.fill(stack(objs...), colours.emergency)
}

// Admin tabs.
const (
	tabCabinet = ""
	tabPeople  = "people"
	tabHistory = "history"
)

func (u *UI) admin(s kiosk.Screen) {
	if u.clearing != nil {
		u.clearAlarm(s)
		return
	}
	tab := func(title, name string) *tile {
		kind := tileQuiet
		if u.adminTab == name {
			kind = tileSelected
		}
		t := newTile(title, kind, func() {
			if u.adminTab == name {
				return
			}
			u.adminTab = name
			if name == tabHistory {
				u.loadHistory()
			}
			u.rerender()
		})
		t.minWidth = 180
		return t
	}
	top := container.NewVBox(container.NewBorder(nil, nil, nil,
		container.NewHBox(tab("Cabinet", tabCabinet), tab("People", tabPeople), tab("History", tabHistory)),
		newLine(s.Title, sizeTitle, colours.text, true)))
	if s.Message != "" {
		top.Add(paragraph(s.Message, sizeNameMessage, theme.ColorNameWarning, fyne.TextAlignLeading))
	}
	var main fyne.CanvasObject
	switch u.adminTab {
	case tabHistory:
		main = u.historyView()
	case tabPeople:
		main = u.peopleView(s)
	default:
		main = u.cabinetView(s)
	}
	u.fill(container.NewBorder(top, nil, nil, nil, main), nil)
	u.setFooter("Exit admin", nil)
}

// cabinetView is the slot map with enrolment, the lock tests and the
// active alarms.
func (u *UI) cabinetView(s kiosk.Screen) fyne.CanvasObject {
	v := s.Admin
	if v == nil {
		v = &kiosk.AdminView{}
	}
	var slots []fyne.CanvasObject
	for _, sv := range v.Slots {
		enrol := newTile("New label", tileQuiet, func() { u.do(kiosk.EnrolFob{Slot: sv.Number}) })
		enrol.size = sizeCaption + 2
		slots = append(slots, slotCard(sv, enrol))
	}
	var pulses []fyne.CanvasObject
	for _, name := range v.Locks {
		t := newTile(name, tileNormal, func() { u.do(kiosk.PulseLock{Lock: name}) })
		t.size = sizeCaption + 2
		pulses = append(pulses, t)
	}
	status := newLine(fmt.Sprintf("Log: %d entries   ·   Config version %d   ·   %s", v.LogSize, v.Config, syncWords(v.Sync, u.rt.loc)), sizeCaption, colours.muted, false)
	left := container.NewVBox(caption("SLOT MAP"), container.NewGridWithColumns(3, slots...),
		gap(4), caption(fmt.Sprintf("TEST A LOCK: TOUCH ONE TO RELEASE IT FOR %s", pulseWords(v.Pulse))), container.NewGridWithColumns(3, pulses...), gap(4), status)
	if v.CameraError != "" {
		left.Add(paragraph(cameraWords(v.CameraError, v.CameraErrorAt, u.rt.loc), theme.SizeNameCaptionText, theme.ColorNameError, fyne.TextAlignLeading))
	}
	for _, r := range v.Refused {
		left.Add(paragraph("Refused at HQ: "+r, theme.SizeNameCaptionText, theme.ColorNameError, fyne.TextAlignLeading))
	}

	var alarms []fyne.CanvasObject
	for _, a := range s.Alarms {
		// The title whole, the detail cut to the column: three alarms
		// and their Clear buttons fit the 800 x 480 screen.
		card := newTile(keycab.AlarmTitle(a.Kind), tileNormal, nil).withDetail(a.Detail+"  ·  since "+a.Since.In(u.rt.loc).Format("15:04"), colours.muted)
		card.cutDetail = true
		clear := newTile("Clear…", tileDanger, func() {
			u.clearing = &a
			u.rerender()
		})
		clear.minWidth = 140
		alarms = append(alarms, container.NewBorder(nil, nil, nil, clear, card))
	}
	if len(alarms) == 0 {
		alarms = append(alarms, label("No active alarms.", sizeBody, colours.muted, false))
	}
	right := container.NewBorder(caption("ACTIVE ALARMS"), nil, nil, nil, container.NewVScroll(container.NewVBox(alarms...)))
	return container.NewBorder(nil, nil, nil, sized(right, fyne.NewSize(484, 0)), container.NewPadded(container.NewVScroll(left)))
}

// cameraWords is the admin status line for the camera's last error: its
// time and its end (where a program's stderr says why), on one line.
func cameraWords(msg string, at time.Time, loc *time.Location) string {
	const most = 110 // runes: two lines beside the slot map
	if r := []rune(msg); len(r) > most {
		msg = "…" + string(r[len(r)-most:])
	}
	return fmt.Sprintf("Camera error at %s: %s", at.In(loc).Format("Mon 15:04"), msg)
}

// syncWords says how the kiosk stands with HQ.
func syncWords(s kiosk.SyncView, loc *time.Location) string {
	if s.HQ == "" {
		return "Not enrolled with HQ"
	}
	last := "never"
	if !s.LastPush.IsZero() {
		last = s.LastPush.In(loc).Format("Mon 15:04")
	}
	return fmt.Sprintf("HQ has cosigned %d, last sync %s", s.Cosigned, last)
}

// pulseWords says a lock test's length in words: "2 SECONDS".
func pulseWords(d time.Duration) string {
	if d <= 0 {
		d = 2 * time.Second
	}
	n := int(d.Round(time.Second) / time.Second)
	if n == 1 {
		return "1 SECOND"
	}
	return fmt.Sprintf("%d SECONDS", n)
}

// peopleView lists the members, each with a button to link a new badge:
// the next badge read at the reader becomes theirs.
func (u *UI) peopleView(s kiosk.Screen) fyne.CanvasObject {
	v := s.Admin
	if v == nil {
		v = &kiosk.AdminView{}
	}
	var rows []fyne.CanvasObject
	for _, m := range v.Members {
		link := newTile("Link badge", tileQuiet, func() { u.do(kiosk.LinkBadge{MemberID: m.ID}) })
		link.minWidth = 200
		name := newTile(m.Name, tileNormal, nil)
		name.shrink = true
		rows = append(rows, container.NewBorder(nil, nil, nil, link, name))
	}
	if len(rows) == 0 {
		rows = append(rows, label("No members in this kiosk's config.", sizeBody, colours.muted, false))
	}
	return container.NewBorder(caption("PEOPLE: LINK A NEW BADGE, THEN PRESENT IT AT THE READER"), nil, nil, nil,
		container.NewVScroll(container.NewVBox(rows...)))
}

// historyFilter is one of the history tab's filters.
type historyFilter struct {
	title string
	kind  keycab.EventKind
}

// historyFilters are the history tab's filters, by the kind they select.
func historyFilters() []historyFilter {
	return []historyFilter{
		{"All", ""},
		{"Taken", keycab.EventKeyTaken},
		{"Returned", keycab.EventKeyReturned},
		{"Alarms", keycab.EventAlarmRaised},
		{"Sign-in failures", keycab.EventIdentifyFail},
		{"Admin changes", keycab.EventAdminChange},
	}
}

// historyView lists the newest entries of the local log.
func (u *UI) historyView() fyne.CanvasObject {
	var filters []fyne.CanvasObject
	for _, f := range historyFilters() {
		kind := tileNormal
		if f.kind == u.histKind {
			kind = tileSelected
		}
		t := newTile(f.title, kind, func() {
			u.histKind = f.kind
			u.loadHistory()
			u.rerender()
		})
		filters = append(filters, t)
	}
	var rows []fyne.CanvasObject
	switch {
	case u.histErr != nil:
		rows = append(rows, label("Could not read the log: "+u.histErr.Error(), sizeBody, colours.danger, false))
	case u.history == nil:
		rows = append(rows, label("Reading the log…", sizeBody, colours.muted, false))
	case len(u.history) == 0:
		rows = append(rows, label("Nothing yet.", sizeBody, colours.muted, false))
	}
	for _, h := range u.history {
		what := joinDot(keycab.EventTitle(h.Kind), h.Who)
		if h.KeySet != "" {
			what = joinDot(what, h.KeySet)
		}
		when := label(h.Time.In(u.rt.loc).Format("Mon 15:04:05"), sizeCaption, colours.muted, true)
		line := container.NewVBox(newLine(what, sizeBody, colours.text, true))
		if h.Text != "" {
			line.Add(newLine(h.Text, sizeCaption, colours.muted, false))
		}
		bg := canvas.NewRectangle(colours.surface)
		bg.CornerRadius = 10
		rows = append(rows, container.NewStack(bg, padded(6, 6, 16, 16, container.NewBorder(nil, nil, sized(container.NewCenter(when), fyne.NewSize(150, 0)), nil, line))))
	}
	// Two rows of three: six in a row do not fit even the 1280 x 800 panel.
	return container.NewBorder(container.NewGridWithColumns(3, filters...), nil, nil, nil,
		container.NewVScroll(container.NewVBox(rows...)))
}

// historyLimit bounds the history tab's list.
const historyLimit = 50

// loadHistory reads the log for the history tab: at once in the tests'
// manual runtime, otherwise off the Fyne thread.
func (u *UI) loadHistory() {
	f := kiosk.HistoryFilter{Kind: u.histKind, Limit: historyLimit}
	u.history, u.histErr = nil, nil
	if u.rt.manual {
		u.history, u.histErr = u.c.History(context.Background(), f)
		if u.history == nil && u.histErr == nil {
			u.history = []kiosk.HistoryItem{}
		}
		return
	}
	go func() {
		items, err := u.c.History(context.Background(), f)
		if items == nil {
			items = []kiosk.HistoryItem{}
		}
		fyne.Do(func() {
			if u.adminTab != tabHistory || u.histKind != f.Kind {
				return // the person moved on
			}
			u.history, u.histErr = items, err
			u.rerender()
		})
	}()
}

// clearAlarm asks for the note that clearing an alarm needs.
func (u *UI) clearAlarm(s kiosk.Screen) {
	a := *u.clearing
	if u.fields == nil {
		u.fields = &fieldSet{}
		u.note = u.fields.add("Note (required)", "What was found and done?")
	}
	kb := newKeyboard(u.fields)
	clear := newTile("Clear alarm", tileDanger, nil)
	clear.minWidth = 240
	clear.disabled = u.note.value == ""
	clear.onTap = func() {
		if u.note.value == "" {
			return
		}
		u.do(kiosk.ClearAlarm{ID: a.ID, Note: u.note.value})
	}
	u.fields.changed = func() {
		clear.disabled = u.note.value == ""
		clear.Refresh()
	}
	back := newTile("Back", tileQuiet, func() {
		u.clearing, u.fields, u.note = nil, nil, nil
		u.rerender()
	})
	back.minWidth = 160
	title := newLine("Clear alarm: "+keycab.AlarmTitle(a.Kind), sizeTitle, colours.text, true)
	top := container.NewVBox(container.NewBorder(nil, nil, nil, back, title),
		newLine(a.Detail+"  ·  since "+a.Since.In(u.rt.loc).Format("Mon 15:04"), sizeBody, colours.muted, false),
		gap(4), u.note.tile)
	u.fill(container.NewBorder(top, nil, nil, nil, container.NewCenter(kb.object())), nil)
	u.setFooter("Exit admin", clear)
}

// slotCard is one slot on the admin slot map, with its action.
func slotCard(sv kiosk.SlotView, action fyne.CanvasObject) fyne.CanvasObject {
	bg := canvas.NewRectangle(colours.surface)
	bg.CornerRadius = 14
	state, col := "Key in", colours.success
	if !sv.Present {
		state, col = "Empty", colours.danger
	}
	dot := canvas.NewCircle(col)
	var pill fyne.CanvasObject = container.NewHBox(sized(container.NewCenter(sized(dot, fyne.NewSquareSize(16))), fyne.NewSize(16, 28)),
		label(state, sizeCaption, col, true))
	if sv.Out != "" { // who has it, cut to the card
		pill = container.NewBorder(nil, nil, pill, nil, newLine("·  with "+sv.Out, sizeCaption, colours.accent, false))
	}
	set := sv.KeySet
	if set == "" {
		set = "(unmapped)"
	}
	lines := container.NewVBox(label("SLOT "+itoa(sv.Number), sizeCaption, colours.muted, true),
		newLine(set, sizeBody, colours.text, true), pill, action)
	return container.NewStack(bg, padded(10, 10, 14, 14, lines))
}

// slotGrid is the cabinet's slot map on the unlocking step: a square per
// slot, the open one lit in the accent colour, those with a key in filled,
// the empty ones outlined.
func slotGrid(slots []kiosk.SlotView, open int) fyne.CanvasObject {
	cols := len(slots)
	if cols > 3 {
		cols = int(math.Ceil(math.Sqrt(float64(cols))))
	}
	var cells []fyne.CanvasObject
	for _, sv := range slots {
		bg := canvas.NewRectangle(colours.surfaceHigh)
		bg.CornerRadius = px(10)
		num := centred(itoa(sv.Number), sizeBody, colours.text, true)
		switch {
		case sv.Number == open:
			bg.FillColor, num.Color = colours.accent, colours.onAccent
			bg.StrokeColor, bg.StrokeWidth = colours.text, px(3)
		case !sv.Present:
			bg.FillColor, num.Color = color.Transparent, colours.muted
			bg.StrokeColor, bg.StrokeWidth = colours.surfaceHigh, px(2)
		}
		cells = append(cells, sized(container.NewStack(bg, container.NewCenter(num)), fyne.NewSquareSize(64)))
	}
	return container.NewGridWithColumns(max(cols, 1), cells...)
}
