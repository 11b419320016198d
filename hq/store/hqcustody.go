package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// Custody changes made at HQ (issue 16): a member scans a key set's QR
// label with a phone (or another app calls the API) and takes it, returns
// it or hands it over. The rules are the kiosk's (keycab.DecideTake, with
// HQ's facts: takeFacts); each change is an entry of the organisation's
// HQ log (orglog.go) and an events row with an empty kiosk_id in the same
// transaction, and custody follows.
//
// A key set's home decides what a phone may do with it. A key set mapped
// to a slot lives in that cabinet, one with no slot at a site with an
// open-shelf cabinet on that shelf (its kiosk serves every such key set
// of the site): the locks are the kiosk's, so a phone neither takes it
// out nor returns it there;
// while it is out a phone may take it over from its holder or hand it to
// another member ("returned to X, not yet in the cabinet" is a hand-over
// to X), and it goes back through the kiosk. Any other key set (a drawer,
// a lockbox, a van) is taken and returned at HQ alone.

// CustodyAction is a custody change asked for at HQ.
type CustodyAction string

const (
	// CustodyTake: the member takes the key set, from its home or, when
	// it is out with someone else, from them (a hand-over to the member).
	CustodyTake CustodyAction = "take"
	// CustodyReturn: the key set goes back to its home (not a cabinet's).
	CustodyReturn CustodyAction = "return"
	// CustodyHandOver: the key set, out, goes to another member (To).
	CustodyHandOver CustodyAction = "hand_over"
	// CustodyConfirm: the member confirms another's take that needs a
	// second (or third) member (dual or triple release), on their own
	// phone within the policy's window.
	CustodyConfirm CustodyAction = "confirm"
)

// CustodyRequest is one custody change asked for at HQ. RequestID is the
// client's own id for the change it means (16 to 64 letters, digits, '-'
// or '_'): the same id again answers the first outcome and changes
// nothing, so a retried or replayed request never changes custody twice.
type CustodyRequest struct {
	RequestID string
	Token     string // the key set's QR label text, or
	KeySetID  string // the key set's id
	Action    CustodyAction
	To        string // hand_over: the member who takes it
	Reason    string // take: one of the policy's reason presets
	Recipient string // take: personal text, kept off the log
	Notes     string // take: personal text, kept off the log
	Via       string // how the member asked: "phone" or "api"
	// Member is the member an API key with custody:write records the
	// change for (decided by that member's rules, as if they asked);
	// people record their own and leave it empty.
	Member string
	apiKey string // the API key that asked for Member (actFor)
}

// CustodyOutcome is what came of a custody request.
type CustodyOutcome string

const (
	CustodyDone CustodyOutcome = "done"
	// CustodyIgnored: the key set's custody changed at HQ within the scan
	// cool-down, so this scan is taken for the same one read again.
	CustodyIgnored CustodyOutcome = "ignored"
	// CustodyPending: a take waits for more members to confirm
	// (KeySetStatus.Pending).
	CustodyPending CustodyOutcome = "pending"
)

// CustodyResult answers a custody request.
type CustodyResult struct {
	Outcome  CustodyOutcome
	Message  string
	LogIndex int64 // the HQ log entry; -1 when ignored
	Replayed bool  // the request id had been used: this is its first outcome
	Status   KeySetStatus
}

// HomeKind is where a key set lives.
type HomeKind string

const (
	HomeCabinet HomeKind = "cabinet" // a slot of a slotted cabinet
	HomeShelf   HomeKind = "shelf"   // an open-shelf cabinet of its site
	HomeNone    HomeKind = "none"    // no cabinet: a drawer, a lockbox, a van
)

// locked reports whether the home is behind a kiosk's lock, which a
// phone does not open.
func (h HomeKind) locked() bool { return h == HomeCabinet || h == HomeShelf }

