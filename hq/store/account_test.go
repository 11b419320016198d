package store_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// Email verification and change through single-use tokens, on both
// engines: a token works once, applies only what it names, and a new
// address another account took meanwhile is refused with nothing
// changed.
func TestEmailTokens(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, e)
			acct := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "Ann@A.test"}))
			if acct.Verified() {
				t.Fatal("a new account is verified")
			}
			tok := func(purpose, email, hash string) {
				t.Helper()
				must[store.AuthToken](t)(f.s.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: []byte(hash), Purpose: purpose,
					AccountID: acct.ID, Email: email, ExpiresAt: time.Now().Add(time.Hour)}))
			}
			// A verification link for another address (the account's
			// before a change) does not verify it.
			tok(store.PurposeVerify, "old@a.test", "v0")
			_, _, err := f.s.Accounts().ConfirmEmail(ctx, store.PurposeVerify, []byte("v0"))
			wantCode(t, err, keycab.ENOTFOUND)
			tok(store.PurposeVerify, "ann@a.test", "v1")
			// The token is of its purpose only.
			_, _, err = f.s.Accounts().ConfirmEmail(ctx, store.PurposeEmail, []byte("v1"))
			wantCode(t, err, keycab.ENOTFOUND)
			before, after, err := f.s.Accounts().ConfirmEmail(ctx, store.PurposeVerify, []byte("v1"))
			MustNoErr(t, err)
			if before.Verified() || !after.Verified() || after.Email != "ann@a.test" {
				t.Fatalf("verify: %+v -> %+v", before, after)
			}
			_, _, err = f.s.Accounts().ConfirmEmail(ctx, store.PurposeVerify, []byte("v1"))
			wantCode(t, err, keycab.ENOTFOUND) // single use

			// A change of address: the old one works until the link is
			// opened; then the new one does, and the old links die.
			tok(store.PurposeEmail, "ann@new.test", "e1")
			tok(store.PurposeReset, "ann@a.test", "r1")
			must[store.Account](t)(f.s.Accounts().AccountByEmail(ctx, "ann@a.test"))
			before, after, err = f.s.Accounts().ConfirmEmail(ctx, store.PurposeEmail, []byte("e1"))
			MustNoErr(t, err)
			if before.Email != "ann@a.test" || after.Email != "ann@new.test" || !after.Verified() {
				t.Fatalf("change: %+v -> %+v", before, after)
			}
			_, err = f.s.Accounts().AccountByEmail(ctx, "ann@a.test")
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.Accounts().UseAuthToken(ctx, store.PurposeReset, []byte("r1"))
			wantCode(t, err, keycab.ENOTFOUND)

			// A new address taken by another account meanwhile: refused,
			// and the link still works once the address is free.
			tok(store.PurposeEmail, "taken@a.test", "e2")
			other := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "taken@a.test"}))
			_, _, err = f.s.Accounts().ConfirmEmail(ctx, store.PurposeEmail, []byte("e2"))
			wantCode(t, err, keycab.ECONFLICT)
			if a := must[store.Account](t)(f.s.Accounts().GetAccount(ctx, acct.ID)); a.Email != "ann@new.test" {
				t.Fatalf("a refused change changed the address to %s", a.Email)
			}
			if o := must[store.Account](t)(f.s.Accounts().GetAccount(ctx, other.ID)); o.Email != "taken@a.test" {
				t.Fatalf("the other account's address is %s", o.Email)
			}
			_, err = f.s.Accounts().PeekAuthToken(ctx, store.PurposeEmail, []byte("e2"))
			MustNoErr(t, err)

			// MarkVerified: idempotent; an unknown account is ENOTFOUND.
			MustNoErr(t, f.s.Accounts().MarkVerified(ctx, other.ID))
			MustNoErr(t, f.s.Accounts().MarkVerified(ctx, other.ID))
			wantCode(t, f.s.Accounts().MarkVerified(ctx, "acc_nonesuch"), keycab.ENOTFOUND)
		})
	}
}

