-- Who holds each incident role besides the commander (incidents.commander): communications lead, scribe… as configured.
CREATE TABLE incident_roles (
  incident_id integer NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  role        text NOT NULL,
  user_id     text NOT NULL,
  assigned_by text NOT NULL,
  assigned_at timestamptz NOT NULL,
  PRIMARY KEY (incident_id, role)
);
