package simulator

import (
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/demoorg"
	"keycab.dev/keycab/internal/passhash"
)

// DemoBadge is a badge of the demo organisation, printed for people trying
// the simulator.
type DemoBadge = demoorg.Badge

// Demo returns the demo organisation's config snapshot and its badges
// (demoorg.Config: the same organisation keycab-hq demo-seed writes into
// HQ). now anchors the job and the reservation; the PINs are hashed with
// the given parameters.
func Demo(now time.Time, p passhash.Params) (*keycab.Config, []DemoBadge, error) {
	return demoorg.Config(now, p)
}

// DemoToken is the QR text printed on demo key fob n's label.
func DemoToken(n int) string { return demoorg.Token(n) }
