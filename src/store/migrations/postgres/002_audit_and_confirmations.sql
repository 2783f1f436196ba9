-- The hash-chained audit log, and confirmations that run at most once across replicas.
CREATE TABLE audit_log (
  seq        bigint PRIMARY KEY,
  at         timestamptz NOT NULL,
  actor      text NOT NULL,
  action     text NOT NULL,
  target     text,
  channel    text,
  params     jsonb NOT NULL DEFAULT '{}'::jsonb,
  result     text,
  prev_hash  text NOT NULL,
  hash       text NOT NULL
);

-- The newest row's seq and hash, written in the same transaction as the row: deleting rows from
-- the end of the chain leaves the head pointing at a row that is gone.
CREATE TABLE audit_head (
  id   boolean PRIMARY KEY DEFAULT true CHECK (id),
  seq  bigint NOT NULL,
  hash text NOT NULL
);

-- Append-only: ordinary sessions cannot change or remove audit rows.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE confirmations (
  id            text PRIMARY KEY,
  action        text NOT NULL,
  service       text,
  params        jsonb NOT NULL,
  summary       text NOT NULL,
  requested_by  text NOT NULL,
  approvers     jsonb NOT NULL DEFAULT '[]'::jsonb,
  channel_id    text,
  response_url  text,
  created_at    timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'confirmed', 'cancelled', 'expired')),
  decided_by    text,
  decided_at    timestamptz,
  outcome       text,
  outcome_text  text,
  finished_at   timestamptz
);
CREATE INDEX confirmations_pending ON confirmations (expires_at) WHERE state = 'pending';
