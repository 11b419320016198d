package dashboard

import (
	"net/http"
	"strings"
	"time"

	"keycab.dev/keycab/hq/store"
)

// The webhooks pages (owners and admins): an organisation's endpoints,
// each with its event types, its signing secret shown once when made or
// rotated, its delivery log, a test send and a resend (store webhook.go;
// the sender is hq/webhook).

type webhooksPage struct {
	Webhooks   []store.Webhook
	EventTypes []string
	Form       store.Webhook // the add form as sent
}

type webhookPage struct {
	Webhook    store.Webhook
	EventTypes []string
	Form       store.Webhook // the edit form, as stored or as sent
	Deliveries []store.WebhookDelivery
	Secret     string // a secret just made, shown this once
	Now        time.Time
}

// Takes reports whether w takes event type t.
func (webhooksPage) Takes(w store.Webhook, t string) bool { return hasString(w.Events, t) }

// Takes reports whether the form takes event type t.
func (webhookPage) Takes(w store.Webhook, t string) bool { return hasString(w.Events, t) }

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d *Dashboard) wakeWebhooks() {
	if d.Webhooks != nil {
		d.Webhooks.Wake()
	}
}

// webhookForm reads the add or edit form.
func webhookForm(r *http.Request) store.Webhook {
	r.ParseForm()
	var events []string
	for _, e := range r.PostForm["event"] {
		if e = strings.TrimSpace(e); e != "" {
			events = append(events, e)
		}
	}
	return store.Webhook{URL: formValue(r, "url"), Description: formValue(r, "description"), Events: events, Enabled: formValue(r, "enabled") != ""}
}

func (d *Dashboard) webhooks(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderWebhooks(w, r, v, store.Webhook{Enabled: true, Events: store.WebhookEventTypes}, nil)
}

func (d *Dashboard) renderWebhooks(w http.ResponseWriter, r *http.Request, v *viewer, f store.Webhook, ferr error) error {
	ws, err := d.Store.Outbox().ListWebhooks(r.Context(), v.P.Scope())
	if err != nil {
		return err
	}
	d.renderForm(w, r, "webhooks", view{Title: "Webhooks", Nav: "webhooks", V: v,
		Data: webhooksPage{Webhooks: ws, EventTypes: store.WebhookEventTypes, Form: f}}, ferr)
	return nil
}

func (d *Dashboard) createWebhook(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := webhookForm(r)
	hook, secret, err := d.Store.Outbox().CreateWebhook(r.Context(), v.P.Scope(), f)
	if err != nil {
		return d.renderWebhooks(w, r, v, f, err)
	}
	return d.renderWebhook(w, r, v, hook.ID, nil, secret, v.T("notice.webhook_added"), nil)
}

func (d *Dashboard) webhook(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderWebhook(w, r, v, r.PathValue("id"), nil, "", "", nil)
}

// renderWebhook renders a webhook's page; f is the edit form as sent
// (nil: as stored), secret one just made.
func (d *Dashboard) renderWebhook(w http.ResponseWriter, r *http.Request, v *viewer, id string, f *store.Webhook, secret, notice string, ferr error) error {
	ctx, sc := r.Context(), v.P.Scope()
	hook, err := d.Store.Outbox().GetWebhook(ctx, sc, id)
	if err != nil {
		return err
	}
	ds, err := d.Store.Outbox().ListWebhookDeliveries(ctx, sc, id, 50)
	if err != nil {
		return err
	}
	form := hook
	if f != nil {
		form = *f
	}
	title := hook.Description
	if title == "" {
		title = "Webhook" // said in the page's language (titles)
	}
	d.renderForm(w, r, "webhook", view{Title: title, Nav: "webhooks", V: v, Notice: notice,
		Data: webhookPage{Webhook: hook, EventTypes: store.WebhookEventTypes, Form: form, Deliveries: ds, Secret: secret, Now: d.now()}}, ferr)
	return nil
}

func (d *Dashboard) updateWebhook(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := webhookForm(r)
	f.ID = r.PathValue("id")
	if _, err := d.Store.Outbox().UpdateWebhook(r.Context(), v.P.Scope(), f); err != nil {
		return d.renderWebhook(w, r, v, f.ID, &f, "", "", err)
	}
	return redirect(w, r, "/webhooks/"+f.ID+"?notice=saved")
}

func (d *Dashboard) rotateWebhook(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	secret, err := d.Store.Outbox().RotateWebhookSecret(r.Context(), v.P.Scope(), id, 0)
	if err != nil {
		return d.renderWebhook(w, r, v, id, nil, "", "", err)
	}
	return d.renderWebhook(w, r, v, id, nil, secret, v.T("notice.webhook_rotated"), nil)
}

func (d *Dashboard) testWebhook(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	if _, err := d.Store.Outbox().TestWebhook(r.Context(), v.P.Scope(), id); err != nil {
		return d.renderWebhook(w, r, v, id, nil, "", "", err)
	}
	d.wakeWebhooks()
	return redirect(w, r, "/webhooks/"+id+"?notice=webhook-test")
}

func (d *Dashboard) resendWebhook(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	if err := d.Store.Outbox().ResendWebhookDelivery(r.Context(), v.P.Scope(), id, r.PathValue("delivery")); err != nil {
		return d.renderWebhook(w, r, v, id, nil, "", "", err)
	}
	d.wakeWebhooks()
	return redirect(w, r, "/webhooks/"+id+"?notice=webhook-resent")
}
