package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

// Which routes an API key may call, by scope. A route in no list is for
// people only (signing in, accounts, the organisation's settings,
// erasure, legal holds, exports about a person, API keys themselves).
// Reading the directory (sites, cabinets, key sets, members) comes with
// every scope, so that what a key reads or writes can be named.
var keyRoutes = map[string][]string{
	store.ScopeHistoryRead: {
		"GET /v1/events", "GET /v1/events.jsonl", "GET /v1/custody", "GET /v1/alarms", "GET /v1/reports/usage",
		"GET /v1/kiosks", "GET /v1/kiosks/{id}/log", "GET /v1/kiosks/{id}/log/checkpoint", "GET /v1/kiosks/{id}/log/tile/{path...}",
		"GET /v1/org/log", "GET /v1/org/log/checkpoint", "GET /v1/org/log/tile/{path...}",
	},
	store.ScopeCustodyWrite: {"POST /v1/custody"},
	store.ScopePeopleWrite: {
		"POST /v1/members", "PATCH /v1/members/{id}", "DELETE /v1/members/{id}",
		"PUT /v1/members/{id}/pin", "DELETE /v1/members/{id}/pin", "PUT /v1/members/{id}/access",
		"GET /v1/members/{id}/badges", "POST /v1/members/{id}/badges", "DELETE /v1/members/{id}/badges/{badge}",
		"GET /v1/members/{id}/may-take/{key_set}",
		"GET /v1/groups", "POST /v1/groups", "GET /v1/groups/{id}", "PUT /v1/groups/{id}/entries", "DELETE /v1/groups/{id}",
		"GET /v1/access-rules", "POST /v1/access-rules", "DELETE /v1/access-rules/{id}",
		"GET /v1/jobs", "POST /v1/jobs", "DELETE /v1/jobs/{id}",
		"GET /v1/reservations", "POST /v1/reservations", "DELETE /v1/reservations/{id}",
		"GET /v1/passes", "POST /v1/passes", "POST /v1/passes/{id}/revoke",
	},
	store.ScopeCabinetsWrite: {
		"POST /v1/sites", "PATCH /v1/sites/{id}", "DELETE /v1/sites/{id}",
		"POST /v1/cabinets", "PATCH /v1/cabinets/{id}", "DELETE /v1/cabinets/{id}",
		"PUT /v1/cabinets/{id}/slots/{number}", "DELETE /v1/cabinets/{id}/slots/{number}",
		"POST /v1/key-sets", "PATCH /v1/key-sets/{id}", "DELETE /v1/key-sets/{id}",
		"GET /v1/key-sets/{id}/tokens", "POST /v1/key-sets/{id}/tokens", "POST /v1/key-sets/{id}/tokens/rotate", "DELETE /v1/key-sets/{id}/tokens",
		"POST /v1/labels", "POST /v1/cabinets/{id}/enrol-tokens", "POST /v1/kiosks/{id}/revoke",
		"POST /v1/kiosks/{id}/actions", "GET /v1/kiosks/{id}/actions", "GET /v1/kiosks/{id}/refusals", "GET /v1/kiosks",
		"GET /v1/policy", "PUT /v1/policy", "DELETE /v1/policy",
		"GET /v1/sites/{id}/policy", "PUT /v1/sites/{id}/policy", "DELETE /v1/sites/{id}/policy",
		"GET /v1/cabinets/{id}/policy", "PUT /v1/cabinets/{id}/policy", "DELETE /v1/cabinets/{id}/policy",
	},
}

// directory is what every scope reads.
var directory = []string{"GET /v1/sites", "GET /v1/sites/{id}", "GET /v1/cabinets", "GET /v1/cabinets/{id}",
	"GET /v1/key-sets", "GET /v1/key-sets/{id}", "GET /v1/members", "GET /v1/members/{id}"}

// keyScopes returns the scopes that let an API key call the route
// "METHOD PATH", in store.APIKeyScopes' order; none for a people-only
// route.
func keyScopes(route string) []string {
	var out []string
	for _, sc := range store.APIKeyScopes {
		if slices.Contains(keyRoutes[sc], route) || slices.Contains(directory, route) {
			out = append(out, sc)
		}
	}
	return out
}

// keyMay refuses a request made with an API key that none of scopes
// (the route's) grants.
func keyMay(p auth.Principal, route string, scopes []string) error {
	if p.APIKey == nil {
		return nil
	}
	for _, sc := range scopes {
		if p.APIKey.Has(sc) {
			return nil
		}
	}
	if len(scopes) == 0 {
		return keycab.Errorf(keycab.EFORBIDDEN, "%s is for people signed in, not API keys", route)
	}
	return keycab.Errorf(keycab.EFORBIDDEN, "this API key may not call %s: it needs the scope %s", route, strings.Join(scopes, " or "))
}

func apiKeyOf(k store.APIKey) APIKey {
	return APIKey{ID: k.ID, Name: k.Name, Scopes: k.Scopes, Role: string(k.Role), CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt,
		ExpiresAt: timePtr(k.ExpiresAt), LastUsedAt: timePtr(k.LastUsedAt), RevokedAt: timePtr(k.RevokedAt)}
}

func (s *API) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.Store.Accounts().ListAPIKeys(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := APIKeyList{APIKeys: []APIKey{}}
	for _, k := range ks {
		out.APIKeys = append(out.APIKeys, apiKeyOf(k))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in APIKeyRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	var expires time.Time
	if in.ExpiresAt != nil {
		expires = *in.ExpiresAt
	}
	k, token, err := s.Auth.CreateAPIKey(r.Context(), principalOf(r.Context()), in.Name, in.Scopes, expires)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusCreated, IssuedAPIKey{APIKey: apiKeyOf(k), Token: token})
	return nil
}

func (s *API) revokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.Store.Accounts().RevokeAPIKey(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, apiKeyOf(k))
	return nil
}
