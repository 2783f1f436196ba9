-- Follow-ups of incidents (action items): added during or after an incident, owned by someone, due by a date,
-- marked done from Slack; the weekly report counts the open and the overdue ones.
CREATE TABLE follow_ups (
  id          bigserial PRIMARY KEY,
  incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  text        text NOT NULL,
  owner       text,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL,
  due_at      timestamptz NOT NULL,
  done_at     timestamptz,
  done_by     text
);
CREATE INDEX follow_ups_open ON follow_ups (due_at) WHERE done_at IS NULL;
CREATE INDEX follow_ups_incident ON follow_ups (incident_id);
