package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// Webhooks: an organisation's owners and admins register endpoints that
// HQ posts events to (migration 0024; the sender is package hq/webhook).
// An event is queued for every enabled endpoint that takes its type in
// the transaction of the change that made it (a push of kiosk events,
// a custody change at HQ, a heartbeat, a notice the notifier claims), so
// an event is queued exactly when its change commits; the sender then
// delivers it at least once.

// The event types a webhook can take. The payload of each is
// {"type": TYPE, "timestamp": RFC 3339, "data": {...}}; data's fields
// are documented in docs/OPERATIONS.md.
const (
	WebhookCustodyChanged      = "custody.changed"      // a key set taken, returned, handed over or lost (at a kiosk or at HQ)
	WebhookAlarmRaised         = "alarm.raised"         // a kiosk raised an alarm
	WebhookKeyOverdue          = "key.overdue"          // a key set is past its due time (the notifier's notice)
	WebhookKioskOffline        = "kiosk.offline"        // a kiosk went silent past the offline threshold
	WebhookKioskOnline         = "kiosk.online"         // and was heard from again
	WebhookKioskConfigBehind   = "kiosk.config_behind"  // a kiosk has not applied the config HQ issued it
	WebhookKioskConfigApplied  = "kiosk.config_applied" // a kiosk reported a new config version applied
	WebhookTest                = "webhook.test"         // sent from the dashboard or API, to the one endpoint
	webhookSecretBytes         = 32
	webhookSecretPrefix        = "whsec_"
	maxWebhookURL              = 2000
	maxWebhooksPerOrg          = 20
	defaultWebhookRotationKeep = 24 * time.Hour
)

// WebhookEventTypes are the types an endpoint may choose.
var WebhookEventTypes = []string{WebhookCustodyChanged, WebhookAlarmRaised, WebhookKeyOverdue,
	WebhookKioskOffline, WebhookKioskOnline, WebhookKioskConfigBehind, WebhookKioskConfigApplied}

// Webhook is a registered endpoint, without its secret.
type Webhook struct {
	ID          string
	OrgID       string
	URL         string
	Description string
	Events      []string
	Enabled     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// OldSecretUntil: after a rotation, until when the previous secret
	// still signs (zero when none does).
	OldSecretUntil time.Time
}

// logged is w as the admin log records it: the URL without its query
// (which may carry a token), never a secret.
func (w Webhook) logged() any {
	u := w.URL
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i] + "?…"
	}
	return struct {
		URL         string   `json:"url"`
		Description string   `json:"description"`
		Events      []string `json:"events"`
		Enabled     bool     `json:"enabled"`
	}{u, w.Description, w.Events, w.Enabled}
}

// WebhookDelivery is one message to one endpoint and its outcome so far.
type WebhookDelivery struct {
	ID, WebhookID, EventType string
	State                    string // pending, delivered or failed
	Attempts                 int
	LastStatus               int // the HTTP status of the last attempt; 0 when none answered
	LastError                string
	CreatedAt, LastAttemptAt time.Time
	NextAt                   time.Time // when pending: the next attempt
	Payload                  string
}

// checkWebhook normalises and checks w's fields.
func checkWebhook(w *Webhook) error {
	w.URL, w.Description = strings.TrimSpace(w.URL), strings.TrimSpace(w.Description)
	if err := CheckWebhookURL(w.URL); err != nil {
		return err
	}
	if len(w.Description) > 200 {
		return invalid("the description is longer than 200 characters")
	}
	if len(w.Events) == 0 {
		return invalid("choose at least one event type")
	}
	seen := map[string]bool{}
	var evs []string
	for _, e := range w.Events {
		e = strings.TrimSpace(e)
		if !slices.Contains(WebhookEventTypes, e) {
			return invalid("unknown event type %q: want one of %s", e, strings.Join(WebhookEventTypes, ", "))
		}
		if !seen[e] {
			seen[e] = true
			evs = append(evs, e)
		}
	}
	slices.Sort(evs)
	w.Events = evs
	return nil
}

