package dashboard

import (
	"context"
	"encoding/hex"
	"net/http"
	"slices"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/passhash"
)

// The dashboard's member forms: add a member who uses only the kiosk (no
// HQ account; people who sign in to HQ come through invitations), change
// a member's role and sites, enrol and revoke badges, set or clear a PIN,
// remove a member, and a contractor's jobs with their time windows. As in
// dashboard_manage.go, the store checks every change and logs it.

// memberForm is what was typed into the member form (new, or role and
// sites of an existing member).
type memberForm struct {
	Name, Email string
	Role        keycab.Role
	SiteIDs     []string
}

// HasSite reports whether the form has site id ticked.
func (f memberForm) HasSite(id string) bool { return slices.Contains(f.SiteIDs, id) }

// badgeRow is a badge as the member page lists it.
type badgeRow struct {
	keycab.Badge
	Ref string // the hash in hex: names the badge in the revoke form
}

// jobForm is what was typed into the job form.
type jobForm struct {
	ID          string // set when changing a job
	Descriptor  string
	KeySetIDs   []string
	From, Until string
}

// HasKeySet reports whether the form has key set id ticked.
func (f jobForm) HasKeySet(id string) bool { return slices.Contains(f.KeySetIDs, id) }

// memberPage is the member page (and, without Member, the new member
// page).
type memberPage struct {
	Member    keycab.Member
	Form      memberForm
	Roles     []keycab.Role
	Sites     []store.Site
	Dir       *directory
	Badges    []badgeRow
	Kinds     []keycab.BadgeKind
	BadgeKind keycab.BadgeKind
	BadgeCode string
	Jobs      []keycab.Job
	Job       jobForm
}

// Days are the week's days for the access form, Monday first.
func (memberPage) Days() []time.Weekday {
	return []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
}

// OnDay reports whether the member's (first) schedule window has d.
func (p memberPage) OnDay(d time.Weekday) bool {
	return len(p.Member.Schedule) > 0 && slices.Contains(p.Member.Schedule[0].Days, d)
}

// From and Until are the first schedule window's times, for the form.
func (p memberPage) From() string {
	if len(p.Member.Schedule) == 0 {
		return ""
	}
	return hhmm(p.Member.Schedule[0].From)
}

func (p memberPage) Until() string {
	if len(p.Member.Schedule) == 0 {
		return ""
	}
	if p.Member.Schedule[0].Until == 1440 {
		return "24:00"
	}
	return hhmm(p.Member.Schedule[0].Until)
}

// AccessUntil is the access expiry as a datetime-local value in UTC.
func (p memberPage) AccessUntil() string {
	if p.Member.AccessUntil.IsZero() {
		return ""
	}
	return p.Member.AccessUntil.UTC().Format("2006-01-02T15:04")
}

// ScheduleWords says the schedule in words.
func (p memberPage) ScheduleWords() string {
	if len(p.Member.Schedule) == 0 {
		return "any time"
	}
	return groupsPage{}.RuleWhen(keycab.AccessRule{Schedule: p.Member.Schedule})
}

// setAccess saves the access form: one weekly window (the API sets
// more), the access expiry and the limit.
func (d *Dashboard) setAccess(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	var a store.MemberAccess
	var err error
	if days := r.PostForm["day"]; len(days) > 0 || formValue(r, "from") != "" || formValue(r, "until") != "" {
		var win keycab.Window
		if win, err = formWindow(v.L, days, formValue(r, "from"), formValue(r, "until")); err == nil {
			a.Schedule = []keycab.Window{win}
		}
	}
	if s := formValue(r, "access_until"); s != "" && err == nil {
		if a.AccessUntil, err = time.Parse("2006-01-02T15:04", s); err != nil {
			err = keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.access_ends", "Value", s))
		}
	}
	if err == nil {
		a.MaxKeysOut, err = formCount(v.L, v.T("dash.member.at_once"), formValue(r, "max_keys_out"), keycab.MaxKeysOutLimit)
	}
	if err == nil {
		err = d.Store.SetMemberAccess(r.Context(), v.P.Scope(), id, a)
	}
	if err != nil {
		return d.memberFailed(w, r, v, id, err, nil)
	}
	return redirect(w, r, "/people/"+id+"?notice=saved")
}

