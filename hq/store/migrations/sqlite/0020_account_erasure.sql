-- keycab HQ schema, version 20 (sqlite): erasing a member erases their
-- sign-in account too when no other organisation has them (lifecycle.go,
-- eraseAccount). SQLite has no row-level security, so the store deletes
-- the account's own rows itself; the PostgreSQL schema adds a function
-- for them at this version. Nothing changes here.
SELECT 1;
