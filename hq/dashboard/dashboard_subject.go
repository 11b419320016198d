package dashboard

import (
	"bytes"
	"crypto/hmac"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/export"
	"keycab.dev/keycab/hq/store"
)

// signSubject signs a subject-access link's query; the purpose keeps it
// apart from history export links.
func (d *Dashboard) signSubject(q url.Values) string { return d.sign("subject access", q.Encode()) }

// subjectLink makes a signed, time-limited link to the subject-access
// archive of member {id} (or of the viewer, at /settings/my-data): for
// owners and admins about anyone, for everyone about themself. Who may
// is checked again when the archive is made.
func (d *Dashboard) subjectLink(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	if id == "" {
		id = v.P.MemberID
	}
	if id != v.P.MemberID && !v.Admin() {
		return keycab.Errorf(keycab.EFORBIDDEN, "%s", v.T("dash.err.subject_admins"))
	}
	m, err := d.Store.GetMember(r.Context(), v.P.Scope(), id)
	if err != nil {
		return err
	}
	exp := d.now().Add(exportTTL)
	q := url.Values{"org": {v.P.OrgID}, "by": {v.P.MemberID}, "member": {id}, "exp": {strconv.FormatInt(exp.Unix(), 10)}}
	q.Set("sig", d.signSubject(q))
	d.Logger.Info("subject access link", "org", v.P.OrgID, "by", v.P.MemberID, "member", id)
	d.render(w, r, http.StatusOK, "subject", view{Title: "Export personal data", Nav: "people", V: v, Data: struct {
		URL     string
		Expires time.Time
		Member  keycab.Member
		Self    bool
	}{"/export/subject.zip?" + q.Encode(), exp, m, id == v.P.MemberID}})
	return nil
}

// subjectArchive serves a signed subject-access link: the archive is
// made now, for the member who made the link, with their rights now.
func (d *Dashboard) subjectArchive(w http.ResponseWriter, r *http.Request) {
	q, ok := d.openLink(w, r, d.signSubject, localizer(r, "").T("dash.err.link_again_member"))
	if !ok {
		return
	}
	rec, err := d.Store.SubjectAccess(r.Context(), store.MemberScope(q.Get("org"), q.Get("by")), q.Get("member"))
	if err != nil {
		d.renderError(w, r, nil, err)
		return
	}
	var buf bytes.Buffer
	if err := export.WriteSubjectArchive(&buf, rec); err != nil {
		d.renderError(w, r, nil, err)
		return
	}
	w.Header().Set("Content-Type", export.SubjectArchiveType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+export.SubjectArchiveName(rec)+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// openLink checks a signed link's signature (sign: its purpose's) and
// expiry, answering the refusal itself when either fails; again says how
// to get a new link. It answers the link's query without the signature.
func (d *Dashboard) openLink(w http.ResponseWriter, r *http.Request, sign func(url.Values) string, again string) (url.Values, bool) {
	q := r.URL.Query()
	sig := q.Get("sig")
	q.Del("sig")
	if sig == "" || !hmac.Equal([]byte(sig), []byte(sign(q))) {
		d.Logger.Warn("denied request", "reason", "bad link signature", "path", r.URL.Path, "ip", hq.ClientIP(r))
		d.renderError(w, r, nil, keycab.Errorf(keycab.EFORBIDDEN, "%s", localizer(r, "").T("dash.err.export_link")))
		return nil, false
	}
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || !d.now().Before(time.Unix(exp, 0)) {
		d.render(w, r, http.StatusGone, "error", view{Title: "Expired",
			Data: errorData{http.StatusGone, localizer(r, "").T("dash.err.export_link_expired") + " " + again}})
		return nil, false
	}
	return q, true
}
