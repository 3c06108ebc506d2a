#!/bin/sh
# A login for Grafana in the read-only group role (the server's migrations grant that role
# SELECT on the metric tables; creating it here first is harmless).
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$GRAFANA_DB_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
SELECT 'CREATE ROLE pganalytics_reader NOLOGIN'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pganalytics_reader') \gexec
CREATE ROLE grafana LOGIN PASSWORD :'pw' IN ROLE pganalytics_reader;
SQL
