-- Metadata: registration tokens, collectors, their configuration, API tokens, monitored
-- servers and the ids of ingested batches (for exactly-once ingest).

CREATE TABLE registration_tokens (
    id          uuid PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    uses_left   integer NOT NULL CHECK (uses_left >= 0),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE collectors (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    hostname         text NOT NULL,
    status           text NOT NULL CHECK (status IN ('active', 'revoked')),
    cert_fingerprint text NOT NULL,
    cert_serial      text NOT NULL,
    cert_not_after   timestamptz NOT NULL,
    registered_at    timestamptz NOT NULL,
    last_seen        timestamptz,
    revoked_at       timestamptz,
    config_version   bigint NOT NULL DEFAULT 1
);
-- A name is unique among active collectors; a re-installed host may reuse a revoked name.
CREATE UNIQUE INDEX collectors_active_name ON collectors (name) WHERE status = 'active';

CREATE TABLE collector_configs (
    collector_id uuid PRIMARY KEY REFERENCES collectors (id) ON DELETE CASCADE,
    version      bigint NOT NULL,
    config       jsonb NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    prefix      text NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz
);

CREATE TABLE servers (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collector_id  uuid NOT NULL REFERENCES collectors (id),
    instance      text NOT NULL,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    UNIQUE (collector_id, instance)
);

CREATE TABLE ingested_batches (
    batch_id      uuid PRIMARY KEY,
    collector_id  uuid NOT NULL REFERENCES collectors (id),
    received_at   timestamptz NOT NULL,
    counts        jsonb NOT NULL
);
CREATE INDEX ingested_batches_received_at ON ingested_batches (received_at);
