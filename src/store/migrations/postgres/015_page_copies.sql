-- Copies of pages that went to the announcement channel before the incident channel existed: which work claimed each
-- copy, when, and when it was posted. One replica posts each copy, and none reads the channel's history to find out.
ALTER TABLE escalation_steps ADD COLUMN copy_claimed_by text;
ALTER TABLE escalation_steps ADD COLUMN copy_started_at timestamptz;
ALTER TABLE escalation_steps ADD COLUMN copied_at timestamptz;
