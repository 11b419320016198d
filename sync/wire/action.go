package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
)

const actionHeader = "keycab remote action v1"

// Action is a remote action as signed by HQ (minor version 3): what the
// kiosk needs to act and to record who asked.
type Action struct {
	ID          string            `json:"id"`
	Kind        keycab.RemoteKind `json:"kind"`
	Slot        int               `json:"slot,omitempty"`
	KeySetID    string            `json:"key_set_id,omitempty"`
	MemberID    string            `json:"member_id,omitempty"`
	Token       string            `json:"token,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	RequestedBy string            `json:"requested_by"`
	RequestedAt int64             `json:"requested_at"` // Unix seconds, HQ's clock
	Expires     int64             `json:"expires"`      // Unix seconds, HQ's clock
}

// ActionOf returns the signed part of a remote action.
func ActionOf(a keycab.RemoteAction) Action {
	return Action{ID: a.ID, Kind: a.Kind, Slot: a.Slot, KeySetID: a.KeySetID, MemberID: a.MemberID, Token: a.Token,
		Reason: a.Reason, RequestedBy: a.RequestedBy, RequestedAt: a.RequestedAt.Unix(), Expires: a.Expires.Unix()}
}

// RemoteAction returns the action for kiosk kioskID of organisation orgID.
func (a Action) RemoteAction(orgID, kioskID string) keycab.RemoteAction {
	return keycab.RemoteAction{ID: a.ID, OrgID: orgID, KioskID: kioskID, Kind: a.Kind, Slot: a.Slot, KeySetID: a.KeySetID,
		MemberID: a.MemberID, Token: a.Token, Reason: a.Reason, RequestedBy: a.RequestedBy,
		RequestedAt: time.Unix(a.RequestedAt, 0).UTC(), Expires: time.Unix(a.Expires, 0).UTC()}
}

// SignAction signs a remote action for kiosk kioskID with HQ's config key.
func SignAction(kioskID string, a Action, signer note.Signer) ([]byte, error) {
	js, err := json.Marshal(&a)
	if err != nil {
		return nil, fmt.Errorf("encode remote action: %w", err)
	}
	if bytes.ContainsAny(js, "\n") || strings.ContainsAny(kioskID, "\n") {
		return nil, errors.New("encode remote action: a newline in its text")
	}
	return note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%s\n%s\n", actionHeader, kioskID, js)}, signer)
}

// OpenAction verifies a signed remote action with HQ's pinned config key
// and parses it. It returns the kiosk id the action names; the caller
// checks that it is its own.
func OpenAction(msg []byte, configKey string) (kioskID string, a Action, err error) {
	v, err := note.NewVerifier(configKey)
	if err != nil {
		return "", a, fmt.Errorf("config key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return "", a, fmt.Errorf("remote action signature: %w", err)
	}
	lines := strings.SplitN(strings.TrimSuffix(n.Text, "\n"), "\n", 3)
	if len(lines) != 3 || lines[0] != actionHeader {
		return "", a, errors.New("remote action: not a keycab remote action v1")
	}
	if err := json.Unmarshal([]byte(lines[2]), &a); err != nil {
		return "", a, fmt.Errorf("remote action: %w", err)
	}
	if a.ID == "" {
		return "", a, errors.New("remote action: no id")
	}
	return lines[1], a, nil
}

// ActionsResponse carries the signed remote actions waiting for a kiosk,
// oldest first (minor version 3).
type ActionsResponse struct {
	V       int      `json:"v"`
	Actions [][]byte `json:"actions"` // signed notes (base64 in JSON), see package doc
}

// ActionAck is a kiosk's answer to one remote action (minor version 3).
type ActionAck struct {
	V        int    `json:"v"`
	ID       string `json:"id"`
	Outcome  string `json:"outcome"`           // keycab.RemoteDone or keycab.RemoteRefused
	Refusal  string `json:"refusal,omitempty"` // why, when refused; at most MaxRefusal bytes
	LogIndex int64  `json:"log_index"`         // the entry that recorded it; -1 when none could be
}

// MaxRefusal bounds an ack's refusal text.
const MaxRefusal = 300

// UnverifiedActionID reads the id of a signed remote action without
// checking its signature, so that a kiosk can answer an action it refuses
// as badly signed ("" when unreadable). Never act on it.
func UnverifiedActionID(msg []byte) string {
	text, _, ok := strings.Cut(string(msg), "\n\n")
	if !ok {
		return ""
	}
	lines := strings.SplitN(text, "\n", 3)
	var a Action
	if len(lines) != 3 || lines[0] != actionHeader || json.Unmarshal([]byte(lines[2]), &a) != nil || !keycab.Printable(a.ID) || len(a.ID) > 100 {
		return ""
	}
	return a.ID
}
