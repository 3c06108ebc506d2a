-- Large catalogs: a pg_table / pg_index row may stand for a partition tree rolled up into its
-- root, or for the "(other)" relations of a database not sent in detail this cycle.
-- `relations` counts the relations a row covers, `partitions` those of them that are
-- partitions (or inheritance children); gauges, so their rollups keep min / max / sum /
-- count / last like the others.
ALTER TABLE metrics.pg_table ADD COLUMN relations double precision, ADD COLUMN partitions double precision;
ALTER TABLE metrics.pg_index ADD COLUMN relations double precision, ADD COLUMN partitions double precision;
ALTER TABLE metrics_hourly.pg_table
    ADD COLUMN relations_min double precision,
    ADD COLUMN relations_max double precision,
    ADD COLUMN relations_sum double precision,
    ADD COLUMN relations_count integer,
    ADD COLUMN relations_last double precision,
    ADD COLUMN partitions_min double precision,
    ADD COLUMN partitions_max double precision,
    ADD COLUMN partitions_sum double precision,
    ADD COLUMN partitions_count integer,
    ADD COLUMN partitions_last double precision;
ALTER TABLE metrics_hourly.pg_index
    ADD COLUMN relations_min double precision,
    ADD COLUMN relations_max double precision,
    ADD COLUMN relations_sum double precision,
    ADD COLUMN relations_count integer,
    ADD COLUMN relations_last double precision,
    ADD COLUMN partitions_min double precision,
    ADD COLUMN partitions_max double precision,
    ADD COLUMN partitions_sum double precision,
    ADD COLUMN partitions_count integer,
    ADD COLUMN partitions_last double precision;
ALTER TABLE metrics_daily.pg_table
    ADD COLUMN relations_min double precision,
    ADD COLUMN relations_max double precision,
    ADD COLUMN relations_sum double precision,
    ADD COLUMN relations_count integer,
    ADD COLUMN relations_last double precision,
    ADD COLUMN partitions_min double precision,
    ADD COLUMN partitions_max double precision,
    ADD COLUMN partitions_sum double precision,
    ADD COLUMN partitions_count integer,
    ADD COLUMN partitions_last double precision;
ALTER TABLE metrics_daily.pg_index
    ADD COLUMN relations_min double precision,
    ADD COLUMN relations_max double precision,
    ADD COLUMN relations_sum double precision,
    ADD COLUMN relations_count integer,
    ADD COLUMN relations_last double precision,
    ADD COLUMN partitions_min double precision,
    ADD COLUMN partitions_max double precision,
    ADD COLUMN partitions_sum double precision,
    ADD COLUMN partitions_count integer,
    ADD COLUMN partitions_last double precision;
