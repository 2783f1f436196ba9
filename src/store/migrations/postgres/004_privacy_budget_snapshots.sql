-- Every reading of a service's differential-privacy budget, for the trend and the exhaustion projection.
CREATE TABLE privacy_budget_snapshots (
  id                bigserial PRIMARY KEY,
  service           text NOT NULL,
  taken_at          timestamptz NOT NULL,
  total_epsilon     double precision NOT NULL,
  consumed_epsilon  double precision NOT NULL,
  remaining_epsilon double precision NOT NULL,
  days_until_reset  double precision NOT NULL
);
CREATE INDEX privacy_budget_snapshots_service_taken ON privacy_budget_snapshots (service, taken_at DESC);
