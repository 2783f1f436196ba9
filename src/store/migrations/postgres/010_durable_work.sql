-- One durable-work table for everything that must happen once on some replica (escalation levels, ack alarms,
-- channel setups, alert deliveries, the outgoing Slack queue, scheduled firings, locks), and channel names
-- reserved before Slack is asked. The separate lease columns of earlier migrations move here.
CREATE TABLE work (
  id          bigserial PRIMARY KEY,
  kind        text NOT NULL,
  key         text NOT NULL UNIQUE,
  incident_id bigint REFERENCES incidents (id) ON DELETE CASCADE,
  priority    integer NOT NULL,
  run_at      timestamptz NOT NULL,
  payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
  state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'cancelled')),
  owner       text,
  lease_until timestamptz,
  fence       bigint NOT NULL DEFAULT 0,
  version     integer NOT NULL DEFAULT 0,
  attempts    integer NOT NULL DEFAULT 0,
  uncertain   boolean NOT NULL DEFAULT false,
  last_error  text,
  created_at  timestamptz NOT NULL,
  finished_at timestamptz,
  result      jsonb
);
CREATE INDEX work_due ON work (priority, run_at) WHERE state IN ('pending', 'running');
CREATE INDEX work_incident ON work (incident_id) WHERE state IN ('pending', 'running');

-- Names of incident channels, reserved in the database before conversations.create: same-minute incidents get
-- -2, -3… without probing Slack; "taken" marks a name someone else (or an archived channel) already has.
CREATE TABLE channel_names (
  name        text PRIMARY KEY,
  incident_id bigint REFERENCES incidents (id) ON DELETE CASCADE,
  state       text NOT NULL CHECK (state IN ('reserved', 'created', 'taken')),
  channel_id  text,
  reserved_at timestamptz NOT NULL
);
CREATE INDEX channel_names_incident ON channel_names (incident_id);
INSERT INTO channel_names (name, incident_id, state, channel_id, reserved_at)
  SELECT channel_name, id, 'created', channel_id, declared_at FROM incidents WHERE channel_name IS NOT NULL;

-- Which steps of a channel setup are done, so a setup taken over by another replica resumes where it stopped.
ALTER TABLE incidents ADD COLUMN setup_progress jsonb NOT NULL DEFAULT '{}'::jsonb;
UPDATE incidents SET setup_progress = '{"topic": true, "card": true, "pin": true, "checklist": true, "invited": true, "announced": true}'::jsonb
  WHERE setup_done;

-- What was waiting becomes work: the lowest unposted level of each open incident (the next is added when one is
-- posted), unsent ack alarms, unfinished setups, unprocessed alert deliveries.
INSERT INTO work (kind, key, incident_id, priority, run_at, created_at)
  SELECT 'escalation', 'escalation:' || e.incident_id || ':' || e.level, e.incident_id, 0,
         GREATEST(e.due_at, COALESCE(e.retry_at, e.due_at)), now()
  FROM escalation_steps e JOIN incidents i ON i.id = e.incident_id
  WHERE i.status <> 'resolved' AND e.state IN ('pending', 'claimed')
    AND NOT EXISTS (SELECT 1 FROM escalation_steps p
                    WHERE p.incident_id = e.incident_id AND p.level < e.level AND p.state IN ('pending', 'claimed'));
UPDATE escalation_steps SET state = 'pending' WHERE state = 'claimed';
INSERT INTO work (kind, key, incident_id, priority, run_at, created_at)
  SELECT 'ack_alarm', 'ack_alarm:' || id, id, 0, ack_due_at, now() FROM incidents
  WHERE status = 'open' AND ack_alarm_sent_at IS NULL AND ack_due_at IS NOT NULL;
INSERT INTO work (kind, key, incident_id, priority, run_at, created_at)
  SELECT 'setup', 'setup:' || id, id, 1, now(), now() FROM incidents WHERE NOT setup_done AND status <> 'resolved';
INSERT INTO work (kind, key, priority, run_at, payload, created_at)
  SELECT 'alert', 'alert:' || id, 1, now(), jsonb_build_object('delivery', id), now() FROM alert_deliveries WHERE processed_at IS NULL;

-- Where each page went: the incident channel, or the announcement channel while the incident had none yet.
ALTER TABLE escalation_steps ADD COLUMN posted_in text;
UPDATE escalation_steps SET posted_in = (SELECT channel_id FROM incidents WHERE incidents.id = escalation_steps.incident_id)
  WHERE state = 'posted';
DROP INDEX escalation_steps_due;
ALTER TABLE escalation_steps DROP COLUMN claimed_by, DROP COLUMN claim_expires_at, DROP COLUMN attempts, DROP COLUMN retry_at;
DROP INDEX incidents_setup;
DROP INDEX incidents_ack_due;
ALTER TABLE incidents DROP COLUMN setup_lease_until;
DROP INDEX alert_deliveries_pending;
ALTER TABLE alert_deliveries DROP COLUMN lease_until;
-- Locks of processes that have stopped; running backups hold rows in work from now on.
DROP TABLE backup_locks;
