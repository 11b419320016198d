package dashboard

import (
	"reflect"
	"strings"
	"testing"

	"keycab.dev/keycab"
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

// TestPolicyWords: every policy field has its label and, where it has a
// doc tag, its help in the catalogue, and the English of both is what
// policyLabels and the doc tag say (the API's errors and documentation
// use those).
func TestPolicyWords(t *testing.T) {
	en := i18n.English()
	for _, f := range reflect.VisibleFields(reflect.TypeFor[keycab.PolicyOverride]()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "logo" {
			continue
		}
		if id := "dash.policy.field." + name; !i18n.Has(id) || en.T(id) != policyLabels[name] {
			t.Errorf("policy field %s: %q is not in the catalogue as %q", name, id, policyLabels[name])
		}
		if doc := f.Tag.Get("doc"); doc != "" {
			if id := "dash.policy.help." + name; !i18n.Has(id) || en.T(id) != doc {
				t.Errorf("policy field %s: %q is not in the catalogue as %q", name, id, doc)
			}
		}
	}
}
