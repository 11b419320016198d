package store_test

import (
	"context"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// Signup makes the account, the organisation, its owner and their link in
// one transaction: an email that already has an account, or none at all,
// leaves no organisation behind, and a good signup links the account to
// its owner.
func TestSignupIsOneTransaction(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			dsn, _ := e.New(t)
			s := MustOpen(t, dsn)
			acct := &store.Account{Email: " Owner@Acme.test ", Name: "Ann", PasswordHash: "x"}
			org, owner, err := s.CreateOrg(ctx, store.NewOrg{Name: "Acme", Caps: defaultCaps(), Owner: keycab.Member{Name: "Ann"}, Account: acct})
			MustNoErr(t, err)
			if acct.ID == "" || acct.Email != "owner@acme.test" || owner.Email != "owner@acme.test" {
				t.Fatalf("account %+v, owner %+v", acct, owner)
			}
			ms, err := s.Accounts().Memberships(ctx, acct.ID)
			if err != nil || len(ms) != 1 || ms[0].OrgID != org.ID || ms[0].MemberID != owner.ID {
				t.Fatalf("memberships %+v %v", ms, err)
			}
			for name, a := range map[string]*store.Account{
				"taken email": {Email: "owner@acme.test", Name: "Eve"},
				"no email":    {Email: "  ", Name: "Nobody"},
			} {
				_, owner2, err := s.CreateOrg(ctx, store.NewOrg{Name: "Second " + name, Caps: defaultCaps(), Owner: keycab.Member{Name: a.Name}, Account: a})
				if err == nil {
					t.Fatalf("%s: signup succeeded", name)
				}
				// Nothing of the failed signup exists: its owner's scope
				// finds no organisation.
				if _, err := s.GetOrg(ctx, store.MemberScope(owner2.OrgID, owner2.ID)); err == nil {
					t.Fatalf("%s: the organisation of a failed signup exists", name)
				}
			}
			if ms, _ := s.Accounts().Memberships(ctx, acct.ID); len(ms) != 1 {
				t.Fatalf("the first account now has %d memberships", len(ms))
			}
		})
	}
}