// CheckWebhookURL checks that raw is an absolute http or https URL with a
// host and no user or fragment. Where it may point (no private, loopback
// or link-local address) is checked by the sender when it connects, after
// resolving the name (package hq/webhook).
func CheckWebhookURL(raw string) error {
	if raw == "" {
		return invalid("the URL is empty")
	}
	if len(raw) > maxWebhookURL {
		return invalid("the URL is longer than %d characters", maxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("the URL does not parse: %v", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return invalid("the URL must start with https:// (or http://)")
	}
	if u.Host == "" || u.Hostname() == "" {
		return invalid("the URL names no host")
	}
	if u.User != nil {
		return invalid("the URL must not carry a user name or password")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return invalid("the URL must not have a fragment (#)")
	}
	return nil
}

// newWebhookSecret returns a fresh signing secret, "whsec_" and the
// base64 of 32 random bytes (the Standard Webhooks format).
func newWebhookSecret() string {
	b := make([]byte, webhookSecretBytes)
	rand.Read(b)
	return webhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

func webhookAD(orgID, id string) []byte {
	return []byte("keycab webhook secret v1\x00" + orgID + "\x00" + id)
}

func (t *tx) sealWebhookSecret(id, secret string) ([]byte, error) {
	if t.s.notes == nil {
		return nil, keycab.Errorf(keycab.EUNAVAILABLE, "webhooks need HQ's notes key to seal their secrets, and this HQ has none configured")
	}
	return t.s.notes.seal([]byte(secret), webhookAD(t.org(), id))
}

const webhookColumns = "id, url, description, events, enabled, created_us, updated_us, old_until_us"

func scanWebhook(orgID string, r interface{ Scan(...any) error }) (Webhook, error) {
	w := Webhook{OrgID: orgID}
	var events string
	var created, updated, oldUntil int64
	err := r.Scan(&w.ID, &w.URL, &w.Description, &events, &w.Enabled, &created, &updated, &oldUntil)
	w.Events = strings.Fields(events)
	w.CreatedAt, w.UpdatedAt, w.OldSecretUntil = fromUS(created), fromUS(updated), fromUS(oldUntil)
	return w, err
}

func (t *tx) webhook(ctx context.Context, id string) (Webhook, error) {
	w, err := scanWebhook(t.org(), t.queryRow(ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE org_id = $1 AND id = $2", t.org(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, notFound("webhook", id)
	}
	if !w.OldSecretUntil.IsZero() && !w.OldSecretUntil.After(t.now) {
		w.OldSecretUntil = time.Time{}
	}
	return w, err
}

// ListWebhooks returns the organisation's webhooks. Owners and admins.
func (s *Outbox) ListWebhooks(ctx context.Context, sc Scope) ([]Webhook, error) {
	var out []Webhook
	err := s.store().read(ctx, "list webhooks", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("reading webhooks"); err != nil {
			return err
		}
		return t.each(ctx, func(r *sql.Rows) error {
			w, err := scanWebhook(t.org(), r)
			if !w.OldSecretUntil.After(t.now) {
				w.OldSecretUntil = time.Time{}
			}
			out = append(out, w)
			return err
		}, "SELECT "+webhookColumns+" FROM webhooks WHERE org_id = $1 ORDER BY created_us, id", t.org())
	})
	return out, err
}

// GetWebhook returns one of the organisation's webhooks. Owners and
// admins.
func (s *Outbox) GetWebhook(ctx context.Context, sc Scope, id string) (Webhook, error) {
	var w Webhook
	err := s.store().read(ctx, "get webhook", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("reading webhooks"); err != nil {
			return err
		}
		var err error
		w, err = t.webhook(ctx, id)
		return err
	})
	return w, err
}

// CreateWebhook registers an endpoint and answers it with its signing
// secret, which is never answered again. Owners and admins.
func (s *Outbox) CreateWebhook(ctx context.Context, sc Scope, w Webhook) (Webhook, string, error) {
	var secret string
	err := s.store().write(ctx, "create webhook", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("adding a webhook"); err != nil {
			return err
		}
		if err := checkWebhook(&w); err != nil {
			return err
		}
		if n, err := t.count(ctx, "SELECT count(*) FROM webhooks WHERE org_id = $1", t.org()); err != nil {
			return err
		} else if n >= maxWebhooksPerOrg {
			return invalid("an organisation has at most %d webhooks", maxWebhooksPerOrg)
		}
		w.ID, w.OrgID, w.CreatedAt, w.UpdatedAt = newID("wh"), t.org(), t.now, t.now
		secret = newWebhookSecret()
		sealed, err := t.sealWebhookSecret(w.ID, secret)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO webhooks (org_id, id, url, description, events, enabled, secret, created_us, updated_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`, t.org(), w.ID, w.URL, w.Description, strings.Join(w.Events, " "), w.Enabled, sealed, us(t.now)); err != nil {
			return err
		}
		return t.logChange(ctx, "webhook.create", w.ID, nil, w.logged())
	})
	if err != nil {
		return Webhook{}, "", err
	}
	return w, secret, nil
}

// UpdateWebhook replaces an endpoint's URL, description, event types and
// whether it is enabled. Owners and admins.
func (s *Outbox) UpdateWebhook(ctx context.Context, sc Scope, w Webhook) (Webhook, error) {
	err := s.store().write(ctx, "update webhook", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("changing a webhook"); err != nil {
			return err
		}
		before, err := t.webhook(ctx, w.ID)
		if err != nil {
			return err
		}
		if err := checkWebhook(&w); err != nil {
			return err
		}
		w.OrgID, w.CreatedAt, w.UpdatedAt, w.OldSecretUntil = t.org(), before.CreatedAt, t.now, before.OldSecretUntil
		if _, err := t.exec(ctx, `UPDATE webhooks SET url = $1, description = $2, events = $3, enabled = $4, updated_us = $5 WHERE org_id = $6 AND id = $7`,
			w.URL, w.Description, strings.Join(w.Events, " "), w.Enabled, us(t.now), t.org(), w.ID); err != nil {
			return err
		}
		return t.logChange(ctx, "webhook.update", w.ID, before.logged(), w.logged())
	})
	return w, err
}

// DeleteWebhook removes an endpoint and its delivery log. Owners and
// admins.
func (s *Outbox) DeleteWebhook(ctx context.Context, sc Scope, id string) error {
	return s.store().write(ctx, "delete webhook", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("deleting a webhook"); err != nil {
			return err
		}
		before, err := t.webhook(ctx, id)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2", t.org(), id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM webhooks WHERE org_id = $1 AND id = $2", t.org(), id); err != nil {
			return err
		}
		return t.logChange(ctx, "webhook.delete", id, before.logged(), nil)
	})
}

// RotateWebhookSecret gives an endpoint a new signing secret, answered
// this once. The previous secret keeps signing beside it (each delivery
// carries both signatures) for keep, 24 hours when zero, so the receiver
// can switch without losing a delivery. Owners and admins.
func (s *Outbox) RotateWebhookSecret(ctx context.Context, sc Scope, id string, keep time.Duration) (string, error) {
	if keep == 0 {
		keep = defaultWebhookRotationKeep
	}
	if keep < 0 || keep > 7*24*time.Hour {
		return "", invalid("the old secret may stay valid for up to 7 days")
	}
	var secret string
	err := s.store().write(ctx, "rotate webhook secret", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("rotating a webhook's secret"); err != nil {
			return err
		}
		before, err := t.webhook(ctx, id)
		if err != nil {
			return err
		}
		secret = newWebhookSecret()
		sealed, err := t.sealWebhookSecret(id, secret)
		if err != nil {
			return err
		}
		until := t.now.Add(keep)
		if _, err := t.exec(ctx, `UPDATE webhooks SET old_secret = secret, secret = $1, old_until_us = $2, updated_us = $3 WHERE org_id = $4 AND id = $5`,
			sealed, us(until), us(t.now), t.org(), id); err != nil {
			return err
		}
		type rotation struct {
			OldSecretValidUntil time.Time `json:"old_secret_valid_until,omitzero"`
		}
		return t.logChange(ctx, "webhook.rotate_secret", id, rotation{before.OldSecretUntil}, rotation{until})
	})
	return secret, err
}

const deliveryColumns = "id, webhook_id, event_type, state, attempts, last_status, last_error, created_us, last_attempt_us, next_us, payload"

func scanDelivery(r interface{ Scan(...any) error }) (WebhookDelivery, error) {
	var d WebhookDelivery
	var created, last, next int64
	err := r.Scan(&d.ID, &d.WebhookID, &d.EventType, &d.State, &d.Attempts, &d.LastStatus, &d.LastError, &created, &last, &next, &d.Payload)
	d.CreatedAt, d.LastAttemptAt, d.NextAt = fromUS(created), fromUS(last), fromUS(next)
	if d.State != "pending" {
		d.NextAt = time.Time{}
	}
	return d, err
}

// ListWebhookDeliveries returns an endpoint's deliveries, newest first, at
// most limit (zero: 50). Owners and admins.
func (s *Outbox) ListWebhookDeliveries(ctx context.Context, sc Scope, webhookID string, limit int) ([]WebhookDelivery, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var out []WebhookDelivery
	err := s.store().read(ctx, "list webhook deliveries", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("reading webhooks"); err != nil {
			return err
		}
		if _, err := t.webhook(ctx, webhookID); err != nil {
			return err
		}
		return t.each(ctx, func(r *sql.Rows) error {
			d, err := scanDelivery(r)
			out = append(out, d)
			return err
		}, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2 ORDER BY created_us DESC, id DESC LIMIT $3",
			t.org(), webhookID, limit)
	})
	return out, err
}

// TestWebhook queues a webhook.test event for one enabled endpoint and
// returns its delivery. Owners and admins.
func (s *Outbox) TestWebhook(ctx context.Context, sc Scope, id string) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := s.store().write(ctx, "test webhook", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("testing a webhook"); err != nil {
			return err
		}
		w, err := t.webhook(ctx, id)
		if err != nil {
			return err
		}
		if !w.Enabled {
			return keycab.Errorf(keycab.ECONFLICT, "the webhook is disabled: enable it to send a test")
		}
		d, err = t.queueDelivery(ctx, w.ID, WebhookTest, map[string]any{"webhook_id": w.ID, "message": "A test event from keycab HQ."})
		if err != nil {
			return err
		}
		return t.logAction(ctx, "webhook.test", w.ID, d.ID)
	})
	return d, err
}

// ResendWebhookDelivery queues a delivery again, as a new series of
// attempts with the same message id and body, unless it is being sent
// right now. webhookID is the endpoint it belongs to. Owners and admins.
func (s *Outbox) ResendWebhookDelivery(ctx context.Context, sc Scope, webhookID, id string) error {
	return s.store().write(ctx, "resend webhook delivery", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("resending a webhook delivery"); err != nil {
			return err
		}
		d, err := scanDelivery(t.queryRow(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE org_id = $1 AND id = $2 AND webhook_id = $3", t.org(), id, webhookID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("webhook delivery", id)
		} else if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_us = $1, lease_us = 0
			WHERE org_id = $2 AND id = $3 AND lease_us <= $1`, us(t.now), t.org(), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return keycab.Errorf(keycab.ECONFLICT, "the delivery is being sent now; try again in a moment")
		}
		return t.logAction(ctx, "webhook.resend", d.WebhookID, fmt.Sprintf("delivery %s (%s), %s after %d attempts", d.ID, d.EventType, d.State, d.Attempts))
	})
}

// webhookPayload is a delivery's body (the Standard Webhooks shape).
type webhookPayload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

func (t *tx) queueDelivery(ctx context.Context, webhookID, typ string, data any) (WebhookDelivery, error) {
	body, err := json.Marshal(webhookPayload{Type: typ, Timestamp: t.now.Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return WebhookDelivery{}, err
	}
	d := WebhookDelivery{ID: newID("msg"), WebhookID: webhookID, EventType: typ, State: "pending", CreatedAt: t.now, NextAt: t.now, Payload: string(body)}
	_, err = t.exec(ctx, `INSERT INTO webhook_deliveries (org_id, id, webhook_id, event_type, payload, created_us, next_us)
		VALUES ($1, $2, $3, $4, $5, $6, $6)`, t.org(), d.ID, webhookID, typ, d.Payload, us(t.now))
	return d, err
}

// webhookSubs is the transaction's organisation's enabled webhooks and
// the types each takes, read once a transaction (subscribers).
type webhookSubs map[string][]string // webhook id -> event types

func (t *tx) subscribers(ctx context.Context) (webhookSubs, error) {
	if t.hooks != nil {
		return t.hooks, nil
	}
	subs := webhookSubs{}
	err := t.each(ctx, func(r *sql.Rows) error {
		var id, events string
		if err := r.Scan(&id, &events); err != nil {
			return err
		}
		subs[id] = strings.Fields(events)
		return nil
	}, "SELECT id, events FROM webhooks WHERE org_id = $1 AND enabled", t.org())
	if err != nil {
		return nil, err
	}
	t.hooks = subs
	return subs, nil
}

// emit queues event typ with data for every enabled webhook of the
// transaction's organisation that takes typ, in the transaction.
func (t *tx) emit(ctx context.Context, typ string, data any) error {
	subs, err := t.subscribers(ctx)
	if err != nil || len(subs) == 0 {
		return err
	}
	ids := make([]string, 0, len(subs))
	for id, types := range subs {
		if slices.Contains(types, typ) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if _, err := t.queueDelivery(ctx, id, typ, data); err != nil {
			return fmt.Errorf("queue webhook %s: %w", typ, err)
		}
	}
	return nil
}

// wantsWebhook reports whether an enabled webhook of the transaction's
// organisation takes typ.
func (t *tx) wantsWebhook(ctx context.Context, typ string) (bool, error) {
	subs, err := t.subscribers(ctx)
	if err != nil {
		return false, err
	}
	for _, types := range subs {
		if slices.Contains(types, typ) {
			return true, nil
		}
	}
	return false, nil
}

// custodyData is custody.changed's data.
type custodyData struct {
	Kind      string `json:"kind"` // key.taken, key.returned, key.handed_over or key.lost
	KeySetID  string `json:"key_set_id"`
	ActorID   string `json:"actor_id"`
	SecondID  string `json:"second_id,omitempty"`
	KioskID   string `json:"kiosk_id"` // "" for a change made at HQ
	CabinetID string `json:"cabinet_id,omitempty"`
	LogIndex  int64  `json:"log_index"`
	At        string `json:"at"`
	DueAt     string `json:"due_at,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// emitEvents queues the webhooks that newly stored events call for:
// custody changes and alarms.
func (t *tx) emitEvents(ctx context.Context, events []Event) error {
	for _, e := range events {
		switch e.Kind {
		case keycab.EventKeyTaken, keycab.EventKeyReturned, keycab.EventKeyHandedOver, keycab.EventKeyLost:
			if err := t.emit(ctx, WebhookCustodyChanged, custodyData{Kind: string(e.Kind), KeySetID: e.KeySetID, ActorID: e.ActorID, SecondID: e.SecondID,
				KioskID: e.KioskID, CabinetID: e.CabinetID, LogIndex: e.LogIndex, At: rfc3339(e.At), DueAt: rfc3339(e.DueAt), Detail: e.Detail}); err != nil {
				return err
			}
		case keycab.EventAlarmRaised:
			if err := t.emit(ctx, WebhookAlarmRaised, map[string]any{"alarm": e.Detail, "kiosk_id": e.KioskID, "cabinet_id": e.CabinetID,
				"log_index": e.LogIndex, "at": rfc3339(e.At)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// WebhookDueOrgs returns the organisations with a webhook delivery due,
// for the sender to visit: on PostgreSQL in one call of migration 0024's
// function, on SQLite (in process) one indexed look per organisation.
func (s *Outbox) WebhookDueOrgs(ctx context.Context) ([]string, error) {
	var out []string
	err := s.store().global(ctx, "find webhook deliveries due", false, func(ctx context.Context, t *tx) error {
		now := us(t.now)
		if s.engine == Postgres {
			return t.each(ctx, func(r *sql.Rows) error {
				var id string
				err := r.Scan(&id)
				out = append(out, id)
				return err
			}, "SELECT * FROM keycab_webhook_due_orgs($1)", now)
		}
		orgs, err := t.orgIDs(ctx)
		if err != nil {
			return err
		}
		for _, org := range orgs {
			var one int
			err := t.queryRow(ctx, `SELECT 1 FROM webhook_deliveries WHERE org_id = $1 AND state = 'pending' AND next_us <= $2 AND lease_us <= $2 LIMIT 1`,
				org, now).Scan(&one)
			if err == nil {
				out = append(out, org)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return nil
	})
	return out, err
}

// WebhookSend is a delivery leased to a sender: what to post, where, and
// with which secrets.
type WebhookSend struct {
	OrgID, ID, WebhookID, EventType string
	URL                             string
	Payload                         []byte
	Secrets                         []string // the current secret, then the previous one while it still signs
	Attempt                         int      // this attempt's number, from 1
	LeaseUntil                      time.Time
	leaseUS                         int64
}

// TakeWebhookDeliveries leases up to limit of org's due deliveries to
// enabled endpoints, for lease: no other sender takes them until the
// lease ends or the delivery is finished. Each lease is an attempt.
func (s *Outbox) TakeWebhookDeliveries(ctx context.Context, orgID string, lease time.Duration, limit int) ([]WebhookSend, error) {
	var due []WebhookSend
	err := s.store().tenant(ctx, "find due webhook deliveries", orgID, false, func(ctx context.Context, t *tx) error {
		if after, err := t.orgDeleteAfter(ctx); err != nil || after != 0 {
			return err // an organisation being deleted sends nothing
		}
		return t.each(ctx, func(r *sql.Rows) error {
			d := WebhookSend{OrgID: orgID}
			err := r.Scan(&d.ID, &d.WebhookID, &d.EventType, &d.Attempt)
			due = append(due, d)
			return err
		}, `SELECT d.id, d.webhook_id, d.event_type, d.attempts FROM webhook_deliveries d
			JOIN webhooks w ON w.org_id = d.org_id AND w.id = d.webhook_id
			WHERE d.org_id = $1 AND d.state = 'pending' AND d.next_us <= $2 AND d.lease_us <= $2 AND w.enabled
			ORDER BY d.next_us, d.id LIMIT $3`, t.org(), us(t.now), limit)
	})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	var out []WebhookSend
	err = s.store().tenant(ctx, "take webhook deliveries", orgID, true, func(ctx context.Context, t *tx) error {
		out = out[:0]
		now := us(t.now)
		until := now + lease.Microseconds()
		for _, d := range due {
			res, err := t.exec(ctx, `UPDATE webhook_deliveries SET lease_us = $1, attempts = attempts + 1
				WHERE org_id = $2 AND id = $3 AND state = 'pending' AND next_us <= $4 AND lease_us <= $4 AND attempts = $5`,
				until, t.org(), d.ID, now, d.Attempt)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				continue // another sender took it
			}
			var payload, target string
			var secret, old []byte
			var oldUntil int64
			if err := t.queryRow(ctx, `SELECT d.payload, w.url, w.secret, w.old_secret, w.old_until_us FROM webhook_deliveries d
				JOIN webhooks w ON w.org_id = d.org_id AND w.id = d.webhook_id WHERE d.org_id = $1 AND d.id = $2`, t.org(), d.ID).
				Scan(&payload, &target, &secret, &old, &oldUntil); err != nil {
				return err
			}
			cur, err := t.s.notes.open(secret, webhookAD(t.org(), d.WebhookID), "webhook secret of "+d.WebhookID)
			if err != nil {
				return err
			}
			d.Secrets = []string{string(cur)}
			if len(old) > 0 && oldUntil > now {
				prev, err := t.s.notes.open(old, webhookAD(t.org(), d.WebhookID), "previous webhook secret of "+d.WebhookID)
				if err != nil {
					return err
				}
				d.Secrets = append(d.Secrets, string(prev))
			}
			d.URL, d.Payload, d.leaseUS, d.LeaseUntil = target, []byte(payload), until, fromUS(until)
			d.Attempt++
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WebhookResult is the outcome of one attempt.
type WebhookResult struct {
	Delivered bool
	Status    int    // the HTTP status answered; 0 when none
	Error     string // why it failed
	RetryAt   time.Time
}

// ErrLeaseLost is returned by FinishWebhookDelivery when the delivery's
// lease ended and another sender may have taken it: the outcome is not
// recorded.
var ErrLeaseLost = keycab.Errorf(keycab.ECONFLICT, "the webhook delivery's lease ended before its outcome was recorded")

// FinishWebhookDelivery records the outcome of a leased attempt: delivered,
// pending again until res.RetryAt, or failed for good (no RetryAt). It
// records nothing when the lease no longer holds (ErrLeaseLost).
func (s *Outbox) FinishWebhookDelivery(ctx context.Context, d WebhookSend, res WebhookResult) error {
	state := "failed"
	switch {
	case res.Delivered:
		state = "delivered"
	case !res.RetryAt.IsZero():
		state = "pending"
	}
	return s.store().tenant(ctx, "finish webhook delivery", d.OrgID, true, func(ctx context.Context, t *tx) error {
		r, err := t.exec(ctx, `UPDATE webhook_deliveries SET state = $1, last_status = $2, last_error = $3, last_attempt_us = $4, next_us = $5, lease_us = 0
			WHERE org_id = $6 AND id = $7 AND state = 'pending' AND lease_us = $8 AND attempts = $9`,
			state, res.Status, clip(res.Error, 500), us(t.now), us(res.RetryAt), t.org(), d.ID, d.leaseUS, d.Attempt)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrLeaseLost
		}
		return nil
	})
}

// emitConfigApplied queues kiosk.config_applied when the principal kiosk
// reports a config version other than the one its last heartbeat did.
func (t *tx) emitConfigApplied(ctx context.Context, version int64) error {
	if version == 0 {
		return nil
	}
	if want, err := t.wantsWebhook(ctx, WebhookKioskConfigApplied); err != nil || !want {
		return err
	}
	var prev int64
	err := t.queryRow(ctx, "SELECT config_version FROM kiosk_heartbeats WHERE org_id = $1 AND kiosk_id = $2", t.org(), t.p.kiosk).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if prev == version {
		return nil
	}
	return t.emit(ctx, WebhookKioskConfigApplied, map[string]any{"kiosk_id": t.p.kiosk, "cabinet_id": t.p.cabinet,
		"config_version": version, "previous_version": prev, "at": rfc3339(t.now)})
}
