package dashboard

import (
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// The policy pages: one level of the kiosk policy each (the
// organisation's, a site's, a cabinet's), every field either set at this
// level or inherited, with the value in effect shown beside it.

// policyField is one row of the policy form.
type policyField struct {
	Name      string // the field's JSON name, and the form's
	Label     string
	Help      string
	Kind      string // bool, number, duration, text, lines, roles, role, colour
	Set       bool   // set at this level
	Value     string // as set here (or, unset, as in effect, to start from)
	Effective string // in effect here, in words
	Checked   map[keycab.Role]bool
}

// policyPage is the policy form's data.
type policyPage struct {
	Level     store.PolicyLevel
	ScopeID   string
	What      string // "Acme Lettings", "Site Depot", "Cabinet front desk"
	Action    string // the form's URL
	Above     string // where the inherited values come from
	CanEdit   bool
	Fields    []policyField
	Roles     []keycab.Role
	Approvers []keycab.Role
	UpdatedAt time.Time
	UpdatedBy string
}

// policyLabels names the fields; the help is the field's doc tag.
var policyLabels = map[string]string{
	"pin_roles": "PIN for roles", "pin_always": "PIN for everyone", "max_failed_pins": "Wrong PINs before a lock-out",
	"lock_out_seconds": "Lock-out", "scan_cool_down_seconds": "Scan cool-down", "door_held_seconds": "Door-held alarm after",
	"door_held_warning_seconds": "Door-held warning before the alarm", "default_max_out_seconds": "Default return-by",
	"curfew": "Curfew", "block_while_overdue": "Block while overdue", "max_keys_out": "Key sets per member",
	"dual_release_window_seconds": "Dual release window", "approver_role": "Approvers: least role",
	"approver_group": "Approvers: member group", "reasons": "Reason presets", "remote_release": "Remote release from HQ",
	"stills":     "Camera stills",
	"brand_name": "Name on the kiosk", "accent": "Accent colour",
}

// policyLevelOf reads the level a policy page's path names.
func policyLevelOf(r *http.Request) (store.PolicyLevel, string) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/sites/"):
		return store.PolicySite, r.PathValue("id")
	case strings.HasPrefix(r.URL.Path, "/cabinets/"):
		return store.PolicyCabinet, r.PathValue("id")
	}
	return store.PolicyOrg, ""
}

func (d *Dashboard) policy(w http.ResponseWriter, r *http.Request, v *viewer) error {
	level, id := policyLevelOf(r)
	ps, err := d.Store.GetPolicy(r.Context(), v.P.Scope(), level, id)
	if err != nil {
		return err
	}
	page, err := d.policyPageOf(r, v, ps)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "policy", view{Title: v.T("dash.policy.title", "What", page.What), Nav: policyNav(level), V: v, Data: page})
	return nil
}

func policyNav(level store.PolicyLevel) string {
	switch level {
	case store.PolicySite:
		return "sites"
	case store.PolicyCabinet:
		return "cabinets"
	}
	return "settings"
}

func (d *Dashboard) policyPageOf(r *http.Request, v *viewer, ps store.PolicySettings) (policyPage, error) {
	page := policyPage{Level: ps.Level, ScopeID: ps.ScopeID, UpdatedAt: ps.UpdatedAt, UpdatedBy: ps.UpdatedBy,
		Roles:     []keycab.Role{keycab.RoleOwner, keycab.RoleAdmin, keycab.RoleSiteManager, keycab.RoleStaff, keycab.RoleContractor},
		Approvers: []keycab.Role{keycab.RoleOwner, keycab.RoleAdmin, keycab.RoleSiteManager, keycab.RoleStaff}}
	ctx, sc := r.Context(), v.P.Scope()
	switch ps.Level {
	case store.PolicyOrg:
		page.What, page.Action, page.Above = v.OrgName, "/policy", v.T("dash.policy.above_defaults")
		page.CanEdit = v.Admin()
	case store.PolicySite:
		st, err := d.Store.GetSite(ctx, sc, ps.ScopeID)
		if err != nil {
			return page, err
		}
		page.What, page.Action, page.Above = v.T("dash.policy.what_site", "Name", st.Name), "/sites/"+st.ID+"/policy", v.T("dash.policy.above_org")
		page.CanEdit = v.CanManage()
	case store.PolicyCabinet:
		c, err := d.Store.GetCabinet(ctx, sc, ps.ScopeID)
		if err != nil {
			return page, err
		}
		page.What, page.Action, page.Above = v.T("dash.policy.what_cabinet", "Name", c.Name), "/cabinets/"+c.ID+"/policy", v.T("dash.policy.above_site")
		page.CanEdit = v.CanManage()
	}
	page.Fields = policyFields(v.L, ps.Settings, keycab.OverrideOf(ps.Policy, ps.Branding))
	return page, nil
}

