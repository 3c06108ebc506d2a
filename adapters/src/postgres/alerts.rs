//! Alerting on PostgreSQL: rules, alerts with their transitions, silences, maintenance
//! windows, channels and deliveries. Definitions are JSON documents (the domain's serde
//! forms); every change runs in one transaction with its audit row.

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{
    BigInt, Bool, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pganalytics_domain::alerts::RuleSpec;
use pganalytics_domain::alerts::channel::{Channel, DeliveryStatus};
use pganalytics_domain::alerts::silence::{MaintenanceWindow, Silence};
use pganalytics_domain::alerts::state::{Ack, AlertState, Phase};
use pganalytics_domain::audit::AuditEntry;
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{
    AlertChange, AlertFilter, AlertRuleStore, AlertStore, ChannelStore, Delivery, DeliveryOutcome,
    QueuedDelivery, StoredChannel, StoredRule, Transition,
};
use serde_json::Value;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

use super::people::{Tx, audited, tx_result, write_audit};
use super::{PgStore, store_error};

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value, entity: &str) -> Result<T, StoreError> {
    serde_json::from_value(v)
        .map_err(|e| StoreError::unknown(format!("a stored {entity} does not read back: {e}")))
}

fn refused(entity: &'static str) -> Tx {
    Tx::Refused(StoreError::NotFound { entity })
}

#[derive(QueryableByName)]
struct RuleRow {
    #[diesel(sql_type = Jsonb)]
    spec: Value,
    #[diesel(sql_type = Bool)]
    builtin: bool,
    #[diesel(sql_type = Bool)]
    edited: bool,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Timestamptz)]
    updated_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_evaluated: Option<OffsetDateTime>,
}

impl RuleRow {
    fn into_stored(self) -> Result<StoredRule, StoreError> {
        Ok(StoredRule {
            spec: from_json(self.spec, "alert rule")?,
            builtin: self.builtin,
            edited: self.edited,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_error: self.last_error,
            last_evaluated: self.last_evaluated,
        })
    }
}

const RULE_COLUMNS: &str =
    "spec, builtin, edited, created_at, updated_at, last_error, last_evaluated";

async fn insert_rule(
    conn: &mut AsyncPgConnection,
    r: &StoredRule,
) -> Result<usize, diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO alert_rules (name, spec, builtin, edited, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind::<Text, _>(&r.spec.name)
    .bind::<Jsonb, _>(json(&r.spec))
    .bind::<Bool, _>(r.builtin)
    .bind::<Bool, _>(r.edited)
    .bind::<Timestamptz, _>(r.created_at)
    .bind::<Timestamptz, _>(r.updated_at)
    .execute(conn)
    .await
}

async fn replace_rule(
    conn: &mut AsyncPgConnection,
    spec: &RuleSpec,
    now: OffsetDateTime,
) -> Result<Option<RuleRow>, diesel::result::Error> {
    let rows: Vec<RuleRow> = diesel::sql_query(format!(
        "UPDATE alert_rules SET spec = $2, edited = builtin, updated_at = $3 WHERE name = $1 \
         RETURNING {RULE_COLUMNS}"
    ))
    .bind::<Text, _>(&spec.name)
    .bind::<Jsonb, _>(json(spec))
    .bind::<Timestamptz, _>(now)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next())
}

