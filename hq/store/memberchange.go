package store

import (
	"context"

	"keycab.dev/keycab"
)

// UpdateMember changes a member's site scope and role together, in one
// transaction: the sites first, then the role, each under the rules of
// SetMemberSites and SetMemberRole (the role checked against the new
// sites). Either both change or neither does. A nil argument leaves that
// field as it is.
func (s *Store) UpdateMember(ctx context.Context, sc Scope, memberID string, role *keycab.Role, siteIDs *[]string) error {
	return s.write(ctx, "update member "+memberID, sc, func(ctx context.Context, t *tx) error {
		if siteIDs != nil {
			if err := t.setMemberSites(ctx, memberID, *siteIDs); err != nil {
				return err
			}
		}
		if role != nil {
			return t.setMemberRole(ctx, memberID, *role)
		}
		return nil
	})
}
