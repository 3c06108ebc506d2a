//! An in-memory server for trying alert rules: one enrolled collector, the rules given, a
//! clock moved by hand, and readings pushed as the agent sends them. What
//! `pganalytics-server rules test` runs people's rule files in, and what the built-in
//! pack's table test runs every built-in rule in.

use pganalytics_domain::alerts::RuleSpec;
use pganalytics_domain::alerts::state::AlertState;
use pganalytics_domain::audit::AuditContext;
use pganalytics_domain::batch::{self, BatchLimits, ValidationContext};
use pganalytics_domain::collector::{
    CertificateInfo, Collector, CollectorId, CollectorName, CollectorStatus, Hostname,
};
use pganalytics_domain::credentials::{Fingerprint, RegistrationSecret, RegistrationToken};
use pganalytics_ports::store::{
    AlertFilter, AlertRuleStore, AlertStore, CollectorStore, MetricStore, RegistrationTokenStore,
    StoredRule,
};
use pganalytics_ports::usecases::alerts::EvaluateAlerts;
use serde_json::{Value, json};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::MemoryStore;
use crate::system::{OsRandom, TestClock};

pub struct RuleSandbox {
    pub store: Arc<MemoryStore>,
    pub clock: Arc<TestClock>,
    pub collector: CollectorId,
    pub eval: EvaluateAlerts,
}

impl std::fmt::Debug for RuleSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSandbox")
            .field("collector", &self.collector)
            .finish_non_exhaustive()
    }
}

impl RuleSandbox {
    /// A sandbox at `origin` with the collector `name`, whose certificate ends at `not_after`.
    ///
    /// # Errors
    /// When `name` is not a valid collector name.
    pub async fn new(
        name: &str,
        origin: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Self, String> {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(TestClock::new());
        clock.set(origin);
        let ctx = AuditContext::cli(Some("rules-sandbox".into()));
        let secret = RegistrationSecret::from_bytes(&[1; 32]);
        let fail = |e: &dyn std::fmt::Display| e.to_string();
        store
            .create_registration_token(
                &RegistrationToken {
                    id: uuid::Uuid::new_v4(),
                    hash: secret.hash(),
                    uses_left: 1,
                    expires_at: origin + Duration::days(1),
                    created_at: origin,
                },
                &ctx.entry("registration_token.create", None, origin),
            )
            .await
            .map_err(|e| fail(&e))?;
        let collector = Collector {
            id: CollectorId::from_uuid(uuid::Uuid::new_v4()),
            name: CollectorName::parse(name).map_err(|e| fail(&e))?,
            hostname: Hostname::parse(name).map_err(|e| fail(&e))?,
            status: CollectorStatus::Active,
            certificate: CertificateInfo {
                fingerprint: Fingerprint::of_der(name.as_bytes()),
                serial: "01".into(),
                not_after,
                pem: String::new(),
            },
            registered_at: origin,
            last_seen: None,
            config_version: 1,
            agent_version: None,
        };
        store
            .enroll(
                &secret.hash(),
                &collector,
                origin,
                &ctx.entry("collector.register", None, origin),
            )
            .await
            .map_err(|e| fail(&e))?;
        let eval = EvaluateAlerts {
            rules: store.clone(),
            alerts: store.clone(),
            channels: store.clone(),
            metrics: store.clone(),
            collectors: store.clone(),
            clock: clock.clone(),
            ids: Arc::new(OsRandom),
            leader: store.clone(),
            rule_timeout: std::time::Duration::from_secs(10),
            max_rows: 1_000_000,
            memory: Default::default(),
            paced: false,
        };
        Ok(Self {
            store,
            clock,
            collector: collector.id,
            eval,
        })
    }

    /// Adds a rule, as a built-in or as one of the user's.
    ///
    /// # Errors
    /// When a rule of that name exists.
    pub async fn add_rule(&self, spec: RuleSpec, builtin: bool) -> Result<(), String> {
        let now = pganalytics_ports::env::Clock::now(self.clock.as_ref());
        let stored = StoredRule {
            spec,
            builtin,
            edited: false,
            created_at: now,
            updated_at: now,
            last_error: None,
            last_evaluated: None,
        };
        self.store
            .create_rule(
                &stored,
                &AuditContext::cli(None).entry("alert_rule.create", None, now),
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Stores one batch of `blocks` (each `{"family", "instance", "columns", "rows"}`, as
    /// the agent sends them) collected at `at`.
    ///
    /// # Errors
    /// When a block does not fit its family.
    pub async fn push(&self, blocks: Vec<Value>, at: OffsetDateTime) -> Result<(), String> {
        if blocks.is_empty() {
            return Ok(());
        }
        let body = json!({
            "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": self.collector.as_uuid(),
            "agent_version": "rules-sandbox", "collected_at": at.format(&Rfc3339).unwrap_or_default(),
            "metrics": blocks,
        });
        let ctx = ValidationContext {
            collector_id: self.collector,
            now: at,
            limits: BatchLimits::default(),
        };
        let batch = batch::parse(body.to_string().as_bytes())
            .and_then(|w| batch::validate(w, &ctx))
            .map_err(|e| format!("a series does not fit its family: {e}"))?;
        self.store
            .ingest(&batch, at)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The agent checks in now.
    ///
    /// # Errors
    /// From the store.
    pub async fn check_in(&self) -> Result<(), String> {
        let now = pganalytics_ports::env::Clock::now(self.clock.as_ref());
        self.store
            .check_in(self.collector, now, None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The alerts of `rule`, every phase.
    ///
    /// # Errors
    /// From the store.
    pub async fn alerts(&self, rule: &str) -> Result<Vec<AlertState>, String> {
        self.store
            .list_alerts(&AlertFilter {
                rule: Some(rule.to_owned()),
                limit: 10_000,
                ..AlertFilter::default()
            })
            .await
            .map_err(|e| e.to_string())
    }
}
