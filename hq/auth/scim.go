package auth

import (
	"context"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// SCIM tokens are read as kcs_ORG.TOKEN.SECRET, as API keys are (the
// store keeps them as API keys of their own kind, store/scim.go): the
// secret is shown once, when the token is made, and never stored.

var errBadSCIMToken = keycab.Errorf(keycab.EUNAUTHORIZED, "invalid SCIM token")

// CreateSCIMToken makes a SCIM token of the principal's organisation
// (owners and admins, signed in) and returns it with its text, which is
// shown once.
func (s *Service) CreateSCIMToken(ctx context.Context, p Principal, name string) (store.APIKey, string, error) {
	if p.APIKey != nil {
		return store.APIKey{}, "", keycab.Errorf(keycab.EFORBIDDEN, "an API key cannot create SCIM tokens")
	}
	secret := newToken("")
	k, err := s.st.Provisioning().CreateSCIMToken(ctx, p.Scope(), name, HashToken(secret))
	if err != nil {
		return k, "", err
	}
	return k, prefixSCIM + k.OrgID + "." + k.ID + "." + secret, nil
}

// AuthenticateSCIM returns the principal of a SCIM token, and nothing
// else: neither a session nor an API key is taken.
func (s *Service) AuthenticateSCIM(ctx context.Context, token string) (Principal, error) {
	rest, ok := strings.CutPrefix(token, prefixSCIM)
	org, rest, ok1 := strings.Cut(rest, ".")
	id, secret, ok2 := strings.Cut(rest, ".")
	if !ok || !ok1 || !ok2 || org == "" || id == "" || secret == "" {
		return Principal{}, errBadSCIMToken
	}
	k, err := s.st.Provisioning().AuthenticateSCIMToken(ctx, org, id, HashToken(secret))
	if err != nil {
		if keycab.ErrorCode(err) == keycab.EUNAUTHORIZED {
			s.log.Warn("refused SCIM token", "org", org, "token", id)
			return Principal{}, errBadSCIMToken
		}
		return Principal{}, err
	}
	return Principal{OrgID: k.OrgID, MemberID: k.ID, APIKey: &k}, nil
}
