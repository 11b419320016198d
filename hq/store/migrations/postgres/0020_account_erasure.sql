-- keycab HQ schema, version 20 (postgres): erasing a member erases their
-- sign-in account too when no other organisation has them (lifecycle.go,
-- eraseAccount). The account's own rows (org_id '': its reset and
-- sign-in links and the mail of them) are out of a tenant's reach; this
-- function deletes them for an account and an address that no account
-- has any more, so it cannot touch a live account's links.
CREATE FUNCTION keycab_erase_account_mail(account text, addr text) RETURNS void
	LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$
	DELETE FROM auth_tokens WHERE org_id = '' AND (account_id = account OR email = addr)
		AND NOT EXISTS (SELECT 1 FROM accounts WHERE id = account OR email = addr);
	DELETE FROM deliveries WHERE org_id = '' AND to_email = addr AND NOT EXISTS (SELECT 1 FROM accounts WHERE email = addr);
	DELETE FROM mail_retry WHERE org_id = '' AND to_email = addr AND NOT EXISTS (SELECT 1 FROM accounts WHERE email = addr);
	$$;
REVOKE ALL ON FUNCTION keycab_erase_account_mail(text, text) FROM PUBLIC;
