-- keycab HQ schema, version 24: reserved. Version 24 belongs to the
-- webhooks branch, and this branch's languages are version 25 as
-- assigned; migrations run without gaps, so this file holds the place
-- and does nothing. Delete it when the webhooks branch's 0024 merges.
SELECT 1;
