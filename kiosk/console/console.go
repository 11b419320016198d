// Package console is the kiosk's terminal front-end, for machines with no
// display: it prints every screen the controller shows and reads what a
// person would do, touches and simulated hardware alike, as typed commands.
// It holds no logic of its own: like kiosk/ui it renders kiosk.Screen and
// sends actions.
package console

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
)

// helpLines are the commands and the message ids saying what they do.
var helpLines = []struct{ syntax, id string }{
	{"badge CODE", "console.help.badge"},
	{"qr TEXT", "console.help.qr"},
	{"pin DIGITS", "console.help.pin"},
	{"take N|ID", "console.help.take"},
	{"return N|ID", "console.help.return"},
	{"reason TEXT[|RECIPIENT[|NOTES]]", "console.help.reason"},
	{"cancel", "console.help.cancel"},
	{"admin", "console.help.admin"},
	{"pulse LOCK", "console.help.pulse"},
	{"clear ID NOTE", "console.help.clear"},
	{"enrol N", "console.help.enrol"},
	{"link MEMBER", "console.help.link"},
	{"map N KEYSET|-", "console.help.map"},
	{"history [N]", "console.help.history"},
	{"door open|close", "console.help.door"},
	{"slot N out|in|yank", "console.help.slot"},
	{"tamper on|off", "console.help.tamper"},
	{"emergency on|off", "console.help.emergency"},
	{"locks", "console.help.locks"},
	{"status", "console.help.status"},
	{"help", "console.help.help"},
	{"quit", "console.help.quit"},
}

// Help lists the commands in l's language (the commands themselves are
// the same in every language).
func Help(l *i18n.Localizer) string {
	var b strings.Builder
	b.WriteString(l.T("console.help.head"))
	for _, h := range helpLines {
		fmt.Fprintf(&b, "\n  %-21s %s", h.syntax, l.T(h.id))
	}
	return b.String()
}

// Console connects a controller (and a simulated cabinet) to a terminal.
type Console struct {
	c   *kiosk.Controller
	sim *simulator.Cabinet
	out io.Writer
}

// New returns a console for c; sim may be nil on real hardware, where the
// hardware commands are refused.
func New(c *kiosk.Controller, sim *simulator.Cabinet, out io.Writer) *Console {
	return &Console{c: c, sim: sim, out: out}
}

// Run prints screens as they change and executes commands read from in,
// until ctx ends, in ends, or quit is typed.
func (k *Console) Run(ctx context.Context, in io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	screens := k.c.Subscribe()
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		var last uint64
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-screens:
				if s.Seq != last {
					last = s.Seq
					fmt.Fprint(k.out, Render(s, time.Now()))
				}
			}
		}
	}()
	lines := make(chan line)
	stopped := make(chan struct{})
	defer close(stopped)
	go readLines(in, lines, stopped)
	var err error
loop:
	for {
		var l line
		select {
		case <-ctx.Done():
			break loop
		case l = <-lines:
		}
		if l.err != nil {
			if l.err != io.EOF {
				err = l.err
			}
			break loop
		}
		if l.long > 0 {
			fmt.Fprintf(k.out, "! %s\n", k.tr().T("console.line_too_long", "Bytes", l.long, "Max", MaxLine))
			continue
		}
		text := strings.TrimSpace(l.text)
		if text == "" {
			continue
		}
		if text == "quit" || text == "exit" {
			break loop
		}
		if err := k.Exec(text); err != nil {
			fmt.Fprintf(k.out, "! %v\n", err)
		}
	}
	cancel()
	<-printed
	return err
}

// MaxLine is the longest command line the console takes (a QR code holds
// at most about 3 KB); longer lines are read to their end and refused.
const MaxLine = 16 << 10

// line is one line read from the console's input: its text, or its length
// when it was longer than MaxLine, or the error that ended the input.
type line struct {
	text string
	long int
	err  error
}

