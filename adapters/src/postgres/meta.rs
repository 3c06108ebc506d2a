//! Registration tokens, collectors and API tokens on PostgreSQL.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use pganalytics_domain::access::Role;
use pganalytics_domain::audit::AuditEntry;
use pganalytics_domain::collector::{
    CertificateInfo, Collector, CollectorId, CollectorName, CollectorStatus, Hostname,
};
use pganalytics_domain::config::{CollectorConfig, Intervals};
use pganalytics_domain::credentials::{ApiToken, Fingerprint, RegistrationToken, TokenHash};
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{
    ApiTokenStore, CheckIn, CollectorStore, EnrollError, RegistrationTokenStore,
};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use uuid::Uuid;

use super::people::{Tx, audited, tx_result, write_audit};
use super::schema::{api_tokens, collectors, registration_tokens};
use super::{PgStore, store_error};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = registration_tokens, check_for_backend(diesel::pg::Pg))]
struct TokenRow {
    id: Uuid,
    token_hash: String,
    uses_left: i32,
    expires_at: OffsetDateTime,
    created_at: OffsetDateTime,
}

impl From<TokenRow> for RegistrationToken {
    fn from(r: TokenRow) -> Self {
        Self {
            id: r.id,
            hash: TokenHash::from_stored(r.token_hash),
            uses_left: u32::try_from(r.uses_left).unwrap_or(0),
            expires_at: r.expires_at,
            created_at: r.created_at,
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = collectors, check_for_backend(diesel::pg::Pg))]
struct CollectorRow {
    id: Uuid,
    name: String,
    hostname: String,
    status: String,
    cert_fingerprint: String,
    cert_serial: String,
    cert_not_after: OffsetDateTime,
    registered_at: OffsetDateTime,
    last_seen: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    config_version: i64,
    cert_pem: String,
    agent_version: Option<String>,
}

impl CollectorRow {
    fn from_domain(c: &Collector) -> Self {
        Self {
            id: c.id.as_uuid(),
            name: c.name.as_str().to_owned(),
            hostname: c.hostname.as_str().to_owned(),
            status: c.status.as_str().to_owned(),
            cert_fingerprint: c.certificate.fingerprint.as_str().to_owned(),
            cert_serial: c.certificate.serial.clone(),
            cert_not_after: c.certificate.not_after,
            registered_at: c.registered_at,
            last_seen: c.last_seen,
            revoked_at: None,
            config_version: c.config_version,
            cert_pem: c.certificate.pem.clone(),
            agent_version: c.agent_version.clone(),
        }
    }

