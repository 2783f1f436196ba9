-- One durable-work table for everything that must happen once (escalation levels, ack alarms, channel setups,
-- alert deliveries, the outgoing Slack queue, scheduled firings, locks), and channel names reserved before Slack
-- is asked. The separate lease columns of the initial schema move here.
CREATE TABLE work (
  id          integer PRIMARY KEY AUTOINCREMENT,
  kind        text NOT NULL,
  key         text NOT NULL UNIQUE,
  incident_id integer REFERENCES incidents (id) ON DELETE CASCADE,
  priority    integer NOT NULL,
  run_at      timestamptz NOT NULL,
  payload     jsonb NOT NULL DEFAULT '{}',
  state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'cancelled')),
  owner       text,
  lease_until timestamptz,
  fence       integer NOT NULL DEFAULT 0,
  version     integer NOT NULL DEFAULT 0,
  attempts    integer NOT NULL DEFAULT 0,
  uncertain   boolean NOT NULL DEFAULT 0,
  last_error  text,
  created_at  timestamptz NOT NULL,
  finished_at timestamptz,
  result      jsonb
);
CREATE INDEX work_due ON work (priority, run_at) WHERE state IN ('pending', 'running');
CREATE INDEX work_incident ON work (incident_id) WHERE state IN ('pending', 'running');

CREATE TABLE channel_names (
  name        text PRIMARY KEY,
  incident_id integer REFERENCES incidents (id) ON DELETE CASCADE,
  state       text NOT NULL CHECK (state IN ('reserved', 'created', 'taken')),
  channel_id  text,
  reserved_at timestamptz NOT NULL
);
CREATE INDEX channel_names_incident ON channel_names (incident_id);
INSERT INTO channel_names (name, incident_id, state, channel_id, reserved_at)
  SELECT channel_name, id, 'created', channel_id, declared_at FROM incidents WHERE channel_name IS NOT NULL;

ALTER TABLE incidents ADD COLUMN setup_progress jsonb NOT NULL DEFAULT '{}';
UPDATE incidents SET setup_progress = '{"topic": true, "card": true, "pin": true, "checklist": true, "invited": true, "announced": true}'
  WHERE setup_done;

INSERT INTO work (kind, key, incident_id, priority, run_at, created_at)
  SELECT 'escalation', 'escalation:' || e.incident_id || ':' || e.level, e.incident_id, 0,
         max(e.due_at, COALESCE(e.retry_at, e.due_at)), CAST(unixepoch('subsec') * 1000 AS integer)
  FROM escalation_steps e JOIN incidents i ON i.id = e.incident_id
  WHERE i.status <> 'resolved' AND e.state IN ('pending', 'claimed')
    AND NOT EXISTS (SELECT 1 FROM escalation_steps p
                    WHERE p.incident_id = e.incident_id AND p.level < e.level AND p.state IN ('pending', 'claimed'));
UPDATE escalation_steps SET state = 'pending' WHERE state = 'claimed';
INSERT INTO work (kind, key, incident_id, priority, run_at, created_at)
  SELECT 'ack_alarm', 'ack_alarm:' || id, id, 0, ack_due_at, CAST(unixepoch('subsec') * 1000 AS integer) FROM incidents
  WHERE status = 'open' AND ack_alarm_sent_at IS NULL AND ack_due_at IS NOT NULL;
INSERT INTO work (kind, key, incident_id, priority, run_at, created_at)
  SELECT 'setup', 'setup:' || id, id, 1, CAST(unixepoch('subsec') * 1000 AS integer), CAST(unixepoch('subsec') * 1000 AS integer)
  FROM incidents WHERE NOT setup_done AND status <> 'resolved';
INSERT INTO work (kind, key, priority, run_at, payload, created_at)
  SELECT 'alert', 'alert:' || id, 1, CAST(unixepoch('subsec') * 1000 AS integer), json_object('delivery', id),
         CAST(unixepoch('subsec') * 1000 AS integer)
  FROM alert_deliveries WHERE processed_at IS NULL;

-- Where each page went: the incident channel, or the announcement channel while the incident had none yet.
ALTER TABLE escalation_steps ADD COLUMN posted_in text;
UPDATE escalation_steps SET posted_in = (SELECT channel_id FROM incidents WHERE incidents.id = escalation_steps.incident_id)
  WHERE state = 'posted';
DROP INDEX escalation_steps_due;
ALTER TABLE escalation_steps DROP COLUMN claimed_by;
ALTER TABLE escalation_steps DROP COLUMN claim_expires_at;
ALTER TABLE escalation_steps DROP COLUMN attempts;
ALTER TABLE escalation_steps DROP COLUMN retry_at;
DROP INDEX incidents_setup;
DROP INDEX incidents_ack_due;
ALTER TABLE incidents DROP COLUMN setup_lease_until;
DROP INDEX alert_deliveries_pending;
ALTER TABLE alert_deliveries DROP COLUMN lease_until;
DROP TABLE backup_locks;