func memberFormOf(r *http.Request) memberForm {
	f := memberForm{Name: formValue(r, "name"), Email: formValue(r, "email"), Role: keycab.Role(formValue(r, "role"))}
	for _, s := range r.PostForm["site"] {
		if s != "" {
			f.SiteIDs = append(f.SiteIDs, s)
		}
	}
	return f
}

// memberData loads the member page of id (the new member page when id is
// empty).
func (d *Dashboard) memberData(ctx context.Context, v *viewer, id string) (memberPage, error) {
	sc := v.P.Scope()
	dir, err := d.directory(ctx, v)
	if err != nil {
		return memberPage{}, err
	}
	p := memberPage{Roles: invitableRoles(v.Role), Sites: dir.Sites, Dir: dir, Kinds: keycab.BadgeKinds(), BadgeKind: keycab.BadgeRFID,
		Form: memberForm{Role: keycab.RoleStaff}}
	if id == "" {
		return p, nil
	}
	if p.Member, err = d.Store.GetMember(ctx, sc, id); err != nil {
		return memberPage{}, err
	}
	p.Form = memberForm{Name: p.Member.Name, Email: p.Member.Email, Role: p.Member.Role, SiteIDs: p.Member.SiteIDs}
	if !slices.Contains(p.Roles, p.Member.Role) {
		p.Roles = append([]keycab.Role{p.Member.Role}, p.Roles...)
	}
	badges, err := d.Store.ListBadges(ctx, sc, id)
	if err != nil && keycab.ErrorCode(err) != keycab.EFORBIDDEN {
		return memberPage{}, err
	}
	for _, b := range badges {
		p.Badges = append(p.Badges, badgeRow{Badge: b, Ref: hex.EncodeToString(b.Hash)})
	}
	if p.Member.Role == keycab.RoleContractor {
		if p.Jobs, err = d.Store.ListJobs(ctx, sc, id); err != nil && keycab.ErrorCode(err) != keycab.EFORBIDDEN {
			return memberPage{}, err
		}
	}
	return p, nil
}

// renderMember renders the member page p, with err's message when set.
func (d *Dashboard) renderMember(w http.ResponseWriter, r *http.Request, v *viewer, p memberPage, err error) {
	name, title := "member", p.Member.Name
	if p.Member.ID == "" {
		name, title = "member_new", "Add a member"
	}
	vw := view{Title: title, Nav: "people", V: v, Data: p}
	d.renderForm(w, r, name, vw, err)
}

// memberFailed renders the member page of id again with err, after
// change lets the caller put back what was typed.
func (d *Dashboard) memberFailed(w http.ResponseWriter, r *http.Request, v *viewer, id string, err error, change func(*memberPage)) error {
	p, lerr := d.memberData(r.Context(), v, id)
	if lerr != nil {
		return lerr
	}
	if change != nil {
		change(&p)
	}
	d.renderMember(w, r, v, p, err)
	return nil
}

func (d *Dashboard) newMember(w http.ResponseWriter, r *http.Request, v *viewer) error {
	p, err := d.memberData(r.Context(), v, "")
	if err != nil {
		return err
	}
	d.renderMember(w, r, v, p, nil)
	return nil
}

func (d *Dashboard) createMember(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := memberFormOf(r)
	var err error
	if f.Name == "" {
		err = keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.member_name"))
	}
	var m keycab.Member
	if err == nil {
		m, err = d.Store.CreateMember(r.Context(), v.P.Scope(), keycab.Member{Name: f.Name, Email: f.Email, Role: f.Role, SiteIDs: f.SiteIDs})
	}
	if err != nil {
		return d.memberFailed(w, r, v, "", err, func(p *memberPage) { p.Form = f })
	}
	return redirect(w, r, "/people/"+m.ID+"?notice=created")
}

