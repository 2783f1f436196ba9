#!/usr/bin/env bash
# Installs the Debian packages the tests and the bot use, when missing: PostgreSQL server + client
# (initdb, pg_dump, pg_restore), Redis server, GnuPG. Safe to run again; does nothing when all are there.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v gpg >/dev/null 2>&1 || missing+=(gnupg)

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (postgresql, postgresql-client, redis-server, gnupg)"
  exit 0
fi

echo "system packages: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
