package dashboard

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// The dashboard's create and edit forms for sites, cabinets and key sets
// (members, badges, PINs and jobs are in dashboard_people.go). Each form
// posts to its own page, which on success redirects (POST-redirect-GET)
// and on failure renders the form again with the error and what was
// typed. Every change goes through the store as the signed-in principal:
// the store checks the role and writes the admin log; this file only
// hides controls that would fail.

// canManage reports whether the viewer may change sites' things at all
// (the store decides per site).
func (v *viewer) CanManage() bool { return v.Admin() || v.Role == keycab.RoleSiteManager }

// managerPage is page f for owners, admins and site managers only: the
// others get 403 rather than a form that the store would refuse.
func managerPage(f pageFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		if !v.CanManage() {
			return keycab.Errorf(keycab.EFORBIDDEN, "%s", v.T("dash.err.managers_only"))
		}
		return f(w, r, v)
	}
}

// renderForm renders a form page: with err's message and status when
// err is set (a failed save), else as 200.
func (d *Dashboard) renderForm(w http.ResponseWriter, r *http.Request, name string, vw view, err error) {
	if err != nil {
		d.formError(w, r, name, vw, err)
		return
	}
	d.render(w, r, http.StatusOK, name, vw)
}

// formTitle is the title of a create form (id empty) or of the edit form
// of the thing named name.
func formTitle(v *viewer, id, create, name string) string {
	if id == "" {
		return create
	}
	return v.T("dash.title.edit", "Name", name)
}

// redirect sends the browser to path after a successful POST.
func redirect(w http.ResponseWriter, r *http.Request, path string) error {
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// removeThen is a page that removes the thing {id} of the path with
// remove, then sends the browser to next.
func removeThen(remove func(context.Context, store.Scope, string) error, next string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		if err := remove(r.Context(), v.P.Scope(), r.PathValue("id")); err != nil {
			return err
		}
		return redirect(w, r, next)
	}
}

// formValue is a trimmed form field.
func formValue(r *http.Request, name string) string { return strings.TrimSpace(r.PostFormValue(name)) }

// formCount reads a whole number between 0 and max from a form field
// (empty is 0).
func formCount(l *i18n.Localizer, what, s string, max int) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.whole_number", "What", what, "Max", max))
	}
	return n, nil
}

