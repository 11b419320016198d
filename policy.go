package keycab

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is a weekly time window: the days it applies and the time of day
// it opens and closes, in minutes after midnight in the site's time zone.
// Until may be less than From for a window past midnight.
type Window struct {
	Days  []time.Weekday
	From  int // minutes after midnight, 0..1439
	Until int // minutes after midnight, 1..1440
}

// Contains reports whether local time t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	day := t.Weekday()
	if w.From < w.Until {
		return w.hasDay(day) && m >= w.From && m < w.Until
	}
	// Past midnight: the evening part belongs to the listed day, the early
	// morning part to the day before.
	return (w.hasDay(day) && m >= w.From) || (w.hasDay((day+6)%7) && m < w.Until)
}

// ParseClock reads a time of day as HH:MM, 00:00 to 24:00, as minutes
// after midnight (a Window's From and Until); field names it in the error.
func ParseClock(field, s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 1440 {
		return 0, Errorf(EINVALID, "%s: %q is not a time of day as HH:MM", field, s)
	}
	return hh*60 + mm, nil
}

// MaxWindows bounds a member's weekly schedule.
const MaxWindows = 28

// Validate reports whether the window is usable: at least one day, each
// a weekday, and a From and Until inside the day that differ.
func (w Window) Validate() error {
	if len(w.Days) == 0 || len(w.Days) > 7 {
		return Errorf(EINVALID, "schedule: a window needs one to seven days")
	}
	for _, d := range w.Days {
		if d < time.Sunday || d > time.Saturday {
			return Errorf(EINVALID, "schedule: %d is not a day of the week (0 Sunday to 6 Saturday)", int(d))
		}
	}
	if w.From < 0 || w.From > 1439 || w.Until < 1 || w.Until > 1440 || w.From == w.Until {
		return Errorf(EINVALID, "schedule: a window runs from a minute of the day (0 to 1439) to another (1 to 1440)")
	}
	return nil
}

// ValidateSchedule reports whether a weekly schedule is usable.
func ValidateSchedule(s []Window) error {
	if len(s) > MaxWindows {
		return Errorf(EINVALID, "schedule: at most %d windows", MaxWindows)
	}
	for _, w := range s {
		if err := w.Validate(); err != nil {
			return err
		}
	}
	return nil
}

func (w Window) hasDay(d time.Weekday) bool {
	for _, x := range w.Days {
		if x == d {
			return true
		}
	}
	return false
}

// Facts are what a take decision is made from, all known offline at the
// kiosk from its config snapshot and custody.
type Facts struct {
	Now      time.Time
	Location *time.Location // the site's time zone; nil means UTC
	Policy   Policy
	Member   Member
	KeySet   KeySet
	// Schedule limits when the member may take keys; empty means any time.
	Schedule []Window
	// Out lists every key set out now.
	Out []Checkout
	// Reservations of this key set.
	Reservations []Reservation
	// Jobs assigned to the member (contractors).
	Jobs []Job
	// Rules are the organisation's access rules (groups).
	Rules []AccessRule
	// Name returns the display name of a member id; nil shows ids.
	Name func(memberID string) string
	// Lang is the language the decision's Reason is said in; nil is
	// English.
	Lang Texts
}

// Decision is the answer to "may this member take this key set now".
type Decision struct {
	Allowed bool
	// Reason says in plain words why not, fit for the kiosk screen.
	Reason string
	// NeedsPIN asks for the member's PIN before the take.
	NeedsPIN bool
	// Approvers is how many authorised members besides the taker must
	// confirm: 1 for a dual release, 2 for a triple release.
	Approvers int
}

// refuse is a refusal with message id and its arguments in l's language.
func refuse(l Texts, id string, kv ...any) Decision {
	return Decision{Reason: l.T(id, kv...)}
}

// lang is the Localizer the decision's reasons are said in.
func (f Facts) lang() Texts {
	if f.Lang == nil {
		return English
	}
	return f.Lang
}

// RoleWordsIn says a role in l's language ("site manager").
func RoleWordsIn(l Texts, r Role) string {
	if id := "role." + string(r); hasMessage(id) {
		return l.T(id)
	}
	return strings.ReplaceAll(string(r), "_", " ")
}

