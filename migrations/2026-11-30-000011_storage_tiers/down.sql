DROP SCHEMA metrics_daily CASCADE;
DROP SCHEMA metrics_hourly CASCADE;
DROP TABLE rollup_dirty_hours;
DROP TABLE rollup_watermarks;
DROP TABLE retention_overrides;
DROP INDEX metrics.pg_log_event_message_search;
DROP INDEX metrics.pg_log_event_time_id;
ALTER TABLE metrics.pg_log_event DROP COLUMN event_id;
ALTER TABLE metrics.pg_log_event DROP COLUMN kind;
