package agent

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// RemoteFunc carries out one remote action whose signature the agent
// verified, with HQ's time as the kiosk knows it: the kiosk controller's
// Remote. An empty outcome means it could not record anything; the
// action is asked for again at the next poll.
type RemoteFunc func(ctx context.Context, a keycab.RemoteAction, hqNow time.Time) (keycab.RemoteOutcome, error)

// ErrNoRemoteActions is returned by PullActions when HQ does not serve
// remote actions (an HQ of a minor version before 3).
var ErrNoRemoteActions = errors.New("HQ does not serve remote actions (sync/wire minor version 3)")

// SetRemote sets what carries out remote actions, once the controller
// runs. Until it is set, Run does not ask HQ for remote actions.
func (a *Agent) SetRemote(fn RemoteFunc) {
	a.statusMu.Lock()
	defer a.statusMu.Unlock()
	a.remote = fn
}

// PullActions asks HQ for the remote actions waiting for this kiosk,
// waiting up to wait at HQ (long poll), hands each whose signature by
// HQ's pinned config key holds and that names this kiosk to fn, and acks
// its outcome. An action that fails the check is never acted on: it is
// recorded once as remote.refused in the log (with the reason) and acked
// as refused. It returns how many actions were answered.
func (a *Agent) PullActions(ctx context.Context, wait time.Duration, fn RemoteFunc) (int, error) {
	q := url.Values{"wait": {strconv.FormatFloat(wait.Seconds(), 'f', -1, 64)}}
	status, rb, err := a.do(ctx, http.MethodGet, wire.PathActions+"?"+q.Encode(), nil)
	if err != nil {
		return 0, fmt.Errorf("pull remote actions: %w", err)
	}
	switch status {
	case http.StatusNoContent:
		return 0, nil
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return 0, ErrNoRemoteActions
	default:
		return 0, fmt.Errorf("pull remote actions: HQ answered %d: %s", status, errorText(rb))
	}
	var ar wire.ActionsResponse
	if err := json.Unmarshal(rb, &ar); err != nil {
		return 0, fmt.Errorf("pull remote actions: malformed answer: %w", err)
	}
	n := 0
	for _, msg := range ar.Actions {
		ack, err := a.takeAction(ctx, msg, fn)
		if err != nil {
			return n, err
		}
		if ack.ID == "" {
			continue
		}
		if err := a.ackAction(ctx, ack); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// takeAction checks one signed action and has fn carry it out. It
// returns the ack to send (none when the action should come again).
func (a *Agent) takeAction(ctx context.Context, msg []byte, fn RemoteFunc) (wire.ActionAck, error) {
	kiosk, act, err := wire.OpenAction(msg, a.peer.ConfigKey)
	switch {
	case err != nil:
		return a.refuseAction(ctx, msg, wire.UnverifiedActionID(msg), "HQ's signature does not verify: "+err.Error())
	case kiosk != a.peer.KioskID:
		return a.refuseAction(ctx, msg, act.ID, "the action is for kiosk "+kiosk)
	}
	// From here the action is HQ's and this kiosk's.
	if err := a.loadActed(ctx); err != nil {
		return wire.ActionAck{}, err
	}
	a.actMu.Lock()
	prev, done := a.acted[act.ID]
	a.actMu.Unlock()
	if done { // acted on already (before a restart, or its ack was lost)
		return prev, nil
	}
	o, err := fn(ctx, act.RemoteAction(a.peer.OrgID, a.peer.KioskID), a.clock.now(a.now()))
	if err != nil || o.Outcome == "" {
		return wire.ActionAck{}, err
	}
	ack := wire.ActionAck{V: wire.Minor, ID: act.ID, Outcome: o.Outcome, Refusal: truncate(keycab.PrintableText(o.Refusal), wire.MaxRefusal), LogIndex: o.LogIndex}
	a.actMu.Lock()
	a.acted[act.ID] = ack
	a.actMu.Unlock()
	return ack, nil
}

// loadActed learns, once per start, the remote actions the kiosk's log
// already records, so that an action whose ack was lost before a restart
// is answered again, never carried out twice.
func (a *Agent) loadActed(ctx context.Context) error {
	a.actMu.Lock()
	defer a.actMu.Unlock()
	if a.actedLoaded {
		return nil
	}
	err := a.db.Scan(ctx, 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil || ev.Detail[keycab.RemoteActionID] == "" {
			return nil
		}
		ack := wire.ActionAck{V: wire.Minor, ID: ev.Detail[keycab.RemoteActionID], Outcome: keycab.RemoteDone, LogIndex: e.Index}
		if ev.Kind == keycab.EventRemoteRefused {
			ack.Outcome, ack.Refusal = keycab.RemoteRefused, truncate(ev.Detail[keycab.RemoteRefusal], wire.MaxRefusal)
		}
		// The first entry answers, unless a later one refused it: a
		// release logged before its lock failed to open is refused.
		if prev, seen := a.acted[ack.ID]; !seen || (ack.Outcome == keycab.RemoteRefused && prev.Outcome != keycab.RemoteRefused) {
			a.acted[ack.ID] = ack
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the remote actions the log records: %w", err)
	}
	a.actedLoaded = true
	return nil
}

// refuseAction records, once, an action that failed its checks. It is
// never acked: its id is not HQ's word (the note's signature failed, or
// it names another kiosk), so answering for it could mark HQ's genuine
// action of that id refused, and the log keeps it under its own key
// (keycab.RemoteUnverifiedID) so that it never stands for that action.
func (a *Agent) refuseAction(ctx context.Context, msg []byte, id, why string) (wire.ActionAck, error) {
	sum := sha256.Sum256(msg)
	key := fmt.Sprintf("bad:%x", sum[:8])
	a.actMu.Lock()
	prev, seen := a.acted[key]
	a.actMu.Unlock()
	if seen {
		return prev, nil
	}
	a.log.Warn("remote action refused", "action", id, "why", why)
	_, err := a.db.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventRemoteRefused,
		Detail: map[string]string{keycab.RemoteUnverifiedID: truncate(keycab.PrintableText(id), 100), keycab.RemoteRefusal: truncate(keycab.PrintableText(why), wire.MaxRefusal)}}})
	if err != nil {
		return wire.ActionAck{}, fmt.Errorf("record refused remote action: %w", err)
	}
	a.actMu.Lock()
	a.acted[key] = wire.ActionAck{}
	a.actMu.Unlock()
	return wire.ActionAck{}, nil
}

func (a *Agent) ackAction(ctx context.Context, ack wire.ActionAck) error {
	status, rb, err := a.do(ctx, http.MethodPost, wire.PathActionAck, ack)
	if err != nil {
		return fmt.Errorf("ack remote action %s: %w", ack.ID, err)
	}
	if status == http.StatusNotFound {
		// Not an action of this kiosk's at HQ: there is nothing to answer.
		a.log.Warn("HQ knows no such remote action", "action", ack.ID)
		return nil
	}
	if status >= 400 && status < 500 && status != http.StatusUnauthorized && status != http.StatusTooManyRequests {
		// HQ refuses this answer for good: sending it again would hold
		// up every action after it. The kiosk's log keeps the outcome.
		a.log.Warn("HQ refused the answer to a remote action", "action", ack.ID, "status", status, "error", errorText(rb))
		return nil
	}
	if status != http.StatusNoContent && status != http.StatusOK {
		return fmt.Errorf("ack remote action %s: HQ answered %d: %s", ack.ID, status, errorText(rb))
	}
	return nil
}

// truncate cuts s to at most n bytes of valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