// KeySetStatus is what a scan shows: which key set, where it lives, who
// has it since when, and what the member may do with it now.
type KeySetStatus struct {
	KeySet      keycab.KeySet
	Home        HomeKind
	CabinetID   string // HomeCabinet, HomeShelf: the cabinet, and its slot
	CabinetName string
	Slot        int
	Out         *keycab.Checkout // nil when at home
	// Take is the rules' answer for the member taking it now.
	Take keycab.Decision
	// Actions are what the member may ask for now.
	Actions []CustodyAction
	// Note says in words what the actions leave out, if anything.
	Note string
	// Pending is a take of the key set waiting for more members to
	// confirm, if any.
	Pending *PendingRelease
	// facts are HQ's facts for the member taking the key set now, which
	// Take and the confirmation were decided from (recordCustody reads
	// the policy from them).
	facts keycab.Facts
}

// PendingRelease is a take at HQ that needs more members to confirm: ID
// is the taker's request id, Approvers who confirmed so far, Needed how
// many must, by Expires.
type PendingRelease struct {
	ID        string
	MemberID  string
	Approvers []string
	Needed    int
	Expires   time.Time
	reason    string
	via       string
	sealed    []byte
}

// ScanKeySet resolves a key set's QR label (or id, with token empty) for
// the member and says where it is and what they may do: a label of
// another organisation, or of a key set they may not see, is not found;
// a label replaced since (a revoked token) is refused as such.
func (s *Store) ScanKeySet(ctx context.Context, sc Scope, token, keySetID string) (KeySetStatus, error) {
	var out KeySetStatus
	err := s.read(ctx, "scan key set", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("scanning a key set"); err != nil {
			return err
		}
		k, err := t.scannedKeySet(ctx, token, keySetID)
		if err != nil {
			return err
		}
		out, err = t.keySetStatus(ctx, k)
		return err
	})
	return out, err
}

// scannedKeySet finds the key set of a label or an id, as the member may
// see it.
func (t *tx) scannedKeySet(ctx context.Context, token, keySetID string) (keycab.KeySet, error) {
	if token == "" {
		if keySetID == "" {
			return keycab.KeySet{}, invalid("scan a key set's label or name its id")
		}
		return t.keySet(ctx, keySetID)
	}
	if len(token) > 200 || !keycab.ValidText(token) {
		return keycab.KeySet{}, invalid("that is not a keycab label")
	}
	unknown := keycab.Errorf(keycab.ENOTFOUND, "this label is not one of your organisation's key sets, or not one you may use")
	var id string
	var revoked int64
	err := t.queryRow(ctx, "SELECT key_set_id, revoked_us FROM qr_tokens WHERE org_id = $1 AND hash = $2",
		t.org(), keycab.TokenHash(strings.TrimSpace(token))).Scan(&id, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return keycab.KeySet{}, unknown
	} else if err != nil {
		return keycab.KeySet{}, err
	}
	k, err := t.keySet(ctx, id)
	if keycab.ErrorCode(err) == keycab.ENOTFOUND {
		return k, unknown
	} else if err != nil {
		return k, err
	}
	if revoked != 0 {
		return k, keycab.Errorf(keycab.EFORBIDDEN, "this label of %s was replaced by a newer one on %s: use the new label", k.Label, fromUS(revoked).Format("2 Jan 2006"))
	}
	return k, nil
}

