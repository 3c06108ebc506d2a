-- The instance's release (`server_version_num`, e.g. 160004), which the fleet list shows;
-- a gauge, so its rollups keep min / max / sum / count / last like the others.
ALTER TABLE metrics.pg_server ADD COLUMN server_version_num double precision;
ALTER TABLE metrics_hourly.pg_server
    ADD COLUMN server_version_num_min double precision,
    ADD COLUMN server_version_num_max double precision,
    ADD COLUMN server_version_num_sum double precision,
    ADD COLUMN server_version_num_count integer,
    ADD COLUMN server_version_num_last double precision;
ALTER TABLE metrics_daily.pg_server
    ADD COLUMN server_version_num_min double precision,
    ADD COLUMN server_version_num_max double precision,
    ADD COLUMN server_version_num_sum double precision,
    ADD COLUMN server_version_num_count integer,
    ADD COLUMN server_version_num_last double precision;