// Recovery codes on both engines: stored as given (hashes), each used
// once, only by its account, replaced on regeneration, gone with MFA.
func TestRecoveryCodes(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, e)
			a := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "a@a.test"}))
			b := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "b@a.test"}))
			wantCode(t, f.s.Accounts().SetRecoveryCodes(ctx, a.ID, [][]byte{[]byte("x")}), keycab.EINVALID) // no MFA yet
			MustNoErr(t, f.s.Accounts().SetPendingTOTP(ctx, a.ID, []byte("secret a")))
			MustNoErr(t, f.s.Accounts().EnableTOTP(ctx, a.ID, 1, [][]byte{[]byte("c1"), []byte("c2")}))
			if n := must[int](t)(f.s.Accounts().RecoveryCodesLeft(ctx, a.ID)); n != 2 {
				t.Fatalf("%d codes left, want 2", n)
			}
			wantCode(t, f.s.Accounts().UseRecoveryCode(ctx, b.ID, []byte("c1")), keycab.EUNAUTHORIZED) // not b's
			MustNoErr(t, f.s.Accounts().UseRecoveryCode(ctx, a.ID, []byte("c1")))
			wantCode(t, f.s.Accounts().UseRecoveryCode(ctx, a.ID, []byte("c1")), keycab.EUNAUTHORIZED) // used
			wantCode(t, f.s.Accounts().UseRecoveryCode(ctx, a.ID, []byte("c3")), keycab.EUNAUTHORIZED) // unknown
			// Racing uses of one code: exactly one wins.
			MustNoErr(t, f.s.Accounts().SetRecoveryCodes(ctx, a.ID, [][]byte{[]byte("d1")}))
			wantCode(t, f.s.Accounts().UseRecoveryCode(ctx, a.ID, []byte("c2")), keycab.EUNAUTHORIZED) // replaced
			won := 0
			for _, err := range race(8, func(int) error { return f.s.Accounts().UseRecoveryCode(ctx, a.ID, []byte("d1")) }) {
				if err == nil {
					won++
				} else if keycab.ErrorCode(err) != keycab.EUNAUTHORIZED {
					t.Errorf("racing use: %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d racing uses of one code won", won)
			}
			MustNoErr(t, f.s.Accounts().SetRecoveryCodes(ctx, a.ID, [][]byte{[]byte("e1")}))
			MustNoErr(t, f.s.Accounts().DisableTOTP(ctx, a.ID))
			if acct := must[store.Account](t)(f.s.Accounts().GetAccount(ctx, a.ID)); acct.MFA {
				t.Fatal("MFA still on")
			}
			if n := must[int](t)(f.s.Accounts().RecoveryCodesLeft(ctx, a.ID)); n != 0 {
				t.Fatalf("%d codes left after MFA off", n)
			}
			wantCode(t, f.s.Accounts().UseRecoveryCode(ctx, a.ID, []byte("e1")), keycab.EUNAUTHORIZED)
		})
	}
}

// The standing SessionByAccess reports: verification, MFA, role and the
// organisation's rule, read afresh on every lookup.
func TestSessionStanding(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, e)
			acct := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "admin@a.test"}))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, acct.ID, f.a.org.ID, f.a.admin.ID))
			must[store.Session](t)(f.s.Accounts().CreateSession(ctx, store.Session{AccountID: acct.ID, OrgID: f.a.org.ID, MemberID: f.a.admin.ID,
				AccessHash: []byte("acc"), RefreshHash: []byte("ref"), ExpiresAt: time.Now().Add(time.Hour),
				UserAgent: "Mozilla/5.0 \x00\n(X11)", IP: "192.0.2.7"}))
			ss := must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, []byte("acc")))
			if st := ss.Standing; st.Verified || st.MFA || st.Role != keycab.RoleAdmin || st.RequireMFA || st.NeedsMFA() {
				t.Fatalf("standing %+v", st)
			}
			if ss.UserAgent != "Mozilla/5.0   (X11)" || ss.IP != "192.0.2.7" {
				t.Fatalf("client %q %q", ss.UserAgent, ss.IP)
			}
			MustNoErr(t, f.s.Accounts().MarkVerified(ctx, acct.ID))
			mustMFAAccount(t, f, f.a, f.a.owner)
			MustNoErr(t, f.s.Accounts().SetRequireMFA(ctx, f.a.as(f.a.owner), true))
			ss = must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, []byte("acc")))
			if st := ss.Standing; !st.Verified || !st.RequireMFA || !st.NeedsMFA() {
				t.Fatalf("standing %+v", st)
			}
			MustNoErr(t, f.s.Accounts().SetPendingTOTP(ctx, acct.ID, []byte("secret")))
			MustNoErr(t, f.s.Accounts().EnableTOTP(ctx, acct.ID, 1, nil))
			if st := must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, []byte("acc"))).Standing; !st.MFA || st.NeedsMFA() {
				t.Fatalf("standing %+v", st)
			}
			// The rule is of owners and admins: staff are not sent to enrolment.
			if (store.Standing{Verified: true, Role: keycab.RoleStaff, RequireMFA: true}).NeedsMFA() {
				t.Fatal("staff sent to MFA enrolment")
			}
		})
	}
}

// mustMFAAccount links a new account with MFA on (and one recovery code,
// "code <member id>") to member m of tn.
func mustMFAAccount(t *testing.T, f *fixture, tn tenant, m keycab.Member) store.Account {
	t.Helper()
	ctx := context.Background()
	a := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: m.ID + "@x.test"}))
	MustNoErr(t, f.s.Accounts().LinkMember(ctx, a.ID, tn.org.ID, m.ID))
	MustNoErr(t, f.s.Accounts().SetPendingTOTP(ctx, a.ID, []byte("secret")))
	MustNoErr(t, f.s.Accounts().EnableTOTP(ctx, a.ID, 1, [][]byte{[]byte("code " + m.ID)}))
	return a
}
