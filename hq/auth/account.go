package auth

import (
	"context"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/passhash"
)

// Account hygiene (issue 15 item 6): email verification at signup and on
// a change of address, re-authentication for MFA changes, recovery
// codes, an admin's MFA reset, the organisation's MFA rule, and the list
// of one's sessions.

// sendVerify mails acct a link that verifies its address.
func (s *Service) sendVerify(ctx context.Context, acct store.Account) error {
	tok := newToken(prefixVerify)
	if _, err := s.st.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: HashToken(tok), Purpose: store.PurposeVerify,
		AccountID: acct.ID, Email: acct.Email, ExpiresAt: s.now().Add(s.cfg.VerifyTTL)}); err != nil {
		return err
	}
	l, err := s.accountLanguage(ctx, acct.ID)
	if err != nil {
		return err
	}
	return s.send(ctx, mail.Message{Kind: "verify", To: acct.Email, Subject: l.T("mail.verify.subject"),
		Body: paragraphs(l.T("mail.verify.intro", "TTL", l.Duration(s.cfg.VerifyTTL)), s.link("/verify", tok), l.T("mail.verify.outro"))})
}

// ResendVerification sends the principal's unverified account a new
// verification link; earlier links stop working. It is rate-limited per
// IP and per address, as reset links are.
func (s *Service) ResendVerification(ctx context.Context, p Principal, ip string) error {
	acct, err := s.st.Accounts().GetAccount(ctx, p.AccountID)
	if err != nil {
		return err
	}
	if err := s.limit(ctx, "email:ip", ip, s.cfg.Limits.EmailIP); err != nil {
		return err
	}
	if err := s.limit(ctx, "email:account", acct.Email, s.cfg.Limits.EmailAccount); err != nil {
		return err
	}
	if acct.Verified() {
		return keycab.Errorf(keycab.ECONFLICT, "your email address is verified already")
	}
	if err := s.st.Accounts().RevokeAuthTokens(ctx, acct.ID, store.PurposeVerify); err != nil {
		return err
	}
	return s.sendVerify(ctx, acct)
}

// ConfirmEmail applies a verification link's token, once: the signup
// address becomes verified, or a new address replaces the account's
// (and the old address is told). No session is needed: the link may be
// opened anywhere. A used, expired or unknown token is ENOTFOUND.
func (s *Service) ConfirmEmail(ctx context.Context, token, ip string) (store.Account, error) {
	if err := s.limit(ctx, "login:ip", ip, s.cfg.Limits.LoginIP); err != nil {
		return store.Account{}, err
	}
	purpose := store.PurposeVerify
	if strings.HasPrefix(token, prefixEmail) {
		purpose = store.PurposeEmail
	}
	before, after, err := s.st.Accounts().ConfirmEmail(ctx, purpose, HashToken(strings.TrimSpace(token)))
	if err != nil {
		s.log.Warn("failed email verification", "reason", keycab.ErrorMessage(err), "ip", ip)
		return store.Account{}, err
	}
	if purpose == store.PurposeEmail {
		s.log.Info("email address changed", "account", after.ID)
		l, err := s.accountLanguage(ctx, after.ID)
		if err != nil {
			return after, err
		}
		return after, s.send(ctx, mail.Message{Kind: "email-changed", To: before.Email, Subject: l.T("mail.email_changed.subject"),
			Body: paragraphs(l.T("mail.email_changed.intro", "Email", after.Email), l.T("mail.email_changed.outro", "Link", s.BaseURL()+"/reset"))})
	}
	s.log.Info("email address verified", "account", after.ID)
	return after, nil
}

