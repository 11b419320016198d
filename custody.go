package keycab

import "time"

// Checkout is one key set out of its cabinet with one member.
type Checkout struct {
	KeySetID  string
	MemberID  string
	SecondID  string // the second member of a dual release, if any
	ThirdID   string // the third member of a triple release, if any
	Slot      int    // the slot it was taken from; 0 on open-shelf cabinets
	LogIndex  int64  // the audit log entry that recorded the take
	TakenAt   time.Time
	DueAt     time.Time
	Reason    string
	Recipient string // personal data: erasable; kept off the log
	Notes     string // personal data: erasable; kept off the log
	// Still is the camera's JPEG as the key set was taken (Policy
	// Stills): personal data, kept off the log, its hash in the entry;
	// StillMissing says why there is none. Not kept with custody.
	Still        []byte
	StillMissing string
}

// Overdue reports whether the checkout is past its due time at now.
func (c Checkout) Overdue(now time.Time) bool { return !c.DueAt.IsZero() && now.After(c.DueAt) }

// Reservation holds a key set for one member for a time window; nobody
// else may take it then.
type Reservation struct {
	ID       string
	OrgID    string
	KeySetID string
	MemberID string
	From     time.Time
	Until    time.Time
}

// Covers reports whether t is inside the reservation's window [From, Until).
func (r Reservation) Covers(t time.Time) bool { return !t.Before(r.From) && t.Before(r.Until) }

// Overlaps reports whether two reservations of the same key set clash.
func (r Reservation) Overlaps(o Reservation) bool {
	return r.KeySetID == o.KeySetID && r.From.Before(o.Until) && o.From.Before(r.Until)
}

// Job is a contractor's assignment: the key sets they may take, and when.
type Job struct {
	ID         string
	OrgID      string
	MemberID   string
	KeySetIDs  []string
	From       time.Time
	Until      time.Time
	Descriptor string // short job reference, e.g. a work-order number
}

// Allows reports whether the job lets its contractor take keySet at t.
func (j Job) Allows(keySet string, t time.Time) bool {
	if t.Before(j.From) || !t.Before(j.Until) {
		return false
	}
	for _, k := range j.KeySetIDs {
		if k == keySet {
			return true
		}
	}
	return false
}
