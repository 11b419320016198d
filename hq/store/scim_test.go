package store_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

func scimCases() []contractCase {
	ctx := context.Background()
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	return []contractCase{
		{"SCIM tokens: made and revoked by owners and admins, no API keys (nor taken as one), in the admin log", func(t *testing.T, f *fixture) {
			for _, m := range []keycab.Member{f.a.manager, f.a.auditor, f.a.staff, f.a.contractor} {
				_, err := f.s.Provisioning().CreateSCIMToken(ctx, f.a.as(m), "x", hash("s"))
				wantCode(t, err, keycab.EFORBIDDEN)
			}
			tok := must[store.APIKey](t)(f.s.Provisioning().CreateSCIMToken(ctx, f.a.as(f.a.admin), "Okta", hash("secret")))
			key := must[store.APIKey](t)(f.s.Accounts().CreateAPIKey(ctx, f.a.as(f.a.owner), store.APIKey{Name: "feed", Scopes: []string{store.ScopePeopleWrite}}, hash("key")))
			if ks := must[[]store.APIKey](t)(f.s.Accounts().ListAPIKeys(ctx, f.a.as(f.a.owner))); len(ks) != 1 || ks[0].ID != key.ID {
				t.Fatalf("the API keys list %+v", ks)
			}
			if ts := must[[]store.APIKey](t)(f.s.Provisioning().ListSCIMTokens(ctx, f.a.as(f.a.auditor))); len(ts) != 1 || ts[0].ID != tok.ID {
				t.Fatalf("the SCIM tokens list %+v", ts)
			}
			// Neither is the other.
			_, err := f.s.Accounts().AuthenticateAPIKey(ctx, f.a.org.ID, tok.ID, hash("secret"))
			wantCode(t, err, keycab.EUNAUTHORIZED)
			_, err = f.s.Provisioning().AuthenticateSCIMToken(ctx, f.a.org.ID, key.ID, hash("key"))
			wantCode(t, err, keycab.EUNAUTHORIZED)
			_, err = f.s.Accounts().RevokeAPIKey(ctx, f.a.as(f.a.owner), tok.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.Provisioning().RevokeSCIMToken(ctx, f.a.as(f.a.owner), key.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			// A key or token makes no tokens.
			_, err = f.s.Provisioning().CreateSCIMToken(ctx, store.APIKeyScope(f.a.org.ID, key.ID), "x", hash("s"))
			wantCode(t, err, keycab.EFORBIDDEN)
			_, err = f.s.Provisioning().CreateSCIMToken(ctx, store.APIKeyScope(f.a.org.ID, tok.ID), "x", hash("s"))
			wantCode(t, err, keycab.EFORBIDDEN)
			for _, c := range []struct {
				org, id string
				h       []byte
			}{{f.b.org.ID, tok.ID, hash("secret")}, {f.a.org.ID, tok.ID, hash("guess")}, {f.a.org.ID, "scim_nope", hash("secret")}} {
				_, err := f.s.Provisioning().AuthenticateSCIMToken(ctx, c.org, c.id, c.h)
				wantCode(t, err, keycab.EUNAUTHORIZED)
			}
			must[store.APIKey](t)(f.s.Provisioning().AuthenticateSCIMToken(ctx, f.a.org.ID, tok.ID, hash("secret")))
			sameMiss(t, "SCIM token", func(id string) error {
				_, err := f.s.Provisioning().RevokeSCIMToken(ctx, f.b.as(f.b.owner), id)
				return err
			}, tok.ID)
			_, err = f.s.Provisioning().RevokeSCIMToken(ctx, f.a.as(f.a.auditor), tok.ID)
			wantCode(t, err, keycab.EFORBIDDEN)
			must[store.APIKey](t)(f.s.Provisioning().RevokeSCIMToken(ctx, f.a.as(f.a.owner), tok.ID))
			_, err = f.s.Provisioning().AuthenticateSCIMToken(ctx, f.a.org.ID, tok.ID, hash("secret"))
			wantCode(t, err, keycab.EUNAUTHORIZED)
			_, err = f.s.Provisioning().SCIMUsers(ctx, store.APIKeyScope(f.a.org.ID, tok.ID))
			wantCode(t, err, keycab.EUNAUTHORIZED)
			log := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.a.as(f.a.owner), 10))
			if log[0].Action != "scim_token.revoke" || log[2].Action != "scim_token.create" || log[2].ActorID != f.a.admin.ID {
				t.Fatalf("admin log %+v", log[:3])
			}
		}},
		{"SCIM: only a SCIM token provisions, as an admin of its own organisation, attributed to it", func(t *testing.T, f *fixture) {
			tok := must[store.APIKey](t)(f.s.Provisioning().CreateSCIMToken(ctx, f.a.as(f.a.owner), "Okta", hash("secret")))
			key := must[store.APIKey](t)(f.s.Accounts().CreateAPIKey(ctx, f.a.as(f.a.owner), store.APIKey{Name: "feed", Scopes: []string{store.ScopePeopleWrite}}, hash("key")))
			sc := store.APIKeyScope(f.a.org.ID, tok.ID)
			for _, other := range []store.Scope{f.a.as(f.a.owner), f.a.as(f.a.admin), store.APIKeyScope(f.a.org.ID, key.ID), f.a.kiosk()} {
				_, err := f.s.Provisioning().SCIMCreateUser(ctx, other, store.SCIMUser{UserName: "x@a.test"})
				if code := keycab.ErrorCode(err); code != keycab.EFORBIDDEN && code != keycab.EUNAUTHORIZED {
					t.Fatalf("a non-SCIM principal provisions: %v", err)
				}
				_, err = f.s.Provisioning().SCIMUsers(ctx, other)
				if code := keycab.ErrorCode(err); code != keycab.EFORBIDDEN && code != keycab.EUNAUTHORIZED {
					t.Fatalf("a non-SCIM principal lists SCIM users: %v", err)
				}
			}
			u := must[store.SCIMUser](t)(f.s.Provisioning().SCIMCreateUser(ctx, sc, store.SCIMUser{UserName: " Ann@A.test ", ExternalID: "x1", Member: keycab.Member{Name: "Ann", Email: "ann@a.test"}}))
			if u.UserName != "ann@a.test" || u.Role != keycab.RoleStaff || len(u.SiteIDs) != 0 {
				t.Fatalf("created %+v", u)
			}
			// Unique user names, and a member's email counts as one.
			_, err := f.s.Provisioning().SCIMCreateUser(ctx, sc, store.SCIMUser{UserName: "ANN@a.test"})
			wantCode(t, err, keycab.ECONFLICT)
			_, err = f.s.Provisioning().SCIMCreateUser(ctx, sc, store.SCIMUser{UserName: f.a.staff.Email})
			wantCode(t, err, keycab.ECONFLICT)
			// An owner is beyond it; an admin is not.
			_, err = f.s.Provisioning().SCIMReplaceUser(ctx, sc, f.a.owner.ID, store.SCIMUser{UserName: "o@a.test", Member: keycab.Member{Disabled: true}})
			wantCode(t, err, keycab.EFORBIDDEN)
			// Another organisation's member is the same miss as none.
			sameMiss(t, "member", func(id string) error {
				_, err := f.s.Provisioning().SCIMReplaceUser(ctx, sc, id, store.SCIMUser{UserName: "b@a.test"})
				return err
			}, f.b.staff.ID)
			sameMiss(t, "member", func(id string) error { return f.s.Provisioning().SCIMDeleteUser(ctx, sc, id) }, f.b.staff.ID)
			// Deactivated: disabled, out of the bundle, and in the log.
			u.Disabled = true
			must[store.SCIMUser](t)(f.s.Provisioning().SCIMReplaceUser(ctx, sc, u.ID, u))
			if m := must[keycab.Member](t)(f.s.GetMember(ctx, f.a.as(f.a.owner), u.ID)); !m.Disabled {
				t.Fatalf("not disabled: %+v", m)
			}
			log := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.a.as(f.a.owner), 10))
			// One transaction, one time: in either order.
			if acts := log[0].Action + " " + log[1].Action; (acts != "scim.user member.disable" && acts != "member.disable scim.user") ||
				log[0].ActorID != tok.ID || log[1].ActorID != tok.ID {
				t.Fatalf("admin log %+v", log[:2])
			}
			// Groups: a member of B is no member here.
			_, err = f.s.Provisioning().SCIMPutGroup(ctx, sc, "", store.SCIMGroup{GroupDetail: store.GroupDetail{Group: keycab.Group{Name: "G"}, MemberIDs: []string{f.b.staff.ID}}})
			wantCode(t, err, keycab.EINVALID)
			g := must[store.SCIMGroup](t)(f.s.Provisioning().SCIMPutGroup(ctx, sc, "", store.SCIMGroup{GroupDetail: store.GroupDetail{Group: keycab.Group{Name: "G"}, MemberIDs: []string{u.ID}}, ExternalID: "g1"}))
			if g.Kind != keycab.MemberGroup || g.SiteID != "" || len(g.MemberIDs) != 1 || g.ExternalID != "g1" {
				t.Fatalf("group %+v", g)
			}
			if gs := must[[]store.SCIMGroup](t)(f.s.Provisioning().SCIMGroups(ctx, sc)); len(gs) != 1 {
				t.Fatalf("groups %+v", gs)
			}
			bt := must[store.APIKey](t)(f.s.Provisioning().CreateSCIMToken(ctx, f.b.as(f.b.owner), "B", hash("b")))
			bsc := store.APIKeyScope(f.b.org.ID, bt.ID)
			sameMiss(t, "group", func(id string) error { return f.s.Provisioning().SCIMDeleteGroup(ctx, bsc, id) }, g.ID)
			for _, bu := range must[[]store.SCIMUser](t)(f.s.Provisioning().SCIMUsers(ctx, bsc)) {
				if bu.OrgID != f.b.org.ID || bu.ID == u.ID {
					t.Fatalf("B's token sees %+v", bu)
				}
			}
			must[keycab.Member](t)(keycab.Member{}, f.s.Provisioning().SCIMDeleteGroup(ctx, sc, g.ID))
			must[keycab.Member](t)(keycab.Member{}, f.s.Provisioning().SCIMDeleteUser(ctx, sc, u.ID))
			_, err = f.s.GetMember(ctx, f.a.as(f.a.owner), u.ID)
			wantCode(t, err, keycab.ENOTFOUND)
		}},
	}
}
