DROP TABLE metrics_daily.pg_statement_latency;
DROP TABLE metrics_hourly.pg_statement_latency;
DROP TABLE metrics.pg_statement_latency;
