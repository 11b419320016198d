package console_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/internal/passhash"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/console"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/store/storetest"
)

func TestConsoleTake(t *testing.T) {
	ctx := context.Background()
	cfg, badges, err := simulator.Demo(time.Now(), passhash.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.MustOpen(t, nil)
	if err := db.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	cab, err := simulator.New(cfg.Cabinet, cfg.Slots, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cab.Close()
	c, err := kiosk.New(kiosk.Config{Store: db, Locks: cab.Locks, Scanners: []kiosk.Scanner{cab.Badges}, Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States()})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	defer func() { stop(); <-done }()

	out := &testenv.Buffer{}
	in, w := io.Pipe()
	con := console.New(c, cab, out)
	finished := make(chan error, 1)
	go func() { finished <- con.Run(ctx, in) }()
	say := func(line string, want string) {
		t.Helper()
		io.WriteString(w, line+"\n")
		if want != "" {
			testenv.Eventually(t, 10*time.Second, "after "+line+": "+want, func() bool { return strings.Contains(out.String(), want) })
		}
	}
	say("status", "Scan your badge")
	say("badge "+badges[1].Code, "take 1: 12 High St, front door [slot 1]")
	if strings.Contains(out.String(), "3 Mill Lane") {
		t.Fatal("a key set reserved for someone else was offered")
	}
	say("take 1", "reasons: viewing")
	say("reason viewing|Mr Patel", "Slot 1 is open")
	say("locks", "SLOT1_LOCK   RELEASED")
	say("slot 1 out", "Taken: 12 High St, front door")
	say("slot 2 yank", "ALARM")
	say("frobnicate", "unknown command")
	say("quit", "")
	w.Close()
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	keys, _ := db.KeysOut(ctx)
	if len(keys) != 1 || keys[0].KeySetID != "ks-1" || keys[0].MemberID != "m-ben" || keys[0].Recipient != "Mr Patel" {
		t.Fatalf("custody %+v", keys)
	}
}

// consoleRig is a running controller on the demo cabinet with a console
// reading from a pipe the test holds open.
type consoleRig struct {
	out      *testenv.Buffer
	w        *io.PipeWriter
	cancel   context.CancelFunc
	finished chan error
	badges   []simulator.DemoBadge
}

func newConsoleRig(t *testing.T) *consoleRig { return newConsoleRigIn(t, "") }

// newConsoleRigIn is newConsoleRig with the demo site speaking lang.
func newConsoleRigIn(t *testing.T, lang string) *consoleRig {
	t.Helper()
	ctx := context.Background()
	cfg, badges, err := simulator.Demo(time.Now(), passhash.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Site.Language = lang
	db := storetest.MustOpen(t, nil)
	if err := db.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	cab, err := simulator.New(cfg.Cabinet, cfg.Slots, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cab.Close() })
	c, err := kiosk.New(kiosk.Config{Store: db, Locks: cab.Locks, Scanners: []kiosk.Scanner{cab.Badges}, Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States()})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	conCtx, cancel := context.WithCancel(ctx)
	in, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	r := &consoleRig{out: &testenv.Buffer{}, w: w, cancel: cancel, finished: make(chan error, 1), badges: badges}
	go func() { r.finished <- console.New(c, cab, r.out).Run(conCtx, in) }()
	return r
}

func (r *consoleRig) say(t *testing.T, line, want string) {
	t.Helper()
	go io.WriteString(r.w, line+"\n") // a long line must not block the test if the console stops reading
	testenv.Eventually(t, 10*time.Second, "after a line of "+strconv.Itoa(len(line))+" bytes: "+want, func() bool {
		return strings.Contains(r.out.String(), want)
	})
}

// TestConsoleStopsOnCancel: cancelling the context (SIGTERM in the
// program) ends the console although its input stays open and idle.
func TestConsoleStopsOnCancel(t *testing.T) {
	r := newConsoleRig(t)
	r.say(t, "status", "Scan your badge")
	r.cancel()
	select {
	case err := <-r.finished:
		if err != nil {
			t.Fatalf("console: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("console still reading its open input after its context ended")
	}
}

// TestConsoleLongLine: a line longer than any command is refused with a
// message, and the console goes on reading.
func TestConsoleLongLine(t *testing.T) {
	r := newConsoleRig(t)
	r.say(t, "status", "Scan your badge")
	r.say(t, "qr "+strings.Repeat("x", 100<<10), "line too long")
	r.say(t, "frobnicate", "unknown command")
	select {
	case err := <-r.finished:
		t.Fatalf("console stopped after a long line: %v", err)
	default:
	}
	r.cancel()
	if err := <-r.finished; err != nil {
		t.Fatalf("console: %v", err)
	}
}

// TestConsoleAnswersEveryInput: through the console's real input path,
// each command the current step would ignore gets a message saying why
// (issue 17: pin when none is asked, a key into a full slot, ...), and
// alarms and history read in plain words.
func TestConsoleAnswersEveryInput(t *testing.T) {
	r := newConsoleRig(t)
	r.say(t, "status", "Scan your badge")
	for _, c := range []struct{ line, want string }{
		{"pin 1234", "no PIN is asked for now (the kiosk is at idle)"},
		{"slot 1 in", "slot 1 already holds its key"},
		{"take 1", "take is not possible now: the kiosk is at idle"},
		{"return 1", "return is not possible now"},
		{"reason viewing", "reason is not possible now"},
		{"cancel", "nothing to cancel"},
		{"admin", "admin is not possible now"},
		{"pulse SLOT1_LOCK", "pulse is not possible now"},
		{"enrol 1", "enrol is not possible now"},
		{"map 1 ks-1", "map is not possible now"},
		{"link m-ben", "link is not possible now"},
		{"clear 3 checked", "clear is not possible now"},
		{"history", "history is not possible now"},
		{"slot 9 in", "no slot 9"},
		{"slot x in", `slot "x" is not a number`},
		{"door ajar", "door open or door close"},
		{"frobnicate", `unknown command "frobnicate"`},
		{"pin", "pin needs an argument"},
	} {
		r.say(t, c.line, "! "+c.want)
	}
	r.say(t, "badge "+r.badges[1].Code, "take 1:")
	r.say(t, "take ks-nope", `"ks-nope" is not on the take list`)
	r.say(t, "take 99", "there is no 99 on the take list")
	r.say(t, "pin 1234", "no PIN is asked for now (the kiosk is at menu)")
	r.say(t, "slot 2 yank", "ALARM")
	r.say(t, "slot 2 out", "slot 2 is empty: there is no key to take out")
	r.say(t, "slot 2 yank", "slot 2 is empty: there is no key to yank")
	r.say(t, "status", "Key removed without signing in")
	if strings.Contains(r.out.String(), "key_removed_without_session") {
		t.Errorf("the console shows an alarm's internal name:\n%s", r.out.String())
	}
	r.cancel()
	if err := <-r.finished; err != nil {
		t.Fatalf("console: %v", err)
	}
}

// TestConsoleInGerman: at a German site the console's screens, answers
// and help are German (the commands stay as they are typed).
func TestConsoleInGerman(t *testing.T) {
	r := newConsoleRigIn(t, "de")
	r.say(t, "status", "Ausweis scannen")
	for _, c := range []struct{ line, want string }{
		{"pin 1234", "! Gerade wird keine PIN verlangt (der Kiosk ist bei idle): Halten Sie zuerst Ihren Ausweis vor"},
		{"slot 1 in", "! Fach 1 hat seinen Schlüssel schon: Nehmen Sie ihn zuerst heraus"},
		{"take 1", "! take ist jetzt nicht möglich: Der Kiosk ist bei idle (zuerst Ausweis vorhalten, dann im Menü wählen)"},
		{"frobnicate", `! unbekannter Befehl "frobnicate" (geben Sie help ein)`},
		{"help", "den Bildschirm noch einmal zeigen"},
		{"locks", "verriegelt"},
	} {
		r.say(t, c.line, c.want)
	}
	r.say(t, "badge "+r.badges[1].Code, "[Fach 1]")
	r.say(t, "take 1", "Gründe: ")
	r.say(t, "slot 2 yank", "ALARM")
	r.say(t, "status", "(seit ")
	for _, english := range []string{"is not possible now", "unknown command", "reasons:", "locked", "(since"} {
		if strings.Contains(r.out.String(), english) {
			t.Errorf("English %q left in the German console:\n%s", english, r.out.String())
		}
	}
	r.cancel()
	if err := <-r.finished; err != nil {
		t.Fatalf("console: %v", err)
	}
}
