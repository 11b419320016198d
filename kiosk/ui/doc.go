// Package ui is the kiosk's touchscreen: Fyne screens that render the
// controller's current kiosk.Screen and send the person's touches back as
// kiosk actions. It holds no business logic: what is offered, refused,
// unlocked or recorded is the controller's decision, and every screen is
// drawn from the Screen value alone plus what the person is typing.
//
// A kiosk session has no system keyboard, so the package brings its own
// input: a numeric PIN keypad with masked entry and an on-screen text
// keyboard for recipients, notes and alarm-clearing notes. Touch targets
// are at least 64 px high and the theme is high-contrast for reading at
// arm's length.
//
// With a simulated cabinet (kiosk/simulator) the window also carries a
// simulator panel: door, slots, badge reader, camera, tamper and
// emergency inputs, and the live state of every lock output.
//
// The package imports no cgo driver: the program (cmd/keycab-kiosk) makes
// the fyne.App, and the tests use Fyne's headless test driver.
package ui
