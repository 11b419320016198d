package ui_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/kiosk/ui"
	"keycab.dev/keycab/sync/wire"
)

// setupRig is the setup screen on Fyne's test driver, with an Enrol that
// records what it was asked and answers what the test says.
type setupRig struct {
	*rig
	s        *ui.Setup
	clock    *hardwaretest.Clock
	asked    []wire.EnrolCode
	answer   error
	enrolled []fyne.Window
}

func newSetupRig(t *testing.T, hq string) *setupRig {
	t.Helper()
	return newSetupRigIn(t, hq, "")
}

// newSetupRigIn is newSetupRig with the screen in language lang.
func newSetupRigIn(t *testing.T, hq, lang string) *setupRig {
	t.Helper()
	test.NewTempApp(t)
	r := &setupRig{clock: hardwaretest.NewClock()}
	r.s = ui.NewManualSetup(fyne.CurrentApp(), ui.SetupOptions{Title: "keycab setup", HQ: hq, Language: lang,
		Enrol: func(_ context.Context, c wire.EnrolCode) error {
			r.asked = append(r.asked, c)
			return r.answer
		},
		Enrolled: func(w fyne.Window) error {
			r.enrolled = append(r.enrolled, w)
			return nil
		}}, r.clock.Now)
	w := r.s.Window()
	w.Resize(fyne.NewSize(kioskW, kioskH))
	r.rig = &rig{t: t, w: w}
	return r
}

// TestSetupTyped: the installer types HQ's address and the token on the
// on-screen keyboard (its symbol row has what addresses need, and nothing
// is capitalised); Enrol stays off until both are there; a bad address is
// refused before HQ is asked; HQ's refusal is shown and loses nothing
// typed; Enrol again succeeds and hands the window over.
func TestSetupTyped(t *testing.T) {
	r := newSetupRig(t, "")
	const hq, token = "http://127.0.0.1:8080", "org_k2j4.abc7"

	r.tap("Enrol")
	if len(r.asked) != 0 {
		t.Fatalf("Enrol with empty fields asked HQ: %v", r.asked)
	}
	r.typeKeys("hq.example")
	r.tap("Enrolment token")
	r.typeKeys(token)
	r.tap("Enrol")
	if len(r.asked) != 0 || !strings.Contains(r.s.Status(), "want http:// or https://") {
		t.Fatalf("an address without a scheme: asked %v, status %q", r.asked, r.s.Status())
	}

	r.tap("hq.example") // the address field shows what was typed
	for range len("hq.example") {
		r.tap("Delete")
	}
	r.typeKeys(hq)
	r.answer = errors.New("HQ answered 401 Unauthorized: the enrolment token has expired")
	r.tap("Enrol")
	if want := (wire.EnrolCode{HQ: hq, Token: token}); len(r.asked) != 1 || r.asked[0] != want {
		t.Fatalf("asked %v, want %v", r.asked, want)
	}
	if st := r.s.Status(); st != "Not enrolled: "+r.answer.Error() || len(r.enrolled) != 0 {
		t.Fatalf("after HQ's refusal: status %q, enrolled %d", st, len(r.enrolled))
	}
	if !r.shows(hq) || !r.shows(token) {
		t.Error("the fields lost what was typed")
	}
	r.goldenSetup("setup-refused")

	r.answer = nil
	r.tap("Enrol")
	if len(r.asked) != 2 || len(r.enrolled) != 1 || r.enrolled[0] != r.s.Window() {
		t.Fatalf("enrol again: asked %d times, enrolled %d", len(r.asked), len(r.enrolled))
	}
	r.tap("Enrol")
	r.s.Scanned(wire.EnrolCode{HQ: hq, Token: "org_k2j4.other"}.String())
	if len(r.asked) != 2 {
		t.Errorf("an enrolled kiosk enrolled again: %v", r.asked)
	}
}

// TestSetupScanned: a code held to the camera that is not an enrolment
// code is refused in words; HQ's enrolment code fills both fields and
// enrols at once; the same code failing is not tried again at every frame,
// but is after a pause; the address from the wiring file is filled in.
func TestSetupScanned(t *testing.T) {
	r := newSetupRig(t, "https://hq.example.com")
	if !r.shows("https://hq.example.com") {
		t.Error("the wiring file's HQ address is not filled in")
	}
	r.s.Scanned("0004829301")
	if len(r.asked) != 0 || !strings.Contains(r.s.Status(), "not an enrolment code") {
		t.Fatalf("a badge at the camera: asked %v, status %q", r.asked, r.s.Status())
	}
	code := wire.EnrolCode{HQ: "https://hq.example.org:8443", Token: "org_a.b"}
	r.answer = errors.New("HQ at https://hq.example.org:8443 cannot be reached (connection refused). Check the address and the network")
	for range 10 { // a second of frames
		r.s.Scanned(code.String())
	}
	if len(r.asked) != 1 || r.asked[0] != code {
		t.Fatalf("asked %v, want %v once", r.asked, code)
	}
	if !r.shows(code.HQ) || !r.shows(code.Token) || !strings.Contains(r.s.Status(), "cannot be reached") {
		t.Errorf("after a failed scan: status %q", r.s.Status())
	}
	r.clock.Advance(6 * time.Second)
	r.answer = nil
	r.s.Scanned(code.String())
	if len(r.asked) != 2 || len(r.enrolled) != 1 {
		t.Fatalf("the code held again later: asked %d times, enrolled %d", len(r.asked), len(r.enrolled))
	}
}

// goldenSetup compares the setup screen with testdata/name.xml and
// testdata/name.png; -update rewrites them.
func (r *setupRig) goldenSetup(name string) {
	r.t.Helper()
	c := r.w.Canvas()
	if m := r.w.Content().MinSize(); m.Width > kioskW || m.Height > kioskH {
		r.t.Errorf("%s: the screen needs %v, more than %vx%v", name, m, kioskW, kioskH)
	}
	if *update {
		write(r.t, filepath.Join("testdata", name+".xml"), []byte(test.RenderToMarkup(c)))
		var buf bytes.Buffer
		if err := png.Encode(&buf, c.Capture()); err != nil {
			r.t.Fatal(err)
		}
		write(r.t, filepath.Join("testdata", name+".png"), buf.Bytes())
		return
	}
	test.AssertRendersToMarkup(r.t, name+".xml", c)
	test.AssertImageMatches(r.t, name+".png", c.Capture())
}
