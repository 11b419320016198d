package dashboard

import (
	"net/http"
	"strconv"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
)

// remoteRow is a row of a kiosk's remote actions.
type remoteRow struct {
	keycab.RemoteAction
	Target, By, Zone string
	Pending, Expired bool // not answered; and not to be any more
}

type remoteData struct {
	Kiosk   string // the kiosk's id
	Name    string
	Rows    []remoteRow
	KeySets []keycab.KeySet // those at the kiosk's site, for the forms
	Members []keycab.Member
	// Form is what the viewer sent when it was refused.
	Form remoteForm
}

type remoteForm struct {
	Kind, Slot, KeySet, Member, Reason string
}

// remoteActions shows a kiosk's remote actions and, to those who may ask,
// the forms that ask.
func (d *Dashboard) remoteActions(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderRemote(w, r, v, remoteForm{}, nil)
}

func (d *Dashboard) renderRemote(w http.ResponseWriter, r *http.Request, v *viewer, f remoteForm, failed error) error {
	ctx, id := r.Context(), r.PathValue("id")
	as, err := d.Store.ListRemoteActions(ctx, v.P.Scope(), id, 100)
	if err != nil {
		return err
	}
	dir, err := d.directory(ctx, v)
	if err != nil {
		return err
	}
	data := remoteData{Kiosk: id, Name: id, Form: f}
	ks, err := d.Store.ListKiosks(ctx, v.P.Scope())
	if err != nil {
		return err
	}
	site := ""
	for _, k := range ks {
		if k.ID == id {
			data.Name, site = k.Name, dir.CabinetSite(k.CabinetID)
		}
	}
	for _, k := range dir.KeySets {
		if k.SiteID == site {
			data.KeySets = append(data.KeySets, k)
		}
	}
	data.Members = dir.Members
	for _, a := range as {
		row := remoteRow{RemoteAction: a, By: dir.MemberName(a.RequestedBy), Zone: dir.SiteZone(site), Pending: a.Outcome == keycab.RemotePending}
		row.Expired = row.Pending && d.now().After(a.Expires)
		switch {
		case a.Kind == keycab.RemoteReleaseSlot:
			row.Target = "slot " + strconv.Itoa(a.Slot)
		case a.Kind == keycab.RemoteReleaseDoor:
			row.Target = "door"
		default:
			row.Target = dir.KeySetLabel(a.KeySetID)
		}
		if a.MemberID != "" {
			row.Target += " → " + dir.MemberName(a.MemberID)
		}
		data.Rows = append(data.Rows, row)
	}
	vw := view{Title: v.T("dash.remote.title", "Name", data.Name), Nav: "kiosks", V: v, Data: data}
	status := http.StatusOK
	if failed != nil {
		vw.Error, status = errorIn(r, v, failed), hq.StatusOf(keycab.ErrorCode(failed))
	}
	d.render(w, r, status, "remote", vw)
	return nil
}

// askRemote asks the kiosk for a remote action from a form: the kiosk's
// actions page, or a row of the keys-out page (back=keys).
func (d *Dashboard) askRemote(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := remoteForm{Kind: formValue(r, "kind"), Slot: formValue(r, "slot"), KeySet: formValue(r, "key_set"),
		Member: formValue(r, "member"), Reason: formValue(r, "reason")}
	a := keycab.RemoteAction{KioskID: r.PathValue("id"), Kind: keycab.RemoteKind(f.Kind), KeySetID: f.KeySet, MemberID: f.Member, Reason: f.Reason}
	var err error
	if f.Slot != "" {
		if a.Slot, err = strconv.Atoi(f.Slot); err != nil || a.Slot < 1 {
			err = keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.remote_slot"))
		}
	}
	if err == nil {
		_, err = d.Store.CreateRemoteAction(r.Context(), v.P.Scope(), a)
	}
	if err != nil {
		switch keycab.ErrorCode(err) {
		case keycab.EINVALID, keycab.ECONFLICT:
			return d.renderRemote(w, r, v, f, err)
		}
		return err
	}
	if formValue(r, "back") == "keys" {
		return redirect(w, r, "/keys?notice=remotesent")
	}
	return redirect(w, r, "/kiosks/"+a.KioskID+"/actions?notice=remotesent")
}
