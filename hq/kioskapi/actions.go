package kioskapi

import (
	"net/http"
	"net/url"

	"keycab.dev/keycab"
	"keycab.dev/keycab/sync/wire"
)

// actions answers a kiosk's long poll for remote actions (wire minor
// version 3): every action waiting for it, each signed by HQ's config
// key, or 204 when none came within wait.
func (h *Handler) actions(w http.ResponseWriter, r *http.Request, req *request) {
	_, wait, err := pollQuery(url.Values{"wait": r.URL.Query()["wait"]})
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.longPoll(w, r, req.sc.OrgID(), wait, func() bool {
		pend, err := h.cfg.Store.PendingRemoteActions(r.Context(), req.sc)
		if err != nil {
			h.error(w, r, err)
			return true
		}
		if len(pend) == 0 {
			return false
		}
		resp := wire.ActionsResponse{V: wire.Minor}
		for _, a := range pend {
			msg, err := wire.SignAction(req.kiosk, wire.ActionOf(a), h.cfg.ConfigSigner)
			if err != nil {
				h.error(w, r, err)
				return true
			}
			resp.Actions = append(resp.Actions, msg)
		}
		h.reply(w, http.StatusOK, resp)
		return true
	})
}

// ack records a kiosk's answer to one of its remote actions.
func (h *Handler) ack(w http.ResponseWriter, r *http.Request, req *request) {
	var a wire.ActionAck
	if err := decode(req.body, &a, "remote action ack"); err != nil {
		h.error(w, r, err)
		return
	}
	if len(a.Refusal) > wire.MaxRefusal {
		h.error(w, r, keycab.Errorf(keycab.EINVALID, "remote action ack refusal: longer than %d bytes", wire.MaxRefusal))
		return
	}
	if a.LogIndex < -1 {
		h.error(w, r, keycab.Errorf(keycab.EINVALID, "remote action ack log_index: %d is below -1", a.LogIndex))
		return
	}
	if err := h.cfg.Store.AckRemoteAction(r.Context(), req.sc, a.ID, a.Outcome, a.Refusal, a.LogIndex); err != nil {
		h.error(w, r, err)
		return
	}
	h.log.Info("remote action answered", "org", req.sc.OrgID(), "kiosk", req.kiosk, "action", a.ID, "outcome", a.Outcome, "refusal", a.Refusal)
	w.WriteHeader(http.StatusNoContent)
}
