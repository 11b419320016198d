package kiosk

// Actions are what a person does on the touchscreen. The UI sends them
// with Controller.Do; they are handled in order with everything else.
type (
	// PIN submits the PIN typed on the keypad.
	PIN struct{ Digits string }
	// ChooseTake picks a key set to take from the menu.
	ChooseTake struct{ KeySetID string }
	// ChooseReturn picks a held key set to return.
	ChooseReturn struct{ KeySetID string }
	// GiveReason completes a take with a reason preset and optional text.
	GiveReason struct{ Reason, Recipient, Notes string }
	// Cancel goes back to idle from any step, securing the locks.
	Cancel struct{}
	// OpenAdmin asks for the admin menu (admins only, PIN checked).
	OpenAdmin struct{}
	// ClearAlarm clears an active alarm with a note (admins only).
	ClearAlarm struct {
		ID   int64
		Note string
	}
	// PulseLock tests one lock from the admin menu.
	PulseLock struct{ Lock string }
)

type (
	// EnrolFob starts enrolling a new QR label for the key set whose home
	// is the slot (admins only); the next code shown to the camera is it.
	EnrolFob struct{ Slot int }
	// LinkBadge starts linking a badge to a member (admins only); the next
	// badge read is theirs.
	LinkBadge struct{ MemberID string }
	// MapSlot makes a slot home a key set, or none when KeySetID is empty
	// (admins only); the key set leaves the slot that homed it.
	MapSlot struct {
		Slot     int
		KeySetID string
	}
)
