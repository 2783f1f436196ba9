-- The recorded head of the audit chain cannot be removed or moved back (SQLite has no TRUNCATE; a DELETE without
-- WHERE fires the row triggers, so audit_log's delete trigger already refuses emptying it).
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
  SELECT RAISE(ABORT, 'audit_head cannot be deleted');
END;
CREATE TRIGGER audit_head_no_rewind BEFORE UPDATE ON audit_head
WHEN NEW.seq < OLD.seq
BEGIN
  SELECT RAISE(ABORT, 'audit_head only moves forward');
END;
