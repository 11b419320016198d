package dashboard

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// The groups page: member groups, key-set groups and the access rules
// between them (store.CreateGroup and the rest).

type groupsPage struct {
	Dir         *directory
	MemberGroup []store.GroupDetail
	KeySetGroup []store.GroupDetail
	Rules       []keycab.AccessRule
	Names       map[string]string // group id -> name
	Days        []time.Weekday
}

// RuleWhen says when a rule lets its group take keys.
func (p groupsPage) RuleWhen(r keycab.AccessRule) string {
	return scheduleWords(i18n.English(), r.Schedule)
}

// scheduleWords says weekly windows in l's words (the template function
// "schedule"): "Mon Tue 08:00–18:00", "jederzeit".
func scheduleWords(l *i18n.Localizer, ws []keycab.Window) string {
	if len(ws) == 0 {
		return l.T("dash.any_time")
	}
	var parts []string
	for _, w := range ws {
		var days []string
		for _, d := range w.Days {
			days = append(days, l.Weekday(d))
		}
		parts = append(parts, strings.Join(days, " ")+" "+shortClock(l, w.From)+"–"+shortClock(l, w.Until))
	}
	return strings.Join(parts, "; ")
}

// hhmm is minutes after midnight as a form's value: "08:00".
func hhmm(m int) string { return time.Date(0, 1, 1, m/60, m%60, 0, 0, time.UTC).Format("15:04") }

func shortClock(l *i18n.Localizer, m int) string {
	return l.Clock(time.Date(0, 1, 1, m/60, m%60, 0, 0, time.UTC))
}

// In reports whether id is one of ids.
func (groupsPage) In(id string, ids []string) bool { return slices.Contains(ids, id) }

func (d *Dashboard) groups(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderGroups(w, r, v, nil)
}

func (d *Dashboard) renderGroups(w http.ResponseWriter, r *http.Request, v *viewer, ferr error) error {
	ctx, sc := r.Context(), v.P.Scope()
	dir, err := d.directory(ctx, v)
	if err != nil {
		return err
	}
	gs, err := d.Store.ListGroups(ctx, sc)
	if err != nil {
		return err
	}
	rules, err := d.Store.ListAccessRules(ctx, sc)
	if err != nil {
		return err
	}
	page := groupsPage{Dir: dir, Rules: rules, Names: map[string]string{},
		Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}}
	for _, g := range gs {
		page.Names[g.ID] = g.Name
		if g.Kind == keycab.MemberGroup {
			page.MemberGroup = append(page.MemberGroup, g)
		} else {
			page.KeySetGroup = append(page.KeySetGroup, g)
		}
	}
	d.renderForm(w, r, "groups", view{Title: "Groups", Nav: "groups", V: v, Data: page}, ferr)
	return nil
}

func (d *Dashboard) createGroup(w http.ResponseWriter, r *http.Request, v *viewer) error {
	_, err := d.Store.CreateGroup(r.Context(), v.P.Scope(), keycab.Group{Kind: keycab.GroupKind(formValue(r, "kind")),
		Name: formValue(r, "name"), SiteID: formValue(r, "site")})
	if err != nil {
		return d.renderGroups(w, r, v, err)
	}
	return redirect(w, r, "/groups?notice=created")
}

func (d *Dashboard) setGroupEntries(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Store.SetGroupEntries(r.Context(), v.P.Scope(), r.PathValue("id"), r.PostForm["entry"]); err != nil {
		return d.renderGroups(w, r, v, err)
	}
	return redirect(w, r, "/groups?notice=saved")
}

func (d *Dashboard) createRule(w http.ResponseWriter, r *http.Request, v *viewer) error {
	rule := keycab.AccessRule{MemberGroupID: formValue(r, "member_group"), KeySetGroupID: formValue(r, "key_set_group")}
	if days := r.PostForm["day"]; len(days) > 0 || formValue(r, "from") != "" || formValue(r, "until") != "" {
		win, err := formWindow(v.L, days, formValue(r, "from"), formValue(r, "until"))
		if err != nil {
			return d.renderGroups(w, r, v, err)
		}
		rule.Schedule = []keycab.Window{win}
	}
	if _, err := d.Store.CreateAccessRule(r.Context(), v.P.Scope(), rule); err != nil {
		return d.renderGroups(w, r, v, err)
	}
	return redirect(w, r, "/groups?notice=created")
}

// formWindow reads a weekly window from a form: days as 0 (Sunday) to 6,
// times as HH:MM.
func formWindow(l *i18n.Localizer, days []string, from, until string) (keycab.Window, error) {
	var w keycab.Window
	for _, s := range days {
		n, err := strconv.Atoi(s)
		if err != nil {
			return w, keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.schedule_day", "Value", s))
		}
		w.Days = append(w.Days, time.Weekday(n))
	}
	var err error
	if w.From, err = keycab.ParseClock("schedule: from", from); err != nil {
		return w, keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.schedule_from", "Value", from))
	}
	if w.Until, err = keycab.ParseClock("schedule: until", until); err != nil {
		return w, keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.schedule_until", "Value", until))
	}
	return w, w.Validate()
}