func (d *Dashboard) memberView(w http.ResponseWriter, r *http.Request, v *viewer) error {
	p, err := d.memberData(r.Context(), v, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.renderMember(w, r, v, p, nil)
	return nil
}

// updateMember saves a member's sites and role, those that changed, in
// one transaction (store.UpdateMember: sites first, so a member can be
// scoped and promoted to site manager in one save; both or neither).
func (d *Dashboard) updateMember(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, id := r.Context(), v.P.Scope(), r.PathValue("id")
	m, err := d.Store.GetMember(ctx, sc, id)
	if err != nil {
		return err
	}
	f := memberFormOf(r)
	f.Name, f.Email = m.Name, m.Email
	var role *keycab.Role
	var sites *[]string
	if !slices.Equal(dedupeSorted(f.SiteIDs), dedupeSorted(m.SiteIDs)) {
		sites = &f.SiteIDs
	}
	if f.Role != m.Role {
		role = &f.Role
	}
	if role != nil || sites != nil {
		err = d.Store.UpdateMember(ctx, sc, id, role, sites)
	}
	if err != nil {
		return d.memberFailed(w, r, v, id, err, func(p *memberPage) { p.Form = f })
	}
	return redirect(w, r, "/people/"+id+"?notice=saved")
}

func dedupeSorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func (d *Dashboard) addBadge(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	kind, code := keycab.BadgeKind(formValue(r, "kind")), formValue(r, "code")
	var err error
	if !slices.Contains(keycab.BadgeKinds(), kind) {
		err = keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.badge_kind", "Kind", kind))
	} else {
		_, err = d.Store.AddBadge(r.Context(), v.P.Scope(), id, kind, code)
	}
	if err != nil {
		if keycab.ErrorCode(err) == keycab.ECONFLICT {
			err = keycab.Errorf(keycab.ECONFLICT, "%s", v.T("dash.err.badge_enrolled"))
		}
		return d.memberFailed(w, r, v, id, err, func(p *memberPage) { p.BadgeKind, p.BadgeCode = kind, code })
	}
	return redirect(w, r, "/people/"+id+"?notice=saved")
}

func (d *Dashboard) revokeBadge(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	hash, err := hex.DecodeString(r.PathValue("badge"))
	if err != nil {
		return keycab.Errorf(keycab.ENOTFOUND, "badge not found")
	}
	if err := d.Store.RevokeBadge(r.Context(), v.P.Scope(), id, hash); err != nil {
		return err
	}
	return redirect(w, r, "/people/"+id+"?notice=saved")
}

// setPIN sets (action "set") or clears a member's kiosk PIN. The PIN is
// hashed here with argon2id, as passwords are; the store keeps the hash.
// A PIN that fails is not typed back into the form.
func (d *Dashboard) setPIN(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	hash := ""
	var err error
	if r.PostFormValue("action") != "clear" {
		pin := r.PostFormValue("pin")
		if err = keycab.CheckPIN(pin); err == nil {
			hash, err = passhash.Hash(pin, d.Auth.Config().Params)
		}
	}
	if err == nil {
		err = d.Store.SetPINHash(r.Context(), v.P.Scope(), id, hash)
	}
	if err != nil {
		return d.memberFailed(w, r, v, id, err, nil)
	}
	return redirect(w, r, "/people/"+id+"?notice=saved")
}

// setLanguage sets a member's own language (empty: as the site at a
// kiosk, as the browser here), as the member or a manager of the member
// may.
func (d *Dashboard) setLanguage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	if err := d.Store.SetMemberLanguage(r.Context(), v.P.Scope(), id, r.PostFormValue("language")); err != nil {
		return d.memberFailed(w, r, v, id, err, nil)
	}
	return redirect(w, r, "/people/"+id+"?notice=saved")
}

// setOwnLanguage sets the signed-in member's own language from the
// settings page.
func (d *Dashboard) setOwnLanguage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Store.SetMemberLanguage(r.Context(), v.P.Scope(), v.P.MemberID, r.PostFormValue("language")); err != nil {
		return err
	}
	return redirect(w, r, "/settings?notice=saved")
}

