//! Diesel's view of the metadata tables (see `migrations/`). Metric tables are written
//! with dynamic SQL built from the catalog, so they are not listed here.

diesel::table! {
    registration_tokens (id) {
        id -> Uuid,
        token_hash -> Text,
        uses_left -> Int4,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    collectors (id) {
        id -> Uuid,
        name -> Text,
        hostname -> Text,
        status -> Text,
        cert_fingerprint -> Text,
        cert_serial -> Text,
        cert_not_after -> Timestamptz,
        registered_at -> Timestamptz,
        last_seen -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        config_version -> Int8,
        cert_pem -> Text,
        agent_version -> Nullable<Text>,
    }
}

diesel::table! {
    collector_configs (collector_id) {
        collector_id -> Uuid,
        version -> Int8,
        config -> Jsonb,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        name -> Text,
        prefix -> Text,
        token_hash -> Text,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        role -> Text,
        owner_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    servers (id) {
        id -> Int8,
        collector_id -> Uuid,
        instance -> Text,
        first_seen -> Timestamptz,
        last_seen -> Timestamptz,
    }
}

diesel::table! {
    ingested_batches (collector_id, batch_id) {
        batch_id -> Uuid,
        collector_id -> Uuid,
        received_at -> Timestamptz,
        counts -> Jsonb,
    }
}

diesel::joinable!(servers -> collectors (collector_id));
diesel::allow_tables_to_appear_in_same_query!(
    registration_tokens,
    collectors,
    collector_configs,
    api_tokens,
    servers,
    ingested_batches
);
