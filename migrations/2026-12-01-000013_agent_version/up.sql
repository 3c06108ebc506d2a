-- The release of the agent behind each collector, as its latest push said
-- (`agent_version`), for the console's collector list and the API.
ALTER TABLE collectors ADD COLUMN agent_version text;
