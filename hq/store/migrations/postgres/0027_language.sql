-- keycab HQ schema, version 27: languages (issue 17 item 2). A site's
-- language is the locale its kiosks speak, a member's their own over the
-- site's at a kiosk and over the browser's on the dashboard: a locale of
-- internal/i18n (en-GB, en-US, de), checked by the store; empty is the
-- default (a site: en-GB; a member: as the site or the browser).
ALTER TABLE sites ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN language TEXT NOT NULL DEFAULT '';