// policyFields lays out the form from what a level sets and what is in
// effect, field by field of keycab.PolicyOverride (the logo is set
// through the API), in l's words: a field's label is the message
// dash.policy.field.NAME (policyLabels in English), its help
// dash.policy.help.NAME (the field's doc tag in English; TestPolicyWords
// keeps them the same).
func policyFields(l *i18n.Localizer, set, effective keycab.PolicyOverride) []policyField {
	if l == nil {
		l = i18n.English()
	}
	sv, ev := reflect.ValueOf(set), reflect.ValueOf(effective)
	var out []policyField
	for i, f := range reflect.VisibleFields(sv.Type()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "logo" {
			continue
		}
		label, help := "dash.policy.field."+name, "dash.policy.help."+name // built ids: TestPolicyWords checks them
		pf := policyField{Name: name, Label: l.T(label), Kind: policyKind(name, f.Type.Elem())}
		if f.Tag.Get("doc") != "" {
			pf.Help = l.T(help)
		}
		here := sv.Field(i)
		pf.Set = !here.IsNil()
		shown := ev.Field(i)
		if pf.Set {
			shown = here
		}
		pf.Value = formOf(pf.Kind, shown.Elem())
		pf.Effective = wordsOf(l, pf.Kind, ev.Field(i).Elem())
		if pf.Kind == "roles" {
			pf.Checked = map[keycab.Role]bool{}
			for _, r := range shown.Elem().Interface().([]keycab.Role) {
				pf.Checked[r] = true
			}
		}
		out = append(out, pf)
	}
	return out
}

func policyKind(name string, t reflect.Type) string {
	switch {
	case strings.HasSuffix(name, "_seconds"):
		return "duration"
	case name == "accent":
		return "colour"
	case t == reflect.TypeFor[[]keycab.Role]():
		return "roles"
	case t == reflect.TypeFor[keycab.Role]():
		return "role"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.Int:
		return "number"
	case t.Kind() == reflect.Slice:
		return "lines"
	}
	return "text"
}

// formOf is a value as the form's input holds it.
func formOf(kind string, v reflect.Value) string {
	switch kind {
	case "duration":
		return shortDuration(time.Duration(v.Int()) * time.Second)
	case "bool":
		return strconv.FormatBool(v.Bool())
	case "number":
		return strconv.Itoa(int(v.Int()))
	case "lines":
		return strings.Join(v.Interface().([]string), "\n")
	case "roles":
		return ""
	}
	return v.String()
}

// wordsOf is a value in effect, in l's words.
func wordsOf(l *i18n.Localizer, kind string, v reflect.Value) string {
	switch kind {
	case "duration":
		if v.Int() == 0 {
			return l.T("dash.policy.word_off")
		}
	case "bool":
		if v.Bool() {
			return l.T("dash.policy.word_yes")
		}
		return l.T("dash.policy.word_no")
	case "lines":
		return strings.Join(v.Interface().([]string), ", ")
	case "roles":
		var names []string
		for _, r := range v.Interface().([]keycab.Role) {
			names = append(names, roleName(l, r))
		}
		if len(names) == 0 {
			return l.T("dash.policy.word_none")
		}
		return strings.Join(names, ", ")
	case "role":
		if v.String() == "" {
			return l.T("dash.policy.word_anyone")
		}
		return roleName(l, keycab.Role(v.String()))
	}
	if s := formOf(kind, v); s != "" {
		return s
	}
	return l.T("dash.policy.word_none")
}