#[async_trait]
impl AlertRuleStore for PgStore {
    async fn list_rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<RuleRow> = diesel::sql_query(format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY name"
        ))
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "alert rule"))?;
        rows.into_iter().map(RuleRow::into_stored).collect()
    }

    async fn get_rule(&self, name: &str) -> Result<StoredRule, StoreError> {
        let mut conn = self.conn().await?;
        let row: RuleRow = diesel::sql_query(format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules WHERE name = $1"
        ))
        .bind::<Text, _>(name)
        .get_result(&mut conn)
        .await
        .map_err(|e| store_error(e, "alert rule"))?;
        row.into_stored()
    }

    async fn create_rule(&self, rule: &StoredRule, audit: &AuditEntry) -> Result<(), StoreError> {
        audited!(self, "alert rule", audit, |conn| {
            insert_rule(conn, rule).await?;
        })
    }

    async fn update_rule(
        &self,
        name: &str,
        spec: &RuleSpec,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<StoredRule, StoreError> {
        let row = audited!(self, "alert rule", audit, |conn| {
            let mut spec = spec.clone();
            spec.name = name.to_owned();
            match replace_rule(conn, &spec, now).await? {
                Some(r) => r,
                None => return Err(refused("alert rule")),
            }
        })?;
        row.into_stored()
    }

    async fn delete_rule(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        audited!(self, "alert rule", audit, |conn| {
            let n = diesel::sql_query("DELETE FROM alert_rules WHERE name = $1")
                .bind::<Text, _>(name)
                .execute(conn)
                .await?;
            if n == 0 {
                return Err(refused("alert rule"));
            }
            diesel::sql_query("DELETE FROM alerts WHERE rule = $1")
                .bind::<Text, _>(name)
                .execute(conn)
                .await?;
        })
    }

    async fn seed_builtin_rules(
        &self,
        rules: &[RuleSpec],
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let mut pooled = self.conn().await?;
        let r = pooled
            .transaction::<_, Tx, _>(async |conn| {
                let mut added = Vec::new();
                for spec in rules {
                    // The seeded list decides: concurrent starts race on its primary key and
                    // exactly one inserts each rule.
                    let fresh = diesel::sql_query(
                        "INSERT INTO alert_rules_seeded (name, seeded_at) VALUES ($1, $2) \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind::<Text, _>(&spec.name)
                    .bind::<Timestamptz, _>(now)
                    .execute(conn)
                    .await?;
                    if fresh == 0 {
                        continue;
                    }
                    let n = diesel::sql_query(
                        "INSERT INTO alert_rules (name, spec, builtin, edited, created_at, updated_at) \
                         VALUES ($1, $2, true, false, $3, $3) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind::<Text, _>(&spec.name)
                    .bind::<Jsonb, _>(json(spec))
                    .bind::<Timestamptz, _>(now)
                    .execute(conn)
                    .await?;
                    if n == 1 {
                        added.push(spec.name.clone());
                    }
                }
                Ok(added)
            })
            .await;
        tx_result(r, "alert rule")
    }

    async fn upsert_rules(
        &self,
        rules: &[StoredRule],
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "alert rule", audit, |conn| {
            for r in rules {
                if replace_rule(conn, &r.spec, now).await?.is_none() {
                    insert_rule(conn, r).await?;
                }
            }
        })
    }

    async fn record_rule_run(
        &self,
        name: &str,
        at: OffsetDateTime,
        error: Option<String>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::sql_query(
            "UPDATE alert_rules SET last_evaluated = $2, last_error = $3 WHERE name = $1",
        )
        .bind::<Text, _>(name)
        .bind::<Timestamptz, _>(at)
        .bind::<Nullable<Text>, _>(error)
        .execute(&mut conn)
        .await
        .map_err(|e| store_error(e, "alert rule"))?;
        Ok(())
    }
}

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Jsonb)]
    body: Value,
}

fn changed_at(a: &AlertState) -> OffsetDateTime {
    a.resolved_at.or(a.firing_since).unwrap_or(a.active_since)
}

async fn upsert_alert(
    conn: &mut AsyncPgConnection,
    a: &AlertState,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO alerts (fingerprint, rule, server_id, phase, severity, changed_at, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fingerprint) DO UPDATE SET \
         rule = EXCLUDED.rule, server_id = EXCLUDED.server_id, phase = EXCLUDED.phase, \
         severity = EXCLUDED.severity, changed_at = EXCLUDED.changed_at, state = EXCLUDED.state",
    )
    .bind::<Text, _>(&a.fingerprint)
    .bind::<Text, _>(&a.rule)
    .bind::<Nullable<BigInt>, _>(a.server_id)
    .bind::<Text, _>(a.phase.as_str())
    .bind::<Text, _>(a.severity.as_str())
    .bind::<Timestamptz, _>(changed_at(a))
    .bind::<Jsonb, _>(json(a))
    .execute(conn)
    .await
    .map(drop)
}

