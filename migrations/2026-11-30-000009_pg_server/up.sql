-- The instance as a whole (domain/src/catalog.rs `pg_server`): what connection, wraparound,
-- restart and checksum alerts compare with.
CREATE TABLE metrics.pg_server (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    start_time timestamptz,
    max_connections double precision,
    reserved_connections double precision,
    connections double precision,
    autovacuum_freeze_max_age double precision,
    autovacuum_multixact_freeze_max_age double precision,
    in_recovery double precision,
    checksum_failures bigint,
    oldest_prepared_xact_seconds double precision,
    statements_dealloc bigint
) PARTITION BY RANGE (time);
CREATE INDEX pg_server_server_time ON metrics.pg_server (server_id, time);

GRANT SELECT ON metrics.pg_server TO pganalytics_reader;

-- The CPUs online, so load alerts judge the load per CPU.
ALTER TABLE metrics.sys_load ADD COLUMN cpus double precision;