// keySetStatus reads k's home and custody, and what the principal may do.
func (t *tx) keySetStatus(ctx context.Context, k keycab.KeySet) (KeySetStatus, error) {
	st := KeySetStatus{KeySet: k, Home: HomeNone}
	// Its slot, or else its site's open shelf: an open-shelf kiosk
	// serves every key set of its site that has no slot.
	err := t.queryRow(ctx, `SELECT s.cabinet_id, c.name, s.number FROM slots s JOIN cabinets c ON c.org_id = s.org_id AND c.id = s.cabinet_id
		WHERE s.org_id = $1 AND s.key_set_id = $2 ORDER BY s.number LIMIT 1`, t.org(), k.ID).Scan(&st.CabinetID, &st.CabinetName, &st.Slot)
	if err == nil {
		st.Home = HomeCabinet
	} else if errors.Is(err, sql.ErrNoRows) {
		err = t.queryRow(ctx, "SELECT id, name FROM cabinets WHERE org_id = $1 AND site_id = $2 AND kind = $3 ORDER BY id LIMIT 1",
			t.org(), k.SiteID, string(keycab.OpenShelf)).Scan(&st.CabinetID, &st.CabinetName)
		if err == nil {
			st.Home = HomeShelf
		}
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, err
	}
	out, err := t.custodyOf(ctx, k.ID)
	if err != nil {
		return st, err
	}
	st.Out = out
	me, err := t.memberRow(ctx, t.p.member)
	if err != nil {
		return st, err
	}
	// The key set's own custody left out: a take of it while out is a
	// hand-over, and a confirmation leaves it out too (DecideSecond).
	if st.facts, err = t.takeFacts(ctx, me, k, true); err != nil {
		return st, err
	}
	st.Take = keycab.DecideTake(st.facts)
	if t.p.role == keycab.RoleAuditor {
		st.Note = "auditors read custody; they do not change it"
		return st, nil
	}
	cabinet := "in slot " + strconv.Itoa(st.Slot) + " of " + st.CabinetName
	if st.Home == HomeShelf {
		cabinet = "on the open shelf " + st.CabinetName
	}
	if out == nil {
		if st.Pending, err = t.pendingRelease(ctx, k.ID); err != nil {
			return st, err
		}
	}
	switch p := st.Pending; {
	case p != nil && p.MemberID == t.p.member:
		st.Note = fmt.Sprintf("waiting for %d more member(s) to confirm on their phone by %s", p.Needed-len(p.Approvers), p.Expires.Format("15:04:05"))
	case p != nil:
		d := keycab.DecideSecond(st.facts, append([]string{p.MemberID}, p.Approvers...)...)
		if d.Allowed {
			st.Actions = append(st.Actions, CustodyConfirm)
			st.Note = "another member asks to take it: confirm to release it to them"
		} else {
			st.Note = "another member is taking it and waits for confirmation: " + d.Reason
		}
	case out == nil && st.Home.locked():
		st.Note = "it lives " + cabinet + ": take it at its kiosk"
	case out == nil:
		if st.Take.Allowed {
			st.Actions = append(st.Actions, CustodyTake)
		}
	case out.MemberID == t.p.member:
		st.Actions = append(st.Actions, CustodyHandOver)
		if st.Home.locked() {
			st.Note = "it lives " + cabinet + ": return it there"
		} else {
			st.Actions = append(st.Actions, CustodyReturn)
		}
	default:
		if st.Take.Allowed {
			st.Actions = append(st.Actions, CustodyTake)
		}
		if t.p.managesSite(k.SiteID) {
			st.Actions = append(st.Actions, CustodyHandOver)
			if !st.Home.locked() {
				st.Actions = append(st.Actions, CustodyReturn)
			}
		}
		if st.Home.locked() {
			st.Note = "it lives " + cabinet + ": it goes back there"
		}
	}
	return st, nil
}

// custodyOf reads who has key set id now, or nil.
func (t *tx) custodyOf(ctx context.Context, id string) (*keycab.Checkout, error) {
	c := keycab.Checkout{KeySetID: id}
	var taken, due int64
	err := t.queryRow(ctx, "SELECT member_id, log_index, taken_us, due_us FROM custody WHERE org_id = $1 AND key_set_id = $2",
		t.org(), id).Scan(&c.MemberID, &c.LogIndex, &taken, &due)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	c.TakenAt, c.DueAt = fromUS(taken), fromUS(due)
	return &c, nil
}

