-- keycab HQ schema, version 24 (postgres): webhooks. See the sqlite
-- twin for what each table means.
CREATE TABLE webhooks (
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	id           TEXT NOT NULL,
	url          TEXT NOT NULL,
	description  TEXT NOT NULL DEFAULT '',
	events       TEXT NOT NULL,
	enabled      BOOLEAN NOT NULL DEFAULT true,
	secret       BYTEA NOT NULL,
	old_secret   BYTEA,
	old_until_us BIGINT NOT NULL DEFAULT 0,
	created_us   BIGINT NOT NULL,
	updated_us   BIGINT NOT NULL,
	PRIMARY KEY (org_id, id)
);

CREATE TABLE webhook_deliveries (
	org_id          TEXT NOT NULL,
	id              TEXT NOT NULL,
	webhook_id      TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	payload         TEXT NOT NULL,
	created_us      BIGINT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_us         BIGINT NOT NULL,
	lease_us        BIGINT NOT NULL DEFAULT 0,
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	last_attempt_us BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (org_id, state, next_us);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (org_id, webhook_id, created_us);

ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON webhooks
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON webhook_deliveries
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));

-- The sender's one look across organisations: which have a delivery
-- due (their ids only; each is then read bound to its tenant). The
-- deliveries are under forced row-level security, which binds their
-- owner too: the function visits each organisation of org_directory
-- bound to it, in one round trip.
CREATE FUNCTION keycab_webhook_due_orgs(now_us bigint) RETURNS SETOF text
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$
DECLARE
	o text;
	was text := current_setting('keycab.org_id', true);
BEGIN
	FOR o IN SELECT org_id FROM org_directory ORDER BY org_id LOOP
		PERFORM set_config('keycab.org_id', o, true);
		IF EXISTS (SELECT 1 FROM webhook_deliveries WHERE org_id = o AND state = 'pending' AND next_us <= now_us AND lease_us <= now_us) THEN
			RETURN NEXT o;
		END IF;
	END LOOP;
	PERFORM set_config('keycab.org_id', coalesce(was, ''), true);
END
$$;
REVOKE ALL ON FUNCTION keycab_webhook_due_orgs(bigint) FROM PUBLIC;
