-- Each lane of the poller claims, and looks for its next due time, by kind. Without these the looks of a lane with
-- nothing due read every unfinished row (with 10,000 pages waiting: 10-20 ms a look, several looks a second per replica).
CREATE INDEX work_kind_due ON work (kind, run_at) WHERE state = 'pending';
CREATE INDEX work_kind_lease ON work (kind, lease_until) WHERE state = 'running';
