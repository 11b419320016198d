-- keycab HQ schema, version 9 (postgres): row-level security on the six
-- tables that carry org_id but were left global by versions 2, 5 and 6:
-- account_members, sessions, auth_tokens, deliveries, mail_retry and
-- org_directory. With no tenant set, the application role saw every
-- organisation's delivery log, sessions and token hashes in them.
--
-- Each table gets the tenant policy of 0001, which also never matches a
-- row whose org_id is '' (an account's own mail and links: resets and
-- sign-in links belong to no organisation), whatever the setting is.
-- Those rows are written in a transaction with no tenant set; the
-- delivery log and the mail retry queue also read them there, and
-- nothing but the functions below reads or changes an account's tokens.
--
-- The few lookups that cannot know the tenant beforehand run through the
-- SECURITY DEFINER functions below, owned by the schema owner (who runs
-- this migration and owns the tables) with a fixed search_path:
-- a session by its access or refresh token's hash, an account's
-- memberships and its sessions' revocation (sign-in, a password change),
-- a single-use token by its hash and an account's open tokens, every
-- organisation's id (the notifier), and the mail retry worker's due
-- mail. Each does one fixed statement on arguments the caller gives. The
-- owner is subject to row-level security too (FORCE); the policy
-- "definer" lets it past the tenant only while it runs for another
-- session user, that is inside these functions, never in its own
-- sessions (migrations, psql). EXECUTE is granted to the application
-- role by Migrate (migrate.go) and revoked from PUBLIC here.

DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['account_members', 'sessions', 'auth_tokens', 'deliveries', 'mail_retry', 'org_directory']
	LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant ON %I'
			' USING (org_id <> '''' AND org_id = current_setting(''keycab.org_id'', true))'
			' WITH CHECK (org_id <> '''' AND org_id = current_setting(''keycab.org_id'', true))', t);
		EXECUTE format('CREATE POLICY definer ON %I TO %I'
			' USING (current_user <> session_user) WITH CHECK (current_user <> session_user)', t, current_user);
	END LOOP;
END
$$;

-- An account's own rows (org_id ''), with no tenant set: its links and the
-- mail of them are written; the delivery log and the retry queue of that
-- mail are read.
CREATE POLICY account ON auth_tokens FOR INSERT
	WITH CHECK (org_id = '' AND coalesce(current_setting('keycab.org_id', true), '') = '');
DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['deliveries', 'mail_retry']
	LOOP
		EXECUTE format('CREATE POLICY account_read ON %I FOR SELECT'
			' USING (org_id = '''' AND coalesce(current_setting(''keycab.org_id'', true), '''') = '''')', t);
		EXECUTE format('CREATE POLICY account_write ON %I FOR INSERT'
			' WITH CHECK (org_id = '''' AND coalesce(current_setting(''keycab.org_id'', true), '''') = '''')', t);
	END LOOP;
END
$$;

-- Sessions, by a token's hash: the store then binds the transaction to
-- the session's organisation.
CREATE FUNCTION keycab_session_by_access(hash bytea) RETURNS SETOF sessions
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ SELECT * FROM sessions WHERE access_hash = hash $$;
CREATE FUNCTION keycab_session_by_refresh(hash bytea) RETURNS SETOF sessions
	LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ SELECT * FROM sessions WHERE refresh_hash = hash FOR UPDATE $$;
-- Sign-out everywhere: an account's sessions in every organisation.
CREATE FUNCTION keycab_revoke_account_sessions(account text, now_us bigint) RETURNS void
	LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ UPDATE sessions SET revoked_us = now_us WHERE account_id = account AND revoked_us = 0 $$;
-- An account's memberships (sign-in, /v1/me).
CREATE FUNCTION keycab_memberships(account text) RETURNS TABLE (org_id text, member_id text)
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ SELECT m.org_id, m.member_id FROM account_members m WHERE m.account_id = account ORDER BY m.created_us, m.org_id $$;

-- Single-use tokens, by hash: unused and unexpired only.
CREATE FUNCTION keycab_peek_auth_token(token_hash bytea, token_purpose text, now_us bigint) RETURNS SETOF auth_tokens
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ SELECT * FROM auth_tokens WHERE hash = token_hash AND purpose = token_purpose AND used_us = 0 AND expires_us > now_us $$;
CREATE FUNCTION keycab_use_auth_token(token_hash bytea, token_purpose text, now_us bigint) RETURNS SETOF auth_tokens
	LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ UPDATE auth_tokens SET used_us = now_us
		WHERE hash = token_hash AND purpose = token_purpose AND used_us = 0 AND expires_us > now_us RETURNING * $$;
-- An account's open tokens of a purpose are used up (a password change).
CREATE FUNCTION keycab_revoke_auth_tokens(account text, token_purpose text, now_us bigint) RETURNS void
	LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ UPDATE auth_tokens SET used_us = now_us WHERE account_id = account AND purpose = token_purpose AND used_us = 0 $$;

-- Every organisation's id, for the notifier's rounds.
CREATE FUNCTION keycab_org_ids() RETURNS SETOF text
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ SELECT org_id FROM org_directory ORDER BY org_id $$;

-- The mail retry worker: due mail, its lease, its outcome.
CREATE FUNCTION keycab_mail_retry_due(now_us bigint, lim integer) RETURNS SETOF mail_retry
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ SELECT * FROM mail_retry WHERE queue = 'auth' AND state = 'pending' AND next_us <= now_us AND lease_us <= now_us
		ORDER BY next_us, id LIMIT lim $$;
CREATE FUNCTION keycab_mail_retry_lease(mail text, now_us bigint, until_us bigint) RETURNS bigint
	LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ WITH l AS (UPDATE mail_retry SET lease_us = until_us, attempts = attempts + 1
		WHERE queue = 'auth' AND id = mail AND state = 'pending' AND lease_us <= now_us AND next_us <= now_us RETURNING 1)
		SELECT count(*) FROM l $$;
CREATE FUNCTION keycab_mail_retry_finish(mail text, new_state text, error_text text, retry_us bigint) RETURNS bigint
	LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ WITH f AS (UPDATE mail_retry SET state = new_state, last_error = error_text, next_us = retry_us, lease_us = 0
		WHERE queue = 'auth' AND id = mail AND state = 'pending' RETURNING 1)
		SELECT count(*) FROM f $$;

DO $$
DECLARE f text;
BEGIN
	FOREACH f IN ARRAY ARRAY['keycab_session_by_access(bytea)', 'keycab_session_by_refresh(bytea)',
		'keycab_revoke_account_sessions(text, bigint)', 'keycab_memberships(text)',
		'keycab_peek_auth_token(bytea, text, bigint)', 'keycab_use_auth_token(bytea, text, bigint)',
		'keycab_revoke_auth_tokens(text, text, bigint)', 'keycab_org_ids()',
		'keycab_mail_retry_due(bigint, integer)', 'keycab_mail_retry_lease(text, bigint, bigint)',
		'keycab_mail_retry_finish(text, text, text, bigint)']
	LOOP
		EXECUTE 'REVOKE ALL ON FUNCTION ' || f || ' FROM PUBLIC';
	END LOOP;
END
$$;