    /// Rows were validated on the way in; a row that no longer parses means someone edited
    /// the table by hand, which is reported rather than papered over.
    fn into_domain(self) -> Result<Collector, StoreError> {
        let corrupt = |what: &str| {
            StoreError::unknown(format!(
                "collector {} has an invalid {what} in the database",
                self.id
            ))
        };
        Ok(Collector {
            id: CollectorId::from_uuid(self.id),
            name: CollectorName::parse(&self.name).map_err(|_| corrupt("name"))?,
            hostname: Hostname::parse(&self.hostname).map_err(|_| corrupt("hostname"))?,
            status: CollectorStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            certificate: CertificateInfo {
                fingerprint: Fingerprint::parse(&self.cert_fingerprint)
                    .map_err(|_| corrupt("fingerprint"))?,
                serial: self.cert_serial.clone(),
                not_after: self.cert_not_after,
                pem: self.cert_pem.clone(),
            },
            registered_at: self.registered_at,
            last_seen: self.last_seen,
            config_version: self.config_version,
            agent_version: self.agent_version.clone(),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
struct ApiTokenRow {
    id: Uuid,
    name: String,
    prefix: String,
    token_hash: String,
    created_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    role: String,
    owner_id: Option<Uuid>,
}

impl ApiTokenRow {
    fn into_domain(self) -> Result<ApiToken, StoreError> {
        Ok(ApiToken {
            id: self.id,
            role: Role::parse(&self.role).map_err(|_| {
                StoreError::unknown(format!("API token {} has an invalid role", self.id))
            })?,
            owner: self.owner_id,
            name: self.name,
            prefix: self.prefix,
            hash: TokenHash::from_stored(self.token_hash),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        })
    }
}

#[async_trait]
impl RegistrationTokenStore for PgStore {
    async fn create_registration_token(
        &self,
        token: &RegistrationToken,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let row = TokenRow {
            id: token.id,
            token_hash: token.hash.as_str().to_owned(),
            uses_left: i32::try_from(token.uses_left).map_err(StoreError::unknown)?,
            expires_at: token.expires_at,
            created_at: token.created_at,
        };
        audited!(self, "registration token", audit, |conn| {
            diesel::insert_into(registration_tokens::table)
                .values(&row)
                .execute(conn)
                .await?;
        })
    }

    async fn find_registration_token(
        &self,
        hash: &TokenHash,
    ) -> Result<RegistrationToken, StoreError> {
        let mut conn = self.conn().await?;
        registration_tokens::table
            .filter(registration_tokens::token_hash.eq(hash.as_str()))
            .select(TokenRow::as_select())
            .first(&mut conn)
            .await
            .map(Into::into)
            .map_err(|e| store_error(e, "registration token"))
    }
}

/// Errors inside the enrolment transaction: a refusal, or a driver error.
enum EnrollTx {
    Refused(EnrollError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for EnrollTx {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

#[async_trait]
impl CollectorStore for PgStore {
    async fn enroll(
        &self,
        token: &TokenHash,
        collector: &Collector,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), EnrollError> {
        let row = CollectorRow::from_domain(collector);
        let hash = token.as_str().to_owned();
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<(), EnrollTx, _>(async |conn| {
                // FOR UPDATE serialises enrolments on one token, so exactly one wins the last use.
                let stored: Option<TokenRow> = registration_tokens::table
                    .filter(registration_tokens::token_hash.eq(&hash))
                    .select(TokenRow::as_select())
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                let stored: RegistrationToken = stored
                    .ok_or(EnrollTx::Refused(EnrollError::UnknownToken))?
                    .into();
                stored
                    .check_usable(now)
                    .map_err(|e| EnrollTx::Refused(EnrollError::TokenRejected(e)))?;
                diesel::insert_into(collectors::table)
                    .values(&row)
                    .execute(conn)
                    .await?;
                diesel::update(
                    registration_tokens::table.filter(registration_tokens::id.eq(stored.id)),
                )
                .set(registration_tokens::uses_left.eq(registration_tokens::uses_left - 1))
                .execute(conn)
                .await?;
                write_audit(conn, audit).await?;
                Ok(())
            })
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(EnrollTx::Refused(e)) => Err(e),
            Err(EnrollTx::Db(e)) => Err(EnrollError::Store(store_error(e, "collector"))),
        }
    }

    async fn get_collector(&self, id: CollectorId) -> Result<Collector, StoreError> {
        let mut conn = self.conn().await?;
        let row: CollectorRow = collectors::table
            .find(id.as_uuid())
            .select(CollectorRow::as_select())
            .first(&mut conn)
            .await
            .map_err(|e| store_error(e, "collector"))?;
        row.into_domain()
    }

    async fn list_collectors(&self) -> Result<Vec<Collector>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<CollectorRow> = collectors::table
            .order((collectors::registered_at, collectors::id))
            .select(CollectorRow::as_select())
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "collector"))?;
        rows.into_iter().map(CollectorRow::into_domain).collect()
    }

    async fn revoke_collector(
        &self,
        id: CollectorId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<Collector, StoreError> {
        audited!(self, "collector", audit, |conn| {
            diesel::update(
                collectors::table
                    .find(id.as_uuid())
                    .filter(collectors::status.eq("active")),
            )
            .set((
                collectors::status.eq("revoked"),
                collectors::revoked_at.eq(now),
            ))
            .execute(conn)
            .await?;
            let row: CollectorRow = collectors::table
                .find(id.as_uuid())
                .select(CollectorRow::as_select())
                .first(conn)
                .await?;
            row
        })?
        .into_domain()
    }

    async fn replace_certificate(
        &self,
        id: CollectorId,
        current: &Fingerprint,
        new: CertificateInfo,
        audit: &AuditEntry,
    ) -> Result<Collector, StoreError> {
        audited!(self, "collector", audit, |conn| {
            let updated = diesel::update(
                collectors::table
                    .find(id.as_uuid())
                    .filter(collectors::status.eq("active"))
                    .filter(collectors::cert_fingerprint.eq(current.as_str())),
            )
            .set((
                collectors::cert_fingerprint.eq(new.fingerprint.as_str()),
                collectors::cert_serial.eq(&new.serial),
                collectors::cert_not_after.eq(new.not_after),
                collectors::cert_pem.eq(&new.pem),
            ))
            .execute(conn)
            .await?;
            let row: CollectorRow = collectors::table
                .find(id.as_uuid())
                .select(CollectorRow::as_select())
                .first(conn)
                .await?;
            if updated == 0 {
                return Err(Tx::Refused(StoreError::Conflict {
                    entity: "certificate",
                }));
            }
            row
        })?
        .into_domain()
    }

    async fn check_in<'a>(
        &self,
        id: CollectorId,
        now: OffsetDateTime,
        agent_version: Option<&'a str>,
    ) -> Result<CollectorConfig, StoreError> {
        let mut conn = self.conn().await?;
        let row: StoredConfig = diesel::sql_query(
            "UPDATE collectors c SET last_seen = GREATEST(c.last_seen, $2), \
             agent_version = COALESCE($3, c.agent_version) WHERE c.id = $1 \
             RETURNING (SELECT cc.config FROM collector_configs cc WHERE cc.collector_id = c.id) AS config",
        )
        .bind::<diesel::sql_types::Uuid, _>(id.as_uuid())
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(agent_version)
        .get_result(&mut conn)
        .await
        .map_err(|e| store_error(e, "collector"))?;
        row.decode()
    }

    async fn check_in_many(
        &self,
        seen: &[CheckIn],
    ) -> Result<BTreeMap<CollectorId, CollectorConfig>, StoreError> {
        // One row per collector (its latest sighting), in id order so that two servers
        // flushing at once lock the rows in the same order.
        let mut latest: BTreeMap<Uuid, (OffsetDateTime, Option<&str>)> = BTreeMap::new();
        for c in seen {
            let e = latest.entry(c.id.as_uuid()).or_insert((c.at, None));
            e.0 = e.0.max(c.at);
            if c.agent_version.is_some() {
                e.1 = c.agent_version.as_deref();
            }
        }
        if latest.is_empty() {
            return Ok(BTreeMap::new());
        }
        let (mut ids, mut ats, mut versions) = (Vec::new(), Vec::new(), Vec::new());
        for (id, (at, version)) in latest {
            ids.push(id);
            ats.push(at);
            versions.push(version);
        }
        let mut conn = self.conn().await?;
        let rows: Vec<CheckedIn> = diesel::sql_query(
            "UPDATE collectors c SET last_seen = GREATEST(c.last_seen, s.at), \
             agent_version = COALESCE(s.version, c.agent_version) \
             FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS s(id, at, version) \
             WHERE c.id = s.id \
             RETURNING c.id, (SELECT cc.config FROM collector_configs cc WHERE cc.collector_id = c.id) AS config",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Timestamptz>, _>(ats)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Nullable<diesel::sql_types::Text>>, _>(
            versions,
        )
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "collector"))?;
        rows.into_iter()
            .map(|r| {
                let id = CollectorId::from_uuid(r.id);
                Ok((id, StoredConfig { config: r.config }.decode()?))
            })
            .collect()
    }

    async fn set_collector_config(
        &self,
        id: CollectorId,
        intervals: Intervals,
        enabled_families: BTreeSet<String>,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<CollectorConfig, StoreError> {
        let draft = CollectorConfig {
            version: 0, // set from the stored version below, in the same statement
            intervals,
            enabled_families,
            ..CollectorConfig::default()
        };
        let draft = serde_json::to_value(&draft).map_err(StoreError::unknown)?;
        // One statement: the upsert bumps the version atomically and the collector's copy
        // of it follows; an unknown collector inserts nothing and returns no row.
        let query = diesel::sql_query(
            "WITH up AS ( \
               INSERT INTO collector_configs (collector_id, version, config, updated_at) \
               SELECT c.id, c.config_version + 1, \
                      jsonb_set($2::jsonb, '{version}', to_jsonb(c.config_version + 1)), $3 \
               FROM collectors c WHERE c.id = $1 \
               ON CONFLICT (collector_id) DO UPDATE SET \
                 version = collector_configs.version + 1, \
                 config = jsonb_set(EXCLUDED.config, '{version}', to_jsonb(collector_configs.version + 1)), \
                 updated_at = EXCLUDED.updated_at \
               RETURNING collector_id, version, config), \
             touched AS (UPDATE collectors SET config_version = up.version FROM up WHERE collectors.id = up.collector_id) \
             SELECT config FROM up",
        )
        .bind::<diesel::sql_types::Uuid, _>(id.as_uuid())
        .bind::<diesel::sql_types::Jsonb, _>(draft)
        .bind::<diesel::sql_types::Timestamptz, _>(now);
        audited!(self, "collector", audit, |conn| {
            query.get_result::<StoredConfig>(conn).await?
        })?
        .decode()
    }

    async fn collector_config(&self, id: CollectorId) -> Result<CollectorConfig, StoreError> {
        let mut conn = self.conn().await?;
        let row: StoredConfig = diesel::sql_query(
            "SELECT (SELECT cc.config FROM collector_configs cc WHERE cc.collector_id = c.id) AS config \
             FROM collectors c WHERE c.id = $1",
        )
        .bind::<diesel::sql_types::Uuid, _>(id.as_uuid())
        .get_result(&mut conn)
        .await
        .map_err(|e| store_error(e, "collector"))?;
        row.decode()
    }

    async fn list_collector_configs(
        &self,
    ) -> Result<std::collections::BTreeMap<CollectorId, CollectorConfig>, StoreError> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: uuid::Uuid,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Jsonb>)]
            config: Option<serde_json::Value>,
        }
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT c.id, cc.config FROM collectors c              LEFT JOIN collector_configs cc ON cc.collector_id = c.id",
        )
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "collector"))?;
        rows.into_iter()
            .map(|r| {
                let config = StoredConfig { config: r.config }.decode()?;
                Ok((CollectorId::from_uuid(r.id), config))
            })
            .collect()
    }
}

