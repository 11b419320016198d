package api

import (
	"slices"
	"testing"
)

// Every route the API-key table names is one the API serves (a typo would
// silently keep a key from it), every scope grants some route, and no
// route for people only (accounts, settings, erasure, API keys) is in it.
func TestKeyRoutes(t *testing.T) {
	var served []string
	for _, rt := range (&API{}).routes() {
		served = append(served, rt.method+" "+rt.path)
	}
	for sc, routes := range keyRoutes {
		if len(routes) == 0 {
			t.Errorf("scope %s grants nothing", sc)
		}
		for _, r := range append(slices.Clone(routes), directory...) {
			if !slices.Contains(served, r) {
				t.Errorf("scope %s names %q, which the API does not serve", sc, r)
			}
		}
	}
	for _, r := range []string{"POST /v1/api-keys", "POST /v1/api-keys/{id}/revoke", "GET /v1/api-keys", "GET /v1/me", "GET /v1/admin-log",
		"POST /v1/members/{id}/erase", "GET /v1/members/{id}/subject-access", "POST /v1/org/deletion", "PUT /v1/org/security", "POST /v1/holds"} {
		if got := keyScopes(r); len(got) != 0 {
			t.Errorf("%s is granted to API keys by %v", r, got)
		}
	}
}
