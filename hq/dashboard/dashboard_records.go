package dashboard

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The record lifecycle: erasing a member (from their page, with typed
// confirmation), and the records page of legal holds and retention rules
// (store.EraseMember, CreateHold, SetRetention).

// eraseConfirmation is what the viewer must type to erase m: the
// member's name, or their id when they have none.
func eraseConfirmation(m keycab.Member) string {
	if m.Name != "" {
		return m.Name
	}
	return m.ID
}

// eraseMember erases a member once the form repeats their name.
func (d *Dashboard) eraseMember(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, sc, id := r.Context(), v.P.Scope(), r.PathValue("id")
	m, err := d.Store.GetMember(ctx, sc, id)
	if err != nil {
		return err
	}
	if want := eraseConfirmation(m); formValue(r, "confirm") != want {
		err = keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.erase_confirm", "Want", want))
	} else {
		err = d.Store.EraseMember(ctx, sc, id)
	}
	if err != nil {
		return d.memberFailed(w, r, v, id, err, nil)
	}
	return redirect(w, r, "/people/"+id+"?notice=erased")
}

type recordsPage struct {
	Dir       *directory
	Holds     []store.Hold
	Retention store.Retention
	Now       time.Time
	Form      holdForm
}

// holdForm is the new-hold form as sent.
type holdForm struct {
	Target, OwnerID, Reason, Ends string
}

// TargetName names what a hold covers.
func (p recordsPage) TargetName(h store.Hold) string {
	switch h.Target {
	case store.HoldMember:
		return "Member " + p.Dir.MemberName(h.TargetID)
	case store.HoldKeySet:
		return "Key set " + p.Dir.KeySetLabel(h.TargetID)
	case store.HoldSite:
		return "Site " + p.Dir.SiteName(h.TargetID)
	}
	return string(h.Target) + " " + h.TargetID
}

func (d *Dashboard) records(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderRecords(w, r, v, holdForm{}, nil)
}

func (d *Dashboard) renderRecords(w http.ResponseWriter, r *http.Request, v *viewer, f holdForm, ferr error) error {
	ctx, sc := r.Context(), v.P.Scope()
	holds, err := d.Store.ListHolds(ctx, sc)
	if err != nil {
		return err
	}
	rt, err := d.Store.GetRetention(ctx, sc)
	if err != nil {
		return err
	}
	dir, err := d.directory(ctx, v)
	if err != nil {
		return err
	}
	d.renderForm(w, r, "records", view{Title: "Records", Nav: "records", V: v,
		Data: recordsPage{Dir: dir, Holds: holds, Retention: rt, Now: d.now(), Form: f}}, ferr)
	return nil
}

// createHold places a hold; the form's target is "kind:id".
func (d *Dashboard) createHold(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := holdForm{Target: formValue(r, "target"), OwnerID: formValue(r, "owner_id"), Reason: formValue(r, "reason"), Ends: formValue(r, "ends")}
	kind, id, _ := strings.Cut(f.Target, ":")
	h := store.Hold{Target: store.HoldTarget(kind), TargetID: id, Reason: f.Reason, OwnerID: f.OwnerID}
	var err error
	if f.Ends != "" {
		h.Ends, err = parseLocal(v.L, v.T("dash.err.hold_end"), f.Ends, "UTC")
	}
	if err == nil {
		_, err = d.Store.CreateHold(r.Context(), v.P.Scope(), h)
	}
	if err != nil {
		return d.renderRecords(w, r, v, f, err)
	}
	return redirect(w, r, "/records?notice=holdplaced")
}

func (d *Dashboard) endHold(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if _, err := d.Store.EndHold(r.Context(), v.P.Scope(), r.PathValue("id")); err != nil {
		return d.renderRecords(w, r, v, holdForm{}, err)
	}
	return redirect(w, r, "/records?notice=holdended")
}

func (d *Dashboard) setRetention(w http.ResponseWriter, r *http.Request, v *viewer) error {
	var rt store.Retention
	var err error
	for _, f := range []struct {
		name, what string
		to         *int
	}{
		{"personal_text_days", v.T("dash.err.what.personal_texts"), &rt.PersonalTextDays},
		{"deliveries_days", v.T("dash.err.what.mail_log"), &rt.DeliveriesDays},
		{"sessions_days", v.T("dash.err.what.sessions"), &rt.SessionsDays},
		{"admin_detail_days", v.T("dash.err.what.admin_details"), &rt.AdminDetailDays},
	} {
		if err == nil {
			*f.to, err = formCount(v.L, f.what, formValue(r, f.name), store.MaxRetentionDays)
		}
	}
	if err == nil {
		err = d.Store.SetRetention(r.Context(), v.P.Scope(), rt)
	}
	if err != nil {
		return d.renderRecords(w, r, v, holdForm{}, err)
	}
	return redirect(w, r, "/records?notice=saved")
}

// SeesRecords reports whether the viewer sees the records page (legal
// holds and retention): owners, admins and auditors.
func (v *viewer) SeesRecords() bool { return v.SeesAdminLog() }

// Days formats a retention rule.
func (recordsPage) Days(n int) string {
	if n == 0 {
		return "kept"
	}
	return strconv.Itoa(n) + " days"
}

// EraseConfirm is what the erase form asks the viewer to type.
func (p memberPage) EraseConfirm() string { return eraseConfirmation(p.Member) }
