//! Managing alert rules: create, change, enable, delete, import and export rule files, and
//! seed the built-in pack. Every rule is validated (and an SQL rule run once, read-only)
//! before anything is stored.

use pganalytics_domain::alerts::rule::{Condition, FieldError};
use pganalytics_domain::alerts::{FileError, Rule, RuleSpec, builtin, parse_file, to_file};
use pganalytics_domain::audit::AuditContext;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::StoreError;
use crate::env::Clock;
use crate::store::{AlertChange, AlertRuleStore, AlertStore, MetricStore, StoredRule};

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("the rule is invalid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("the rule file is invalid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    File(Vec<FileError>),
    #[error(
        "the path names rule {path:?} but the body names {body:?}; a rule is renamed by creating the new one and deleting the old"
    )]
    Rename { path: String, body: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct RuleAdmin {
    pub rules: Arc<dyn AlertRuleStore>,
    pub alerts: Arc<dyn AlertStore>,
    pub metrics: Arc<dyn MetricStore>,
    pub clock: Arc<dyn Clock>,
}

/// Rows an SQL rule's trial run may return.
const SQL_TRIAL_ROWS: usize = 10_000;

impl RuleAdmin {
    pub async fn list(&self) -> Result<Vec<StoredRule>, StoreError> {
        self.rules.list_rules().await
    }

    pub async fn get(&self, name: &str) -> Result<StoredRule, StoreError> {
        self.rules.get_rule(name).await
    }

    /// Validates a rule; an SQL rule is run once as the read-only role.
    pub async fn check(&self, spec: RuleSpec) -> Result<Rule, RuleError> {
        let rule = Rule::from_spec(spec).map_err(RuleError::Invalid)?;
        if let Condition::Sql(sql) = &rule.condition {
            let timeout = StdDuration::from_secs(sql.timeout.as_seconds().unsigned_abs());
            self.metrics
                .run_rule_sql(&sql.query, timeout, SQL_TRIAL_ROWS)
                .await
                .map_err(|e| match e {
                    StoreError::Invalid(message) => RuleError::Invalid(vec![FieldError {
                        field: "condition.query".into(),
                        message,
                    }]),
                    other => RuleError::Store(other),
                })?;
        }
        Ok(rule)
    }

    pub async fn create(
        &self,
        ctx: &AuditContext,
        spec: RuleSpec,
    ) -> Result<StoredRule, RuleError> {
        let rule = self.check(spec).await?;
        let now = self.clock.now();
        let stored = StoredRule {
            spec: rule.spec,
            builtin: false,
            edited: false,
            created_at: now,
            updated_at: now,
            last_error: None,
            last_evaluated: None,
        };
        let audit = ctx.entry(
            "alert_rule.create",
            Some(format!("alert_rule:{}", stored.spec.name)),
            now,
        );
        self.rules.create_rule(&stored, &audit).await?;
        Ok(stored)
    }

    pub async fn update(
        &self,
        ctx: &AuditContext,
        name: &str,
        spec: RuleSpec,
    ) -> Result<StoredRule, RuleError> {
        if spec.name != name {
            return Err(RuleError::Rename {
                path: name.to_owned(),
                body: spec.name,
            });
        }
        let rule = self.check(spec).await?;
        let now = self.clock.now();
        let audit = ctx.entry("alert_rule.update", Some(format!("alert_rule:{name}")), now);
        Ok(self
            .rules
            .update_rule(name, &rule.spec, now, &audit)
            .await?)
    }

    /// Replaces rule `name` with the one rule a rule-file text holds (the console's
    /// editor): refused unless the text parses and holds exactly that rule.
    pub async fn update_from_text(
        &self,
        ctx: &AuditContext,
        name: &str,
        text: &str,
    ) -> Result<StoredRule, RuleError> {
        let mut rules = parse_file(text).map_err(RuleError::File)?;
        match (rules.pop(), rules.is_empty()) {
            (Some(rule), true) => self.update(ctx, name, rule.spec).await,
            _ => Err(RuleError::Invalid(vec![FieldError {
                field: "rule".into(),
                message: format!("the text must hold exactly one rule, named {name:?}"),
            }])),
        }
    }

    pub async fn set_enabled(
        &self,
        ctx: &AuditContext,
        name: &str,
        enabled: bool,
    ) -> Result<StoredRule, RuleError> {
        let mut spec = self.rules.get_rule(name).await?.spec;
        spec.enabled = enabled;
        let now = self.clock.now();
        let action = if enabled {
            "alert_rule.enable"
        } else {
            "alert_rule.disable"
        };
        let audit = ctx.entry(action, Some(format!("alert_rule:{name}")), now);
        let rule = self.rules.update_rule(name, &spec, now, &audit).await?;
        if !enabled {
            // A disabled rule's alerts go without a word: nobody evaluates them any more.
            let gone: Vec<AlertChange> = self
                .alerts
                .rule_alerts(name)
                .await?
                .into_iter()
                .map(|a| AlertChange {
                    fingerprint: a.fingerprint,
                    state: None,
                    transition: None,
                })
                .collect();
            self.alerts.apply_evaluation(&gone).await?;
        }
        Ok(rule)
    }

    pub async fn delete(&self, ctx: &AuditContext, name: &str) -> Result<(), StoreError> {
        let audit = ctx.entry(
            "alert_rule.delete",
            Some(format!("alert_rule:{name}")),
            self.clock.now(),
        );
        self.rules.delete_rule(name, &audit).await
    }

    /// Creates or replaces every rule of a rule file, or nothing when any is invalid.
    pub async fn import(&self, ctx: &AuditContext, text: &str) -> Result<Vec<String>, RuleError> {
        let rules = parse_file(text).map_err(RuleError::File)?;
        let mut checked = Vec::new();
        for r in rules {
            checked.push(self.check(r.spec).await?);
        }
        let now = self.clock.now();
        let stored: Vec<StoredRule> = checked
            .into_iter()
            .map(|r| StoredRule {
                spec: r.spec,
                builtin: false,
                edited: false,
                created_at: now,
                updated_at: now,
                last_error: None,
                last_evaluated: None,
            })
            .collect();
        let names: Vec<String> = stored.iter().map(|r| r.spec.name.clone()).collect();
        let audit = ctx
            .entry("alert_rule.import", None, now)
            .detail("rules", names.join(","));
        self.rules.upsert_rules(&stored, now, &audit).await?;
        Ok(names)
    }

    /// One rule as a rule file (the console's editor).
    pub async fn export_one(&self, name: &str) -> Result<String, StoreError> {
        Ok(to_file(std::slice::from_ref(
            &self.rules.get_rule(name).await?.spec,
        )))
    }

    /// Every rule as one rule file.
    pub async fn export(&self) -> Result<String, StoreError> {
        let specs: Vec<RuleSpec> = self
            .rules
            .list_rules()
            .await?
            .into_iter()
            .map(|r| r.spec)
            .collect();
        Ok(to_file(&specs))
    }

    /// Adds the built-in rules this store has never had; returns their names.
    pub async fn seed_builtins(&self) -> Result<Vec<String>, StoreError> {
        let specs: Vec<RuleSpec> = builtin::rules()
            .map_err(|(file, e)| StoreError::unknown(format!("built-in {file} is invalid: {e:?}")))?
            .into_iter()
            .map(|r| r.spec)
            .collect();
        self.rules
            .seed_builtin_rules(&specs, self.clock.now())
            .await
    }
}

crate::usecases::auth::opaque_debug!(RuleAdmin);
