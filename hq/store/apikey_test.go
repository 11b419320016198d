package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

func apiKeyCases() []contractCase {
	ctx := context.Background()
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	return []contractCase{
		{"API keys: made and revoked by owners and admins of their own organisation, read by its auditors, in its admin log", func(t *testing.T, f *fixture) {
			for _, m := range []keycab.Member{f.a.manager, f.a.auditor, f.a.staff, f.a.contractor} {
				_, err := f.s.Accounts().CreateAPIKey(ctx, f.a.as(m), store.APIKey{Name: "x", Scopes: []string{store.ScopeHistoryRead}}, hash("s"))
				wantCode(t, err, keycab.EFORBIDDEN)
			}
			k := must[store.APIKey](t)(f.s.Accounts().CreateAPIKey(ctx, f.a.as(f.a.admin), store.APIKey{Name: "feed", Scopes: []string{store.ScopePeopleWrite, store.ScopeHistoryRead}}, hash("secret")))
			if k.Role != keycab.RoleAdmin || len(k.Scopes) != 2 || k.Scopes[0] != store.ScopeHistoryRead {
				t.Fatalf("key %+v", k)
			}
			if ks := must[[]store.APIKey](t)(f.s.Accounts().ListAPIKeys(ctx, f.a.as(f.a.auditor))); len(ks) != 1 || ks[0].ID != k.ID {
				t.Fatalf("A's auditor lists %+v", ks)
			}
			if ks := must[[]store.APIKey](t)(f.s.Accounts().ListAPIKeys(ctx, f.b.as(f.b.owner))); len(ks) != 0 {
				t.Fatalf("B lists A's keys: %+v", ks)
			}
			sameMiss(t, "API key", func(id string) error { _, err := f.s.Accounts().RevokeAPIKey(ctx, f.b.as(f.b.owner), id); return err }, k.ID)
			_, err := f.s.Accounts().RevokeAPIKey(ctx, f.a.as(f.a.auditor), k.ID)
			wantCode(t, err, keycab.EFORBIDDEN)
			must[store.APIKey](t)(f.s.Accounts().RevokeAPIKey(ctx, f.a.as(f.a.owner), k.ID))
			log := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.a.as(f.a.owner), 10))
			if log[0].Action != "api_key.revoke" || log[1].Action != "api_key.create" || log[1].ActorID != f.a.admin.ID {
				t.Fatalf("admin log %+v", log[:2])
			}
		}},
		{"API keys: authenticated only in their organisation, with their secret, until revoked or expired", func(t *testing.T, f *fixture) {
			k := must[store.APIKey](t)(f.s.Accounts().CreateAPIKey(ctx, f.a.as(f.a.owner), store.APIKey{Name: "reader", Scopes: []string{store.ScopeHistoryRead},
				ExpiresAt: time.Now().Add(time.Hour)}, hash("secret")))
			got := must[store.APIKey](t)(f.s.Accounts().AuthenticateAPIKey(ctx, f.a.org.ID, k.ID, hash("secret")))
			if got.ID != k.ID || got.LastUsedAt.IsZero() {
				t.Fatalf("authenticated %+v", got)
			}
			for _, c := range []struct {
				org, id string
				h       []byte
			}{{f.b.org.ID, k.ID, hash("secret")}, {f.a.org.ID, k.ID, hash("guess")}, {f.a.org.ID, "apikey_nope", hash("secret")}, {f.a.org.ID, k.ID, nil}} {
				_, err := f.s.Accounts().AuthenticateAPIKey(ctx, c.org, c.id, c.h)
				wantCode(t, err, keycab.EUNAUTHORIZED)
			}
			// A read-only key is an auditor in the store, whatever calls it.
			sc := store.APIKeyScope(f.a.org.ID, k.ID)
			if sites := must[[]store.Site](t)(f.s.ListSites(ctx, sc)); len(sites) != 2 {
				t.Fatalf("the reader sees %d sites", len(sites))
			}
			_, err := f.s.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Sneaky"}})
			wantCode(t, err, keycab.EFORBIDDEN)
			_, err = f.s.Accounts().CreateAPIKey(ctx, sc, store.APIKey{Name: "more", Scopes: []string{store.ScopeHistoryRead}}, hash("s"))
			wantCode(t, err, keycab.EFORBIDDEN)
			// Bound to its organisation: the same id in B is no principal.
			_, err = f.s.ListSites(ctx, store.APIKeyScope(f.b.org.ID, k.ID))
			wantCode(t, err, keycab.EUNAUTHORIZED)
			// The secret's hash never leaves the store.
			for _, l := range must[[]store.APIKey](t)(f.s.Accounts().ListAPIKeys(ctx, f.a.as(f.a.owner))) {
				if bytes.Contains([]byte(l.Name+l.ID), hash("secret")) {
					t.Fatal("hash in the list")
				}
			}
			must[store.APIKey](t)(f.s.Accounts().RevokeAPIKey(ctx, f.a.as(f.a.owner), k.ID))
			_, err = f.s.Accounts().AuthenticateAPIKey(ctx, f.a.org.ID, k.ID, hash("secret"))
			wantCode(t, err, keycab.EUNAUTHORIZED)
			_, err = f.s.ListSites(ctx, sc)
			wantCode(t, err, keycab.EUNAUTHORIZED)
		}},
		{"API keys: custody for a member of their own organisation only, with custody:write", func(t *testing.T, f *fixture) {
			reader := must[store.APIKey](t)(f.s.Accounts().CreateAPIKey(ctx, f.a.as(f.a.owner), store.APIKey{Name: "r", Scopes: []string{store.ScopeHistoryRead}}, hash("r")))
			people := must[store.APIKey](t)(f.s.Accounts().CreateAPIKey(ctx, f.a.as(f.a.owner), store.APIKey{Name: "p", Scopes: []string{store.ScopePeopleWrite}}, hash("p")))
			desk := must[store.APIKey](t)(f.s.Accounts().CreateAPIKey(ctx, f.a.as(f.a.owner), store.APIKey{Name: "d", Scopes: []string{store.ScopeCustodyWrite}}, hash("d")))
			req := store.CustodyRequest{RequestID: "contract-take-000001", KeySetID: f.a.ks1.ID, Action: store.CustodyTake, Member: f.a.staff.ID}
			_, err := f.s.RecordCustody(ctx, store.APIKeyScope(f.a.org.ID, reader.ID), req)
			wantCode(t, err, keycab.EFORBIDDEN)
			_, err = f.s.RecordCustody(ctx, store.APIKeyScope(f.a.org.ID, people.ID), req)
			wantCode(t, err, keycab.EFORBIDDEN)
			req.Member = f.b.staff.ID
			_, err = f.s.RecordCustody(ctx, store.APIKeyScope(f.a.org.ID, desk.ID), req)
			wantCode(t, err, keycab.ENOTFOUND)
		}},
	}
}
