REVOKE SELECT (id, name, hostname, status, registered_at, last_seen) ON collectors FROM pganalytics_reader;
REVOKE SELECT ON servers FROM pganalytics_reader;
REVOKE SELECT ON ALL TABLES IN SCHEMA metrics FROM pganalytics_reader;
REVOKE USAGE ON SCHEMA metrics FROM pganalytics_reader;