// DecideTake applies the organisation's rules to one take. The checks run
// from the most fundamental to the most specific, and the first that
// fails gives the reason.
func DecideTake(f Facts) Decision {
	loc := f.Location
	if loc == nil {
		loc = time.UTC
	}
	now := f.Now.In(loc)
	name := func(id string) string {
		if f.Name != nil {
			if n := f.Name(id); n != "" {
				return ShortName(n)
			}
		}
		return id
	}
	l := f.lang()
	clock := func(t time.Time) string { return l.Short(t, now, loc) }
	m, k := f.Member, f.KeySet
	switch {
	case !m.ErasedAt.IsZero() || m.Disabled:
		return refuse(l, "policy.disabled")
	case !m.Role.CanTakeKeys():
		return refuse(l, "policy.role_cannot_take", "Role", RoleWordsIn(l, m.Role))
	case !m.AccessUntil.IsZero() && !now.Before(m.AccessUntil):
		return refuse(l, "policy.access_ended", "When", clock(m.AccessUntil))
	case k.SiteID != "" && !m.AtSite(k.SiteID):
		return refuse(l, "policy.not_at_site")
	}
	for _, c := range f.Out {
		if c.KeySetID == k.ID {
			return refuse(l, "policy.out_with", "Label", k.Label, "Name", name(c.MemberID), "Since", clock(c.TakenAt))
		}
	}
	if !inSchedule(f.Schedule, now) {
		return refuse(l, "policy.schedule")
	}
	if d := ruleRefusal(f, now); d != nil {
		return *d
	}
	if m.Role == RoleContractor {
		if d, ok := contractorRefusal(f, now, clock); !ok {
			return d
		}
	}
	for _, r := range f.Reservations {
		if r.KeySetID == k.ID && r.MemberID != m.ID && r.Covers(now) {
			return refuse(l, "policy.reserved", "Label", k.Label, "Name", name(r.MemberID), "Until", clock(r.Until))
		}
	}
	mine := 0
	for _, c := range f.Out {
		if c.MemberID != m.ID {
			continue
		}
		mine++
		if f.Policy.BlockWhileOverdue && c.Overdue(now) {
			return refuse(l, "policy.overdue_first", "Due", clock(c.DueAt))
		}
	}
	limit := f.Policy.MaxKeysOut
	if m.MaxKeysOut > 0 {
		limit = m.MaxKeysOut
	}
	if limit > 0 && mine >= limit {
		return Decision{Reason: l.N("policy.limit", mine)}
	}
	return Decision{Allowed: true, NeedsPIN: NeedsPIN(f.Policy, m, k), Approvers: k.Approvers()}
}

// contractorRefusal checks that a contractor has a job open now that lists
// the key set; ok is false with the refusal when not.
func contractorRefusal(f Facts, now time.Time, clock func(time.Time) string) (d Decision, ok bool) {
	var next *Job
	for i, j := range f.Jobs {
		if j.MemberID != f.Member.ID || !j.lists(f.KeySet.ID) {
			continue
		}
		if j.Allows(f.KeySet.ID, now) {
			return Decision{}, true
		}
		if next == nil || j.From.Before(next.From) {
			next = &f.Jobs[i]
		}
	}
	if next != nil {
		return refuse(f.lang(), "policy.job_closed", "Label", f.KeySet.Label, "From", clock(next.From), "Until", clock(next.Until)), false
	}
	return refuse(f.lang(), "policy.no_job", "Label", f.KeySet.Label), false
}

func (j Job) lists(keySet string) bool {
	for _, k := range j.KeySetIDs {
		if k == keySet {
			return true
		}
	}
	return false
}

// NeedsPIN reports whether a member must enter a PIN to take k: always
// when the policy says so, for the roles it lists, and for key sets that
// ask for one.
func NeedsPIN(p Policy, m Member, k KeySet) bool {
	if p.PINAlways || k.PINRequired {
		return true
	}
	for _, r := range p.PINRoles {
		if r == m.Role {
			return true
		}
	}
	return false
}

// DecideSecond decides whether f.Member may confirm a dual or triple
// release of f.KeySet that already (the taker, then earlier approvers)
// started: a different member, not a contractor, of the policy's
// approver role or group when it names one, and allowed to take the key
// set themselves (except for limits on what they hold).
func DecideSecond(f Facts, already ...string) Decision {
	m, p, l := f.Member, f.Policy, f.lang()
	for i, id := range already {
		if id != m.ID {
			continue
		}
		if i == 0 {
			return refuse(l, "policy.second_not_you")
		}
		return refuse(l, "policy.second_again")
	}
	if m.Role == RoleContractor {
		return refuse(l, "policy.second_contractor")
	}
	if p.ApproverRole != "" || p.ApproverGroup != "" {
		byRole := p.ApproverRole != "" && m.Role.AtLeast(p.ApproverRole) && m.Role != RoleAuditor
		byGroup := p.ApproverGroup != "" && slices.Contains(m.Groups, p.ApproverGroup)
		if !byRole && !byGroup {
			var who []string
			if p.ApproverRole != "" {
				who = append(who, l.T("policy.who_role", "Role", RoleWordsIn(l, p.ApproverRole)))
			}
			if p.ApproverGroup != "" {
				who = append(who, l.T("policy.who_group", "Group", p.ApproverGroup))
			}
			return refuse(l, "policy.second_only", "Who", strings.Join(who, l.T("policy.or")))
		}
	}
	g := f
	g.Out = nil
	for _, c := range f.Out {
		if c.KeySetID != f.KeySet.ID && c.MemberID != f.Member.ID {
			g.Out = append(g.Out, c)
		}
	}
	g.Reservations = nil
	d := DecideTake(g)
	d.Approvers = 0
	return d
}

// ShortTime says t in loc as a person reads it at now: the time alone
// when it is on the same day, else with the day and date too ("Thu 4 Dec
// 09:00"), so a due time tomorrow never reads as today's.
func ShortTime(t, now time.Time, loc *time.Location) string {
	return English.Short(t, now, loc)
}

// ShortName returns a display name as on the kiosk screen: "Jane Smith"
// becomes "J. Smith"; a single name is kept.
func ShortName(full string) string {
	f := strings.Fields(full)
	if len(f) < 2 {
		return strings.TrimSpace(full)
	}
	r := []rune(f[0])
	return string(r[0]) + ". " + strings.Join(f[1:], " ")
}
