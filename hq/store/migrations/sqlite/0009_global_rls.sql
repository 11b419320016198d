-- keycab HQ schema, version 9 (sqlite): nothing changes. PostgreSQL's
-- version 9 puts the account, session, token, delivery, mail retry and
-- organisation directory tables under row-level security; on SQLite the
-- store scopes those statements itself, as it does every other.
SELECT 1;
