-- keycab HQ schema, version 29: reserved. Another branch's migration 0029
-- takes this number when the branches merge; this placeholder (no
-- statements but this no-op) keeps the sequence whole until then, and is
-- dropped at the merge.
SELECT 1;