// ChangeEmail starts a change of the principal's address to email, after
// checking the password: a link goes to the new address, and a notice to
// the old one. The old address keeps working until the link is opened
// (ConfirmEmail). Rate-limited like reset links.
func (s *Service) ChangeEmail(ctx context.Context, p Principal, email, password, ip string) error {
	acct, err := s.st.Accounts().GetAccount(ctx, p.AccountID)
	if err != nil {
		return err
	}
	if err := s.checkPassword(ctx, acct, password); err != nil {
		return err
	}
	email = store.NormalizeEmail(email)
	switch {
	case !strings.Contains(email, "@") || !keycab.Printable(email):
		return keycab.Errorf(keycab.EINVALID, "a new email address is needed")
	case email == acct.Email:
		return keycab.Errorf(keycab.EINVALID, "this is your address already")
	}
	if _, err := s.st.Accounts().AccountByEmail(ctx, email); err == nil {
		return keycab.Errorf(keycab.ECONFLICT, "another account uses this address")
	} else if keycab.ErrorCode(err) != keycab.ENOTFOUND {
		return err
	}
	// The mail limits count what is sent: per IP, per account and per
	// new address.
	if err := s.limit(ctx, "email:ip", ip, s.cfg.Limits.EmailIP); err != nil {
		return err
	}
	if err := s.limit(ctx, "email:account", acct.Email, s.cfg.Limits.EmailAccount); err != nil {
		return err
	}
	if err := s.limit(ctx, "email:account", email, s.cfg.Limits.EmailAccount); err != nil {
		return err
	}
	if err := s.st.Accounts().RevokeAuthTokens(ctx, acct.ID, store.PurposeEmail); err != nil {
		return err
	}
	tok := newToken(prefixEmail)
	if _, err := s.st.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: HashToken(tok), Purpose: store.PurposeEmail,
		AccountID: acct.ID, Email: email, ExpiresAt: s.now().Add(s.cfg.VerifyTTL)}); err != nil {
		return err
	}
	l, err := s.accountLanguage(ctx, acct.ID)
	if err != nil {
		return err
	}
	if err := s.send(ctx, mail.Message{Kind: "email-change", To: email, Subject: l.T("mail.email_change.subject"),
		Body: paragraphs(l.T("mail.email_change.intro", "TTL", l.Duration(s.cfg.VerifyTTL)), s.link("/verify", tok), l.T("mail.ignore"))}); err != nil {
		return err
	}
	s.log.Info("email change requested", "account", acct.ID)
	return s.send(ctx, mail.Message{Kind: "email-change-notice", To: acct.Email, Subject: l.T("mail.email_change_notice.subject"),
		Body: paragraphs(l.T("mail.email_change_notice.intro", "Email", email), l.T("mail.email_change_notice.outro"))})
}

// checkPassword checks the account's current password (re-authentication),
// counted against the account's sign-in limit.
func (s *Service) checkPassword(ctx context.Context, acct store.Account, password string) error {
	if err := s.limit(ctx, "login:account", acct.Email, s.cfg.Limits.LoginAccount); err != nil {
		return err
	}
	if acct.PasswordHash == "" {
		passhash.Verify(s.dummy, password)
		return keycab.Errorf(keycab.EFORBIDDEN, "this account has no password: set one first")
	}
	if err := passhash.Verify(acct.PasswordHash, password); err != nil {
		s.log.Warn("failed re-authentication", "reason", "wrong password", "account", acct.ID)
		return keycab.Errorf(keycab.EFORBIDDEN, "the password is wrong")
	}
	return nil
}

// reauthMFA checks the password and a second factor (a TOTP code or a
// recovery code, used up) of an account with MFA on.
func (s *Service) reauthMFA(ctx context.Context, p Principal, password, code string) (store.Account, error) {
	acct, err := s.st.Accounts().GetAccount(ctx, p.AccountID)
	if err != nil {
		return acct, err
	}
	if !acct.MFA {
		return acct, keycab.Errorf(keycab.ECONFLICT, "MFA is off")
	}
	if err := s.checkPassword(ctx, acct, password); err != nil {
		return acct, err
	}
	if err := s.secondFactor(ctx, acct.ID, code); keycab.ErrorCode(err) == keycab.EINTERNAL {
		return acct, err
	} else if err != nil {
		s.log.Warn("failed re-authentication", "reason", keycab.ErrorMessage(err), "account", acct.ID)
		return acct, keycab.Errorf(keycab.EFORBIDDEN, "%s", err)
	}
	return acct, nil
}