// readLines reads in line by line, lines of any length, and hands each to
// lines until in ends or stopped is closed. It runs in its own goroutine
// so that Run can stop while a Read blocks (a terminal or a pipe that
// stays open and idle); that Read ends when the program exits or in is
// closed.
func readLines(in io.Reader, lines chan<- line, stopped <-chan struct{}) {
	r := bufio.NewReaderSize(in, 4096)
	for {
		var l line
		var buf []byte
		for {
			chunk, err := r.ReadSlice('\n')
			if l.long == 0 && len(buf)+len(chunk) <= MaxLine+1 { // +1: the newline
				buf = append(buf, chunk...)
			} else {
				l.long += len(buf) + len(bytes.TrimSuffix(chunk, []byte("\n")))
				buf = buf[:0]
			}
			if err == bufio.ErrBufferFull {
				continue // the line goes on
			}
			if err != nil && len(buf) == 0 && l.long == 0 {
				l.err = err
			}
			break
		}
		l.text = strings.TrimRight(string(buf), "\r\n")
		if len(l.text) > MaxLine {
			l.long, l.text = len(l.text), ""
		}
		select {
		case lines <- l:
		case <-stopped:
			return
		}
		if l.err != nil {
			return
		}
	}
}

// tr is the Localizer of the console's answers: the language the screen
// speaks (the member's, else the site's).
func (k *Console) tr() *i18n.Localizer { return i18n.For(k.c.Screen().Lang) }

