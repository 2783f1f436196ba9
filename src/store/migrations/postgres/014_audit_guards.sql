-- The audit tables cannot be emptied, and the recorded head cannot be removed or moved back: TRUNCATE fires no row
-- triggers, so it gets its own. Together with grants that give the runtime role INSERT and SELECT only (README),
-- rewriting history takes the owner's rights, and the signed checkpoints outside the database show it.
CREATE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (TRUNCATE refused)', TG_TABLE_NAME;
END $$;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();

CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'audit_head cannot be deleted';
  END IF;
  IF NEW.seq < OLD.seq THEN
    RAISE EXCEPTION 'audit_head only moves forward (row % to row % refused)', OLD.seq, NEW.seq;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_head_no_rewind BEFORE UPDATE OR DELETE ON audit_head
  FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();
