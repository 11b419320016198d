package auth

import (
	"context"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// The account's mail (verification, sign-in links, password reset, a
// change of address) is in the language of the account's first member
// that has one of its own (internal/i18n), else en-GB; an invitation is
// in the invited address's account's language, else that of the one
// site it is for, else en-GB.

// accountLanguage is the Localizer of the account's mail.
func (s *Service) accountLanguage(ctx context.Context, accountID string) (*i18n.Localizer, error) {
	lang, err := s.memberLanguage(ctx, accountID)
	return i18n.For(lang), err
}

// memberLanguage is the language of the account's first member that has
// one of its own, or "".
func (s *Service) memberLanguage(ctx context.Context, accountID string) (string, error) {
	ms, err := s.st.Accounts().Memberships(ctx, accountID)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		mem, err := s.st.GetMember(ctx, store.MemberScope(m.OrgID, m.MemberID), m.MemberID)
		if err != nil {
			if c := keycab.ErrorCode(err); c == keycab.ENOTFOUND || c == keycab.EUNAUTHORIZED {
				continue // disabled, erased, or the organisation is being deleted
			}
			return "", err
		}
		if mem.Language != "" {
			return mem.Language, nil
		}
	}
	return "", nil
}

// inviteLanguage is the Localizer of an invitation to email for sites,
// sent by p.
func (s *Service) inviteLanguage(ctx context.Context, p Principal, email string, sites []string) (*i18n.Localizer, error) {
	var own, site string
	if acct, err := s.st.Accounts().AccountByEmail(ctx, email); err == nil {
		if own, err = s.memberLanguage(ctx, acct.ID); err != nil {
			return nil, err
		}
	} else if keycab.ErrorCode(err) != keycab.ENOTFOUND {
		return nil, err
	}
	if len(sites) == 1 {
		st, err := s.st.GetSite(ctx, p.Scope(), sites[0])
		if err != nil {
			return nil, err
		}
		site = st.Language
	}
	return i18n.For(own, site), nil
}

// paragraphs joins a mail's paragraphs with a blank line between them and
// ends it with a newline.
func paragraphs(ps ...string) string { return strings.Join(ps, "\n\n") + "\n" }
