-- keycab kiosk database, schema version 11: heads signed after the append
-- (store.Options.SealDelay, audit package doc "Checkpoints").
--
-- An append commits its entries without signing; a signed head covering
-- them follows within the seal delay, and before any push, export or
-- close. mac is audit.Signer.TailMAC of the entry, so that a kiosk opening
-- a log whose newest entries no head covers yet (a crash in between)
-- signs a head over them only if it wrote them itself. Entries written
-- before this version have none: a head covers each of them.
ALTER TABLE log_entries ADD COLUMN mac BLOB;

-- A head may now be set on the newest entry after it was written (once:
-- one that has a head keeps it until a newer entry takes it), and is
-- still cleared only from an entry that is no longer the newest.
DROP TRIGGER log_entries_no_update;
CREATE TRIGGER log_entries_no_update BEFORE UPDATE ON log_entries
	WHEN NEW.idx IS NOT OLD.idx OR NEW.leaf IS NOT OLD.leaf OR NEW.hashes IS NOT OLD.hashes OR NEW.mac IS NOT OLD.mac
		OR (NEW.head IS NOT NULL AND (OLD.head IS NOT NULL OR EXISTS (SELECT 1 FROM log_entries WHERE idx > OLD.idx)))
		OR (NEW.head IS NULL AND OLD.head IS NOT NULL AND NOT EXISTS (SELECT 1 FROM log_entries WHERE idx > OLD.idx))
	BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