/// A collector's stored configuration, NULL when it has none (then the default applies).
/// The query finds no row at all for an unknown collector, which becomes `NotFound`.
#[derive(QueryableByName)]
struct CheckedIn {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Jsonb>)]
    config: Option<serde_json::Value>,
}

#[derive(QueryableByName)]
struct StoredConfig {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Jsonb>)]
    config: Option<serde_json::Value>,
}

impl StoredConfig {
    fn decode(self) -> Result<CollectorConfig, StoreError> {
        match self.config {
            None => Ok(CollectorConfig::default()),
            Some(v) => serde_json::from_value(v).map_err(StoreError::unknown),
        }
    }
}

#[async_trait]
impl ApiTokenStore for PgStore {
    async fn create_api_token(
        &self,
        token: &ApiToken,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let row = ApiTokenRow {
            id: token.id,
            name: token.name.clone(),
            prefix: token.prefix.clone(),
            token_hash: token.hash.as_str().to_owned(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            revoked_at: token.revoked_at,
            role: token.role.as_str().to_owned(),
            owner_id: token.owner,
        };
        audited!(self, "API token", audit, |conn| {
            diesel::insert_into(api_tokens::table)
                .values(&row)
                .execute(conn)
                .await?;
        })
    }

    async fn find_api_token(&self, hash: &TokenHash) -> Result<ApiToken, StoreError> {
        let mut conn = self.conn().await?;
        let r: ApiTokenRow = api_tokens::table
            .filter(api_tokens::token_hash.eq(hash.as_str()))
            .select(ApiTokenRow::as_select())
            .first(&mut conn)
            .await
            .map_err(|e| store_error(e, "API token"))?;
        r.into_domain()
    }

    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<ApiTokenRow> = api_tokens::table
            .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
            .select(ApiTokenRow::as_select())
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "API token"))?;
        rows.into_iter().map(ApiTokenRow::into_domain).collect()
    }

    async fn revoke_api_token(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<ApiToken, StoreError> {
        audited!(self, "API token", audit, |conn| {
            let row: ApiTokenRow = diesel::update(api_tokens::table.find(id))
                .set(
                    api_tokens::revoked_at.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                    >("coalesce(revoked_at, ")
                    .bind::<diesel::sql_types::Timestamptz, _>(now)
                    .sql(")")),
                )
                .returning(ApiTokenRow::as_returning())
                .get_result(conn)
                .await?;
            row
        })?
        .into_domain()
    }
}
