-- Every firing of a scheduled job, claimed once across replicas by its wall-clock key, with its outcome.
CREATE TABLE schedule_runs (
  job          text NOT NULL,
  fire_key     text NOT NULL,
  scheduled_at timestamptz NOT NULL,
  replica      text NOT NULL,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  late         boolean NOT NULL DEFAULT false,
  outcome      text,
  summary      text,
  duration_ms  integer,
  PRIMARY KEY (job, fire_key)
);
CREATE INDEX schedule_runs_started ON schedule_runs (job, started_at DESC);

-- Consecutive critical results of the health watch, per service, and the incident it opened.
CREATE TABLE service_health_streaks (
  service        text PRIMARY KEY,
  critical_count integer NOT NULL DEFAULT 0,
  since          timestamptz,
  last_reason    text,
  incident_id    bigint REFERENCES incidents (id) ON DELETE SET NULL,
  updated_at     timestamptz NOT NULL
);