// DisableMFA turns the principal's MFA off, with re-authentication: the
// password and a current TOTP code or a recovery code.
func (s *Service) DisableMFA(ctx context.Context, p Principal, password, code string) error {
	if _, err := s.reauthMFA(ctx, p, password, code); err != nil {
		return err
	}
	if err := s.st.Accounts().DisableTOTP(ctx, p.AccountID); err != nil {
		return err
	}
	s.log.Info("mfa disabled", "account", p.AccountID)
	return nil
}

// RegenerateRecoveryCodes replaces the principal's recovery codes, with
// re-authentication, and returns the new ones (shown once).
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p Principal, password, code string) ([]string, error) {
	if _, err := s.reauthMFA(ctx, p, password, code); err != nil {
		return nil, err
	}
	codes, hashes := newRecoveryCodes(p.AccountID)
	if err := s.st.Accounts().SetRecoveryCodes(ctx, p.AccountID, hashes); err != nil {
		return nil, err
	}
	s.log.Info("recovery codes regenerated", "account", p.AccountID)
	return codes, nil
}

// RecoveryCodesLeft returns how many unused recovery codes the principal
// has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, p Principal) (int, error) {
	return s.st.Accounts().RecoveryCodesLeft(ctx, p.AccountID)
}

// ResetMemberMFA turns off the MFA of another member of the principal's
// organisation (store.ResetMemberMFA says who may), in the admin log.
func (s *Service) ResetMemberMFA(ctx context.Context, p Principal, memberID string) error {
	if err := s.st.Accounts().ResetMemberMFA(ctx, p.Scope(), memberID); err != nil {
		if c := keycab.ErrorCode(err); c == keycab.EFORBIDDEN || c == keycab.ENOTFOUND {
			s.log.Warn("denied mfa reset", "reason", keycab.ErrorMessage(err), "account", p.AccountID, "org", p.OrgID, "member", memberID)
		}
		return err
	}
	s.log.Warn("mfa reset by an admin", "account", p.AccountID, "org", p.OrgID, "member", memberID)
	return nil
}

// SetRequireMFA sets the organisation's rule that owners and admins have
// MFA (store.SetRequireMFA says who may).
func (s *Service) SetRequireMFA(ctx context.Context, p Principal, on bool) error {
	if err := s.st.Accounts().SetRequireMFA(ctx, p.Scope(), on); err != nil {
		return err
	}
	s.log.Info("org mfa rule set", "account", p.AccountID, "org", p.OrgID, "require_mfa", on)
	return nil
}

// SessionInfo is one of an account's signed-in logins.
type SessionInfo struct {
	ID        string // the login (family): the same across refreshes
	OrgID     string
	CreatedAt time.Time
	LastUsed  time.Time
	ExpiresAt time.Time
	UserAgent string
	IP        string
	Current   bool // the login the request came with
}

// Sessions returns the principal's account's live logins, in every
// organisation, newest first.
func (s *Service) Sessions(ctx context.Context, p Principal) ([]SessionInfo, error) {
	all, err := s.st.Accounts().AccountSessions(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	out := []SessionInfo{}
	for _, ss := range all {
		if s.live(ss) != nil {
			continue
		}
		out = append(out, SessionInfo{ID: ss.FamilyID, OrgID: ss.OrgID, CreatedAt: ss.CreatedAt, LastUsed: ss.LastUsed,
			ExpiresAt: ss.ExpiresAt, UserAgent: ss.UserAgent, IP: ss.IP, Current: ss.FamilyID == p.FamilyID})
	}
	return out, nil
}

// RevokeSession signs out one of the principal's account's logins; a
// login of another account is ENOTFOUND.
func (s *Service) RevokeSession(ctx context.Context, p Principal, id string) error {
	if err := s.st.Accounts().RevokeAccountFamily(ctx, p.AccountID, id); err != nil {
		if keycab.ErrorCode(err) == keycab.ENOTFOUND {
			s.log.Warn("denied session sign-out", "reason", "not a session of this account", "account", p.AccountID)
		}
		return err
	}
	s.log.Info("session signed out", "account", p.AccountID)
	return nil
}
