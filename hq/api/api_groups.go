package api

import (
	"net/http"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// The group endpoints: member groups, key-set groups and the access
// rules between them (store.CreateGroup and the rest).

// GroupRequest creates a group.
type GroupRequest struct {
	Kind   keycab.GroupKind `json:"kind" doc:"members or key_sets"`
	Name   string           `json:"name"`
	SiteID string           `json:"site_id,omitempty" doc:"scope the group to one site; absent: organisation-wide (owners and admins)"`
}

// Group is a group with what it holds.
type Group struct {
	ID        string           `json:"id"`
	Kind      keycab.GroupKind `json:"kind"`
	Name      string           `json:"name"`
	SiteID    string           `json:"site_id" doc:"empty: organisation-wide"`
	MemberIDs []string         `json:"member_ids" doc:"a member group's members"`
	KeySetIDs []string         `json:"key_set_ids" doc:"a key-set group's key sets"`
}

func groupOf(g store.GroupDetail) Group {
	return Group{ID: g.ID, Kind: g.Kind, Name: g.Name, SiteID: g.SiteID, MemberIDs: nonNil(g.MemberIDs), KeySetIDs: nonNil(g.KeySetIDs)}
}

// GroupList is GET /v1/groups.
type GroupList struct {
	Groups []Group `json:"groups"`
}

// GroupEntriesRequest replaces what a group holds.
type GroupEntriesRequest struct {
	IDs []string `json:"ids" doc:"member ids for a member group, key set ids for a key-set group"`
}

// AccessRuleRequest lets a member group take a key-set group's key sets.
type AccessRuleRequest struct {
	MemberGroupID string   `json:"member_group_id"`
	KeySetGroupID string   `json:"key_set_group_id"`
	Schedule      []Window `json:"schedule,omitempty" doc:"when; absent or empty: any time"`
}

// AccessRule is one access rule.
type AccessRule struct {
	ID            string   `json:"id"`
	MemberGroupID string   `json:"member_group_id"`
	KeySetGroupID string   `json:"key_set_group_id"`
	Schedule      []Window `json:"schedule"`
}

func accessRuleOf(r keycab.AccessRule) AccessRule {
	return AccessRule{ID: r.ID, MemberGroupID: r.MemberGroupID, KeySetGroupID: r.KeySetGroupID, Schedule: windowsOf(r.Schedule)}
}

// AccessRuleList is GET /v1/access-rules.
type AccessRuleList struct {
	Rules []AccessRule `json:"rules"`
}

// Decision is GET /v1/members/{id}/may-take/{key_set}: whether the
// member may take the key set now, decided as a kiosk would.
type Decision struct {
	Allowed   bool   `json:"allowed"`
	Reason    string `json:"reason" doc:"why not, in the words the kiosk shows"`
	NeedsPIN  bool   `json:"needs_pin"`
	Approvers int    `json:"approvers" doc:"authorised members who must confirm besides the taker"`
}

func (s *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	gs, err := s.Store.ListGroups(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := GroupList{Groups: []Group{}}
	for _, g := range gs {
		out.Groups = append(out.Groups, groupOf(g))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.Store.GetGroup(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, groupOf(g))
	return nil
}

func (s *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	var in GroupRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	g, err := s.Store.CreateGroup(r.Context(), principalOf(r.Context()).Scope(), keycab.Group{Kind: in.Kind, Name: in.Name, SiteID: in.SiteID})
	if err != nil {
		return err
	}
	created(w, groupOf(store.GroupDetail{Group: g}))
	return nil
}

func (s *API) setGroupEntries(w http.ResponseWriter, r *http.Request) error {
	var in GroupEntriesRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	ctx, sc, id := r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")
	if err := s.Store.SetGroupEntries(ctx, sc, id, in.IDs); err != nil {
		return err
	}
	g, err := s.Store.GetGroup(ctx, sc, id)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, groupOf(g))
	return nil
}

func (s *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteGroup(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) listAccessRules(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.Store.ListAccessRules(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := AccessRuleList{Rules: []AccessRule{}}
	for _, ar := range rs {
		out.Rules = append(out.Rules, accessRuleOf(ar))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) createAccessRule(w http.ResponseWriter, r *http.Request) error {
	var in AccessRuleRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	sched, err := scheduleOf(in.Schedule)
	if err != nil {
		return err
	}
	ar, err := s.Store.CreateAccessRule(r.Context(), principalOf(r.Context()).Scope(),
		keycab.AccessRule{MemberGroupID: in.MemberGroupID, KeySetGroupID: in.KeySetGroupID, Schedule: sched})
	if err != nil {
		return err
	}
	created(w, accessRuleOf(ar))
	return nil
}

func (s *API) deleteAccessRule(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteAccessRule(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) mayTake(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Store.DecideTake(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), r.PathValue("key_set"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, Decision{Allowed: d.Allowed, Reason: d.Reason, NeedsPIN: d.NeedsPIN, Approvers: d.Approvers})
	return nil
}
