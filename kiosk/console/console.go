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
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
)

// Help lists the commands.
const Help = `commands:
  badge CODE            present a badge to the reader
  qr TEXT               show a QR code (a key fob's label, a QR badge) to the camera
  pin DIGITS            type a PIN on the keypad
  take N|ID             choose key set N of the menu (or its id) to take
  return N|ID           choose a held key set to return
  reason TEXT[|RECIPIENT[|NOTES]]   give the reason for a take
  cancel                go back to the start
  admin                 open the admin screens
  pulse LOCK            (admin) pulse a lock
  clear ID NOTE         (admin) clear alarm ID with a note
  enrol N               (admin) enrol a new label for slot N's key set: show it with qr next
  link MEMBER           (admin) link a new badge to member id MEMBER: present it with badge or qr next
  map N KEYSET|-        (admin) make slot N home key set id KEYSET (- for none)
  history [N]           (admin) the newest N log entries (20), in plain words
  door open|close       open or close the cabinet door
  slot N out|in|yank    take the key out of slot N, put one in, or yank it out while locked
  tamper on|off         the tamper input
  emergency on|off      the fire panel's emergency input
  locks                 show every lock output
  status                show the screen again
  help                  this list
  quit                  stop the kiosk`

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
			fmt.Fprintf(k.out, "! line too long (%d bytes, at most %d): ignored\n", l.long, MaxLine)
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