async fn record_transition(
    conn: &mut AsyncPgConnection,
    t: &Transition,
    queued: &[QueuedDelivery],
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO alert_transitions (id, fingerprint, at, body) VALUES ($1, $2, $3, $4)",
    )
    .bind::<SqlUuid, _>(t.id)
    .bind::<Text, _>(&t.fingerprint)
    .bind::<Timestamptz, _>(t.at)
    .bind::<Jsonb, _>(json(t))
    .execute(&mut *conn)
    .await?;
    for q in queued {
        diesel::sql_query(
            "INSERT INTO notification_deliveries \
             (id, transition_id, channel_id, status, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind::<SqlUuid, _>(q.id)
        .bind::<SqlUuid, _>(t.id)
        .bind::<SqlUuid, _>(q.channel_id)
        .bind::<Text, _>(q.status.as_str())
        .bind::<Timestamptz, _>(q.not_before)
        .bind::<Timestamptz, _>(t.at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct StateRow {
    #[diesel(sql_type = Jsonb)]
    state: Value,
}

fn states(rows: Vec<StateRow>) -> Result<Vec<AlertState>, StoreError> {
    rows.into_iter()
        .map(|r| from_json(r.state, "alert"))
        .collect()
}

#[async_trait]
impl AlertStore for PgStore {
    async fn rule_alerts(&self, rule: &str) -> Result<Vec<AlertState>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<StateRow> = diesel::sql_query("SELECT state FROM alerts WHERE rule = $1")
            .bind::<Text, _>(rule)
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "alert"))?;
        states(rows)
    }

    async fn apply_evaluation(&self, changes: &[AlertChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut pooled = self.conn().await?;
        let r = pooled
            .transaction::<_, Tx, _>(async |conn| {
                for c in changes {
                    match &c.state {
                        Some(s) => upsert_alert(conn, s).await?,
                        None => {
                            diesel::sql_query("DELETE FROM alerts WHERE fingerprint = $1")
                                .bind::<Text, _>(&c.fingerprint)
                                .execute(&mut *conn)
                                .await?;
                        }
                    }
                    if let Some((t, queued)) = &c.transition {
                        record_transition(conn, t, queued).await?;
                    }
                }
                Ok(())
            })
            .await;
        tx_result(r, "alert")
    }

    async fn list_alerts(&self, f: &AlertFilter) -> Result<Vec<AlertState>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<StateRow> = diesel::sql_query(
            "SELECT state FROM alerts WHERE ($1::text IS NULL OR phase = $1) \
             AND ($2::text IS NULL OR severity = $2) AND ($3::int8 IS NULL OR server_id = $3) \
             AND ($4::text IS NULL OR rule = $4) ORDER BY changed_at DESC, fingerprint LIMIT $5",
        )
        .bind::<Nullable<Text>, _>(f.phase.map(Phase::as_str))
        .bind::<Nullable<Text>, _>(f.severity.map(|s| s.as_str()))
        .bind::<Nullable<BigInt>, _>(f.server_id)
        .bind::<Nullable<Text>, _>(f.rule.as_deref())
        .bind::<BigInt, _>(i64::try_from(f.limit).unwrap_or(i64::MAX))
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "alert"))?;
        states(rows)
    }

    async fn get_alert(&self, fingerprint: &str) -> Result<AlertState, StoreError> {
        let mut conn = self.conn().await?;
        let row: StateRow = diesel::sql_query("SELECT state FROM alerts WHERE fingerprint = $1")
            .bind::<Text, _>(fingerprint)
            .get_result(&mut conn)
            .await
            .map_err(|e| store_error(e, "alert"))?;
        from_json(row.state, "alert")
    }

    async fn alert_history(
        &self,
        fingerprint: &str,
        limit: usize,
    ) -> Result<Vec<Transition>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<JsonRow> = diesel::sql_query(
            "SELECT body FROM alert_transitions WHERE fingerprint = $1 ORDER BY at DESC LIMIT $2",
        )
        .bind::<Text, _>(fingerprint)
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "alert"))?;
        rows.into_iter()
            .map(|r| from_json(r.body, "transition"))
            .collect()
    }

    async fn ack_alert(
        &self,
        fingerprint: &str,
        ack: &Ack,
        transition: &(Transition, Vec<QueuedDelivery>),
        audit: &AuditEntry,
    ) -> Result<AlertState, StoreError> {
        audited!(self, "alert", audit, |conn| {
            let rows: Vec<StateRow> =
                diesel::sql_query("SELECT state FROM alerts WHERE fingerprint = $1 FOR UPDATE")
                    .bind::<Text, _>(fingerprint)
                    .load(conn)
                    .await?;
            let Some(row) = rows.into_iter().next() else {
                return Err(refused("alert"));
            };
            let mut state: AlertState = serde_json::from_value(row.state)
                .map_err(|e| Tx::Refused(StoreError::unknown(e)))?;
            if state.phase != Phase::Firing || state.ack.is_some() {
                return Err(Tx::Refused(StoreError::Conflict {
                    entity: "acknowledgement",
                }));
            }
            state.ack = Some(ack.clone());
            upsert_alert(conn, &state).await?;
            record_transition(conn, &transition.0, &transition.1).await?;
            state
        })
    }

    async fn prune_resolved(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n =
            diesel::sql_query("DELETE FROM alerts WHERE phase = 'resolved' AND changed_at < $1")
                .bind::<Timestamptz, _>(before)
                .execute(&mut conn)
                .await
                .map_err(|e| store_error(e, "alert"))?;
        Ok(n as u64)
    }

    async fn create_silence(&self, s: &Silence, audit: &AuditEntry) -> Result<(), StoreError> {
        audited!(self, "silence", audit, |conn| {
            diesel::sql_query("INSERT INTO silences (id, ends_at, body) VALUES ($1, $2, $3)")
                .bind::<SqlUuid, _>(s.id)
                .bind::<Timestamptz, _>(s.ends_at)
                .bind::<Jsonb, _>(json(s))
                .execute(conn)
                .await?;
        })
    }

    async fn list_silences(&self, since: OffsetDateTime) -> Result<Vec<Silence>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<JsonRow> = diesel::sql_query(
            "SELECT body FROM silences WHERE ends_at > $1 ORDER BY body->>'starts_at' DESC",
        )
        .bind::<Timestamptz, _>(since)
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "silence"))?;
        rows.into_iter()
            .map(|r| from_json(r.body, "silence"))
            .collect()
    }

    async fn expire_silence(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<Silence, StoreError> {
        audited!(self, "silence", audit, |conn| {
            let rows: Vec<JsonRow> =
                diesel::sql_query("SELECT body FROM silences WHERE id = $1 FOR UPDATE")
                    .bind::<SqlUuid, _>(id)
                    .load(conn)
                    .await?;
            let Some(row) = rows.into_iter().next() else {
                return Err(refused("silence"));
            };
            let mut s: Silence = serde_json::from_value(row.body)
                .map_err(|e| Tx::Refused(StoreError::unknown(e)))?;
            if s.ends_at > now {
                s.ends_at = now;
            }
            diesel::sql_query("UPDATE silences SET ends_at = $2, body = $3 WHERE id = $1")
                .bind::<SqlUuid, _>(id)
                .bind::<Timestamptz, _>(s.ends_at)
                .bind::<Jsonb, _>(json(&s))
                .execute(conn)
                .await?;
            s
        })
    }

    async fn create_maintenance(
        &self,
        w: &MaintenanceWindow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "maintenance window", audit, |conn| {
            diesel::sql_query(
                "INSERT INTO maintenance_windows (id, server_id, ends_at, body) VALUES ($1, $2, $3, $4)",
            )
            .bind::<SqlUuid, _>(w.id)
            .bind::<BigInt, _>(w.server_id)
            .bind::<Timestamptz, _>(w.ends_at)
            .bind::<Jsonb, _>(json(w))
            .execute(conn)
            .await?;
        })
    }

    async fn list_maintenance(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<JsonRow> = diesel::sql_query(
            "SELECT body FROM maintenance_windows WHERE ends_at > $1 ORDER BY body->>'starts_at'",
        )
        .bind::<Timestamptz, _>(since)
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "maintenance window"))?;
        rows.into_iter()
            .map(|r| from_json(r.body, "maintenance window"))
            .collect()
    }

    async fn delete_maintenance(&self, id: Uuid, audit: &AuditEntry) -> Result<(), StoreError> {
        audited!(self, "maintenance window", audit, |conn| {
            let n = diesel::sql_query("DELETE FROM maintenance_windows WHERE id = $1")
                .bind::<SqlUuid, _>(id)
                .execute(conn)
                .await?;
            if n == 0 {
                return Err(refused("maintenance window"));
            }
        })
    }
}

