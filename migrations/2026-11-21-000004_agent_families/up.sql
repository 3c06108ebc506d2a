-- Families the agent collects beyond the foundation's (see domain/src/catalog.rs).

CREATE TABLE metrics.pg_lock (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    locktype text,
    mode text,
    granted double precision,
    waiting double precision
) PARTITION BY RANGE (time);
CREATE INDEX pg_lock_server_time ON metrics.pg_lock (server_id, time);

GRANT SELECT ON metrics.pg_lock TO pganalytics_reader;

CREATE TABLE metrics.pg_wal (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    in_recovery double precision,
    wal_position_bytes double precision,
    wal_records bigint,
    wal_fpi bigint,
    wal_bytes bigint,
    wal_buffers_full bigint,
    wal_write bigint,
    wal_sync bigint,
    wal_write_time_us bigint,
    wal_sync_time_us bigint,
    stats_reset timestamptz
) PARTITION BY RANGE (time);
CREATE INDEX pg_wal_server_time ON metrics.pg_wal (server_id, time);

GRANT SELECT ON metrics.pg_wal TO pganalytics_reader;

CREATE TABLE metrics.pg_archiver (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    archived_count bigint,
    failed_count bigint,
    last_archived_wal text,
    last_archived_time timestamptz,
    last_failed_wal text,
    last_failed_time timestamptz,
    stats_reset timestamptz
) PARTITION BY RANGE (time);
CREATE INDEX pg_archiver_server_time ON metrics.pg_archiver (server_id, time);

GRANT SELECT ON metrics.pg_archiver TO pganalytics_reader;

CREATE TABLE metrics.pg_replication_slot (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    slot_name text,
    slot_type text,
    datname text,
    active double precision,
    wal_status text,
    retained_wal_bytes double precision,
    safe_wal_size_bytes double precision
) PARTITION BY RANGE (time);
CREATE INDEX pg_replication_slot_server_time ON metrics.pg_replication_slot (server_id, time);

GRANT SELECT ON metrics.pg_replication_slot TO pganalytics_reader;

CREATE TABLE metrics.pg_wal_receiver (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    sender_host text,
    status text,
    received_lag_bytes double precision,
    replay_lag_seconds double precision,
    last_message_age_seconds double precision
) PARTITION BY RANGE (time);
CREATE INDEX pg_wal_receiver_server_time ON metrics.pg_wal_receiver (server_id, time);

GRANT SELECT ON metrics.pg_wal_receiver TO pganalytics_reader;

CREATE TABLE metrics.pg_vacuum_progress (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    relname text,
    phase text,
    pid double precision,
    heap_blks_total double precision,
    heap_blks_scanned double precision,
    heap_blks_vacuumed double precision,
    index_vacuum_count double precision,
    duration_seconds double precision
) PARTITION BY RANGE (time);
CREATE INDEX pg_vacuum_progress_server_time ON metrics.pg_vacuum_progress (server_id, time);

GRANT SELECT ON metrics.pg_vacuum_progress TO pganalytics_reader;

CREATE TABLE metrics.pg_statement (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    username text,
    queryid text,
    interval_seconds double precision,
    calls double precision,
    exec_time_ms double precision,
    plan_time_ms double precision,
    rows double precision,
    shared_blks_hit double precision,
    shared_blks_read double precision,
    shared_blks_dirtied double precision,
    shared_blks_written double precision,
    temp_blks_written double precision,
    blk_read_time_ms double precision,
    blk_write_time_ms double precision,
    wal_bytes double precision
) PARTITION BY RANGE (time);
CREATE INDEX pg_statement_server_time ON metrics.pg_statement (server_id, time);

GRANT SELECT ON metrics.pg_statement TO pganalytics_reader;

CREATE TABLE metrics.pg_statement_text (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    queryid text,
    query text
) PARTITION BY RANGE (time);
CREATE INDEX pg_statement_text_server_time ON metrics.pg_statement_text (server_id, time);

GRANT SELECT ON metrics.pg_statement_text TO pganalytics_reader;

CREATE TABLE metrics.pg_io (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    backend_type text,
    object text,
    context text,
    reads bigint,
    read_time_us bigint,
    writes bigint,
    write_time_us bigint,
    writebacks bigint,
    extends bigint,
    hits bigint,
    evictions bigint,
    reuses bigint,
    fsyncs bigint,
    fsync_time_us bigint
) PARTITION BY RANGE (time);
CREATE INDEX pg_io_server_time ON metrics.pg_io (server_id, time);

GRANT SELECT ON metrics.pg_io TO pganalytics_reader;

CREATE TABLE metrics.sys_pressure (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    resource text,
    some_avg10 double precision,
    some_avg60 double precision,
    some_avg300 double precision,
    some_total_us bigint,
    full_avg10 double precision,
    full_avg60 double precision,
    full_avg300 double precision,
    full_total_us bigint
) PARTITION BY RANGE (time);
CREATE INDEX sys_pressure_server_time ON metrics.sys_pressure (server_id, time);

GRANT SELECT ON metrics.sys_pressure TO pganalytics_reader;

CREATE TABLE metrics.agent (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    collector text,
    duration_ms double precision,
    rows double precision,
    errors bigint,
    skipped_ticks bigint,
    spool_bytes double precision,
    spool_records double precision,
    dropped_records bigint,
    damaged_records bigint,
    retries bigint,
    dead_letters bigint,
    rss_bytes double precision
) PARTITION BY RANGE (time);
CREATE INDEX agent_server_time ON metrics.agent (server_id, time);

GRANT SELECT ON metrics.agent TO pganalytics_reader;
