-- Every request Slack delivered (Socket Mode envelope, Events API event, command, interaction), once, so a
-- re-delivery or an HTTP retry is acknowledged and not acted on again.
CREATE TABLE slack_deliveries (
  key         text PRIMARY KEY,
  received_at timestamptz NOT NULL,
  acked_at    timestamptz
);
CREATE INDEX slack_deliveries_received ON slack_deliveries (received_at);
