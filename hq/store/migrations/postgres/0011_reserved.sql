-- keycab HQ schema, version 11 (postgres): a placeholder on the remote-actions
-- branch, where another branch's migration 0011 goes. Delete this file
-- when that branch's 0011 is merged in (the loader wants no gaps).
SELECT 1;
