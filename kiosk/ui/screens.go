package ui

import (
	"context"
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
	"keycab.dev/keycab/internal/i18n"
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
	hint := centred(u.tr().T("ui.hold_badge"), sizeLarge, colours.muted, false)
	objs := []fyne.CanvasObject{ringIcon(theme.AccountIcon(), colours.accent, 220), gap(24),
		heading(s.Title, sizeNameDisplay, fyne.TextAlignCenter), hint}
	if s.Message != "" {
		objs = append(objs, gap(16), paragraph(s.Message, sizeNameMessage, theme.ColorNameWarning, fyne.TextAlignCenter))
	}
	u.fill(stack(objs...), nil)
}

func (u *UI) pin(s kiosk.Screen) {
	u.pad = newKeypad(func(d string) { u.do(kiosk.PIN{Digits: d}) })
	u.pad.tr = u.tr()
	left := []fyne.CanvasObject{ringIcon(theme.AccountIcon(), colours.accent, 160), gap(16),
		centred(s.Title, sizeTitle, colours.text, true)}
	if s.Message != "" {
		left = append(left, paragraph(s.Message, sizeNameMessage, theme.ColorNameWarning, fyne.TextAlignCenter))
	} else {
		left = append(left, centred(u.tr().T("ui.type_pin"), sizeBody, colours.muted, false))
	}
	u.fill(container.NewGridWithColumns(2, stack(left...), stack(container.NewCenter(u.pad.object()))), nil)
	u.setFooter(u.tr().T("ui.cancel"), nil)
}

