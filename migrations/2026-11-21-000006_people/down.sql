DROP TABLE secrets;
DROP TABLE audit_log;
ALTER TABLE api_tokens DROP COLUMN owner_id, DROP COLUMN role;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