// Exec runs one command.
func (k *Console) Exec(line string) error {
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	need := func() error {
		if arg == "" {
			return fmt.Errorf("%s needs an argument (type help)", cmd)
		}
		return nil
	}
	hw := func() error {
		if k.sim == nil {
			return fmt.Errorf("%s needs the simulator (run with --sim)", cmd)
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
		return fmt.Errorf("%s is not possible now: the kiosk is at %s (%s)", cmd, st, what)
	}
	switch cmd {
	case "help", "?":
		fmt.Fprintln(k.out, Help)
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
			return fmt.Errorf("no PIN is asked for now (the kiosk is at %s): badge in first", st)
		}
		k.c.Do(kiosk.PIN{Digits: arg})
	case "take", "return":
		if err := need(); err != nil {
			return err
		}
		if err := at("badge in first, then choose from the menu", kiosk.Menu); err != nil {
			return err
		}
		id, err := k.pick(cmd, arg)
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
		if err := at("a reason is asked after choosing a key set to take", kiosk.Reason); err != nil {
			return err
		}
		f := strings.SplitN(arg, "|", 3)
		for len(f) < 3 {
			f = append(f, "")
		}
		k.c.Do(kiosk.GiveReason{Reason: strings.TrimSpace(f[0]), Recipient: strings.TrimSpace(f[1]), Notes: strings.TrimSpace(f[2])})
	case "cancel":
		if st := k.c.Screen().State; st == kiosk.Idle {
			return fmt.Errorf("nothing to cancel: the kiosk is waiting for a badge")
		}
		k.c.Do(kiosk.Cancel{})
	case "admin":
		if err := at("an administrator badges in first, then opens admin from the menu", kiosk.Menu); err != nil {
			return err
		}
		k.c.Do(kiosk.OpenAdmin{})
	case "pulse":
		if err := errorsJoin(need(), at("open the admin screens first", kiosk.Admin)); err != nil {
			return err
		}
		k.c.Do(kiosk.PulseLock{Lock: arg})
	case "enrol":
		if err := at("open the admin screens first", kiosk.Admin); err != nil {
			return err
		}
		n, err := strconv.Atoi(arg)
		if err != nil {
			return fmt.Errorf("enrol needs a slot number")
		}
		k.c.Do(kiosk.EnrolFob{Slot: n})
	case "map":
		if err := at("open the admin screens first", kiosk.Admin); err != nil {
			return err
		}
		num, ks, _ := strings.Cut(arg, " ")
		n, err := strconv.Atoi(num)
		if err != nil || strings.TrimSpace(ks) == "" {
			return fmt.Errorf("map needs a slot number and a key set id (- for none)")
		}
		if ks = strings.TrimSpace(ks); ks == "-" {
			ks = ""
		}
		k.c.Do(kiosk.MapSlot{Slot: n, KeySetID: ks})
	case "link":
		if err := errorsJoin(need(), at("open the admin screens first", kiosk.Admin)); err != nil {
			return err
		}
		k.c.Do(kiosk.LinkBadge{MemberID: arg})
	case "clear":
		if err := at("open the admin screens first", kiosk.Admin); err != nil {
			return err
		}
		id, note, _ := strings.Cut(arg, " ")
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || strings.TrimSpace(note) == "" {
			return fmt.Errorf("clear needs an alarm number and a note")
		}
		found := false
		for _, a := range k.c.Screen().Alarms {
			found = found || a.ID == n
		}
		if !found {
			return fmt.Errorf("there is no active alarm %d", n)
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
		return fmt.Errorf("door open or door close")
	case "slot":
		if err := hw(); err != nil {
			return err
		}
		f := strings.Fields(arg)
		if len(f) != 2 {
			return fmt.Errorf("slot N out|in|yank")
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return fmt.Errorf("slot %q is not a number", f[0])
		}
		switch f[1] {
		case "out":
			if !k.sim.KeyIn(n) {
				return fmt.Errorf("slot %d is empty: there is no key to take out", n)
			}
			return k.sim.TakeKey(n, false)
		case "yank":
			if !k.sim.KeyIn(n) {
				return fmt.Errorf("slot %d is empty: there is no key to yank", n)
			}
			return k.sim.TakeKey(n, true)
		case "in":
			if k.sim.KeyIn(n) {
				return fmt.Errorf("slot %d already holds its key: take it out first", n)
			}
			return k.sim.PutKey(n)
		}
		return fmt.Errorf("slot N out|in|yank")
	case "tamper", "emergency":
		if err := hw(); err != nil {
			return err
		}
		if arg != "on" && arg != "off" {
			return fmt.Errorf("%s on or %s off", cmd, cmd)
		}
		if cmd == "tamper" {
			return k.sim.Tamper(arg == "on")
		}
		return k.sim.Emergency(arg == "on")
	case "history":
		if err := at("open the admin screens first", kiosk.Admin); err != nil {
			return err
		}
		n := 20
		if arg != "" {
			if n, _ = strconv.Atoi(arg); n <= 0 {
				return fmt.Errorf("history N: N is how many entries, a number above 0")
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
			fmt.Fprintf(k.out, "  %s  %s%s%s\n", it.Time.Local().Format("02 Jan 15:04"), it.Text, who, ks)
		}
	case "locks":
		if err := hw(); err != nil {
			return err
		}
		for _, n := range k.sim.Locks.Names() {
			st := "locked"
			if k.sim.Released(n) {
				st = "RELEASED"
			}
			fmt.Fprintf(k.out, "  %-12s %s\n", n, st)
		}
	default:
		return fmt.Errorf("unknown command %q (type help)", cmd)
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
func (k *Console) pick(cmd, arg string) (string, error) {
	s := k.c.Screen()
	list := s.Take
	if cmd == "return" {
		list = s.Return
	}
	if n, err := strconv.Atoi(arg); err == nil {
		if n < 1 || n > len(list) {
			return "", fmt.Errorf("there is no %d on the %s list", n, cmd)
		}
		return list[n-1].KeySet.ID, nil
	}
	for _, c := range list {
		if c.KeySet.ID == arg {
			return arg, nil
		}
	}
	return "", fmt.Errorf("%q is not on the %s list", arg, cmd)
}

// Render draws a screen as text.
func Render(s kiosk.Screen, now time.Time) string {
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
			slot = fmt.Sprintf(" [slot %d]", c.Slot)
		}
		fmt.Fprintf(&b, "│  take %d: %s%s%s\n", i+1, c.KeySet.Label, slot, note)
	}
	for i, c := range s.Return {
		fmt.Fprintf(&b, "│  return %d: %s, due %s\n", i+1, c.KeySet.Label, c.Due.Local().Format("Mon 15:04"))
	}
	if len(s.Reasons) > 0 {
		fmt.Fprintf(&b, "│  reasons: %s\n", strings.Join(s.Reasons, ", "))
	}
	if a := s.Admin; a != nil {
		for _, sl := range a.Slots {
			state := "empty"
			if sl.Present {
				state = "key in"
			}
			out := ""
			if sl.Out != "" {
				out = ", out with " + sl.Out
			}
			fmt.Fprintf(&b, "│  slot %d: %s (%s%s)\n", sl.Number, sl.KeySet, state, out)
		}
		fmt.Fprintf(&b, "│  locks: %s; log %d entries; config v%d\n", strings.Join(a.Locks, " "), a.LogSize, a.Config)
		for _, r := range a.Refused {
			fmt.Fprintf(&b, "│  refused at HQ: %s\n", r)
		}
	}
	if s.Warning != "" {
		fmt.Fprintf(&b, "│ WARNING %s\n", s.Warning)
	}
	if left, ok := s.DoorAlarmIn(now); ok {
		fmt.Fprintf(&b, "│ Door alarm in %ds: close the door\n", int(left/time.Second))
	}
	for _, a := range s.Alarms {
		text := a.Text
		if text == "" {
			text = keycab.DescribeAlarm(a.Kind, map[string]string{"detail": a.Detail})
		}
		fmt.Fprintf(&b, "│ ALARM %d: %s (since %s)\n", a.ID, text, a.Since.Local().Format("15:04"))
	}
	if !s.Deadline.IsZero() {
		fmt.Fprintf(&b, "│ (%ds left)\n", int(s.Deadline.Sub(now).Round(time.Second).Seconds()))
	}
	b.WriteString("└─\n")
	return b.String()
}
