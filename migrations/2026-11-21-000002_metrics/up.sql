-- One typed table per metric family (see domain/src/catalog.rs), range-partitioned by day
-- on time. Partitions are created ahead and on demand by the server, and dropped past each
-- family's retention. Grafana dashboards read these tables directly with SQL.

CREATE SCHEMA metrics;

CREATE TABLE metrics.pg_database (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    numbackends double precision,
    xact_commit bigint,
    xact_rollback bigint,
    blks_read bigint,
    blks_hit bigint,
    tup_returned bigint,
    tup_fetched bigint,
    tup_inserted bigint,
    tup_updated bigint,
    tup_deleted bigint,
    conflicts bigint,
    temp_files bigint,
    temp_bytes bigint,
    deadlocks bigint,
    blk_read_time_us bigint,
    blk_write_time_us bigint,
    size_bytes double precision,
    datfrozenxid_age double precision,
    datminmxid_age double precision,
    stats_reset timestamptz
) PARTITION BY RANGE (time);
CREATE INDEX pg_database_server_time ON metrics.pg_database (server_id, time);

CREATE TABLE metrics.pg_table (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    schemaname text,
    relname text,
    seq_scan bigint,
    seq_tup_read bigint,
    idx_scan bigint,
    idx_tup_fetch bigint,
    n_tup_ins bigint,
    n_tup_upd bigint,
    n_tup_del bigint,
    n_tup_hot_upd bigint,
    n_live_tup double precision,
    n_dead_tup double precision,
    n_mod_since_analyze double precision,
    vacuum_count bigint,
    autovacuum_count bigint,
    analyze_count bigint,
    autoanalyze_count bigint,
    heap_blks_read bigint,
    heap_blks_hit bigint,
    idx_blks_read bigint,
    idx_blks_hit bigint,
    toast_blks_read bigint,
    toast_blks_hit bigint,
    table_size_bytes double precision,
    indexes_size_bytes double precision,
    toast_size_bytes double precision,
    relfrozenxid_age double precision,
    last_vacuum timestamptz,
    last_autovacuum timestamptz,
    last_analyze timestamptz,
    last_autoanalyze timestamptz
) PARTITION BY RANGE (time);
CREATE INDEX pg_table_server_time ON metrics.pg_table (server_id, time);

CREATE TABLE metrics.pg_index (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    schemaname text,
    relname text,
    indexrelname text,
    idx_scan bigint,
    idx_tup_read bigint,
    idx_tup_fetch bigint,
    idx_blks_read bigint,
    idx_blks_hit bigint,
    size_bytes double precision,
    is_valid double precision,
    is_unique double precision
) PARTITION BY RANGE (time);
CREATE INDEX pg_index_server_time ON metrics.pg_index (server_id, time);

CREATE TABLE metrics.pg_activity (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    state text,
    wait_event_type text,
    sessions double precision,
    longest_xact_seconds double precision,
    longest_query_seconds double precision,
    longest_idle_in_xact_seconds double precision,
    blocked_sessions double precision
) PARTITION BY RANGE (time);
CREATE INDEX pg_activity_server_time ON metrics.pg_activity (server_id, time);

CREATE TABLE metrics.pg_bgwriter (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    checkpoints_timed bigint,
    checkpoints_req bigint,
    checkpoint_write_time_us bigint,
    checkpoint_sync_time_us bigint,
    buffers_checkpoint bigint,
    buffers_clean bigint,
    maxwritten_clean bigint,
    buffers_backend bigint,
    buffers_backend_fsync bigint,
    buffers_alloc bigint,
    stats_reset timestamptz
) PARTITION BY RANGE (time);
CREATE INDEX pg_bgwriter_server_time ON metrics.pg_bgwriter (server_id, time);

CREATE TABLE metrics.pg_replication (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    application_name text,
    client_addr text,
    state text,
    sync_state text,
    sent_lag_bytes double precision,
    write_lag_bytes double precision,
    flush_lag_bytes double precision,
    replay_lag_bytes double precision,
    write_lag_seconds double precision,
    flush_lag_seconds double precision,
    replay_lag_seconds double precision
) PARTITION BY RANGE (time);
CREATE INDEX pg_replication_server_time ON metrics.pg_replication (server_id, time);

CREATE TABLE metrics.sys_cpu (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    cpu text,
    user_ms bigint,
    nice_ms bigint,
    system_ms bigint,
    idle_ms bigint,
    iowait_ms bigint,
    irq_ms bigint,
    softirq_ms bigint,
    steal_ms bigint
) PARTITION BY RANGE (time);
CREATE INDEX sys_cpu_server_time ON metrics.sys_cpu (server_id, time);

CREATE TABLE metrics.sys_memory (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    total_bytes double precision,
    free_bytes double precision,
    available_bytes double precision,
    buffers_bytes double precision,
    cached_bytes double precision,
    dirty_bytes double precision,
    swap_total_bytes double precision,
    swap_free_bytes double precision
) PARTITION BY RANGE (time);
CREATE INDEX sys_memory_server_time ON metrics.sys_memory (server_id, time);

CREATE TABLE metrics.sys_load (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    load1 double precision,
    load5 double precision,
    load15 double precision,
    procs_running double precision,
    procs_blocked double precision
) PARTITION BY RANGE (time);
CREATE INDEX sys_load_server_time ON metrics.sys_load (server_id, time);

CREATE TABLE metrics.sys_disk_io (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    device text,
    reads_completed bigint,
    reads_merged bigint,
    sectors_read bigint,
    read_time_ms bigint,
    writes_completed bigint,
    writes_merged bigint,
    sectors_written bigint,
    write_time_ms bigint,
    ios_in_progress double precision,
    io_time_ms bigint,
    weighted_io_time_ms bigint
) PARTITION BY RANGE (time);
CREATE INDEX sys_disk_io_server_time ON metrics.sys_disk_io (server_id, time);

CREATE TABLE metrics.sys_network (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    interface text,
    rx_bytes bigint,
    rx_packets bigint,
    rx_errors bigint,
    rx_dropped bigint,
    tx_bytes bigint,
    tx_packets bigint,
    tx_errors bigint,
    tx_dropped bigint
) PARTITION BY RANGE (time);
CREATE INDEX sys_network_server_time ON metrics.sys_network (server_id, time);

CREATE TABLE metrics.disk_usage (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    mountpoint text,
    device text,
    fstype text,
    role text,
    total_bytes double precision,
    used_bytes double precision,
    available_bytes double precision,
    inodes_total double precision,
    inodes_used double precision,
    inodes_available double precision
) PARTITION BY RANGE (time);
CREATE INDEX disk_usage_server_time ON metrics.disk_usage (server_id, time);

CREATE TABLE metrics.pg_log_event (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    severity text,
    category text,
    sqlstate text,
    datname text,
    username text,
    application_name text,
    pid double precision,
    duration_ms double precision,
    message text
) PARTITION BY RANGE (time);
CREATE INDEX pg_log_event_server_time ON metrics.pg_log_event (server_id, time);