func (u *UI) menu(s kiosk.Screen) {
	var cols []fyne.CanvasObject
	if len(s.Take) > 0 || len(s.Unavailable) > 0 {
		var tiles []fyne.CanvasObject
		for _, ch := range s.Take {
			detail := u.slotText(ch.Slot)
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
		cols = append(cols, column(u.tr().T("ui.take_a_key"), tiles))
	}
	if len(s.Return) > 0 {
		var tiles []fyne.CanvasObject
		now := u.rt.now()
		for _, ch := range s.Return {
			detail, col := u.slotText(ch.Slot), colours.muted
			if !ch.Due.IsZero() {
				detail = joinDot(detail, u.tr().T("ui.due", "Due", u.tr().Short(ch.Due, u.rt.now(), u.rt.loc)))
				if ch.Due.Before(now) {
					detail, col = joinDot(detail, u.tr().T("ui.overdue")), colours.danger
				}
			}
			id := ch.KeySet.ID
			t := newTile(ch.KeySet.Label, tileNormal, func() { u.do(kiosk.ChooseReturn{KeySetID: id}) }).withDetail(detail, col)
			t.size, t.minHeight, t.shrink = sizeLarge, 96, true
			tiles = append(tiles, t)
		}
		cols = append(cols, column(u.tr().T("ui.return_a_key"), tiles))
	}
	top := container.NewVBox(newLine(s.Title, sizeTitle, colours.text, true))
	if s.Message != "" {
		top.Add(paragraph(s.Message, sizeNameMessage, theme.ColorNameWarning, fyne.TextAlignLeading))
	} else {
		top.Add(label(u.tr().T("ui.touch_key"), sizeBody, colours.muted, false))
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
		u.setFooter(u.tr().T("ui.cancel"), nil)
		return
	}
	admin := newTile(u.tr().T("ui.admin"), tileQuiet, func() { u.do(kiosk.OpenAdmin{}) })
	admin.minWidth = 200
	u.setFooter(u.tr().T("ui.cancel"), admin)
}

// column is a captioned, scrolling list of tiles.
func column(title string, tiles []fyne.CanvasObject) fyne.CanvasObject {
	list := container.NewVScroll(container.NewVBox(tiles...))
	return container.NewBorder(caption(title), nil, nil, nil, list)
}

func (u *UI) slotText(n int) string {
	if n == 0 {
		return u.tr().T("ui.open_shelf")
	}
	return u.tr().T("ui.slot", "Slot", n)
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
	objs = append(objs, gap(8), centred(u.tr().T("ui.waiting_second"), sizeBody, colours.muted, false))
	u.fill(stack(objs...), nil)
	u.setFooter(u.tr().T("ui.cancel"), nil)
}

func (u *UI) reasonScreen(s kiosk.Screen) {
	u.fields = &fieldSet{}
	u.recip = u.fields.add(u.tr().T("ui.recipient"), u.tr().T("ui.recipient_hint"))
	u.notes = u.fields.add(u.tr().T("ui.notes"), u.tr().T("ui.notes_hint"))
	u.fields.setFocus(u.recip)
	kb := newKeyboard(u.fields)
	kb.tr = u.tr()
	cont := newTile(u.tr().T("ui.continue"), tilePrimary, func() {
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
	u.setFooter(u.tr().T("ui.cancel"), cont)
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
	objs = append(objs, gap(8), paragraph(u.tr().T("ui.relocks"), theme.SizeNameText, theme.ColorNamePlaceHolder, fyne.TextAlignCenter))
	if len(s.SlotMap) == 0 || s.Slot == 0 {
		u.fill(stack(objs...), nil)
		u.setFooter(u.tr().T("ui.cancel"), nil)
		return
	}
	// Beside the words, the cabinet's slots with the open one lit: the
	// screen's picture, instead of the icon.
	cab := container.NewVBox(caption(u.tr().T("ui.cabinet")), slotGrid(s.SlotMap, s.Slot))
	u.fill(container.NewBorder(nil, nil, nil, padded(0, 0, 32, 0, stack(container.NewCenter(cab))), stack(objs[2:]...)), nil)
	u.setFooter(u.tr().T("ui.cancel"), nil)
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
	u.setFooter(u.tr().T("ui.ok"), nil)
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
		container.NewHBox(tab(u.tr().T("ui.cabinet"), tabCabinet), tab(u.tr().T("ui.people"), tabPeople), tab(u.tr().T("ui.history"), tabHistory)),
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
	u.setFooter(u.tr().T("ui.exit_admin"), nil)
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
		enrol := newTile(u.tr().T("ui.new_label"), tileQuiet, func() { u.do(kiosk.EnrolFob{Slot: sv.Number}) })
		enrol.size = sizeCaption + 2
		slots = append(slots, slotCard(u.tr(), sv, enrol))
	}
	var pulses []fyne.CanvasObject
	for _, name := range v.Locks {
		t := newTile(name, tileNormal, func() { u.do(kiosk.PulseLock{Lock: name}) })
		t.size = sizeCaption + 2
		pulses = append(pulses, t)
	}
	status := newLine(u.tr().T("ui.status", "Entries", v.LogSize, "Config", v.Config, "Sync", syncWords(u.tr(), v.Sync, u.rt.loc)), sizeCaption, colours.muted, false)
	left := container.NewVBox(caption(u.tr().T("ui.slot_map")), container.NewGridWithColumns(3, slots...),
		gap(4), caption(u.tr().T("ui.test_lock", "For", pulseWords(u.tr(), v.Pulse))), container.NewGridWithColumns(3, pulses...), gap(4), status)
	if v.CameraError != "" {
		left.Add(paragraph(cameraWords(u.tr(), v.CameraError, v.CameraErrorAt, u.rt.loc), theme.SizeNameCaptionText, theme.ColorNameError, fyne.TextAlignLeading))
	}
	for _, r := range v.Refused {
		left.Add(paragraph(u.tr().T("ui.refused_at_hq", "Change", r), theme.SizeNameCaptionText, theme.ColorNameError, fyne.TextAlignLeading))
	}

	var alarms []fyne.CanvasObject
	for _, a := range s.Alarms {
		// The title whole, the detail cut to the column: three alarms
		// and their Clear buttons fit the 800 x 480 screen.
		card := newTile(keycab.AlarmTitleIn(u.tr(), a.Kind), tileNormal, nil).withDetail(a.Detail+"  ·  "+u.tr().T("ui.since", "Since", u.tr().Clock(a.Since.In(u.rt.loc))), colours.muted)
		card.cutDetail = true
		clear := newTile(u.tr().T("ui.clear_dots"), tileDanger, func() {
			u.clearing = &a
			u.rerender()
		})
		clear.minWidth = 140
		alarms = append(alarms, container.NewBorder(nil, nil, nil, clear, card))
	}
	if len(alarms) == 0 {
		alarms = append(alarms, label(u.tr().T("ui.no_alarms"), sizeBody, colours.muted, false))
	}
	right := container.NewBorder(caption(u.tr().T("ui.active_alarms")), nil, nil, nil, container.NewVScroll(container.NewVBox(alarms...)))
	return container.NewBorder(nil, nil, nil, sized(right, fyne.NewSize(484, 0)), container.NewPadded(container.NewVScroll(left)))
}

// cameraWords is the admin status line for the camera's last error: its
// time and its end (where a program's stderr says why), on one line.
func cameraWords(l *i18n.Localizer, msg string, at time.Time, loc *time.Location) string {
	const most = 110 // runes: two lines beside the slot map
	if r := []rune(msg); len(r) > most {
		msg = "…" + string(r[len(r)-most:])
	}
	at = at.In(loc)
	return l.T("ui.camera_error", "At", l.Weekday(at.Weekday())+" "+l.Clock(at), "Error", msg)
}

// syncWords says how the kiosk stands with HQ.
func syncWords(l *i18n.Localizer, s kiosk.SyncView, loc *time.Location) string {
	if s.HQ == "" {
		return l.T("ui.not_enrolled")
	}
	last := l.T("ui.never")
	if !s.LastPush.IsZero() {
		t := s.LastPush.In(loc)
		last = l.Weekday(t.Weekday()) + " " + l.Clock(t)
	}
	return l.T("ui.sync", "Cosigned", s.Cosigned, "Last", last)
}

// pulseWords says a lock test's length in words: "2 seconds".
func pulseWords(l *i18n.Localizer, d time.Duration) string {
	if d <= 0 {
		d = 2 * time.Second
	}
	return l.N("time.seconds", int(d.Round(time.Second)/time.Second))
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
		link := newTile(u.tr().T("ui.link_badge"), tileQuiet, func() { u.do(kiosk.LinkBadge{MemberID: m.ID}) })
		link.minWidth = 200
		name := newTile(m.Name, tileNormal, nil)
		name.shrink = true
		rows = append(rows, container.NewBorder(nil, nil, nil, link, name))
	}
	if len(rows) == 0 {
		rows = append(rows, label(u.tr().T("ui.no_members"), sizeBody, colours.muted, false))
	}
	return container.NewBorder(caption(u.tr().T("ui.people_caption")), nil, nil, nil,
		container.NewVScroll(container.NewVBox(rows...)))
}

// historyFilter is one of the history tab's filters.
type historyFilter struct {
	title string
	kind  keycab.EventKind
}

// historyFilters are the history tab's filters, by the kind they select.
func historyFilters(l *i18n.Localizer) []historyFilter {
	return []historyFilter{
		{l.T("ui.filter_all"), ""},
		{l.T("ui.filter_taken"), keycab.EventKeyTaken},
		{l.T("ui.filter_returned"), keycab.EventKeyReturned},
		{l.T("ui.filter_alarms"), keycab.EventAlarmRaised},
		{l.T("ui.filter_failures"), keycab.EventIdentifyFail},
		{l.T("ui.filter_admin"), keycab.EventAdminChange},
	}
}

// historyView lists the newest entries of the local log.
func (u *UI) historyView() fyne.CanvasObject {
	var filters []fyne.CanvasObject
	for _, f := range historyFilters(u.tr()) {
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
		rows = append(rows, label(u.tr().T("ui.log_error", "Error", u.histErr.Error()), sizeBody, colours.danger, false))
	case u.history == nil:
		rows = append(rows, label(u.tr().T("ui.reading_log"), sizeBody, colours.muted, false))
	case len(u.history) == 0:
		rows = append(rows, label(u.tr().T("ui.nothing_yet"), sizeBody, colours.muted, false))
	}
	for _, h := range u.history {
		what := joinDot(keycab.EventTitleIn(u.tr(), h.Kind), h.Who)
		if h.KeySet != "" {
			what = joinDot(what, h.KeySet)
		}
		when := label(u.historyTime(h.Time), sizeCaption, colours.muted, true)
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

// historyTime says a history entry's time: the weekday and the time of
// day to the second, on the locale's clock.
func (u *UI) historyTime(t time.Time) string {
	t = t.In(u.rt.loc)
	l := u.tr()
	clock := t.Format("15:04:05")
	if !l.Clock24() {
		clock = t.Format("3:04:05 PM")
	}
	return l.Weekday(t.Weekday()) + " " + clock
}

// weekdayClock says t as the weekday and the time of day: "Fri 03:04".
func (u *UI) weekdayClock(t time.Time) string {
	t = t.In(u.rt.loc)
	return u.tr().Weekday(t.Weekday()) + " " + u.tr().Clock(t)
}

// historyLimit bounds the history tab's list.
const historyLimit = 50

// loadHistory reads the log for the history tab: at once in the tests'
// manual runtime, otherwise off the Fyne thread.
func (u *UI) loadHistory() {
	f := kiosk.HistoryFilter{Kind: u.histKind, Limit: historyLimit, Lang: u.scr.Lang}
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
		u.note = u.fields.add(u.tr().T("ui.note_required"), u.tr().T("ui.note_hint"))
	}
	kb := newKeyboard(u.fields)
	kb.tr = u.tr()
	clear := newTile(u.tr().T("ui.clear_alarm"), tileDanger, nil)
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
	back := newTile(u.tr().T("ui.back"), tileQuiet, func() {
		u.clearing, u.fields, u.note = nil, nil, nil
		u.rerender()
	})
	back.minWidth = 160
	title := newLine(u.tr().T("ui.clear_alarm_title", "Alarm", keycab.AlarmTitleIn(u.tr(), a.Kind)), sizeTitle, colours.text, true)
	top := container.NewVBox(container.NewBorder(nil, nil, nil, back, title),
		newLine(a.Detail+"  ·  "+u.tr().T("ui.since", "Since", u.weekdayClock(a.Since)), sizeBody, colours.muted, false),
		gap(4), u.note.tile)
	u.fill(container.NewBorder(top, nil, nil, nil, container.NewCenter(kb.object())), nil)
	u.setFooter(u.tr().T("ui.exit_admin"), clear)
}

// slotCard is one slot on the admin slot map, with its action.
func slotCard(l *i18n.Localizer, sv kiosk.SlotView, action fyne.CanvasObject) fyne.CanvasObject {
	bg := canvas.NewRectangle(colours.surface)
	bg.CornerRadius = 14
	state, col := l.T("ui.key_in"), colours.success
	if !sv.Present {
		state, col = l.T("ui.empty"), colours.danger
	}
	dot := canvas.NewCircle(col)
	var pill fyne.CanvasObject = container.NewHBox(sized(container.NewCenter(sized(dot, fyne.NewSquareSize(16))), fyne.NewSize(16, 28)),
		label(state, sizeCaption, col, true))
	if sv.Out != "" { // who has it, cut to the card
		pill = container.NewBorder(nil, nil, pill, nil, newLine("·  "+l.T("ui.with", "Name", sv.Out), sizeCaption, colours.accent, false))
	}
	set := sv.KeySet
	if set == "" {
		set = l.T("ui.unmapped")
	}
	lines := container.NewVBox(caption(l.T("ui.slot", "Slot", sv.Number)),
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