// validRequestID: what a custody request's id may be.
func validRequestID(id string) bool {
	if len(id) < 16 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// RecordCustody carries out a custody change asked for at HQ, decided by
// the kiosk's rules, as one entry of the organisation's HQ log. The
// organisation's log is locked first, so concurrent requests (two phones
// scanning one label) are decided one after the other: the second sees
// the first's change, and a take of a key set whose custody changed at
// HQ within the policy's scan cool-down is ignored (CustodyIgnored), not
// taken for a hand-over. Refusals are errors: EFORBIDDEN with the rules'
// words, ECONFLICT for a change that does not fit the key set's state.
func (s *Store) RecordCustody(ctx context.Context, sc Scope, req CustodyRequest) (CustodyResult, error) {
	var res CustodyResult
	err := s.write(ctx, "record custody", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("changing custody"); err != nil {
			return err
		}
		var err error
		if req, err = t.actFor(ctx, req); err != nil {
			return err
		}
		if !validRequestID(req.RequestID) {
			return invalid("request_id must be 16 to 64 letters, digits, '-' or '_' (a fresh one for each change)")
		}
		switch req.Action {
		case CustodyTake, CustodyReturn, CustodyHandOver, CustodyConfirm:
		default:
			return invalid("action must be take, return, hand_over or confirm")
		}
		if req.Via != "phone" && req.Via != "api" {
			req.Via = "api"
		}
		// The log's lock first: everything below sees every earlier
		// change and none can slip in between.
		if _, err := t.orgLog(ctx, true); err != nil {
			return err
		}
		if done, err := t.replayed(ctx, req.RequestID); err != nil || done != nil {
			if done != nil {
				res = *done
			}
			return err
		}
		k, err := t.scannedKeySet(ctx, req.Token, req.KeySetID)
		if err != nil {
			return err
		}
		res, err = t.recordCustody(ctx, k, req)
		if err != nil {
			return err
		}
		if req.apiKey != "" {
			if err := t.logActionBy(ctx, req.apiKey, keycab.RoleAdmin, "api_key.custody", k.ID,
				fmt.Sprintf("%s for member %s: %s (HQ log entry %d)", req.Action, t.p.member, res.Outcome, res.LogIndex)); err != nil {
				return err
			}
		}
		_, err = t.exec(ctx, "INSERT INTO custody_requests (org_id, id, member_id, outcome, log_index, at_us) VALUES ($1, $2, $3, $4, $5, $6)",
			t.org(), req.RequestID, t.p.member, string(res.Outcome), res.LogIndex, us(t.now))
		if err != nil {
			return err
		}
		res.Status, err = t.keySetStatus(ctx, k)
		return err
	})
	return res, err
}

// actFor makes an API key's request the member's it names: the
// transaction's principal becomes that member (their role, sites and
// rules decide), and the key is remembered for the HQ log and the admin
// log. A key needs custody:write; a person names nobody else.
func (t *tx) actFor(ctx context.Context, req CustodyRequest) (CustodyRequest, error) {
	if t.p.apiKey == "" {
		if req.Member != "" && req.Member != t.p.member {
			return req, invalid("member_id is for API keys: a member records their own custody")
		}
		return req, nil
	}
	if !slices.Contains(t.p.scopes, ScopeCustodyWrite) {
		return req, forbidden("this API key has no custody:write scope")
	}
	if req.Member == "" {
		return req, invalid("an API key records custody on behalf of a member: member_id is required")
	}
	p, err := t.loadPrincipal(ctx, MemberScope(t.org(), req.Member))
	if err != nil || !p.isPerson() {
		return req, notFound("member", req.Member)
	}
	req.apiKey, req.Via = t.p.apiKey, "api"
	t.p = p
	return req, nil
}

