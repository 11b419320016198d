package dashboard

import (
	"bytes"
	"html/template"
	"image/png"
	"net/http"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/internal/qrlabel"
)

// The passes page (owners, admins and site managers issue and revoke;
// auditors see): offline passes for contractors (keycab.Pass, store
// pass.go), each with a page to print its QR code or mail it to its
// holder. The code is HQ's signature of the pass's fields, made again for
// each print or mail (the same bytes each time).

type passesPage struct {
	Passes      []passRow
	Dir         *directory
	Contractors []keycab.Member
	Form        passForm
	CanIssue    bool
}

// passRow is a pass as the list shows it.
type passRow struct {
	keycab.Pass
	State string
	Zone  string // the time zone of its first key set's site
}

type passForm struct {
	MemberID  string
	KeySetIDs []string
	From      string // datetime-local, in the key sets' zone
	Until     string
	Note      string
}

// HasKeySet reports whether the form chose key set id.
func (f passForm) HasKeySet(id string) bool { return slices.Contains(f.KeySetIDs, id) }

// passPage is one pass, to print or mail.
type passPage struct {
	Pass      keycab.Pass
	State     string
	Holder    string
	Email     string
	Labels    []string
	Zone      string
	QR        template.URL // a data: URL of the code's PNG; empty when the pass has none (revoked, expired)
	QRSide    int
	CanManage bool
}

// passQRModule is a pass's QR module in pixels: a printed pass or a
// phone's screen read by the kiosk's camera.
const passQRModule = 5

func (v *viewer) canIssuePasses() bool { return v.Admin() || v.Role == keycab.RoleSiteManager }

func (d *Dashboard) passes(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderPasses(w, r, v, passForm{}, nil)
}

func (d *Dashboard) renderPasses(w http.ResponseWriter, r *http.Request, v *viewer, f passForm, ferr error) error {
	ps, err := d.Store.ListPasses(r.Context(), v.P.Scope(), 0)
	if err != nil {
		return err
	}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	page := passesPage{Dir: dir, Form: f, CanIssue: v.canIssuePasses()}
	now := d.Store.Now()
	for _, p := range ps {
		row := passRow{Pass: p, State: p.State(now)}
		if len(p.KeySetIDs) > 0 {
			row.Zone = dir.KeySetZone(p.KeySetIDs[0])
		}
		page.Passes = append(page.Passes, row)
	}
	for _, m := range dir.Members {
		if m.Role == keycab.RoleContractor && !m.Disabled && m.ErasedAt.IsZero() {
			page.Contractors = append(page.Contractors, m)
		}
	}
	if f.From == "" && f.Until == "" {
		day := now.Truncate(time.Hour) // from the start of this hour: valid at once
		page.Form.From, page.Form.Until = localInput(day, ""), localInput(day.Add(8*time.Hour), "")
		if len(dir.KeySets) > 0 {
			z := dir.KeySetZone(dir.KeySets[0].ID)
			page.Form.From, page.Form.Until = localInput(day, z), localInput(day.Add(8*time.Hour), z)
		}
	}
	d.renderForm(w, r, "passes", view{Title: "Passes", Nav: "passes", V: v, Data: page}, ferr)
	return nil
}

