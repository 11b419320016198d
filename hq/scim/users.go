package scim

import (
	"net/http"
	"strings"
	"time"

	"keycab.dev/keycab/hq/store"
)

// User is a SCIM User (RFC 7643 4.1) as keycab keeps it: a member's
// userName, one name (name.formatted and displayName are the same),
// one email, externalId, active (a member not disabled) and the member
// groups they are in (read-only here: membership is changed on Groups).
type User struct {
	Schemas     []string   `json:"schemas"`
	ID          string     `json:"id,omitempty"`
	ExternalID  string     `json:"externalId,omitempty"`
	UserName    string     `json:"userName"`
	Name        *Name      `json:"name,omitempty"`
	DisplayName string     `json:"displayName,omitempty"`
	Emails      []Email    `json:"emails,omitempty"`
	Active      *bool      `json:"active,omitempty"`
	Groups      []GroupRef `json:"groups,omitempty"`
	Meta        *Meta      `json:"meta,omitempty"`
}

// Name is a user's name; keycab keeps it as one text.
type Name struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Email is one of a user's addresses; keycab keeps the primary one (or
// the first).
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// GroupRef names a group a user is in.
type GroupRef struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// userOf is the SCIM form of u; names maps group ids to names.
func userOf(base string, u store.SCIMUser, names map[string]string) *User {
	active := !u.Disabled
	out := &User{Schemas: []string{SchemaUser}, ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName,
		DisplayName: u.Name, Active: &active,
		Meta: &Meta{ResourceType: "User", Created: stamp(u.Created), LastModified: stamp(u.Modified), Location: base + "Users/" + u.ID}}
	if u.Name != "" {
		out.Name = &Name{Formatted: u.Name}
		if given, family, ok := strings.Cut(u.Name, " "); ok {
			out.Name.GivenName, out.Name.FamilyName = given, family
		}
	}
	if u.Email != "" {
		out.Emails = []Email{{Value: u.Email, Type: "work", Primary: true}}
	}
	for _, g := range u.Groups {
		out.Groups = append(out.Groups, GroupRef{Value: g, Ref: base + "Groups/" + g, Display: names[g]})
	}
	return out
}

// memberOf is what the store sets from a SCIM User.
func memberOf(in *User) store.SCIMUser {
	var u store.SCIMUser
	u.UserName, u.ExternalID = in.UserName, in.ExternalID
	u.Name = in.DisplayName
	if in.Name != nil {
		if u.Name == "" {
			u.Name = in.Name.Formatted
		}
		if u.Name == "" {
			u.Name = strings.TrimSpace(in.Name.GivenName + " " + in.Name.FamilyName)
		}
	}
	for i, e := range in.Emails {
		if i == 0 || e.Primary {
			u.Email = e.Value
		}
		if e.Primary {
			break
		}
	}
	if u.Email == "" && strings.Contains(in.UserName, "@") {
		u.Email = in.UserName
	}
	if u.Name == "" {
		u.Name = in.UserName
	}
	u.Disabled = in.Active != nil && !*in.Active
	return u
}

// groupNames maps the organisation's member groups' ids to their names.
func (s *SCIM) groupNames(r *request) (map[string]string, error) {
	gs, err := s.Store.Provisioning().SCIMGroups(r.Context(), r.sc)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, g := range gs {
		names[g.ID] = g.Name
	}
	return names, nil
}

func (s *SCIM) listUsers(r *request) (any, error) {
	f, err := parseFilter(r.URL.Query().Get("filter"), userAttrs)
	if err != nil {
		return nil, err
	}
	us, err := s.Store.Provisioning().SCIMUsers(r.Context(), r.sc)
	if err != nil {
		return nil, err
	}
	names, err := s.groupNames(r)
	if err != nil {
		return nil, err
	}
	var out []*User
	for _, u := range us {
		v := userOf(r.base, u, names)
		if ok, err := f.matches(v); err != nil {
			return nil, err
		} else if ok {
			out = append(out, v)
		}
	}
	return paged(r.Request, out)
}

func (s *SCIM) createUser(r *request) (any, error) {
	var in User
	if err := decode(r.Request, &in, SchemaUser); err != nil {
		return nil, err
	}
	u, err := s.Store.Provisioning().SCIMCreateUser(r.Context(), r.sc, memberOf(&in))
	if err != nil {
		return nil, err
	}
	return userOf(r.base, u, nil), nil
}

// user answers GET, PUT, PATCH and DELETE of /Users/{id}.
func (s *SCIM) user(r *request, id string) (any, error) {
	var u store.SCIMUser
	var err error
	switch r.Method {
	case "GET":
		u, err = s.Store.Provisioning().SCIMUser(r.Context(), r.sc, id)
	case "PUT":
		var in User
		if err := decode(r.Request, &in, SchemaUser); err != nil {
			return nil, err
		}
		u, err = s.Store.Provisioning().SCIMUpdateUser(r.Context(), r.sc, id, func(cur store.SCIMUser) (store.SCIMUser, error) {
			next := memberOf(&in)
			if in.Active == nil {
				// A PUT without active keeps it as it is: a deactivated
				// member is not enabled by an IdP leaving it out.
				next.Disabled = cur.Disabled
			}
			return next, nil
		})
	case "PATCH":
		var ops PatchOp
		if err := decode(r.Request, &ops, SchemaPatch); err != nil {
			return nil, err
		}
		u, err = s.Store.Provisioning().SCIMUpdateUser(r.Context(), r.sc, id, func(u store.SCIMUser) (store.SCIMUser, error) {
			cur := userOf(r.base, u, nil)
			err := patchUser(cur, ops)
			return memberOf(cur), err
		})
	case "DELETE":
		return nil, s.Store.Provisioning().SCIMDeleteUser(r.Context(), r.sc, id)
	default:
		return nil, errorf(http.StatusMethodNotAllowed, "", "%s /Users/{id}: GET, PUT, PATCH or DELETE", r.Method)
	}
	if err != nil {
		return nil, err
	}
	names, err := s.groupNames(r)
	if err != nil {
		return nil, err
	}
	return userOf(r.base, u, names), nil
}
