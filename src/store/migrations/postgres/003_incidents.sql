-- Incidents, their timeline, and the durable escalation timers.
CREATE TABLE incidents (
  id               bigserial PRIMARY KEY,
  -- One incident per declaration however often Slack retries or the user submits.
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
  -- The acknowledgement alarm: due at declared_at + the severity's target, sent at most once.
  ack_due_at       timestamptz,
  ack_alarm_sent_at timestamptz,
  -- Channel setup is finished by whichever replica holds this lease; a crash mid-way lets another finish it.
  setup_done       boolean NOT NULL DEFAULT false,
  setup_lease_until timestamptz
);
CREATE INDEX incidents_open ON incidents (declared_at) WHERE status <> 'resolved';
CREATE INDEX incidents_ack_due ON incidents (ack_due_at) WHERE ack_alarm_sent_at IS NULL AND status = 'open';
CREATE INDEX incidents_setup ON incidents (setup_lease_until) WHERE setup_done = false;

CREATE TABLE incident_events (
  id          bigserial PRIMARY KEY,
  incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  at          timestamptz NOT NULL,
  kind        text NOT NULL,
  actor       text,
  text        text NOT NULL DEFAULT '',
  data        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at, id);

CREATE TABLE escalation_steps (
  incident_id      bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  level            integer NOT NULL,
  label            text NOT NULL,
  notify           jsonb NOT NULL DEFAULT '[]'::jsonb,
  due_at           timestamptz NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'posted', 'cancelled')),
  claimed_by       text,
  claim_expires_at timestamptz,
  attempts         integer NOT NULL DEFAULT 0,
  -- After a failed post: not before this time (due_at stays, so lateness is measured from it).
  retry_at         timestamptz,
  posted_at        timestamptz,
  message_ts       text,
  late             boolean,
  PRIMARY KEY (incident_id, level)
);
CREATE INDEX escalation_steps_due ON escalation_steps (due_at) WHERE state IN ('pending', 'claimed');