#[derive(QueryableByName)]
struct ChannelRow {
    #[diesel(sql_type = Jsonb)]
    body: Value,
    #[diesel(sql_type = Nullable<Text>)]
    sealed_secret: Option<String>,
}

impl ChannelRow {
    fn into_stored(self) -> Result<StoredChannel, StoreError> {
        Ok(StoredChannel {
            channel: from_json::<Channel>(self.body, "notification channel")?,
            sealed_secret: self.sealed_secret,
        })
    }
}

#[derive(QueryableByName)]
struct DeliveryRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Jsonb)]
    body: Value,
    #[diesel(sql_type = SqlUuid)]
    channel_id: Uuid,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    next_attempt_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    delivered_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
}

const DELIVERY_COLUMNS: &str = "d.id, t.body, d.channel_id, d.status, d.attempts, \
    d.next_attempt_at, d.last_error, d.delivered_at, d.created_at";

impl DeliveryRow {
    fn into_delivery(self) -> Result<Delivery, StoreError> {
        Ok(Delivery {
            id: self.id,
            transition: from_json(self.body, "transition")?,
            channel_id: self.channel_id,
            status: DeliveryStatus::parse(&self.status)
                .ok_or_else(|| StoreError::unknown(format!("delivery status {:?}", self.status)))?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error,
            delivered_at: self.delivered_at,
            created_at: self.created_at,
        })
    }
}

