package store_test

import (
	"context"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestLanguages sets a site's language and members' own, refuses a
// locale keycab has no catalogue for and a change by someone who does
// not manage the member, and finds both languages in the kiosk's bundle.
func TestLanguages(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, e)
			a := f.a
			own := a.as(a.owner)
			site := a.site1.Site
			site.Language = "fr"
			wantCode(t, f.s.UpdateSite(ctx, own, site), keycab.EINVALID)
			site.Language = "de"
			MustNoErr(t, f.s.UpdateSite(ctx, own, site))
			if got := must[store.Site](t)(f.s.GetSite(ctx, own, site.ID)); got.Language != "de" {
				t.Fatalf("site language %q, want de", got.Language)
			}
			created := must[store.Site](t)(f.s.CreateSite(ctx, own, store.Site{Site: keycab.Site{Name: "US office", Language: "en-US"}}))
			if got := must[store.Site](t)(f.s.GetSite(ctx, own, created.ID)); got.Language != "en-US" {
				t.Fatalf("created site language %q, want en-US", got.Language)
			}

			MustNoErr(t, f.s.SetMemberLanguage(ctx, a.as(a.staff), a.staff.ID, "en-US")) // their own
			MustNoErr(t, f.s.SetMemberLanguage(ctx, a.as(a.auditor), a.auditor.ID, "de"))
			wantCode(t, f.s.SetMemberLanguage(ctx, a.as(a.staff), a.staff.ID, "xx"), keycab.EINVALID)
			if err := f.s.SetMemberLanguage(ctx, a.as(a.staff), a.admin.ID, "de"); keycab.ErrorCode(err) == "" {
				t.Fatal("staff set an admin's language")
			}
			MustNoErr(t, f.s.SetMemberLanguage(ctx, a.as(a.manager), a.staff.ID, "de")) // a manager of the member
			if got := must[keycab.Member](t)(f.s.GetMember(ctx, own, a.staff.ID)); got.Language != "de" {
				t.Fatalf("member language %q, want de", got.Language)
			}

			cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, a.kiosk()))
			if cfg.Site.Language != "de" {
				t.Fatalf("bundle site language %q, want de", cfg.Site.Language)
			}
			found := false
			for _, m := range cfg.Members {
				if m.ID == a.staff.ID {
					found = m.Language == "de"
				}
			}
			if !found {
				t.Fatalf("the bundle does not carry the staff member's language: %+v", cfg.Members)
			}
		})
	}
}
