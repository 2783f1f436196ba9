-- The schema PostgreSQL migrations 001–009 built, in one step, for the embedded SQLite store.
-- Declared types matter here: timestamptz (epoch milliseconds), boolean (0/1) and jsonb (JSON text) columns are
-- converted back to Dates, booleans and objects when read (src/store/sqlite.ts).

-- The hash-chained audit log.
CREATE TABLE audit_log (
  seq        integer PRIMARY KEY,
  at         timestamptz NOT NULL,
  actor      text NOT NULL,
  action     text NOT NULL,
  target     text,
  channel    text,
  params     jsonb NOT NULL DEFAULT '{}',
  result     text,
  prev_hash  text NOT NULL,
  hash       text NOT NULL
);

-- The newest row's seq and hash, written in the same transaction as the row.
CREATE TABLE audit_head (
  id   boolean PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  seq  integer NOT NULL,
  hash text NOT NULL
);

-- Append-only: the bot's own connection cannot change or remove audit rows.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only (UPDATE refused)');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only (DELETE refused)');
END;

CREATE TABLE confirmations (
  id            text PRIMARY KEY,
  action        text NOT NULL,
  service       text,
  params        jsonb NOT NULL,
  summary       text NOT NULL,
  requested_by  text NOT NULL,
  approvers     jsonb NOT NULL DEFAULT '[]',
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

CREATE TABLE incidents (
  id               integer PRIMARY KEY AUTOINCREMENT,
  declaration_key  text NOT NULL UNIQUE,
  title            text NOT NULL,
  severity         text NOT NULL CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
  service          text,
  summary          text NOT NULL DEFAULT '',
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  source           text NOT NULL DEFAULT 'slack',
  declared_by      text NOT NULL,
  declared_at      timestamptz NOT NULL,
  channel_id       text UNIQUE,
  channel_name     text,
  card_ts          text,
  commander        text,
  acknowledged_by  text,
  acknowledged_at  timestamptz,
  resolved_by      text,
  resolved_at      timestamptz,
  resolution       text,
  ack_due_at       timestamptz,
  ack_alarm_sent_at timestamptz,
  setup_done       boolean NOT NULL DEFAULT 0,
  setup_lease_until timestamptz,
  alert_group_key  text
);
CREATE INDEX incidents_open ON incidents (declared_at) WHERE status <> 'resolved';
CREATE INDEX incidents_ack_due ON incidents (ack_due_at) WHERE ack_alarm_sent_at IS NULL AND status = 'open';
CREATE INDEX incidents_setup ON incidents (setup_lease_until) WHERE setup_done = 0;
CREATE UNIQUE INDEX incidents_open_alert_group ON incidents (alert_group_key) WHERE status <> 'resolved' AND alert_group_key IS NOT NULL;

CREATE TABLE incident_events (
  id          integer PRIMARY KEY AUTOINCREMENT,
  incident_id integer NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  at          timestamptz NOT NULL,
  kind        text NOT NULL,
  actor       text,
  text        text NOT NULL DEFAULT '',
  data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at, id);

CREATE TABLE escalation_steps (
  incident_id      integer NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  level            integer NOT NULL,
  label            text NOT NULL,
  notify           jsonb NOT NULL DEFAULT '[]',
  due_at           timestamptz NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'posted', 'cancelled')),
  claimed_by       text,
  claim_expires_at timestamptz,
  attempts         integer NOT NULL DEFAULT 0,
  retry_at         timestamptz,
  posted_at        timestamptz,
  message_ts       text,
  late             boolean,
  PRIMARY KEY (incident_id, level)
);
CREATE INDEX escalation_steps_due ON escalation_steps (due_at) WHERE state IN ('pending', 'claimed');

CREATE TABLE privacy_budget_snapshots (
  id                integer PRIMARY KEY AUTOINCREMENT,
  service           text NOT NULL,
  taken_at          timestamptz NOT NULL,
  total_epsilon     real NOT NULL,
  consumed_epsilon  real NOT NULL,
  remaining_epsilon real NOT NULL,
  days_until_reset  real NOT NULL
);
CREATE INDEX privacy_budget_snapshots_service_taken ON privacy_budget_snapshots (service, taken_at DESC);

CREATE TABLE backups (
  id                     integer PRIMARY KEY AUTOINCREMENT,
  service                text NOT NULL,
  kind                   text NOT NULL CHECK (kind IN ('database', 'config')),
  bucket                 text NOT NULL,
  key                    text NOT NULL,
  size_bytes             integer NOT NULL,
  sha256                 text NOT NULL,
  encrypted              boolean NOT NULL,
  server_side_encryption text,
  pg_version             text,
  started_at             timestamptz NOT NULL,
  duration_ms            integer NOT NULL,
  verified_at            timestamptz NOT NULL,
  requested_by           text,
  trigger                text NOT NULL,
  deleted_at             timestamptz,
  UNIQUE (bucket, key)
);
CREATE INDEX backups_newest ON backups (service, kind, started_at DESC) WHERE deleted_at IS NULL;

CREATE TABLE backup_locks (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  acquired_at timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);

CREATE TABLE alert_deliveries (
  id             integer PRIMARY KEY AUTOINCREMENT,
  received_at    timestamptz NOT NULL,
  group_key      text NOT NULL,
  status         text NOT NULL,
  body           jsonb NOT NULL,
  processed_at   timestamptz,
  lease_until    timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text
);
CREATE INDEX alert_deliveries_pending ON alert_deliveries (id) WHERE processed_at IS NULL;

CREATE TABLE alert_group_incidents (
  group_key   text NOT NULL,
  incident_id integer NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  linked_at   timestamptz NOT NULL,
  PRIMARY KEY (group_key, incident_id)
);
CREATE INDEX alert_group_incidents_incident ON alert_group_incidents (incident_id);

CREATE TABLE schedule_runs (
  job          text NOT NULL,
  fire_key     text NOT NULL,
  scheduled_at timestamptz NOT NULL,
  replica      text NOT NULL,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  late         boolean NOT NULL DEFAULT 0,
  outcome      text,
  summary      text,
  duration_ms  integer,
  PRIMARY KEY (job, fire_key)
);
CREATE INDEX schedule_runs_started ON schedule_runs (job, started_at DESC);

CREATE TABLE service_health_streaks (
  service        text PRIMARY KEY,
  critical_count integer NOT NULL DEFAULT 0,
  since          timestamptz,
  last_reason    text,
  incident_id    integer REFERENCES incidents (id) ON DELETE SET NULL,
  updated_at     timestamptz NOT NULL
);