// commonZones are offered as suggestions for a site's time zone; any IANA
// name is accepted.
var commonZones = []string{"UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
	"Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Warsaw", "Europe/Athens", "Europe/Helsinki", "Europe/Istanbul",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto", "America/Sao_Paulo",
	"Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "Africa/Johannesburg"}

// siteForm is the site create and edit page.
type siteForm struct {
	ID, Name, Address, TimeZone string
	Language                    string // the locale its kiosks speak; empty: en-GB
	Notes                       string
	NotesRedacted               bool
	SetNotes                    bool // the viewer may set notes (admins)
	Zones                       []string
}

func (d *Dashboard) renderSiteForm(w http.ResponseWriter, r *http.Request, v *viewer, f siteForm, err error) {
	f.Zones, f.SetNotes = commonZones, v.Admin()
	d.renderForm(w, r, "site_form", view{Title: formTitle(v, f.ID, "New site", f.Name), Nav: "sites", V: v, Data: f}, err)
}

func siteFormOf(r *http.Request) siteForm {
	return siteForm{ID: r.PathValue("id"), Name: formValue(r, "name"), Address: formValue(r, "address"),
		TimeZone: formValue(r, "time_zone"), Language: formValue(r, "language"), Notes: r.PostFormValue("notes")}
}

func (d *Dashboard) newSite(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if !v.Admin() {
		return keycab.Errorf(keycab.EFORBIDDEN, "%s", v.T("dash.err.admins_add_sites"))
	}
	d.renderSiteForm(w, r, v, siteForm{TimeZone: "Europe/London"}, nil)
	return nil
}

func (d *Dashboard) createSite(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := siteFormOf(r)
	st, err := d.Store.CreateSite(r.Context(), v.P.Scope(), store.Site{Site: keycab.Site{Name: f.Name, Address: f.Address, TimeZone: f.TimeZone, Language: f.Language}, Notes: f.Notes})
	if err != nil {
		d.renderSiteForm(w, r, v, f, err)
		return nil
	}
	return redirect(w, r, "/sites/"+st.ID+"?notice=created")
}

func (d *Dashboard) editSite(w http.ResponseWriter, r *http.Request, v *viewer) error {
	st, err := d.Store.GetSite(r.Context(), v.P.Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	d.renderSiteForm(w, r, v, siteForm{ID: st.ID, Name: st.Name, Address: st.Address, TimeZone: st.TimeZone, Language: st.Language, Notes: st.Notes, NotesRedacted: st.NotesRedacted}, nil)
	return nil
}

func (d *Dashboard) updateSite(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, f := r.Context(), v.P.Scope(), siteFormOf(r)
	err := d.Store.UpdateSite(ctx, sc, keycab.Site{ID: f.ID, Name: f.Name, Address: f.Address, TimeZone: f.TimeZone, Language: f.Language})
	if err == nil && v.Admin() && r.PostForm.Has("notes") {
		var old store.Site
		if old, err = d.Store.GetSite(ctx, sc, f.ID); err == nil && old.Notes != f.Notes {
			err = d.Store.SetSiteNotes(ctx, sc, f.ID, f.Notes)
		}
	}
	if err != nil {
		d.renderSiteForm(w, r, v, f, err)
		return nil
	}
	return redirect(w, r, "/sites/"+f.ID+"?notice=saved")
}

// cabinetForm is the cabinet create and edit page.
type cabinetForm struct {
	ID, SiteID, Name     string
	Kind                 keycab.CabinetKind
	DoorLock, DoorSensor string
	Slots                string // how many slots, as typed
	Sites                []store.Site
}

// maxSlots bounds the slots a form may ask for.
const maxSlots = 200

func (d *Dashboard) renderCabinetForm(w http.ResponseWriter, r *http.Request, v *viewer, f cabinetForm, err error) {
	dir, derr := d.directory(r.Context(), v)
	if derr != nil {
		d.renderError(w, r, v, derr)
		return
	}
	f.Sites = dir.Sites
	d.renderForm(w, r, "cabinet_form", view{Title: formTitle(v, f.ID, "New cabinet", f.Name), Nav: "cabinets", V: v, Data: f}, err)
}

func cabinetFormOf(r *http.Request) cabinetForm {
	return cabinetForm{ID: r.PathValue("id"), SiteID: formValue(r, "site"), Name: formValue(r, "name"),
		Kind: keycab.CabinetKind(formValue(r, "kind")), DoorLock: formValue(r, "door_lock"), DoorSensor: formValue(r, "door_sensor"),
		Slots: formValue(r, "slots")}
}

// slotCount checks the slots asked of a cabinet of kind k.
func (f cabinetForm) slotCount(l *i18n.Localizer) (int, error) {
	n, err := formCount(l, l.T("dash.cabinetform.slots"), f.Slots, maxSlots)
	if err == nil && n > 0 && f.Kind == keycab.OpenShelf {
		err = keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.open_shelf_no_slots"))
	}
	return n, err
}

func (d *Dashboard) newCabinet(w http.ResponseWriter, r *http.Request, v *viewer) error {
	d.renderCabinetForm(w, r, v, cabinetForm{SiteID: r.URL.Query().Get("site"), Kind: keycab.Slotted, Slots: "10"}, nil)
	return nil
}

func (d *Dashboard) createCabinet(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, f := r.Context(), v.P.Scope(), cabinetFormOf(r)
	n, err := f.slotCount(v.L)
	if err != nil {
		d.renderCabinetForm(w, r, v, f, err)
		return nil
	}
	c, err := d.Store.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: f.SiteID, Name: f.Name, Kind: f.Kind, DoorLock: f.DoorLock, DoorSensor: f.DoorSensor})
	if err != nil {
		d.renderCabinetForm(w, r, v, f, err)
		return nil
	}
	// The cabinet exists now: a failure below is shown on its edit page.
	if err := d.resizeSlots(ctx, v.L, sc, c.ID, nil, n); err != nil {
		f.ID = c.ID
		d.renderCabinetForm(w, r, v, f, err)
		return nil
	}
	return redirect(w, r, "/cabinets/"+c.ID+"?notice=created")
}