// replayed answers a request id already used by the member with its
// first outcome; another member's id is refused.
func (t *tx) replayed(ctx context.Context, id string) (*CustodyResult, error) {
	var member, outcome string
	var index int64
	err := t.queryRow(ctx, "SELECT member_id, outcome, log_index FROM custody_requests WHERE org_id = $1 AND id = $2", t.org(), id).
		Scan(&member, &outcome, &index)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if member != t.p.member {
		return nil, keycab.Errorf(keycab.ECONFLICT, "request_id %s was used for another change: send a fresh one", id)
	}
	r := &CustodyResult{Outcome: CustodyOutcome(outcome), LogIndex: index, Replayed: true, Message: "already done: this request was answered before"}
	if index >= 0 {
		var ks string
		if err := t.queryRow(ctx, "SELECT key_set_id FROM events WHERE org_id = $1 AND kiosk_id = '' AND log_index = $2", t.org(), index).Scan(&ks); err != nil {
			return nil, err
		}
		k, err := t.keySet(ctx, ks)
		if err != nil {
			return nil, err
		}
		if r.Status, err = t.keySetStatus(ctx, k); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// recordCustody decides and records one change of k (RecordCustody).
func (t *tx) recordCustody(ctx context.Context, k keycab.KeySet, req CustodyRequest) (CustodyResult, error) {
	st, err := t.keySetStatus(ctx, k)
	if err != nil {
		return CustodyResult{}, err
	}
	facts := st.facts
	if cool := facts.Policy.ScanCoolDown; cool > 0 {
		var last sql.NullInt64
		if err := t.queryRow(ctx, "SELECT max(at_us) FROM events WHERE org_id = $1 AND key_set_id = $2 AND kiosk_id = ''",
			t.org(), k.ID).Scan(&last); err != nil {
			return CustodyResult{}, err
		}
		if last.Valid && t.now.Sub(fromUS(last.Int64)) < cool {
			return CustodyResult{Outcome: CustodyIgnored, LogIndex: -1,
				Message: fmt.Sprintf("%s changed hands %s ago: a scan again within %s is ignored", k.Label, t.now.Sub(fromUS(last.Int64)).Round(time.Second), cool)}, nil
		}
	}
	if !slices.Contains(st.Actions, req.Action) {
		return CustodyResult{}, refusal(st, req.Action)
	}
	ev := &audit.Event{KeySet: k.ID, Actor: t.p.member, Detail: map[string]string{"via": req.Via}}
	if req.apiKey != "" {
		ev.Detail["api_key"] = req.apiKey
	}
	var recipient, notes string
	switch req.Action {
	case CustodyTake:
		if st.Out != nil {
			// From whoever has it: a hand-over to the member.
			ev.Kind, ev.Second, ev.Detail["holder"] = keycab.EventKeyHandedOver, t.p.member, st.Out.MemberID
			break
		}
		if err := checkReason(facts.Policy, req.Reason); err != nil {
			return CustodyResult{}, err
		}
		if err := t.checkPersonal(req.Recipient, req.Notes); err != nil {
			return CustodyResult{}, err
		}
		recipient, notes = strings.TrimSpace(req.Recipient), strings.TrimSpace(req.Notes)
		if st.Take.Approvers > 0 {
			return t.startRelease(ctx, k, st.Take.Approvers, facts.Policy.DualReleaseWindow, req.RequestID, req.Reason, req.Via, recipient, notes)
		}
		ev.Kind, ev.Reason = keycab.EventKeyTaken, req.Reason
		if due := facts.Policy.DueAt(t.now, k, facts.Location); !due.IsZero() {
			ev.Due = due.UnixMilli()
		}
	case CustodyConfirm:
		p := st.Pending
		p.Approvers = append(p.Approvers, t.p.member)
		if len(p.Approvers) < p.Needed {
			js, _ := json.Marshal(p.Approvers)
			if _, err := t.exec(ctx, "UPDATE pending_releases SET approvers = $1 WHERE org_id = $2 AND id = $3", string(js), t.org(), p.ID); err != nil {
				return CustodyResult{}, err
			}
			return CustodyResult{Outcome: CustodyPending, LogIndex: -1,
				Message: fmt.Sprintf("Confirmed: %s waits for %d more member(s)", k.Label, p.Needed-len(p.Approvers))}, nil
		}
		// Enough: the taker must still be allowed to take it now.
		taker, err := t.memberRow(ctx, p.MemberID)
		if err != nil {
			return CustodyResult{}, err
		}
		tf, err := t.takeFacts(ctx, taker, k, false)
		if err != nil {
			return CustodyResult{}, err
		}
		if _, err := t.exec(ctx, "DELETE FROM pending_releases WHERE org_id = $1 AND id = $2", t.org(), p.ID); err != nil {
			return CustodyResult{}, err
		}
		if d := keycab.DecideTake(tf); !d.Allowed {
			return CustodyResult{}, keycab.Errorf(keycab.EFORBIDDEN, "%s may no longer take %s: %s", keycab.ShortName(taker.Name), k.Label, d.Reason)
		}
		if recipient, notes, err = t.openPending(p); err != nil {
			return CustodyResult{}, err
		}
		ev.Kind, ev.Actor, ev.Reason, ev.Second = keycab.EventKeyTaken, p.MemberID, p.reason, p.Approvers[0]
		ev.Detail["via"] = p.via
		if len(p.Approvers) > 1 {
			ev.Detail["third"] = p.Approvers[1]
		}
		if due := tf.Policy.DueAt(t.now, k, tf.Location); !due.IsZero() {
			ev.Due = due.UnixMilli()
		}
	case CustodyReturn:
		ev.Kind = keycab.EventKeyReturned
		if st.Out.MemberID != t.p.member {
			ev.Detail["holder"] = st.Out.MemberID
		}
	case CustodyHandOver:
		if req.To == "" || req.To == st.Out.MemberID {
			return CustodyResult{}, invalid("hand_over needs to: the member who takes %s (not its holder)", k.Label)
		}
		to, err := t.member(ctx, req.To)
		if err != nil {
			return CustodyResult{}, err
		}
		d, err := t.decideTake(ctx, to, k, true)
		if err != nil {
			return CustodyResult{}, err
		}
		if !d.Allowed {
			return CustodyResult{}, keycab.Errorf(keycab.EFORBIDDEN, "%s may not hold %s: %s", keycab.ShortName(to.Name), k.Label, d.Reason)
		}
		ev.Kind, ev.Second, ev.Detail["holder"] = keycab.EventKeyHandedOver, to.ID, st.Out.MemberID
	}
	salts := map[string][]byte{}
	if recipient != "" {
		salts["recipient"] = audit.NewSalt()
		ev.Recipient = audit.PersonalRef(salts["recipient"], recipient)
	}
	if notes != "" {
		salts["notes"] = audit.NewSalt()
		ev.Notes = audit.PersonalRef(salts["notes"], notes)
	}
	index, _, err := t.appendOrgLog(ctx, ev)
	if err != nil {
		return CustodyResult{}, err
	}
	if err := t.recordHQEvent(ctx, k, index, ev); err != nil {
		return CustodyResult{}, err
	}
	for field, text := range map[string]string{"recipient": recipient, "notes": notes} {
		if text == "" || t.s.notes == nil {
			continue
		}
		sealed, err := t.s.notes.seal(append(append([]byte{}, salts[field]...), text...), personalAD(t.org(), "", index, field))
		if err != nil {
			return CustodyResult{}, err
		}
		if _, err := t.exec(ctx, `INSERT INTO personal_texts (org_id, kiosk_id, log_index, field, subject, sealed) VALUES ($1, '', $2, $3, $4, $5)`,
			t.org(), index, field, ev.Actor, sealed); err != nil {
			return CustodyResult{}, err
		}
	}
	return CustodyResult{Outcome: CustodyDone, LogIndex: index, Message: doneMessage(k, ev)}, nil
}

// recordHQEvent stores an HQ log entry as history (an empty kiosk_id, no
// cabinet, the key set's site) and applies it to custody.
func (t *tx) recordHQEvent(ctx context.Context, k keycab.KeySet, index int64, ev *audit.Event) error {
	e := EventOf(index, ev)
	if _, err := t.exec(ctx, `INSERT INTO events (org_id, kiosk_id, log_index, kind, actor_id, key_set_id, cabinet_id, at_us, due_us, detail, received_us, site_id, not_before_us,
			reason, second_id, third_id, slot, via, context)
		VALUES ($1, '', $2, $3, $4, $5, '', $6, $7, $8, $6, $9, $6, $10, $11, $12, 0, $13, $14)`,
		t.org(), index, string(e.Kind), e.ActorID, e.KeySetID, us(e.At), us(e.DueAt), e.Detail, k.SiteID,
		e.Reason, e.SecondID, e.ThirdID, e.Via, e.Context); err != nil {
		return err
	}
	if err := t.emitEvents(ctx, []Event{e}); err != nil {
		return err
	}
	switch ev.Kind {
	case keycab.EventKeyTaken:
		_, err := t.exec(ctx, `INSERT INTO custody (org_id, key_set_id, member_id, kiosk_id, log_index, taken_us, due_us) VALUES ($1, $2, $3, '', $4, $5, $6)`,
			t.org(), k.ID, ev.Actor, index, us(e.At), us(e.DueAt))
		return err
	case keycab.EventKeyReturned:
		_, err := t.exec(ctx, "DELETE FROM custody WHERE org_id = $1 AND key_set_id = $2", t.org(), k.ID)
		return err
	case keycab.EventKeyHandedOver:
		_, err := t.exec(ctx, "UPDATE custody SET member_id = $1 WHERE org_id = $2 AND key_set_id = $3", ev.Second, t.org(), k.ID)
		return err
	}
	return nil
}

// refusal says why action does not fit the key set's state for the
// member.
func refusal(st KeySetStatus, action CustodyAction) error {
	label := st.KeySet.Label
	switch {
	case action == CustodyTake && !st.Take.Allowed && st.Take.Reason != "":
		return keycab.Errorf(keycab.EFORBIDDEN, "%s", st.Take.Reason)
	case st.Note != "":
		return keycab.Errorf(keycab.ECONFLICT, "%s: %s", label, st.Note)
	case action == CustodyReturn && st.Out == nil:
		return keycab.Errorf(keycab.ECONFLICT, "%s is not out", label)
	case action == CustodyHandOver && st.Out == nil:
		return keycab.Errorf(keycab.ECONFLICT, "%s is not out: take it first", label)
	}
	return keycab.Errorf(keycab.EFORBIDDEN, "you may not %s %s now", strings.ReplaceAll(string(action), "_", " "), label)
}

// checkReason holds a take's reason to the policy's presets (any short
// text when there are none), as the kiosk offers them.
func checkReason(p keycab.Policy, reason string) error {
	switch {
	case len(p.Reasons) > 0 && !slices.Contains(p.Reasons, reason):
		return invalid("reason must be one of: %s", strings.Join(p.Reasons, ", "))
	case len(reason) > 64 || !keycab.Printable(reason):
		return invalid("reason must be at most 64 printable characters")
	}
	return nil
}

// checkPersonal holds recipient and notes to what a kiosk entry may
// reference, and refuses them where HQ could not keep them (no notes
// key) rather than record a reference to nothing.
func (t *tx) checkPersonal(texts ...string) error {
	for _, s := range texts {
		if len(s) > audit.MaxPersonalText || !keycab.ValidText(s) {
			return invalid("recipient and notes must be valid text of at most %d bytes, without NUL", audit.MaxPersonalText)
		}
		if strings.TrimSpace(s) != "" && t.s.notes == nil {
			return invalid("this HQ keeps no personal texts (it has no notes key): leave recipient and notes empty")
		}
	}
	return nil
}

// pendingRelease reads the take of key set id waiting for confirmation,
// if one is live.
func (t *tx) pendingRelease(ctx context.Context, id string) (*PendingRelease, error) {
	p := &PendingRelease{}
	var approvers string
	var expires int64
	err := t.queryRow(ctx, `SELECT id, member_id, reason, via, sealed, approvers, needed, expires_us FROM pending_releases
		WHERE org_id = $1 AND key_set_id = $2 AND expires_us > $3 ORDER BY expires_us DESC LIMIT 1`, t.org(), id, us(t.now)).
		Scan(&p.ID, &p.MemberID, &p.reason, &p.via, &p.sealed, &approvers, &p.Needed, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	p.Expires = fromUS(expires)
	if err := json.Unmarshal([]byte(approvers), &p.Approvers); err != nil {
		return nil, fmt.Errorf("pending release %s: approvers: %w", p.ID, err)
	}
	return p, nil
}

// pendingAD binds a pending release's sealed texts to its row.
func pendingAD(orgID, id string) []byte {
	return fmt.Appendf(nil, "keycab pending release v1\x00%s\x00%s", orgID, id)
}

// startRelease makes the principal's take of k wait for needed more
// members to confirm within window (dual or triple release).
func (t *tx) startRelease(ctx context.Context, k keycab.KeySet, needed int, window time.Duration, id, reason, via, recipient, notes string) (CustodyResult, error) {
	var sealed []byte
	if recipient != "" || notes != "" {
		js, _ := json.Marshal([2]string{recipient, notes})
		var err error
		if sealed, err = t.s.notes.seal(js, pendingAD(t.org(), id)); err != nil {
			return CustodyResult{}, err
		}
	}
	// Expired ones of this key set go first.
	if _, err := t.exec(ctx, "DELETE FROM pending_releases WHERE org_id = $1 AND key_set_id = $2 AND expires_us <= $3", t.org(), k.ID, us(t.now)); err != nil {
		return CustodyResult{}, err
	}
	expires := t.now.Add(window)
	if _, err := t.exec(ctx, `INSERT INTO pending_releases (org_id, id, key_set_id, member_id, reason, via, sealed, needed, expires_us)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, t.org(), id, k.ID, t.p.member, reason, via, sealed, needed, us(expires)); err != nil {
		return CustodyResult{}, err
	}
	return CustodyResult{Outcome: CustodyPending, LogIndex: -1,
		Message: fmt.Sprintf("%s needs %d more member(s) to confirm on their phone by %s", k.Label, needed, expires.Format("15:04:05"))}, nil
}

// openPending opens a pending release's recipient and notes.
func (t *tx) openPending(p *PendingRelease) (recipient, notes string, err error) {
	if len(p.sealed) == 0 {
		return "", "", nil
	}
	if t.s.notes == nil {
		return "", "", keycab.Errorf(keycab.EUNAVAILABLE, "the pending release's texts are sealed and this HQ has no notes key")
	}
	js, err := t.s.notes.open(p.sealed, pendingAD(t.org(), p.ID), "pending release "+p.ID)
	if err != nil {
		return "", "", err
	}
	var v [2]string
	if err := json.Unmarshal(js, &v); err != nil {
		return "", "", fmt.Errorf("pending release %s: %w", p.ID, err)
	}
	return v[0], v[1], nil
}

// doneMessage says what was recorded.
func doneMessage(k keycab.KeySet, ev *audit.Event) string {
	switch ev.Kind {
	case keycab.EventKeyTaken:
		return "Taken: " + k.Label
	case keycab.EventKeyReturned:
		return "Returned: " + k.Label
	}
	return "Handed over: " + k.Label
}

// kioskHQCustody fills in a bundle's custody changes made at HQ
// (keycab.Config.HQCustody): for each key set of the kiosk's site that
// HQ's own log names, its newest entry there and who has the key set
// now, as HQ's custody says (a kiosk's later take or return included).
func (t *tx) kioskHQCustody(ctx context.Context, cfg *keycab.Config) error {
	rows, err := t.query(ctx, `SELECT e.key_set_id, e.log_index, e.at_us, coalesce(c.member_id, ''), coalesce(c.taken_us, 0), coalesce(c.due_us, 0)
		FROM events e LEFT JOIN custody c ON c.org_id = e.org_id AND c.key_set_id = e.key_set_id
		WHERE e.org_id = $1 AND e.kiosk_id = '' AND e.site_id = $2 ORDER BY e.log_index`, t.org(), t.p.site)
	if err != nil {
		return err
	}
	defer rows.Close()
	latest := map[string]int{} // key set -> its entry in cfg.HQCustody
	for rows.Next() {
		var c keycab.HQCustody
		var at, since, due int64
		if err := rows.Scan(&c.KeySetID, &c.Index, &at, &c.MemberID, &since, &due); err != nil {
			return err
		}
		c.At, c.Since, c.Due = fromUS(at), fromUS(since), fromUS(due)
		if i, ok := latest[c.KeySetID]; ok {
			cfg.HQCustody[i] = c
			continue
		}
		latest[c.KeySetID] = len(cfg.HQCustody)
		cfg.HQCustody = append(cfg.HQCustody, c)
	}
	return rows.Err()
}
