-- Per-statement latency quantiles from the log's duration lines (issue 15): one row per
-- statement (query id, or a hash of its redacted text) and database per agent window.
CREATE TABLE metrics.pg_statement_latency (
    time      timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    query_id text,
    calls double precision,
    p50_ms double precision,
    p95_ms double precision,
    p99_ms double precision,
    max_ms double precision,
    total_ms double precision
) PARTITION BY RANGE (time);
CREATE INDEX pg_statement_latency_server_time ON metrics.pg_statement_latency (server_id, time);
GRANT SELECT ON metrics.pg_statement_latency TO pganalytics_reader;
CREATE TABLE metrics_hourly.pg_statement_latency (
    bucket    timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    query_id text,
    samples integer NOT NULL,
    seconds double precision NOT NULL,
    calls_min double precision,
    calls_max double precision,
    calls_sum double precision,
    calls_count integer,
    calls_last double precision,
    p50_ms_min double precision,
    p50_ms_max double precision,
    p50_ms_sum double precision,
    p50_ms_count integer,
    p50_ms_last double precision,
    p95_ms_min double precision,
    p95_ms_max double precision,
    p95_ms_sum double precision,
    p95_ms_count integer,
    p95_ms_last double precision,
    p99_ms_min double precision,
    p99_ms_max double precision,
    p99_ms_sum double precision,
    p99_ms_count integer,
    p99_ms_last double precision,
    max_ms_min double precision,
    max_ms_max double precision,
    max_ms_sum double precision,
    max_ms_count integer,
    max_ms_last double precision,
    total_ms_min double precision,
    total_ms_max double precision,
    total_ms_sum double precision,
    total_ms_count integer,
    total_ms_last double precision
) PARTITION BY RANGE (bucket);
CREATE INDEX pg_statement_latency_server_bucket ON metrics_hourly.pg_statement_latency (server_id, bucket);
CREATE INDEX pg_statement_latency_bucket ON metrics_hourly.pg_statement_latency USING brin (bucket);
GRANT SELECT ON metrics_hourly.pg_statement_latency TO pganalytics_reader;
CREATE TABLE metrics_daily.pg_statement_latency (
    bucket    timestamptz NOT NULL,
    server_id bigint NOT NULL,
    datname text,
    query_id text,
    samples integer NOT NULL,
    seconds double precision NOT NULL,
    calls_min double precision,
    calls_max double precision,
    calls_sum double precision,
    calls_count integer,
    calls_last double precision,
    p50_ms_min double precision,
    p50_ms_max double precision,
    p50_ms_sum double precision,
    p50_ms_count integer,
    p50_ms_last double precision,
    p95_ms_min double precision,
    p95_ms_max double precision,
    p95_ms_sum double precision,
    p95_ms_count integer,
    p95_ms_last double precision,
    p99_ms_min double precision,
    p99_ms_max double precision,
    p99_ms_sum double precision,
    p99_ms_count integer,
    p99_ms_last double precision,
    max_ms_min double precision,
    max_ms_max double precision,
    max_ms_sum double precision,
    max_ms_count integer,
    max_ms_last double precision,
    total_ms_min double precision,
    total_ms_max double precision,
    total_ms_sum double precision,
    total_ms_count integer,
    total_ms_last double precision
) PARTITION BY RANGE (bucket);
CREATE INDEX pg_statement_latency_server_bucket ON metrics_daily.pg_statement_latency (server_id, bucket);
CREATE INDEX pg_statement_latency_bucket ON metrics_daily.pg_statement_latency USING brin (bucket);
GRANT SELECT ON metrics_daily.pg_statement_latency TO pganalytics_reader;
