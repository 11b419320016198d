package dashboard

import (
	"testing"

	"keycab.dev/keycab/internal/i18n"
)

// TestTitlesInCatalogue: every page title and notice render looks up by
// id is in the catalogue (their ids are in tables, which the catalogue's
// own scan of .T calls and templates does not see).
func TestTitlesInCatalogue(t *testing.T) {
	for en, id := range titles {
		if !i18n.Has(id) {
			t.Errorf("title %q: message id %q is not in the catalogue", en, id)
		}
	}
	for key, id := range notices {
		if !i18n.Has(id) {
			t.Errorf("notice %q: message id %q is not in the catalogue", key, id)
		}
	}
	for _, s := range apiKeyScopes {
		if !i18n.Has(s.Says) {
			t.Errorf("API key scope %s: message id %q is not in the catalogue", s.Name, s.Says)
		}
	}
	for _, r := range []string{"owner", "admin", "site_manager", "auditor", "staff", "contractor"} {
		if !i18n.Has("dash.role." + r) {
			t.Errorf("role %s has no dashboard name in the catalogue", r)
		}
	}
}
