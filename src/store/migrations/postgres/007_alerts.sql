-- Alertmanager deliveries (stored before they are acknowledged) and the link from alert groups to incidents.
CREATE TABLE alert_deliveries (
  id             bigserial PRIMARY KEY,
  received_at    timestamptz NOT NULL,
  group_key      text NOT NULL,
  status         text NOT NULL,
  body           jsonb NOT NULL,
  processed_at   timestamptz,
  -- Whichever replica holds the lease processes it; a crash lets another take it over.
  lease_until    timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text
);
CREATE INDEX alert_deliveries_pending ON alert_deliveries (id) WHERE processed_at IS NULL;

ALTER TABLE incidents ADD COLUMN alert_group_key text;
-- At most one open incident per alert group ("storm" incidents use a reserved key).
CREATE UNIQUE INDEX incidents_open_alert_group ON incidents (alert_group_key) WHERE status <> 'resolved' AND alert_group_key IS NOT NULL;

CREATE TABLE alert_group_incidents (
  group_key   text NOT NULL,
  incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  linked_at   timestamptz NOT NULL,
  PRIMARY KEY (group_key, incident_id)
);
CREATE INDEX alert_group_incidents_incident ON alert_group_incidents (incident_id);
