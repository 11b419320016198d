-- keycab HQ schema, version 21 (postgres): public transparency logs (issue
-- 18 item 2; publiclog.go). orgs.public_logs: the organisation publishes
-- its kiosks' logs (checkpoint, tiles, entry bundles) to anyone, without
-- a token; off by default. kiosk_directory maps a kiosk's id to its
-- organisation, kept by a trigger like org_directory, under the tenant
-- policy; an unauthenticated request for a kiosk's log finds the tenant
-- through keycab_kiosk_org (SECURITY DEFINER, one statement), and the
-- store reads whether the log is public inside that tenant.
ALTER TABLE orgs ADD COLUMN public_logs BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE kiosk_directory (
	kiosk_id TEXT PRIMARY KEY,
	org_id   TEXT NOT NULL
);
ALTER TABLE kiosks NO FORCE ROW LEVEL SECURITY;
INSERT INTO kiosk_directory (kiosk_id, org_id) SELECT id, org_id FROM kiosks ON CONFLICT DO NOTHING;
ALTER TABLE kiosks FORCE ROW LEVEL SECURITY;
CREATE FUNCTION keycab_kiosk_directory() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO kiosk_directory (kiosk_id, org_id) VALUES (NEW.id, NEW.org_id) ON CONFLICT DO NOTHING;
	RETURN NEW;
END
$$;
CREATE TRIGGER kiosks_directory AFTER INSERT ON kiosks
	FOR EACH ROW EXECUTE FUNCTION keycab_kiosk_directory();

ALTER TABLE kiosk_directory ENABLE ROW LEVEL SECURITY;
ALTER TABLE kiosk_directory FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON kiosk_directory
	USING (org_id <> '' AND org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id <> '' AND org_id = current_setting('keycab.org_id', true));
DO $$
BEGIN
	EXECUTE format('CREATE POLICY definer ON kiosk_directory TO %I'
		' USING (current_user <> session_user) WITH CHECK (current_user <> session_user)', current_user);
END
$$;

-- A kiosk's organisation, by the kiosk's id (a public log's request).
CREATE FUNCTION keycab_kiosk_org(kiosk text) RETURNS SETOF text
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ SELECT org_id FROM kiosk_directory WHERE kiosk_id = kiosk $$;
REVOKE ALL ON FUNCTION keycab_kiosk_org(text) FROM PUBLIC;