// jobOf reads the job form of contractor memberID: its window is typed
// as wall-clock times of the key sets' site (which must share one time
// zone).
func (d *Dashboard) jobOf(r *http.Request, v *viewer, memberID string) (jobForm, keycab.Job, error) {
	f := jobForm{ID: r.PathValue("job"), Descriptor: formValue(r, "descriptor"), From: formValue(r, "from"), Until: formValue(r, "until")}
	for _, k := range r.PostForm["key_set"] {
		if k != "" {
			f.KeySetIDs = append(f.KeySetIDs, k)
		}
	}
	j := keycab.Job{ID: f.ID, MemberID: memberID, KeySetIDs: f.KeySetIDs, Descriptor: f.Descriptor}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return f, j, err
	}
	if len(f.KeySetIDs) == 0 {
		return f, j, keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.job_key_set"))
	}
	zone := dir.KeySetZone(f.KeySetIDs[0])
	for _, k := range f.KeySetIDs[1:] {
		if dir.KeySetZone(k) != zone {
			return f, j, keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.job_one_zone"))
		}
	}
	if j.From, err = parseLocal(v.L, v.T("dash.jobform.from"), f.From, zone); err != nil {
		return f, j, err
	}
	j.Until, err = parseLocal(v.L, v.T("dash.jobform.until"), f.Until, zone)
	return f, j, err
}

// createJob gives a contractor key sets for a window.
func (d *Dashboard) createJob(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	f, j, err := d.jobOf(r, v, id)
	if err == nil {
		_, err = d.Store.CreateJob(r.Context(), v.P.Scope(), j)
	}
	if err != nil {
		return d.renderJob(w, r, v, id, f, err)
	}
	return redirect(w, r, "/people/"+id+"?notice=saved")
}

// renderJob renders the job form of contractor id with f and err.
func (d *Dashboard) renderJob(w http.ResponseWriter, r *http.Request, v *viewer, id string, f jobForm, err error) error {
	p, lerr := d.memberData(r.Context(), v, id)
	if lerr != nil {
		return lerr
	}
	if p.Member.Role != keycab.RoleContractor {
		return keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.jobs_contractors"))
	}
	p.Job = f
	title := "New job"
	if f.ID != "" {
		title = "Change job" // titles says it in the page's language
	}
	d.renderForm(w, r, "job_form", view{Title: title, Nav: "people", V: v, Data: p}, err)
	return nil
}

func (d *Dashboard) newJob(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderJob(w, r, v, r.PathValue("id"), jobForm{}, nil)
}

// jobPage is the form that changes one job of a contractor.
func (d *Dashboard) jobPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	jobs, err := d.Store.ListJobs(r.Context(), v.P.Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.ID == r.PathValue("job") {
			z := dir.JobZone(j)
			return d.renderJob(w, r, v, j.MemberID, jobForm{ID: j.ID, Descriptor: j.Descriptor, KeySetIDs: j.KeySetIDs,
				From: localInput(j.From, z), Until: localInput(j.Until, z)}, nil)
		}
	}
	return keycab.Errorf(keycab.ENOTFOUND, "job not found")
}

// updateJob saves a changed job.
func (d *Dashboard) updateJob(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	f, j, err := d.jobOf(r, v, id)
	if err == nil {
		err = d.Store.UpdateJob(r.Context(), v.P.Scope(), j)
	}
	if err != nil {
		return d.renderJob(w, r, v, id, f, err)
	}
	return redirect(w, r, "/people/"+id+"?notice=saved")
}

// endJob deletes a job: its contractor loses its key sets at once.
func (d *Dashboard) endJob(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	if err := d.Store.DeleteJob(r.Context(), v.P.Scope(), r.PathValue("job")); err != nil {
		return err
	}
	return redirect(w, r, "/people/"+id+"?notice=saved")
}

// JobZone is the time zone a job's window shows in: its first key set's
// site's.
func (dir *directory) JobZone(j keycab.Job) string {
	if len(j.KeySetIDs) == 0 {
		return ""
	}
	return dir.KeySetZone(j.KeySetIDs[0])
}
