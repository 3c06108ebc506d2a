-- Alerting (issue 12): rules, alerts and their transitions, silences, maintenance windows,
-- notification channels and deliveries. Definitions are kept as JSON documents the domain
-- reads and writes; the columns beside them are what queries filter and order on.

CREATE TABLE alert_rules (
    name           text PRIMARY KEY,
    spec           jsonb NOT NULL,
    builtin        boolean NOT NULL DEFAULT false,
    edited         boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    last_error     text,
    last_evaluated timestamptz
);

-- Every built-in name ever seeded: an upgrade adds new built-ins, never re-adds a deleted one.
CREATE TABLE alert_rules_seeded (
    name      text PRIMARY KEY,
    seeded_at timestamptz NOT NULL
);

CREATE TABLE alerts (
    fingerprint text PRIMARY KEY,
    rule        text NOT NULL,
    server_id   bigint,
    phase       text NOT NULL,
    severity    text NOT NULL,
    changed_at  timestamptz NOT NULL,
    state       jsonb NOT NULL
);
CREATE INDEX alerts_rule ON alerts (rule);
CREATE INDEX alerts_changed ON alerts (changed_at DESC);

CREATE TABLE alert_transitions (
    id          uuid PRIMARY KEY,
    fingerprint text NOT NULL,
    at          timestamptz NOT NULL,
    body        jsonb NOT NULL
);
CREATE INDEX alert_transitions_alert ON alert_transitions (fingerprint, at DESC);

CREATE TABLE silences (
    id      uuid PRIMARY KEY,
    ends_at timestamptz NOT NULL,
    body    jsonb NOT NULL
);

CREATE TABLE maintenance_windows (
    id        uuid PRIMARY KEY,
    server_id bigint NOT NULL,
    ends_at   timestamptz NOT NULL,
    body      jsonb NOT NULL
);

CREATE TABLE notification_channels (
    id            uuid PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    body          jsonb NOT NULL,
    -- Sealed with the server's key ring (purpose notification-channel); never decrypted here.
    sealed_secret text
);

CREATE TABLE notification_deliveries (
    id              uuid PRIMARY KEY,
    transition_id   uuid NOT NULL REFERENCES alert_transitions (id) ON DELETE CASCADE,
    channel_id      uuid NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel_id, created_at DESC);
CREATE INDEX notification_deliveries_transition ON notification_deliveries (transition_id);

-- SQL alert rules run on their own session, logged in as this role: a member of the
-- read-only group and nothing else, so a rule's query can neither write nor switch back to
-- the server's own role. Without a password it can only log in where the cluster trusts
-- local connections (the private cluster); elsewhere set `sql_rules_url`. Creating it needs
-- CREATEROLE: without it, SQL rules are refused until an administrator creates the role.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pganalytics_rule_reader') THEN
        CREATE ROLE pganalytics_rule_reader LOGIN IN ROLE pganalytics_reader;
        ALTER ROLE pganalytics_rule_reader SET default_transaction_read_only = on;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pganalytics_rule_reader not created (no CREATEROLE): SQL alert rules need sql_rules_url';
END
$$;
