#!/bin/sh
# The agent's monitoring login: pg_monitor (statistics views, no table data), and
# pg_stat_statements in the database it connects to.
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$AGENT_DB_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE pganalytics_monitor LOGIN PASSWORD :'pw' IN ROLE pg_monitor;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
