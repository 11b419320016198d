package api

import (
	"net/http"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// The webhook endpoints (owners and admins): register, change, disable
// and delete an organisation's endpoints, rotate a secret, read the
// delivery log, send a test and resend a delivery (store webhook.go; the
// sender is hq/webhook).

// WebhookRequest registers or changes an endpoint.
type WebhookRequest struct {
	URL         string   `json:"url" doc:"https:// (or http://) URL HQ posts events to; private, loopback and link-local addresses are refused when HQ connects unless the operator allows them"`
	Description string   `json:"description,omitempty"`
	Events      []string `json:"events" doc:"the event types it receives: custody.changed, alarm.raised, key.overdue, kiosk.offline, kiosk.online, kiosk.config_behind, kiosk.config_applied"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"absent: true when created, unchanged when changed"`
}

// Webhook is a registered endpoint (never its secret).
type Webhook struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Description    string    `json:"description"`
	Events         []string  `json:"events"`
	Enabled        bool      `json:"enabled"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	OldSecretUntil time.Time `json:"old_secret_valid_until,omitzero" doc:"after a rotation: until when the previous secret still signs beside the new one"`
}

// WebhookSecret is a webhook with its signing secret, answered once: when
// it is made and when the secret is rotated.
type WebhookSecret struct {
	Webhook Webhook `json:"webhook"`
	Secret  string  `json:"secret" doc:"whsec_ and base64: verify webhook-signature with it (Standard Webhooks); shown this once"`
}

// WebhookList is GET /v1/webhooks.
type WebhookList struct {
	Webhooks   []Webhook `json:"webhooks"`
	EventTypes []string  `json:"event_types" doc:"the event types an endpoint may choose"`
}

// RotateRequest rotates a webhook's secret.
type RotateRequest struct {
	KeepOldSeconds int `json:"keep_old_seconds,omitempty" doc:"how long the previous secret keeps signing beside the new one; absent: 86400 (a day), at most 7 days"`
}

// WebhookDelivery is one message to an endpoint and its outcome so far.
type WebhookDelivery struct {
	ID            string    `json:"id" doc:"the message's webhook-id, the same at every attempt"`
	WebhookID     string    `json:"webhook_id"`
	EventType     string    `json:"event_type"`
	State         string    `json:"state" doc:"pending, delivered or failed (after the last attempt)"`
	Attempts      int       `json:"attempts"`
	LastStatus    int       `json:"last_status" doc:"the HTTP status of the last attempt; 0 when none answered"`
	LastError     string    `json:"last_error"`
	CreatedAt     time.Time `json:"created_at"`
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero" doc:"when pending"`
	Payload       string    `json:"payload" doc:"the JSON body sent"`
}

// WebhookDeliveryList is GET /v1/webhooks/{id}/deliveries.
type WebhookDeliveryList struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
}

func webhookOf(w store.Webhook) Webhook {
	return Webhook{ID: w.ID, URL: w.URL, Description: w.Description, Events: nonNil(w.Events), Enabled: w.Enabled,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, OldSecretUntil: w.OldSecretUntil}
}

func deliveryOf(d store.WebhookDelivery) WebhookDelivery {
	return WebhookDelivery{ID: d.ID, WebhookID: d.WebhookID, EventType: d.EventType, State: d.State, Attempts: d.Attempts,
		LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt, LastAttemptAt: d.LastAttemptAt, NextAttemptAt: d.NextAt, Payload: d.Payload}
}

func (s *API) wakeWebhooks() {
	if s.Webhooks != nil {
		s.Webhooks.Wake()
	}
}

func (s *API) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.Store.Outbox().ListWebhooks(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := WebhookList{Webhooks: []Webhook{}, EventTypes: store.WebhookEventTypes}
	for _, x := range ws {
		out.Webhooks = append(out.Webhooks, webhookOf(x))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) getWebhook(w http.ResponseWriter, r *http.Request) error {
	x, err := s.Store.Outbox().GetWebhook(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, webhookOf(x))
	return nil
}

func (s *API) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in WebhookRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	enabled := in.Enabled == nil || *in.Enabled
	x, secret, err := s.Store.Outbox().CreateWebhook(r.Context(), principalOf(r.Context()).Scope(),
		store.Webhook{URL: in.URL, Description: in.Description, Events: in.Events, Enabled: enabled})
	if err != nil {
		return err
	}
	created(w, WebhookSecret{Webhook: webhookOf(x), Secret: secret})
	return nil
}

func (s *API) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	var in WebhookRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	ctx, sc, id := r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")
	old, err := s.Store.Outbox().GetWebhook(ctx, sc, id)
	if err != nil {
		return err
	}
	enabled := old.Enabled
	if in.Enabled != nil {
		enabled = *in.Enabled
	}
	x, err := s.Store.Outbox().UpdateWebhook(ctx, sc, store.Webhook{ID: id, URL: in.URL, Description: in.Description, Events: in.Events, Enabled: enabled})
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, webhookOf(x))
	return nil
}

func (s *API) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.Outbox().DeleteWebhook(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) rotateWebhook(w http.ResponseWriter, r *http.Request) error {
	var in RotateRequest
	if r.ContentLength != 0 {
		if err := hq.Decode(r, &in); err != nil {
			return err
		}
	}
	if in.KeepOldSeconds < 0 {
		return keycab.Errorf(keycab.EINVALID, "keep_old_seconds is negative")
	}
	ctx, sc, id := r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")
	secret, err := s.Store.Outbox().RotateWebhookSecret(ctx, sc, id, time.Duration(in.KeepOldSeconds)*time.Second)
	if err != nil {
		return err
	}
	x, err := s.Store.Outbox().GetWebhook(ctx, sc, id)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, WebhookSecret{Webhook: webhookOf(x), Secret: secret})
	return nil
}

func (s *API) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return keycab.Errorf(keycab.EINVALID, "limit must be 1 to 500")
		}
		limit = n
	}
	ds, err := s.Store.Outbox().ListWebhookDeliveries(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	out := WebhookDeliveryList{Deliveries: []WebhookDelivery{}}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryOf(d))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) testWebhook(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Store.Outbox().TestWebhook(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.wakeWebhooks()
	hq.WriteJSON(w, http.StatusAccepted, deliveryOf(d))
	return nil
}

func (s *API) resendWebhookDelivery(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.Outbox().ResendWebhookDelivery(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), r.PathValue("delivery")); err != nil {
		return err
	}
	s.wakeWebhooks()
	hq.WriteJSON(w, http.StatusAccepted, Status{Status: "queued"})
	return nil
}
