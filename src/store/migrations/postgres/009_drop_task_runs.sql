-- task_runs (001) was never written: confirmations, schedule_runs, backups and the audit log record every run.
DROP TABLE task_runs;
