ALTER TABLE collectors DROP COLUMN agent_version;
