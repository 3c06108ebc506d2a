DROP TABLE metrics.pg_server;
ALTER TABLE metrics.sys_load DROP COLUMN cpus;