func (d *Dashboard) issuePass(w http.ResponseWriter, r *http.Request, v *viewer) error {
	r.ParseForm()
	f := passForm{MemberID: formValue(r, "member_id"), From: formValue(r, "from"), Until: formValue(r, "until"), Note: formValue(r, "note")}
	for _, k := range r.PostForm["key_set"] {
		if k != "" {
			f.KeySetIDs = append(f.KeySetIDs, k)
		}
	}
	p := keycab.Pass{MemberID: f.MemberID, KeySetIDs: f.KeySetIDs, Note: f.Note}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	if len(f.KeySetIDs) == 0 {
		return d.renderPasses(w, r, v, f, keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.passes.err_key_set")))
	}
	zone := dir.KeySetZone(f.KeySetIDs[0])
	for _, k := range f.KeySetIDs[1:] {
		if dir.KeySetZone(k) != zone {
			return d.renderPasses(w, r, v, f, keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.job_one_zone")))
		}
	}
	if p.From, err = parseLocal(v.L, v.T("dash.passes.from"), f.From, zone); err != nil {
		return d.renderPasses(w, r, v, f, err)
	}
	if p.Until, err = parseLocal(v.L, v.T("dash.passes.until"), f.Until, zone); err != nil {
		return d.renderPasses(w, r, v, f, err)
	}
	p, _, err = d.Store.IssuePass(r.Context(), v.P.Scope(), p)
	if err != nil {
		return d.renderPasses(w, r, v, f, err)
	}
	return redirect(w, r, "/passes/"+p.ID+"?notice=pass-issued")
}

// passView reads a pass and, while it has one, its code as a QR image.
func (d *Dashboard) passView(r *http.Request, v *viewer, id string) (passPage, string, error) {
	p, err := d.Store.GetPass(r.Context(), v.P.Scope(), id)
	if err != nil {
		return passPage{}, "", err
	}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return passPage{}, "", err
	}
	pg := passPage{Pass: p, State: p.State(d.Store.Now()), Holder: dir.MemberName(p.MemberID), CanManage: v.canIssuePasses()}
	for _, m := range dir.Members {
		if m.ID == p.MemberID {
			pg.Email = m.Email
		}
	}
	for _, k := range p.KeySetIDs {
		pg.Labels = append(pg.Labels, dir.KeySetLabel(k))
	}
	pg.Zone = dir.KeySetZone(p.KeySetIDs[0])
	if pg.State != keycab.PassValid && pg.State != keycab.PassNotYet || !pg.CanManage {
		return pg, "", nil
	}
	_, code, err := d.Store.PassCode(r.Context(), v.P.Scope(), id)
	if err != nil {
		if c := keycab.ErrorCode(err); c == keycab.EFORBIDDEN {
			pg.CanManage = false
			return pg, "", nil
		}
		return pg, "", err
	}
	if pg.QR, pg.QRSide, err = qrDataURL(code, passQRModule); err != nil {
		return pg, "", err
	}
	return pg, code, nil
}

func (d *Dashboard) passPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	pg, _, err := d.passView(r, v, r.PathValue("id"))
	if err != nil {
		return err
	}
	// The page holds a credential (the pass's code): never cached.
	w.Header().Set("Cache-Control", "no-store")
	d.render(w, r, http.StatusOK, "pass", view{Title: "Pass", Nav: "passes", V: v, Data: pg})
	return nil
}

func (d *Dashboard) revokePass(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if _, err := d.Store.RevokePass(r.Context(), v.P.Scope(), r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/passes?notice=pass-revoked")
}

// mailPass mails the pass to its holder, in the holder's language, with
// its QR code attached.
func (d *Dashboard) mailPass(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	pg, code, err := d.passView(r, v, id)
	if err != nil {
		return err
	}
	if code == "" {
		return keycab.Errorf(keycab.ECONFLICT, "%s", v.T("dash.passes.err_no_code"))
	}
	if pg.Email == "" {
		return keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.passes.err_no_email"))
	}
	img, err := qrlabel.Image(code, passQRModule*2)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	lang := ""
	if m, err := d.Store.GetMember(r.Context(), v.P.Scope(), pg.Pass.MemberID); err == nil {
		lang = m.Language
	}
	l := i18n.For(lang)
	zone := pg.Zone
	org := v.OrgName
	subject := l.T("mail.pass.subject", "Org", org)
	body := strings.Join([]string{
		l.T("mail.pass.hello", "Name", pg.Holder),
		l.T("mail.pass.body", "Org", org, "Keys", strings.Join(pg.Labels, ", "), "From", zoned(l, pg.Pass.From, zone), "Until", zoned(l, pg.Pass.Until, zone)),
		l.T("mail.pass.how"),
		l.T("mail.pass.keep"),
	}, "\n\n") + "\n"
	if err := d.Auth.MailPass(r.Context(), v.P.OrgID, pg.Email, subject, body, b.Bytes()); err != nil {
		return err
	}
	return redirect(w, r, "/passes/"+id+"?notice=pass-mailed")
}
