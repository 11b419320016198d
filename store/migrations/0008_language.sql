-- keycab kiosk database, schema version 8: languages (sync/wire minor
-- version 7, keycab.Site.Language and keycab.Member.Language).
--
-- config.language is the site's locale (en-GB, en-US, de; empty is
-- en-GB); members.language a member's own, over the site's for their
-- session (empty follows the site).
ALTER TABLE config ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN language TEXT NOT NULL DEFAULT '';
