package dashboard

import (
	"io"
	"net/http"
	"slices"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// Bulk import from CSV (store.Import): the page takes a file or pasted
// text, previews it line by line, and imports it only from the preview,
// whose form carries the same text back, so what is stored is what was
// shown.

type importPage struct {
	Kind    store.ImportKind
	Kinds   []store.ImportKind
	Columns map[store.ImportKind][]string
	CSV     string
	Result  *store.ImportResult

	l *i18n.Localizer // the page's language, for KindName
}

var importKinds = []store.ImportKind{store.ImportPeople, store.ImportKeySets, store.ImportBadges}

// KindName names an import kind in words, in the page's language.
func (p importPage) KindName(k store.ImportKind) string {
	switch k {
	case store.ImportPeople:
		return p.l.T("dash.nav.people")
	case store.ImportKeySets:
		return p.l.T("dash.nav.keysets")
	case store.ImportBadges:
		return p.l.T("dash.member.badges")
	}
	return string(k)
}

func (d *Dashboard) importForm(w http.ResponseWriter, r *http.Request, v *viewer) error {
	kind := store.ImportKind(r.URL.Query().Get("kind"))
	if !slices.Contains(importKinds, kind) {
		kind = store.ImportPeople
	}
	d.renderImport(w, r, v, importPage{Kind: kind}, nil)
	return nil
}

// importPost previews the file sent (a file field or pasted text), or
// imports the text of a preview when the form says apply.
func (d *Dashboard) importPost(w http.ResponseWriter, r *http.Request, v *viewer) error {
	p := importPage{Kind: store.ImportKind(formValue(r, "kind")), CSV: r.PostFormValue("csv")}
	if f, _, err := r.FormFile("file"); err == nil {
		b, rerr := io.ReadAll(io.LimitReader(f, store.MaxImportBytes+1))
		f.Close()
		if rerr != nil {
			return keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.import_unreadable"))
		}
		if len(b) > store.MaxImportBytes {
			d.renderImport(w, r, v, p, keycab.Errorf(keycab.ETOOLARGE, "%s", v.T("dash.err.import_too_large", "MiB", store.MaxImportBytes>>20)))
			return nil
		}
		p.CSV = string(b)
	}
	apply := formValue(r, "apply") == "yes"
	res, err := d.Store.Import(r.Context(), v.P.Scope(), p.Kind, []byte(p.CSV), apply)
	if err != nil && (res.Rows == nil || !apply) {
		d.renderImport(w, r, v, p, err)
		return nil
	}
	if res.Applied {
		return redirect(w, r, "/import?kind="+string(p.Kind)+"&notice=imported")
	}
	for i, row := range res.Rows {
		if row.Err != nil {
			res.Rows[i].Error = errorIn(r, v, row.Err)
		}
	}
	p.Result = &res
	d.renderImport(w, r, v, p, err)
	return nil
}

func (d *Dashboard) renderImport(w http.ResponseWriter, r *http.Request, v *viewer, p importPage, err error) {
	p.Kinds, p.Columns, p.l = importKinds, store.ImportKinds(), localizer(r, v.lang())
	if !keycab.ValidText(p.CSV) {
		p.CSV = "" // never echoed back: the preview said why
	}
	d.renderForm(w, r, "import", view{Title: "Import", Nav: "people", V: v, Data: p}, err)
}
