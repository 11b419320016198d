package auth

import (
	"context"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/passhash"
)

// Reauthenticate checks that the person behind a session is at the
// keyboard before an action that cannot be taken back (deleting the
// organisation): their password and, with MFA on, a TOTP code they have
// not used before. It counts against the account's sign-in rate limit,
// as a sign-in does.
func (s *Service) Reauthenticate(ctx context.Context, p Principal, password, code string) error {
	acct, err := s.st.Accounts().GetAccount(ctx, p.AccountID)
	if err != nil {
		return err
	}
	if err := s.limit(ctx, "login:account", acct.Email, s.cfg.Limits.LoginAccount); err != nil {
		return err
	}
	if acct.PasswordHash == "" {
		return keycab.Errorf(keycab.EFORBIDDEN, "set a password for your account first: this needs your password to confirm it")
	}
	if err := passhash.Verify(acct.PasswordHash, password); err != nil {
		s.log.Warn("failed re-authentication", "reason", "wrong password", "account", acct.ID)
		return keycab.Errorf(keycab.EUNAUTHORIZED, "wrong password")
	}
	if !acct.MFA {
		return nil
	}
	secret, _, err := s.st.Accounts().TOTPSecrets(ctx, acct.ID)
	if err != nil {
		return err
	}
	step, ok := CheckTOTP(secret, strings.TrimSpace(code), s.now())
	if !ok {
		s.log.Warn("failed re-authentication", "reason", "wrong code", "account", acct.ID)
		return keycab.Errorf(keycab.EUNAUTHORIZED, "wrong or missing authenticator code")
	}
	if err := s.st.Accounts().UseTOTPStep(ctx, acct.ID, step); err != nil {
		s.log.Warn("failed re-authentication", "reason", "code replayed", "account", acct.ID)
		return err
	}
	return nil
}
