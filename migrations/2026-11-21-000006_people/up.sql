-- People and access: users, login sessions with their rotating refresh tokens, API token
-- roles and owners, the audit log, and encrypted secrets. None of these tables is granted
-- to pganalytics_reader.

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    username       text NOT NULL UNIQUE,
    role           text NOT NULL CHECK (role IN ('admin', 'user', 'viewer')),
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    disabled_at    timestamptz
);

-- A session is the family of refresh tokens handed out since one login.
CREATE TABLE sessions (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    address     text
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash  text PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Tokens made before roles existed could do everything a token could: admin.
ALTER TABLE api_tokens
    ADD COLUMN role text NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'user', 'viewer')),
    ADD COLUMN owner_id uuid REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE api_tokens ALTER COLUMN role DROP DEFAULT;

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_kind  text NOT NULL,
    actor_id    text,
    actor_name  text,
    actor_role  text,
    address     text,
    request_id  text,
    action      text NOT NULL,
    target      text,
    outcome     text NOT NULL CHECK (outcome IN ('success', 'denied')),
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action text_pattern_ops, id);
CREATE INDEX audit_log_actor ON audit_log (actor_kind, actor_id, id);

-- Secret values sealed with AES-256-GCM by the server (`v1:<key id>:<nonce>:<ciphertext>`);
-- the key is never in the database.
CREATE TABLE secrets (
    name        text PRIMARY KEY,
    sealed      text NOT NULL,
    updated_at  timestamptz NOT NULL
);
