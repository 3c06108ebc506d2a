-- Distributes pgAnalytics' schema over a Citus cluster (docs/scaling.md). Run on the
-- coordinator, in the server's database, after the server has migrated it and before it
-- stores data (or with the data in place: Citus moves it).

CREATE EXTENSION IF NOT EXISTS citus;
-- Columnar storage for old partitions (`columnar_after_days`); created on the workers too.
CREATE EXTENSION IF NOT EXISTS citus_columnar;

-- Raw metrics and both rollup tiers: distributed by server, all co-located, so a server's
-- rows, its rollups and its late-hour marks sit on the same worker (rollups run there).
SELECT create_distributed_table('metrics.pg_database', 'server_id');
SELECT create_distributed_table(format('%I.%I', n.nspname, c.relname), 'server_id',
                                colocate_with => 'metrics.pg_database')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('metrics', 'metrics_hourly', 'metrics_daily')
  AND c.relkind = 'p'
  AND (n.nspname, c.relname) <> ('metrics', 'pg_database')
ORDER BY n.nspname, c.relname;
SELECT create_distributed_table('rollup_dirty_hours', 'server_id',
                                colocate_with => 'metrics.pg_database');

-- Everything else is metadata (servers, collectors, people, alerts, watermarks…): reference
-- tables, copied to every worker. Tables referenced by foreign keys go first (Citus turns a
-- table that references a reference table into a "Citus local" table meanwhile; it becomes
-- a reference table in its turn).
DO $$
DECLARE
    left_over text[];
    t text;
    progress bool;
BEGIN
    SELECT array_agg(c.relname::text) INTO left_over
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'
      AND c.relname NOT IN ('__diesel_schema_migrations', 'rollup_dirty_hours')
      AND NOT EXISTS (SELECT 1 FROM citus_tables ct WHERE ct.table_name = c.oid::regclass
                      AND ct.citus_table_type IN ('distributed', 'reference'));
    LOOP
        progress := false;
        FOREACH t IN ARRAY coalesce(left_over, '{}') LOOP
            IF NOT EXISTS (
                SELECT 1 FROM pg_constraint k
                WHERE k.conrelid = t::regclass AND k.contype = 'f' AND k.confrelid <> k.conrelid
                  AND NOT EXISTS (SELECT 1 FROM citus_tables ct WHERE ct.table_name = k.confrelid::regclass
                                  AND ct.citus_table_type = 'reference')
            ) THEN
                PERFORM create_reference_table(t);
                left_over := array_remove(left_over, t);
                progress := true;
            END IF;
        END LOOP;
        EXIT WHEN NOT progress OR cardinality(left_over) = 0;
    END LOOP;
    IF cardinality(left_over) > 0 THEN
        RAISE EXCEPTION 'tables left undistributed: %', left_over;
    END IF;
END
$$;
