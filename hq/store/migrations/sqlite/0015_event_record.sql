-- keycab HQ schema, version 15 (sqlite): the whole record of a custody
-- change at HQ (issue 15), as the kiosk's entry holds it: the reason
-- preset, the second and third approver of a dual or triple release, the
-- slot taken from or returned to, the reader that identified a member
-- (via), and the context of an alarm or a return (what the alarm was
-- about; a wrong slot, the holder a return was made for). Personal text
-- (recipient, notes) is not here: it never travels in entries.
ALTER TABLE events ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN second_id TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN third_id TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN via TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN context TEXT NOT NULL DEFAULT '';
