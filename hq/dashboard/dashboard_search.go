package dashboard

import (
	"net/http"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// Search finds people, key sets, sites and cabinets the viewer sees (the
// directory, as the store scopes it) whose name, email, label or address
// holds every word of the query, and links each to its page and its
// history.

// maxSearch bounds a query's length and each section's hits.
const maxSearch, maxHits = 100, 50

type searchPage struct {
	Q        string
	Members  []keycab.Member
	KeySets  []keycab.KeySet
	Sites    []store.Site
	Cabinets []keycab.Cabinet
	Dir      *directory
	More     bool
}

// Hits counts what the query found.
func (p searchPage) Hits() int {
	return len(p.Members) + len(p.KeySets) + len(p.Sites) + len(p.Cabinets)
}

// matches reports whether every word of q is in one of fields, ignoring
// case.
func matches(words []string, fields ...string) bool {
	all := strings.ToLower(strings.Join(fields, " \x00 "))
	for _, w := range words {
		if !strings.Contains(all, w) {
			return false
		}
	}
	return true
}

func (d *Dashboard) search(w http.ResponseWriter, r *http.Request, v *viewer) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > maxSearch {
		return keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.search_long", "Max", maxSearch))
	}
	p := searchPage{Q: q}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	p.Dir = dir
	words := strings.Fields(strings.ToLower(q))
	if len(words) > 0 {
		add := func(n int) bool {
			if n >= maxHits {
				p.More = true
				return false
			}
			return true
		}
		for _, m := range dir.Members {
			if m.ErasedAt.IsZero() && matches(words, m.Name, m.Email) && add(len(p.Members)) {
				p.Members = append(p.Members, m)
			}
		}
		for _, k := range dir.KeySets {
			if matches(words, k.Label, dir.SiteName(k.SiteID)) && add(len(p.KeySets)) {
				p.KeySets = append(p.KeySets, k)
			}
		}
		for _, s := range dir.Sites {
			if matches(words, s.Name, s.Address) && add(len(p.Sites)) {
				p.Sites = append(p.Sites, s)
			}
		}
		for _, c := range dir.Cabinets {
			if matches(words, c.Name, dir.SiteName(c.SiteID)) && add(len(p.Cabinets)) {
				p.Cabinets = append(p.Cabinets, c)
			}
		}
	}
	d.render(w, r, http.StatusOK, "search", view{Title: "Search", Nav: "search", V: v, Data: p})
	return nil
}
