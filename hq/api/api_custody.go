package api

import (
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// Custody at HQ (store.RecordCustody): a phone or another app scans a key
// set's label, sees where it is, and takes, returns or hands it over.
// Each change is an entry of the organisation's HQ log, served as
// tlog-tiles under /v1/org/log/.

// ScanRequest is the body of POST /v1/scan: a label's text (kept out of
// URLs and so out of access logs) or a key set's id.
type ScanRequest struct {
	Token    string `json:"token,omitempty" doc:"the text of the key set's QR label"`
	KeySetID string `json:"key_set_id,omitempty" doc:"or the key set's id"`
}

// CustodyRequest is the body of POST /v1/custody.
type CustodyRequest struct {
	RequestID string `json:"request_id" doc:"the client's id for this change (16 to 64 letters, digits, - or _): sent again, it answers the first outcome and changes nothing"`
	Token     string `json:"token,omitempty" doc:"the text of the key set's QR label"`
	KeySetID  string `json:"key_set_id,omitempty" doc:"or the key set's id"`
	Action    string `json:"action" doc:"take, return, hand_over, or confirm another member's take that needs a second (or third) member"`
	To        string `json:"to,omitempty" doc:"hand_over: the member who takes the key set"`
	Reason    string `json:"reason,omitempty" doc:"take: one of the policy's reasons"`
	Recipient string `json:"recipient,omitempty" doc:"take: who the keys are for (personal text, never in the log's entries)"`
	Notes     string `json:"notes,omitempty" doc:"take: notes (personal text, never in the log's entries)"`
	Via       string `json:"via,omitempty" doc:"phone or api (the default)"`
	MemberID  string `json:"member_id,omitempty" doc:"API keys (custody:write) only, and required of them: the member the change is for, decided by their rules as if they asked; people record their own"`
}

func (CustodyRequest) openAPI(s *openapi3.Schema) {
	s.Properties["action"].Value.Enum = []any{string(store.CustodyTake), string(store.CustodyReturn), string(store.CustodyHandOver), string(store.CustodyConfirm)}
	s.Properties["via"].Value.Enum = []any{"phone", "api"}
}

// KeySetStatus answers a scan: the key set, its home, who has it, and what
// the member may do now.
type KeySetStatus struct {
	KeySet      KeySet   `json:"key_set"`
	Home        string   `json:"home" doc:"cabinet (a slot of a cabinet) or shelf (its site's open shelf): taken and returned at its kiosk; none (a drawer, a lockbox): taken and returned here"`
	CabinetID   string   `json:"cabinet_id,omitempty"`
	CabinetName string   `json:"cabinet_name,omitempty"`
	Slot        int      `json:"slot,omitempty"`
	Out         *Holder  `json:"out,omitempty" doc:"who has it, when it is out"`
	Take        Decision `json:"take" doc:"the rules' answer for the member taking it now"`
	Actions     []string `json:"actions" doc:"what the member may ask for now"`
	Note        string   `json:"note,omitempty" doc:"what the actions leave out, in words"`
	Pending     *Pending `json:"pending,omitempty" doc:"a take of the key set waiting for more members to confirm"`
}

// Pending is a take at HQ waiting for more members to confirm (dual or
// triple release).
type Pending struct {
	RequestID string    `json:"request_id" doc:"the taker's request"`
	MemberID  string    `json:"member_id" doc:"the taker"`
	Approvers []string  `json:"approvers" doc:"who confirmed so far"`
	Needed    int       `json:"needed" doc:"how many must confirm"`
	Expires   time.Time `json:"expires"`
}

func (KeySetStatus) openAPI(s *openapi3.Schema) {
	s.Properties["home"].Value.Enum = []any{string(store.HomeCabinet), string(store.HomeShelf), string(store.HomeNone)}
}

// Holder is who has a key set out.
type Holder struct {
	MemberID string    `json:"member_id"`
	Since    time.Time `json:"since"`
	Due      time.Time `json:"due,omitzero"`
}

// CustodyResult answers POST /v1/custody.
type CustodyResult struct {
	Outcome  string       `json:"outcome" doc:"done; pending: the take waits for more members to confirm; or ignored: the key set changed hands at HQ within the scan cool-down, so this was taken for the same scan again"`
	Message  string       `json:"message"`
	LogIndex int64        `json:"log_index" doc:"the entry of the organisation's HQ log; -1 when ignored"`
	Replayed bool         `json:"replayed" doc:"the request_id had been used: this is its first answer"`
	Status   KeySetStatus `json:"status"`
}

func (CustodyResult) openAPI(s *openapi3.Schema) {
	s.Properties["outcome"].Value.Enum = []any{string(store.CustodyDone), string(store.CustodyPending), string(store.CustodyIgnored)}
}

// OrgLog is the organisation's HQ log.
type OrgLog struct {
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
	Size        int64  `json:"size"`
}

func keySetStatusOf(st store.KeySetStatus) KeySetStatus {
	out := KeySetStatus{KeySet: keySetOf(st.KeySet), Home: string(st.Home), CabinetID: st.CabinetID, CabinetName: st.CabinetName, Slot: st.Slot,
		Take:    Decision{Allowed: st.Take.Allowed, Reason: st.Take.Reason, NeedsPIN: st.Take.NeedsPIN, Approvers: st.Take.Approvers},
		Actions: []string{}, Note: st.Note}
	if o := st.Out; o != nil {
		out.Out = &Holder{MemberID: o.MemberID, Since: o.TakenAt, Due: o.DueAt}
	}
	for _, a := range st.Actions {
		out.Actions = append(out.Actions, string(a))
	}
	if p := st.Pending; p != nil {
		out.Pending = &Pending{RequestID: p.ID, MemberID: p.MemberID, Approvers: append([]string{}, p.Approvers...), Needed: p.Needed, Expires: p.Expires}
	}
	return out
}

func (s *API) scan(w http.ResponseWriter, r *http.Request) error {
	var in ScanRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	st, err := s.Store.ScanKeySet(r.Context(), principalOf(r.Context()).Scope(), in.Token, in.KeySetID)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, keySetStatusOf(st))
	return nil
}

