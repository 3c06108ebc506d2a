DROP TABLE ingested_batches;
DROP TABLE servers;
DROP TABLE api_tokens;
DROP TABLE collector_configs;
DROP TABLE collectors;
DROP TABLE registration_tokens;