// Exec runs one command; its error is in the screen's language.
func (k *Console) Exec(line string) error {
	l := k.tr()
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	need := func() error {
		if arg == "" {
			return errors.New(l.T("console.err.needs_arg", "Cmd", cmd))
		}
		return nil
	}
	hw := func() error {
		if k.sim == nil {
			return errors.New(l.T("console.err.needs_sim", "Cmd", cmd))
		}
		return nil
	}
	// at refuses a command the current step would ignore, saying why, so
	// that no input goes unanswered.
	at := func(what string, states ...kiosk.State) error {
		st := k.c.Screen().State
		for _, s := range states {
			if st == s {
				return nil
			}
		}
		return errors.New(l.T("console.err.not_now", "Cmd", cmd, "State", st, "What", what))
	}
	switch cmd {
	case "help", "?":
		fmt.Fprintln(k.out, Help(l))
	case "status":
		fmt.Fprint(k.out, Render(k.c.Screen(), time.Now()))
	case "badge", "qr":
		if err := errorsJoin(need(), hw()); err != nil {
			return err
		}
		if cmd == "badge" {
			k.sim.Badge(arg)
		} else {
			k.sim.ShowQR(arg)
		}
	case "pin":
		if err := need(); err != nil {
			return err
		}
		if st := k.c.Screen().State; st != kiosk.EnterPIN {
			return errors.New(l.T("console.err.no_pin", "State", st))
		}
		k.c.Do(kiosk.PIN{Digits: arg})
	case "take", "return":
		if err := need(); err != nil {
			return err
		}
		if err := at(l.T("console.why.menu"), kiosk.Menu); err != nil {
			return err
		}
		id, err := k.pick(l, cmd, arg)
		if err != nil {
			return err
		}
		if cmd == "take" {
			k.c.Do(kiosk.ChooseTake{KeySetID: id})
		} else {
			k.c.Do(kiosk.ChooseReturn{KeySetID: id})
		}
	case "reason":
		if err := need(); err != nil {
			return err
		}
		if err := at(l.T("console.why.reason"), kiosk.Reason); err != nil {
			return err
		}
		f := strings.SplitN(arg, "|", 3)
		for len(f) < 3 {
			f = append(f, "")
		}
		k.c.Do(kiosk.GiveReason{Reason: strings.TrimSpace(f[0]), Recipient: strings.TrimSpace(f[1]), Notes: strings.TrimSpace(f[2])})
	case "cancel":
		if st := k.c.Screen().State; st == kiosk.Idle {
			return errors.New(l.T("console.err.nothing_to_cancel"))
		}
		k.c.Do(kiosk.Cancel{})
	case "admin":
		if err := at(l.T("console.why.admin_menu"), kiosk.Menu); err != nil {
			return err
		}
		k.c.Do(kiosk.OpenAdmin{})
	case "pulse":
		if err := errorsJoin(need(), at(l.T("console.why.admin"), kiosk.Admin)); err != nil {
			return err
		}
		k.c.Do(kiosk.PulseLock{Lock: arg})
	case "enrol":
		if err := at(l.T("console.why.admin"), kiosk.Admin); err != nil {
			return err
		}
		n, err := strconv.Atoi(arg)
		if err != nil {
			return errors.New(l.T("console.err.enrol"))
		}
		k.c.Do(kiosk.EnrolFob{Slot: n})
	case "map":
		if err := at(l.T("console.why.admin"), kiosk.Admin); err != nil {
			return err
		}
		num, ks, _ := strings.Cut(arg, " ")
		n, err := strconv.Atoi(num)
		if err != nil || strings.TrimSpace(ks) == "" {
			return errors.New(l.T("console.err.map"))
		}
		if ks = strings.TrimSpace(ks); ks == "-" {
			ks = ""
		}
		k.c.Do(kiosk.MapSlot{Slot: n, KeySetID: ks})
	case "link":
		if err := errorsJoin(need(), at(l.T("console.why.admin"), kiosk.Admin)); err != nil {
			return err
		}
		k.c.Do(kiosk.LinkBadge{MemberID: arg})
	case "clear":
		if err := at(l.T("console.why.admin"), kiosk.Admin); err != nil {
			return err
		}
		id, note, _ := strings.Cut(arg, " ")
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || strings.TrimSpace(note) == "" {
			return errors.New(l.T("console.err.clear"))
		}
		found := false
		for _, a := range k.c.Screen().Alarms {
			found = found || a.ID == n
		}
		if !found {
			return errors.New(l.T("console.err.no_alarm", "ID", n))
		}
		k.c.Do(kiosk.ClearAlarm{ID: n, Note: strings.TrimSpace(note)})
	case "door":
		if err := hw(); err != nil {
			return err
		}
		switch arg {
		case "open", "close":
			return k.sim.Door(arg == "open")
		}
		return errors.New(l.T("console.err.door"))
	case "slot":
		if err := hw(); err != nil {
			return err
		}
		f := strings.Fields(arg)
		if len(f) != 2 {
			return errors.New(l.T("console.err.slot"))
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return errors.New(l.T("console.err.slot_number", "Slot", strconv.Quote(f[0])))
		}
		switch f[1] {
		case "out":
			if !k.sim.KeyIn(n) {
				return errors.New(l.T("console.err.slot_empty_out", "Slot", n))
			}
			return k.sim.TakeKey(n, false)
		case "yank":
			if !k.sim.KeyIn(n) {
				return errors.New(l.T("console.err.slot_empty_yank", "Slot", n))
			}
			return k.sim.TakeKey(n, true)
		case "in":
			if k.sim.KeyIn(n) {
				return errors.New(l.T("console.err.slot_full", "Slot", n))
			}
			return k.sim.PutKey(n)
		}
		return errors.New(l.T("console.err.slot"))
	case "tamper", "emergency":
		if err := hw(); err != nil {
			return err
		}
		if arg != "on" && arg != "off" {
			return errors.New(l.T("console.err.on_off", "Cmd", cmd))
		}
		if cmd == "tamper" {
			return k.sim.Tamper(arg == "on")
		}
		return k.sim.Emergency(arg == "on")
	case "history":
		if err := at(l.T("console.why.admin"), kiosk.Admin); err != nil {
			return err
		}
		n := 20
		if arg != "" {
			if n, _ = strconv.Atoi(arg); n <= 0 {
				return errors.New(l.T("console.err.history"))
			}
		}
		items, err := k.c.History(context.Background(), kiosk.HistoryFilter{Limit: n})
		if err != nil {
			return err
		}
		for _, it := range items {
			who := ""
			if it.Who != "" {
				who = " · " + it.Who
			}
			ks := ""
			if it.KeySet != "" {
				ks = " · " + it.KeySet
			}
			fmt.Fprintf(k.out, "  %s  %s%s%s\n", l.Day(it.Time.Local())+" "+l.Clock(it.Time.Local()), it.Text, who, ks)
		}
	case "locks":
		if err := hw(); err != nil {
			return err
		}
		for _, n := range k.sim.Locks.Names() {
			st := l.T("console.locked")
			if k.sim.Released(n) {
				st = l.T("console.released")
			}
			fmt.Fprintf(k.out, "  %-12s %s\n", n, st)
		}
	default:
		return errors.New(l.T("console.err.unknown", "Cmd", strconv.Quote(cmd)))
	}
	return nil
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// pick resolves a menu number or a key set id against the current screen.
func (k *Console) pick(l *i18n.Localizer, cmd, arg string) (string, error) {
	s := k.c.Screen()
	list := s.Take
	if cmd == "return" {
		list = s.Return
	}
	if n, err := strconv.Atoi(arg); err == nil {
		if n < 1 || n > len(list) {
			return "", errors.New(l.T("console.err.no_number", "N", n, "Cmd", cmd))
		}
		return list[n-1].KeySet.ID, nil
	}
	for _, c := range list {
		if c.KeySet.ID == arg {
			return arg, nil
		}
	}
	return "", errors.New(l.T("console.err.not_listed", "ID", strconv.Quote(arg), "Cmd", cmd))
}

// Render draws a screen as text, in the language it speaks (s.Lang).
func Render(s kiosk.Screen, now time.Time) string {
	l := i18n.For(s.Lang)
	var b strings.Builder
	org := strings.TrimSpace(s.Branding.OrgName + " · " + s.Branding.Site)
	fmt.Fprintf(&b, "\n┌─ %s [%s]\n", strings.Trim(org, " ·"), s.State)
	fmt.Fprintf(&b, "│ %s\n", s.Title)
	if s.Message != "" {
		fmt.Fprintf(&b, "│ %s\n", s.Message)
	}
	for i, c := range s.Take {
		note := ""
		if c.Note != "" {
			note = " (" + c.Note + ")"
		}
		slot := ""
		if c.Slot > 0 {
			slot = " [" + l.T("console.slot", "Slot", c.Slot) + "]"
		}
		fmt.Fprintf(&b, "│  take %d: %s%s%s\n", i+1, c.KeySet.Label, slot, note)
	}
	for i, c := range s.Return {
		due := c.Due.Local()
		fmt.Fprintf(&b, "│  return %d: %s\n", i+1, l.T("console.due", "Label", c.KeySet.Label, "Due", l.Weekday(due.Weekday())+" "+l.Clock(due)))
	}
	if len(s.Reasons) > 0 {
		fmt.Fprintf(&b, "│  %s\n", l.T("console.reasons", "Reasons", strings.Join(s.Reasons, ", ")))
	}
	if a := s.Admin; a != nil {
		for _, sl := range a.Slots {
			state := l.T("console.slot_empty")
			if sl.Present {
				state = l.T("console.slot_key_in")
			}
			if sl.Out != "" {
				state = l.T("console.slot_out_with", "State", state, "Name", sl.Out)
			}
			fmt.Fprintf(&b, "│  %s: %s (%s)\n", l.T("console.slot", "Slot", sl.Number), sl.KeySet, state)
		}
		fmt.Fprintf(&b, "│  %s\n", l.T("console.admin_state", "Locks", strings.Join(a.Locks, " "), "Entries", a.LogSize, "Config", a.Config))
		for _, r := range a.Refused {
			fmt.Fprintf(&b, "│  %s\n", l.T("console.refused", "Change", r))
		}
	}
	if s.Warning != "" {
		fmt.Fprintf(&b, "│ %s\n", l.T("console.warning", "Warning", s.Warning))
	}
	if left, ok := s.DoorAlarmIn(now); ok {
		fmt.Fprintf(&b, "│ %s\n", l.T("console.door_alarm_in", "Seconds", int(left/time.Second)))
	}
	for _, a := range s.Alarms {
		text := a.Text
		if text == "" {
			text = keycab.DescribeAlarmIn(l, a.Kind, map[string]string{"detail": a.Detail})
		}
		fmt.Fprintf(&b, "│ %s\n", l.T("console.alarm", "ID", a.ID, "Text", text, "Since", l.Clock(a.Since.Local())))
	}
	if !s.Deadline.IsZero() {
		fmt.Fprintf(&b, "│ (%s)\n", l.T("console.left", "Seconds", int(s.Deadline.Sub(now).Round(time.Second).Seconds())))
	}
	b.WriteString("└─\n")
	return b.String()
}
