-- Every run of an operations task (health, backup, restore, rollback, privacy-budget), from any trigger.
CREATE TABLE task_runs (
  id           bigserial PRIMARY KEY,
  task         text NOT NULL,
  service      text,
  trigger      text NOT NULL CHECK (trigger IN ('slack', 'cli', 'schedule', 'incident', 'alert')),
  requested_by text,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  outcome      text,
  summary      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX task_runs_task_started ON task_runs (task, started_at DESC);
