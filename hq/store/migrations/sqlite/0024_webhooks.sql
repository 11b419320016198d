-- keycab HQ schema, version 24 (sqlite): webhooks (issue 21 item 1;
-- webhook.go, package hq/webhook). An organisation's owners and admins
-- register endpoints that HQ posts events to, signed as the Standard
-- Webhooks specification says.
--
-- webhooks: one endpoint. events is the event types it receives, space
-- separated (store.WebhookEventTypes). secret is the signing secret
-- ("whsec_" and base64 of 32 random bytes) sealed with the notes key
-- (AES-256-GCM, webhookAD as associated data); it is answered once, when
-- made or rotated, and never again. After a rotation old_secret is the
-- secret before it, still signing (both signatures are sent) until
-- old_until_us, so a receiver can move to the new one without losing
-- a delivery.
CREATE TABLE webhooks (
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	id           TEXT NOT NULL,
	url          TEXT NOT NULL,
	description  TEXT NOT NULL DEFAULT '',
	events       TEXT NOT NULL,
	enabled      INTEGER NOT NULL DEFAULT 1,
	secret       BLOB NOT NULL,
	old_secret   BLOB,
	old_until_us INTEGER NOT NULL DEFAULT 0,
	created_us   INTEGER NOT NULL,
	updated_us   INTEGER NOT NULL,
	PRIMARY KEY (org_id, id)
) STRICT;

-- webhook_deliveries: one message to one endpoint, and its retry queue
-- (at least once). id is the message's webhook-id, the same at every
-- attempt so a receiver can drop a repeat. payload is the JSON body,
-- fixed when the event happened (enqueued in the transaction of the
-- change that made it). state: pending until delivered (a 2xx answer)
-- or failed after the last attempt. A sender leases a due row (lease_us,
-- attempts + 1) before it posts, and finishes it only while its lease
-- (lease_us and attempts as it took them) still holds, so two HQ
-- processes never send one attempt.
CREATE TABLE webhook_deliveries (
	org_id          TEXT NOT NULL,
	id              TEXT NOT NULL,
	webhook_id      TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	payload         TEXT NOT NULL,
	created_us      INTEGER NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_us         INTEGER NOT NULL,
	lease_us        INTEGER NOT NULL DEFAULT 0,
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	last_attempt_us INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (org_id, state, next_us);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (org_id, webhook_id, created_us);
