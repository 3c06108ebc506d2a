-- A read-only group role for Grafana and SQL users: the metric tables and the names of
-- servers and collectors, nothing with credentials. Create a login in it, e.g.
--   CREATE ROLE grafana LOGIN PASSWORD '…' IN ROLE pganalytics_reader;
-- Roles are cluster-wide: create it only if another database of the cluster has not.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pganalytics_reader') THEN
        CREATE ROLE pganalytics_reader NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA metrics TO pganalytics_reader;
-- Partitions need no grant of their own: queries go through the partitioned parents.
GRANT SELECT ON ALL TABLES IN SCHEMA metrics TO pganalytics_reader;
GRANT SELECT ON servers TO pganalytics_reader;
GRANT SELECT (id, name, hostname, status, registered_at, last_seen) ON collectors TO pganalytics_reader;
