package auth

import (
	"context"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// API keys are read as kck_ORG.KEY.SECRET: the organisation and the key
// name the row (a tenant-bound read, as every read of an organisation's
// data), and the secret's hash must match the one stored. The secret is
// shown once, when the key is made, and never stored.

var errBadAPIKey = keycab.Errorf(keycab.EUNAUTHORIZED, "invalid API key")

// CreateAPIKey makes a key of the principal's organisation (owners and
// admins, signed in: a key cannot make keys) and returns it with its
// text, which is shown once.
func (s *Service) CreateAPIKey(ctx context.Context, p Principal, name string, scopes []string, expires time.Time) (store.APIKey, string, error) {
	if p.APIKey != nil {
		return store.APIKey{}, "", keycab.Errorf(keycab.EFORBIDDEN, "an API key cannot create API keys")
	}
	secret := newToken("")
	k, err := s.st.Accounts().CreateAPIKey(ctx, p.Scope(), store.APIKey{Name: name, Scopes: scopes, ExpiresAt: expires}, HashToken(secret))
	if err != nil {
		return k, "", err
	}
	return k, prefixAPIKey + k.OrgID + "." + k.ID + "." + secret, nil
}

// AuthenticateAPI returns the principal of a session's access token or
// of an API key: the JSON API takes both, the dashboard only sessions
// (Authenticate).
func (s *Service) AuthenticateAPI(ctx context.Context, access string) (Principal, error) {
	rest, ok := strings.CutPrefix(access, prefixAPIKey)
	if !ok {
		return s.Authenticate(ctx, access)
	}
	org, rest, ok1 := strings.Cut(rest, ".")
	id, secret, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || org == "" || id == "" || secret == "" {
		return Principal{}, errBadAPIKey
	}
	k, err := s.st.Accounts().AuthenticateAPIKey(ctx, org, id, HashToken(secret))
	if err != nil {
		if keycab.ErrorCode(err) == keycab.EUNAUTHORIZED {
			s.log.Warn("refused API key", "org", org, "key", id)
			return Principal{}, errBadAPIKey
		}
		return Principal{}, err
	}
	return Principal{OrgID: k.OrgID, MemberID: k.ID, APIKey: &k}, nil
}
