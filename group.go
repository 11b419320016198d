package keycab

import (
	"slices"
	"time"
)

// Groups are keycab's permission model, as in Traka: member groups and
// key-set groups, and access rules that let the members of one group
// take the key sets of another, when a weekly schedule allows. A key set
// in no key-set group is governed by roles, site scope and jobs alone; a
// key set in one or more is taken only by members a rule reaches. Groups
// only narrow: a rule never lets anyone take what their role, site scope
// or (for a contractor) job does not.

// GroupKind says what a group holds.
type GroupKind string

const (
	MemberGroup GroupKind = "members"
	KeySetGroup GroupKind = "key_sets"
)

// Group is a named set of members or of key sets. SiteID, when set,
// scopes the group to one site (a site manager of that site manages it);
// empty is organisation-wide (owners and admins).
type Group struct {
	ID     string
	OrgID  string
	Kind   GroupKind
	Name   string
	SiteID string
}

// Validate reports whether the group is well formed.
func (g Group) Validate() error {
	if g.Kind != MemberGroup && g.Kind != KeySetGroup {
		return Errorf(EINVALID, "kind: a group holds members or key_sets, not %q", g.Kind)
	}
	if n := len([]rune(g.Name)); n == 0 || n > 100 || !Printable(g.Name) {
		return Errorf(EINVALID, "name: a group needs a name of at most 100 printable characters")
	}
	return nil
}

// AccessRule lets the members of MemberGroupID take the key sets of
// KeySetGroupID while Schedule allows (empty: any time), in the site's
// time zone.
type AccessRule struct {
	ID            string
	OrgID         string
	MemberGroupID string
	KeySetGroupID string
	Schedule      []Window
}

// ruleRefusal checks the access rules for f's take: nil when the key set
// is in no group or a rule lets the member take it now; otherwise the
// refusal.
func ruleRefusal(f Facts, now time.Time) *Decision {
	k, m := f.KeySet, f.Member
	if len(k.Groups) == 0 {
		return nil
	}
	reached, later := false, false
	for _, r := range f.Rules {
		if !slices.Contains(k.Groups, r.KeySetGroupID) || !slices.Contains(m.Groups, r.MemberGroupID) {
			continue
		}
		reached = true
		if inSchedule(r.Schedule, now) {
			return nil
		}
		later = true
	}
	d := refuse(f.lang(), "policy.no_group", "Label", k.Label)
	if reached && later {
		d = refuse(f.lang(), "policy.group_hours", "Label", k.Label)
	}
	return &d
}

// inSchedule reports whether local time t falls in one of the windows;
// an empty schedule is any time.
func inSchedule(ws []Window, t time.Time) bool {
	if len(ws) == 0 {
		return true
	}
	for _, w := range ws {
		if w.Contains(t) {
			return true
		}
	}
	return false
}