func (s *API) recordCustody(w http.ResponseWriter, r *http.Request) error {
	var in CustodyRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	p := principalOf(r.Context())
	res, err := s.Store.RecordCustody(r.Context(), p.Scope(), store.CustodyRequest{RequestID: in.RequestID, Token: in.Token,
		KeySetID: in.KeySetID, Action: store.CustodyAction(in.Action), To: in.To, Reason: in.Reason,
		Recipient: in.Recipient, Notes: in.Notes, Via: in.Via, Member: in.MemberID})
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, CustodyResult{Outcome: string(res.Outcome), Message: res.Message, LogIndex: res.LogIndex,
		Replayed: res.Replayed, Status: keySetStatusOf(res.Status)})
	return nil
}

func (s *API) orgLog(w http.ResponseWriter, r *http.Request) error {
	lg, err := s.Store.GetOrgLog(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, OrgLog{Origin: lg.Origin, VerifierKey: lg.VerifierKey, Size: lg.Size})
	return nil
}

func (s *API) orgLogCheckpoint(w http.ResponseWriter, r *http.Request) error {
	lg, err := s.Store.GetOrgLog(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	if len(lg.Checkpoint) == 0 {
		return keycab.Errorf(keycab.ENOTFOUND, "nothing has been recorded at HQ yet")
	}
	setLogCaching(w, false, false)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(lg.Checkpoint)
	return nil
}

func (s *API) orgLogTile(w http.ResponseWriter, r *http.Request) error {
	ctx, sc := r.Context(), principalOf(r.Context()).Scope()
	lg, err := s.Store.GetOrgLog(ctx, sc)
	if err != nil {
		return err
	}
	t, err := audit.ParseTilePath("tile/" + r.PathValue("path"))
	if err != nil || !audit.TileInTree(t, lg.Size) {
		return keycab.Errorf(keycab.ENOTFOUND, "no tile %s in the HQ log of %d entries", r.PathValue("path"), lg.Size)
	}
	hashes := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) { return s.Store.OrgLogTreeHashes(ctx, sc, indexes) })
	entries := audit.EntryReaderFunc(func(start, end int64) ([][]byte, error) { return s.Store.OrgLogLeaves(ctx, sc, start, end) })
	return writeTile(w, r, t, hashes, entries, false)
}