// resizeSlots adds or removes slots at the end so the cabinet has n;
// it refuses, before changing anything, to remove a slot that homes a
// key set. Slot pins are mapped at the kiosk.
func (d *Dashboard) resizeSlots(ctx context.Context, l *i18n.Localizer, sc store.Scope, cabinetID string, have []keycab.Slot, n int) error {
	for _, sl := range have {
		if sl.Number > n && sl.KeySetID != "" {
			return keycab.Errorf(keycab.ECONFLICT, "%s", l.T("dash.err.slot_homes_key_set", "Slot", sl.Number))
		}
	}
	top := 0
	for _, sl := range have {
		if sl.Number > n {
			if err := d.Store.DeleteSlot(ctx, sc, cabinetID, sl.Number); err != nil {
				return err
			}
		}
		top = max(top, sl.Number)
	}
	for i := top + 1; i <= n; i++ {
		if err := d.Store.SetSlot(ctx, sc, keycab.Slot{CabinetID: cabinetID, Number: i}); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dashboard) editCabinet(w http.ResponseWriter, r *http.Request, v *viewer) error {
	c, slots, err := d.cabinetAndSlots(r, v)
	if err != nil {
		return err
	}
	d.renderCabinetForm(w, r, v, cabinetForm{ID: c.ID, SiteID: c.SiteID, Name: c.Name, Kind: c.Kind, DoorLock: c.DoorLock,
		DoorSensor: c.DoorSensor, Slots: strconv.Itoa(len(slots))}, nil)
	return nil
}

func (d *Dashboard) updateCabinet(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, f := r.Context(), v.P.Scope(), cabinetFormOf(r)
	old, err := d.Store.GetCabinet(ctx, sc, f.ID)
	if err != nil {
		return err
	}
	f.SiteID = old.SiteID
	n, err := f.slotCount(v.L)
	var slots []keycab.Slot
	if err == nil {
		slots, err = d.Store.ListSlots(ctx, sc, f.ID)
	}
	if err == nil {
		err = d.Store.UpdateCabinet(ctx, sc, keycab.Cabinet{ID: f.ID, Name: f.Name, Kind: f.Kind, DoorLock: f.DoorLock, DoorSensor: f.DoorSensor})
	}
	if err == nil {
		err = d.resizeSlots(ctx, v.L, sc, f.ID, slots, n)
	}
	if err != nil {
		d.renderCabinetForm(w, r, v, f, err)
		return nil
	}
	return redirect(w, r, "/cabinets/"+f.ID+"?notice=saved")
}

// keySetForm is the key set create and edit page; on the edit page also
// its QR tokens and reservations.
type keySetForm struct {
	ID, SiteID, Label      string
	Sensitive, PINRequired bool
	TripleRelease          bool
	MaxOut                 string // minutes, as typed
	Slot                   string // "cabinet/number" of its home slot, or ""
	Sites                  []store.Site
	Slots                  []slotChoice
	Dir                    *directory

	// The edit page's.
	Tokens       []store.Token
	TokenText    string       // a new token's text, shown once
	TokenQR      template.URL // and its QR code
	Reservations []keycab.Reservation
	Takers       []keycab.Member // who may be given a reservation
	Res          reservationForm
	Zone         string // the key set's site's time zone
}

// reservationForm is what was typed into the reservation form.
type reservationForm struct{ MemberID, From, Until string }

// slotChoice is a slot a key set may call home.
type slotChoice struct {
	Value, Label, SiteID string
	Taken                bool // another key set's home
}

// maxOutMinutes bounds a key set's maximum time out: a year.
const maxOutMinutes = 366 * 24 * 60

func slotValue(cabinetID string, n int) string { return cabinetID + "/" + strconv.Itoa(n) }

// slotChoices lists the slots of slotted cabinets the viewer sees, and
// the one that homes key set ks ("" when none).
func (d *Dashboard) slotChoices(ctx context.Context, sc store.Scope, dir *directory, ks string) ([]slotChoice, string, error) {
	var out []slotChoice
	home := ""
	for _, c := range dir.Cabinets {
		if c.Kind != keycab.Slotted {
			continue
		}
		slots, err := d.Store.ListSlots(ctx, sc, c.ID)
		if err != nil {
			return nil, "", err
		}
		for _, sl := range slots {
			ch := slotChoice{Value: slotValue(c.ID, sl.Number), SiteID: c.SiteID,
				Label: dir.SiteName(c.SiteID) + " · " + c.Name + " · slot " + strconv.Itoa(sl.Number)}
			switch {
			case sl.KeySetID == "":
			case ks != "" && sl.KeySetID == ks:
				home = ch.Value
			default:
				ch.Taken = true
				ch.Label += " (" + dir.KeySetLabel(sl.KeySetID) + ")"
			}
			out = append(out, ch)
		}
	}
	return out, home, nil
}

func (d *Dashboard) renderKeySetForm(w http.ResponseWriter, r *http.Request, v *viewer, f keySetForm, err error) {
	ctx, sc := r.Context(), v.P.Scope()
	fail := func(err error) { d.renderError(w, r, v, err) }
	dir, derr := d.directory(ctx, v)
	if derr != nil {
		fail(derr)
		return
	}
	f.Sites, f.Dir = dir.Sites, dir
	if f.Slots, _, derr = d.slotChoices(ctx, sc, dir, f.ID); derr != nil {
		fail(derr)
		return
	}
	title := "New key set"
	if f.ID != "" {
		title = f.Label
		f.Zone = dir.SiteZone(f.SiteID)
		if f.Tokens, derr = d.Store.ListTokens(ctx, sc, f.ID); derr != nil && keycab.ErrorCode(derr) != keycab.EFORBIDDEN {
			fail(derr)
			return
		}
		if f.Reservations, derr = d.Store.ListReservations(ctx, sc, f.ID); derr != nil {
			fail(derr)
			return
		}
		for _, m := range dir.Members {
			if m.Role.CanTakeKeys() && m.AtSite(f.SiteID) {
				f.Takers = append(f.Takers, m)
			}
		}
	}
	vw := view{Title: title, Nav: "keysets", V: v, Data: f}
	d.renderForm(w, r, "keyset_form", vw, err)
}

func keySetFormOf(r *http.Request) keySetForm {
	return keySetForm{ID: r.PathValue("id"), SiteID: formValue(r, "site"), Label: formValue(r, "label"),
		Sensitive: r.PostFormValue("sensitive") == "on", PINRequired: r.PostFormValue("pin_required") == "on",
		TripleRelease: r.PostFormValue("triple_release") == "on", MaxOut: formValue(r, "max_out"), Slot: formValue(r, "slot")}
}

// keySet checks the typed fields that are the dashboard's to read.
func (f keySetForm) keySet(l *i18n.Localizer) (keycab.KeySet, error) {
	mins, err := formCount(l, l.T("dash.keysetform.maximum_time_out_in_minutes"), f.MaxOut, maxOutMinutes)
	return keycab.KeySet{ID: f.ID, SiteID: f.SiteID, Label: f.Label, Sensitive: f.Sensitive, PINRequired: f.PINRequired,
		TripleRelease: f.TripleRelease, MaxOut: minutes(mins)}, err
}

func (d *Dashboard) newKeySet(w http.ResponseWriter, r *http.Request, v *viewer) error {
	d.renderKeySetForm(w, r, v, keySetForm{SiteID: r.URL.Query().Get("site")}, nil)
	return nil
}

// checkHome checks that slot value s (if any) is a free slot of a
// cabinet at site, before anything is saved.
func (d *Dashboard) checkHome(ctx context.Context, v *viewer, s, site, ks string) (keycab.Slot, error) {
	if s == "" {
		return keycab.Slot{}, nil
	}
	dir, err := d.directory(ctx, v)
	if err != nil {
		return keycab.Slot{}, err
	}
	choices, _, err := d.slotChoices(ctx, v.P.Scope(), dir, ks)
	if err != nil {
		return keycab.Slot{}, err
	}
	for _, c := range choices {
		if c.Value != s {
			continue
		}
		if c.SiteID != site {
			return keycab.Slot{}, keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.slot_other_site", "Slot", c.Label))
		}
		if c.Taken {
			return keycab.Slot{}, keycab.Errorf(keycab.ECONFLICT, "%s", v.T("dash.err.slot_taken", "Slot", c.Label))
		}
		cab, num, _ := strings.Cut(s, "/")
		n, _ := strconv.Atoi(num)
		return keycab.Slot{CabinetID: cab, Number: n}, nil
	}
	return keycab.Slot{}, keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.no_such_slot"))
}

// setHome makes slot to the home of key set ks (keeping the slot's pins),
// and frees from when it is another slot.
func (d *Dashboard) setHome(ctx context.Context, sc store.Scope, ks string, from, to keycab.Slot) error {
	if from == to {
		return nil
	}
	pins := func(sl keycab.Slot) (keycab.Slot, error) {
		slots, err := d.Store.ListSlots(ctx, sc, sl.CabinetID)
		for _, x := range slots {
			if x.Number == sl.Number {
				return x, err
			}
		}
		return sl, err
	}
	if from.CabinetID != "" {
		sl, err := pins(from)
		if err != nil {
			return err
		}
		sl.KeySetID = ""
		if err := d.Store.SetSlot(ctx, sc, sl); err != nil {
			return err
		}
	}
	if to.CabinetID != "" {
		sl, err := pins(to)
		if err != nil {
			return err
		}
		sl.KeySetID = ks
		return d.Store.SetSlot(ctx, sc, sl)
	}
	return nil
}

func (d *Dashboard) createKeySet(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, f := r.Context(), v.P.Scope(), keySetFormOf(r)
	k, err := f.keySet(v.L)
	var home keycab.Slot
	if err == nil {
		home, err = d.checkHome(ctx, v, f.Slot, f.SiteID, "")
	}
	if err == nil {
		k, err = d.Store.CreateKeySet(ctx, sc, k)
	}
	if err != nil {
		d.renderKeySetForm(w, r, v, f, err)
		return nil
	}
	if err := d.setHome(ctx, sc, k.ID, keycab.Slot{}, home); err != nil {
		f.ID = k.ID
		d.renderKeySetForm(w, r, v, f, err)
		return nil
	}
	return redirect(w, r, "/key-sets/"+k.ID+"?notice=created")
}

func (d *Dashboard) keySetPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f, err := d.keySetFormFromStore(r.Context(), v, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.renderKeySetForm(w, r, v, f, nil)
	return nil
}

// keySetFormFromStore is the edit form of key set id as stored.
func (d *Dashboard) keySetFormFromStore(ctx context.Context, v *viewer, id string) (keySetForm, error) {
	k, err := d.Store.GetKeySet(ctx, v.P.Scope(), id)
	if err != nil {
		return keySetForm{}, err
	}
	dir, err := d.directory(ctx, v)
	if err != nil {
		return keySetForm{}, err
	}
	_, home, err := d.slotChoices(ctx, v.P.Scope(), dir, k.ID)
	if err != nil {
		return keySetForm{}, err
	}
	f := keySetForm{ID: k.ID, SiteID: k.SiteID, Label: k.Label, Sensitive: k.Sensitive, PINRequired: k.PINRequired, TripleRelease: k.TripleRelease, Slot: home}
	if k.MaxOut > 0 {
		f.MaxOut = strconv.Itoa(int(k.MaxOut / minutes(1)))
	}
	return f, nil
}

func (d *Dashboard) updateKeySet(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, f := r.Context(), v.P.Scope(), keySetFormOf(r)
	old, err := d.keySetFormFromStore(ctx, v, f.ID)
	if err != nil {
		return err
	}
	f.SiteID = old.SiteID
	k, err := f.keySet(v.L)
	var from, to keycab.Slot
	if err == nil && f.Slot != old.Slot {
		if to, err = d.checkHome(ctx, v, f.Slot, f.SiteID, f.ID); err == nil && old.Slot != "" {
			cab, num, _ := strings.Cut(old.Slot, "/")
			n, _ := strconv.Atoi(num)
			from = keycab.Slot{CabinetID: cab, Number: n}
		}
	}
	if err == nil {
		err = d.Store.UpdateKeySet(ctx, sc, k)
	}
	if err == nil {
		err = d.setHome(ctx, sc, f.ID, from, to)
	}
	if err != nil {
		d.renderKeySetForm(w, r, v, f, err)
		return nil
	}
	return redirect(w, r, "/key-sets/"+f.ID+"?notice=saved")
}

// keySetToken issues, rotates or revokes a key set's QR token. A new
// token's text is shown once, on the page this POST returns (it is never
// stored, so it cannot survive a redirect).
func (d *Dashboard) keySetToken(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, id := r.Context(), v.P.Scope(), r.PathValue("id")
	f, err := d.keySetFormFromStore(ctx, v, id)
	if err != nil {
		return err
	}
	var text string
	switch r.PostFormValue("action") {
	case "issue":
		text, _, err = d.Store.IssueToken(ctx, sc, id)
	case "rotate":
		text, _, err = d.Store.RotateToken(ctx, sc, id)
	case "revoke":
		if err = d.Store.RevokeTokens(ctx, sc, id); err == nil {
			return redirect(w, r, "/key-sets/"+id+"?notice=saved")
		}
	default:
		err = keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.unknown_token_action"))
	}
	if err != nil {
		d.renderKeySetForm(w, r, v, f, err)
		return nil
	}
	f.TokenText = text
	f.TokenQR, _, _ = qrDataURL(text, 4) // none if it cannot be drawn
	// The page holds a secret: no caching, no referrer.
	w.Header().Set("Cache-Control", "no-store")
	d.renderKeySetForm(w, r, v, f, nil)
	return nil
}

func (d *Dashboard) createReservation(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, id := r.Context(), v.P.Scope(), r.PathValue("id")
	f, err := d.keySetFormFromStore(ctx, v, id)
	if err != nil {
		return err
	}
	f.Res = reservationForm{MemberID: formValue(r, "member"), From: formValue(r, "from"), Until: formValue(r, "until")}
	dir, err := d.directory(ctx, v)
	if err != nil {
		return err
	}
	zone := dir.SiteZone(f.SiteID)
	res := keycab.Reservation{KeySetID: id, MemberID: f.Res.MemberID}
	res.From, err = parseLocal(v.L, v.T("dash.from"), f.Res.From, zone)
	if err == nil {
		res.Until, err = parseLocal(v.L, v.T("dash.until"), f.Res.Until, zone)
	}
	if err == nil {
		_, err = d.Store.CreateReservation(ctx, sc, res)
	}
	if err != nil {
		d.renderKeySetForm(w, r, v, f, err)
		return nil
	}
	return redirect(w, r, "/key-sets/"+id+"?notice=saved")
}

func (d *Dashboard) cancelReservation(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, id := r.Context(), v.P.Scope(), r.PathValue("id")
	rs, err := d.Store.ListReservations(ctx, sc, id)
	if err != nil {
		return err
	}
	rid := r.PathValue("res")
	for _, x := range rs {
		if x.ID == rid {
			if err := d.Store.DeleteReservation(ctx, sc, rid); err != nil {
				return err
			}
			return redirect(w, r, "/key-sets/"+id+"?notice=saved")
		}
	}
	return keycab.Errorf(keycab.ENOTFOUND, "reservation not found")
}
