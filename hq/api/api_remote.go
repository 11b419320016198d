package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
)

// RemoteActionRequest is the body of POST /v1/kiosks/{id}/actions.
type RemoteActionRequest struct {
	KeySetID string `json:"key_set_id,omitempty" doc:"mark_returned, mark_lost, hand_over, replace_fob: the key set"`
	Kind     string `json:"kind"`
	MemberID string `json:"member_id,omitempty" doc:"hand_over: the member who now holds the key set"`
	Reason   string `json:"reason,omitempty" doc:"why; required for a release"`
	Slot     int    `json:"slot,omitempty" doc:"release_slot: the slot's number"`
}

func (RemoteActionRequest) openAPI(s *openapi3.Schema) {
	kinds := make([]any, len(keycab.RemoteKinds))
	for i, k := range keycab.RemoteKinds {
		kinds[i] = string(k)
	}
	s.Properties["kind"].Value.WithEnum(kinds...)
	s.Properties["slot"].Value.WithMin(0)
	s.Properties["reason"].Value.WithMaxLength(keycab.MaxRemoteReason)
}

// RemoteAction is a remote action and, once the kiosk answered, its
// outcome.
type RemoteAction struct {
	DoneAt      time.Time `json:"done_at,omitzero" doc:"when HQ heard the kiosk's answer"`
	Expires     time.Time `json:"expires" doc:"the kiosk refuses the action after this"`
	ID          string    `json:"id"`
	KeySetID    string    `json:"key_set_id,omitempty"`
	Kind        string    `json:"kind"`
	KioskID     string    `json:"kiosk_id"`
	LogIndex    int64     `json:"log_index" doc:"the kiosk's log entry that recorded it; -1 until answered"`
	MemberID    string    `json:"member_id,omitempty"`
	NewToken    string    `json:"new_token,omitempty" doc:"replace_fob: the new fob's token text, answered this once (print it as the new label)"`
	Outcome     string    `json:"outcome" doc:"pending, done or refused"`
	Reason      string    `json:"reason,omitempty"`
	Refusal     string    `json:"refusal,omitempty" doc:"why the kiosk refused"`
	RequestedAt time.Time `json:"requested_at"`
	RequestedBy string    `json:"requested_by"`
	Slot        int       `json:"slot,omitempty"`
}

func (RemoteAction) openAPI(s *openapi3.Schema) {
	s.Properties["outcome"].Value.WithEnum("pending", keycab.RemoteDone, keycab.RemoteRefused)
}

func remoteActionOf(a keycab.RemoteAction) RemoteAction {
	out := RemoteAction{ID: a.ID, KioskID: a.KioskID, Kind: string(a.Kind), Slot: a.Slot, KeySetID: a.KeySetID, MemberID: a.MemberID,
		Reason: a.Reason, RequestedBy: a.RequestedBy, RequestedAt: a.RequestedAt, Expires: a.Expires, Outcome: a.Outcome,
		Refusal: a.Refusal, LogIndex: a.LogIndex, DoneAt: a.DoneAt}
	if out.Outcome == keycab.RemotePending {
		out.Outcome = "pending"
	}
	return out
}

// RemoteActionList is GET /v1/kiosks/{id}/actions.
type RemoteActionList struct {
	Actions []RemoteAction `json:"actions"`
}

func (s *API) createRemoteAction(w http.ResponseWriter, r *http.Request) error {
	var in RemoteActionRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	a, err := s.Store.CreateRemoteAction(r.Context(), principalOf(r.Context()).Scope(), keycab.RemoteAction{KioskID: r.PathValue("id"),
		Kind: keycab.RemoteKind(in.Kind), Slot: in.Slot, KeySetID: in.KeySetID, MemberID: in.MemberID, Reason: in.Reason})
	if err != nil {
		return err
	}
	out := remoteActionOf(a)
	out.NewToken = a.Token
	created(w, out)
	return nil
}

func (s *API) listRemoteActions(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return keycab.Errorf(keycab.EINVALID, "limit must be a whole number from 1 to 1000")
		}
		limit = n
	}
	as, err := s.Store.ListRemoteActions(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	out := RemoteActionList{Actions: []RemoteAction{}}
	for _, a := range as {
		out.Actions = append(out.Actions, remoteActionOf(a))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}