#[derive(QueryableByName)]
struct LastRow {
    #[diesel(sql_type = Text)]
    fingerprint: String,
    #[diesel(sql_type = SqlUuid)]
    channel_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    last: OffsetDateTime,
}

#[async_trait]
impl ChannelStore for PgStore {
    async fn create_channel(
        &self,
        c: &StoredChannel,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "notification channel", audit, |conn| {
            diesel::sql_query(
                "INSERT INTO notification_channels (id, name, body, sealed_secret) VALUES ($1, $2, $3, $4)",
            )
            .bind::<SqlUuid, _>(c.channel.id)
            .bind::<Text, _>(&c.channel.name)
            .bind::<Jsonb, _>(json(&c.channel))
            .bind::<Nullable<Text>, _>(c.sealed_secret.as_deref())
            .execute(conn)
            .await?;
        })
    }

    async fn list_channels(&self) -> Result<Vec<StoredChannel>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<ChannelRow> = diesel::sql_query(
            "SELECT body, sealed_secret FROM notification_channels ORDER BY name",
        )
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "notification channel"))?;
        rows.into_iter().map(ChannelRow::into_stored).collect()
    }

    async fn get_channel(&self, id: Uuid) -> Result<StoredChannel, StoreError> {
        let mut conn = self.conn().await?;
        let row: ChannelRow = diesel::sql_query(
            "SELECT body, sealed_secret FROM notification_channels WHERE id = $1",
        )
        .bind::<SqlUuid, _>(id)
        .get_result(&mut conn)
        .await
        .map_err(|e| store_error(e, "notification channel"))?;
        row.into_stored()
    }

    async fn update_channel(
        &self,
        c: &StoredChannel,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "notification channel", audit, |conn| {
            let n = diesel::sql_query(
                "UPDATE notification_channels SET name = $2, body = $3, sealed_secret = $4 WHERE id = $1",
            )
            .bind::<SqlUuid, _>(c.channel.id)
            .bind::<Text, _>(&c.channel.name)
            .bind::<Jsonb, _>(json(&c.channel))
            .bind::<Nullable<Text>, _>(c.sealed_secret.as_deref())
            .execute(conn)
            .await?;
            if n == 0 {
                return Err(refused("notification channel"));
            }
        })
    }

    async fn reseal_channel_secret(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::sql_query(
            "UPDATE notification_channels SET sealed_secret = $3 WHERE id = $1 AND sealed_secret = $2",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(old)
        .bind::<Text, _>(new)
        .execute(&mut conn)
        .await
        .map_err(|e| store_error(e, "notification channel"))?;
        Ok(n == 1)
    }

    async fn delete_channel(&self, id: Uuid, audit: &AuditEntry) -> Result<(), StoreError> {
        audited!(self, "notification channel", audit, |conn| {
            let n = diesel::sql_query("DELETE FROM notification_channels WHERE id = $1")
                .bind::<SqlUuid, _>(id)
                .execute(&mut *conn)
                .await?;
            if n == 0 {
                return Err(refused("notification channel"));
            }
            diesel::sql_query(
                "DELETE FROM notification_deliveries WHERE channel_id = $1 AND status = 'pending'",
            )
            .bind::<SqlUuid, _>(id)
            .execute(conn)
            .await?;
        })
    }

    async fn take_due_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut conn = self.conn().await?;
        // SKIP LOCKED: two servers taking at once split the work instead of sending twice.
        let rows: Vec<DeliveryRow> = diesel::sql_query(format!(
            "WITH due AS ( \
               SELECT id FROM notification_deliveries \
               WHERE status = 'pending' AND next_attempt_at <= $1 \
                 AND (lease_until IS NULL OR lease_until <= $1) \
               ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED), \
             taken AS ( \
               UPDATE notification_deliveries d SET lease_until = $2 FROM due \
               WHERE d.id = due.id RETURNING d.*) \
             SELECT {DELIVERY_COLUMNS} FROM taken d JOIN alert_transitions t ON t.id = d.transition_id \
             ORDER BY d.created_at, d.id"
        ))
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(lease_until)
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "delivery"))?;
        rows.into_iter().map(DeliveryRow::into_delivery).collect()
    }

    async fn queue_test_delivery(
        &self,
        d: &Delivery,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "delivery", audit, |conn| {
            record_transition(
                conn,
                &d.transition,
                &[QueuedDelivery {
                    id: d.id,
                    channel_id: d.channel_id,
                    status: d.status,
                    not_before: d.next_attempt_at,
                }],
            )
            .await?;
        })
    }

    async fn finish_delivery(&self, id: Uuid, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        let (status, next, error, delivered) = match outcome {
            DeliveryOutcome::Delivered { at } => ("delivered", None, None, Some(*at)),
            DeliveryOutcome::Retry { at, error } => {
                ("pending", Some(*at), Some(error.as_str()), None)
            }
            DeliveryOutcome::Failed { error } => ("failed", None, Some(error.as_str()), None),
        };
        let mut conn = self.conn().await?;
        let n = diesel::sql_query(
            "UPDATE notification_deliveries SET status = $2, attempts = attempts + 1, \
             next_attempt_at = coalesce($3, next_attempt_at), last_error = $4, \
             delivered_at = $5, lease_until = NULL WHERE id = $1",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(status)
        .bind::<Nullable<Timestamptz>, _>(next)
        .bind::<Nullable<Text>, _>(error)
        .bind::<Nullable<Timestamptz>, _>(delivered)
        .execute(&mut conn)
        .await
        .map_err(|e| store_error(e, "delivery"))?;
        if n == 0 {
            return Err(StoreError::NotFound { entity: "delivery" });
        }
        Ok(())
    }

    async fn list_deliveries(
        &self,
        channel_id: Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<DeliveryRow> = diesel::sql_query(format!(
            "SELECT {DELIVERY_COLUMNS} FROM notification_deliveries d \
             JOIN alert_transitions t ON t.id = d.transition_id \
             WHERE d.channel_id = $1 ORDER BY d.created_at DESC, d.id LIMIT $2"
        ))
        .bind::<SqlUuid, _>(channel_id)
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "delivery"))?;
        rows.into_iter().map(DeliveryRow::into_delivery).collect()
    }

    async fn last_notified(
        &self,
        fingerprints: &[String],
    ) -> Result<BTreeMap<(String, Uuid), OffsetDateTime>, StoreError> {
        if fingerprints.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<LastRow> = diesel::sql_query(
            "SELECT t.fingerprint, d.channel_id, max(d.created_at) AS last \
             FROM notification_deliveries d JOIN alert_transitions t ON t.id = d.transition_id \
             WHERE t.fingerprint = ANY($1) GROUP BY 1, 2",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(fingerprints)
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "delivery"))?;
        Ok(rows
            .into_iter()
            .map(|r| ((r.fingerprint, r.channel_id), r.last))
            .collect())
    }
}
