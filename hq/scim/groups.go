package scim

import (
	"net/http"

	"keycab.dev/keycab/hq/store"
)

// Group is a SCIM Group (RFC 7643 4.2): one of keycab's member groups,
// its members the Users in it.
type Group struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id,omitempty"`
	ExternalID  string      `json:"externalId,omitempty"`
	DisplayName string      `json:"displayName"`
	Members     []MemberRef `json:"members"`
	Meta        *Meta       `json:"meta,omitempty"`
}

// MemberRef names a member of a group.
type MemberRef struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
}

func groupOf(base string, g store.SCIMGroup) *Group {
	out := &Group{Schemas: []string{SchemaGroup}, ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.Name, Members: []MemberRef{},
		Meta: &Meta{ResourceType: "Group", Created: stamp(g.Created), LastModified: stamp(g.Modified), Location: base + "Groups/" + g.ID}}
	for _, m := range g.MemberIDs {
		out.Members = append(out.Members, MemberRef{Value: m, Ref: base + "Users/" + m, Type: "User"})
	}
	return out
}

func detailOf(in *Group) store.SCIMGroup {
	var g store.SCIMGroup
	g.Name, g.ExternalID = in.DisplayName, in.ExternalID
	g.MemberIDs = []string{}
	for _, m := range in.Members {
		g.MemberIDs = append(g.MemberIDs, m.Value)
	}
	return g
}

func (s *SCIM) listGroups(r *request) (any, error) {
	f, err := parseFilter(r.URL.Query().Get("filter"), groupAttrs)
	if err != nil {
		return nil, err
	}
	gs, err := s.Store.Provisioning().SCIMGroups(r.Context(), r.sc)
	if err != nil {
		return nil, err
	}
	var out []*Group
	for _, g := range gs {
		v := groupOf(r.base, g)
		if ok, err := f.matches(v); err != nil {
			return nil, err
		} else if ok {
			out = append(out, v)
		}
	}
	return paged(r.Request, out)
}

func (s *SCIM) createGroup(r *request) (any, error) {
	var in Group
	if err := decode(r.Request, &in, SchemaGroup); err != nil {
		return nil, err
	}
	g, err := s.Store.Provisioning().SCIMPutGroup(r.Context(), r.sc, "", detailOf(&in))
	if err != nil {
		return nil, err
	}
	return groupOf(r.base, g), nil
}

// group answers GET, PUT, PATCH and DELETE of /Groups/{id}.
func (s *SCIM) group(r *request, id string) (any, error) {
	var g store.SCIMGroup
	var err error
	switch r.Method {
	case "GET":
		g, err = s.Store.Provisioning().SCIMGroup(r.Context(), r.sc, id)
	case "PUT":
		var in Group
		if err := decode(r.Request, &in, SchemaGroup); err != nil {
			return nil, err
		}
		g, err = s.Store.Provisioning().SCIMPutGroup(r.Context(), r.sc, id, detailOf(&in))
	case "PATCH":
		var ops PatchOp
		if err := decode(r.Request, &ops, SchemaPatch); err != nil {
			return nil, err
		}
		g, err = s.Store.Provisioning().SCIMUpdateGroup(r.Context(), r.sc, id, func(g store.SCIMGroup) (store.SCIMGroup, error) {
			cur := groupOf(r.base, g)
			err := patchGroup(cur, ops)
			return detailOf(cur), err
		})
	case "DELETE":
		return nil, s.Store.Provisioning().SCIMDeleteGroup(r.Context(), r.sc, id)
	default:
		return nil, errorf(http.StatusMethodNotAllowed, "", "%s /Groups/{id}: GET, PUT, PATCH or DELETE", r.Method)
	}
	if err != nil {
		return nil, err
	}
	return groupOf(r.base, g), nil
}
