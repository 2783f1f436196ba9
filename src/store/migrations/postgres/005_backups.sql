-- Verified backups (the manifest: what is where, how big, its SHA-256) and the lock that keeps one backup per service running.
CREATE TABLE backups (
  id                     bigserial PRIMARY KEY,
  service                text NOT NULL,
  kind                   text NOT NULL CHECK (kind IN ('database', 'config')),
  bucket                 text NOT NULL,
  key                    text NOT NULL,
  size_bytes             bigint NOT NULL,
  sha256                 text NOT NULL,
  encrypted              boolean NOT NULL,
  server_side_encryption text,
  pg_version             text,
  started_at             timestamptz NOT NULL,
  duration_ms            integer NOT NULL,
  verified_at            timestamptz NOT NULL,
  requested_by           text,
  trigger                text NOT NULL,
  -- Set when retention removed the object from the bucket.
  deleted_at             timestamptz,
  UNIQUE (bucket, key)
);
CREATE INDEX backups_newest ON backups (service, kind, started_at DESC) WHERE deleted_at IS NULL;

-- One row per running backup, by service; a replica that dies stops renewing and its lease runs out.
CREATE TABLE backup_locks (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  acquired_at timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
