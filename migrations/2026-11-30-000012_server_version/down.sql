ALTER TABLE metrics_daily.pg_server
    DROP COLUMN server_version_num_min, DROP COLUMN server_version_num_max,
    DROP COLUMN server_version_num_sum, DROP COLUMN server_version_num_count,
    DROP COLUMN server_version_num_last;
ALTER TABLE metrics_hourly.pg_server
    DROP COLUMN server_version_num_min, DROP COLUMN server_version_num_max,
    DROP COLUMN server_version_num_sum, DROP COLUMN server_version_num_count,
    DROP COLUMN server_version_num_last;
ALTER TABLE metrics.pg_server DROP COLUMN server_version_num;