// shortDuration writes d as a form accepts it back: 8h, 90m, 45s.
func shortDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// overrideOf reads the posted form: a field is set at this level when its
// "set_" box is ticked.
func overrideOf(tr *i18n.Localizer, r *http.Request) (keycab.PolicyOverride, error) {
	var o keycab.PolicyOverride
	ov := reflect.ValueOf(&o).Elem()
	for i, f := range reflect.VisibleFields(ov.Type()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "logo" || r.PostFormValue("set_"+name) == "" {
			continue
		}
		t := f.Type.Elem()
		val := reflect.New(t)
		raw := formValue(r, name)
		labelID := "dash.policy.field." + name // a built id: TestPolicyWords checks it
		label := tr.T(labelID)
		switch kind := policyKind(name, t); kind {
		case "duration":
			d, err := time.ParseDuration(strings.ReplaceAll(raw, " ", ""))
			if err != nil || d < 0 || d%time.Second != 0 {
				return o, keycab.Errorf(keycab.EINVALID, "%s", tr.T("dash.err.policy_duration", "Field", label, "Value", raw))
			}
			val.Elem().SetInt(int64(d / time.Second))
		case "bool":
			val.Elem().SetBool(raw == "true")
		case "number":
			n, err := strconv.Atoi(raw)
			if err != nil {
				return o, keycab.Errorf(keycab.EINVALID, "%s", tr.T("dash.err.policy_number", "Field", label, "Value", raw))
			}
			val.Elem().SetInt(int64(n))
		case "lines":
			lines := []string{}
			for _, l := range strings.Split(raw, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					lines = append(lines, l)
				}
			}
			val.Elem().Set(reflect.ValueOf(lines))
		case "roles":
			roles := []keycab.Role{}
			for _, s := range r.PostForm[name] {
				roles = append(roles, keycab.Role(s))
			}
			val.Elem().Set(reflect.ValueOf(roles))
		default:
			val.Elem().SetString(raw)
		}
		ov.Field(i).Set(val)
	}
	return o, nil
}

func (d *Dashboard) setPolicy(w http.ResponseWriter, r *http.Request, v *viewer) error {
	level, id := policyLevelOf(r)
	ctx, sc := r.Context(), v.P.Scope()
	o, err := overrideOf(v.L, r)
	if err == nil && r.PostFormValue("inherit_all") != "" {
		o = keycab.PolicyOverride{}
	}
	var ps store.PolicySettings
	if err == nil {
		if ps, err = d.Store.SetPolicy(ctx, sc, level, id, o); err == nil {
			page, perr := d.policyPageOf(r, v, ps)
			if perr != nil {
				return perr
			}
			return redirect(w, r, page.Action+"?notice=saved")
		}
	}
	if ps, gerr := d.Store.GetPolicy(ctx, sc, level, id); gerr == nil {
		page, perr := d.policyPageOf(r, v, ps)
		if perr != nil {
			return perr
		}
		// Show what was typed, with the error.
		for i, f := range page.Fields {
			page.Fields[i].Set = r.PostFormValue("set_"+f.Name) != ""
			if !page.Fields[i].Set {
				continue
			}
			page.Fields[i].Value = formValue(r, f.Name)
			if f.Kind == "roles" {
				page.Fields[i].Checked = map[keycab.Role]bool{}
				for _, role := range r.PostForm[f.Name] {
					page.Fields[i].Checked[keycab.Role(role)] = true
				}
			}
		}
		d.formError(w, r, "policy", view{Title: v.T("dash.policy.title", "What", page.What), Nav: policyNav(level), V: v, Data: page}, err)
		return nil
	}
	return err
}
