//! The configuration a collector pulls from the server: how often each group of collectors
//! runs and which families are enabled. Every change bumps the version, which is also the
//! ETag, so an agent can poll cheaply and a push response can announce a new version.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Collection intervals per collector group, in seconds. Groups left out of a JSON or TOML
/// document keep their default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Intervals {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86_400))]
    pub activity: u32,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86_400))]
    pub database: u32,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86_400))]
    pub replication: u32,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86_400))]
    pub host: u32,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86_400))]
    pub tables: u32,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86_400))]
    pub statements: u32,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86_400))]
    pub disk: u32,
}

impl Default for Intervals {
    fn default() -> Self {
        Self {
            activity: 15,
            database: 60,
            replication: 60,
            host: 60,
            tables: 300,
            statements: 300,
            disk: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interval {group} must be between {min} and {max} seconds, got {got}")]
pub struct IntervalError {
    pub group: &'static str,
    pub got: u32,
    pub min: u32,
    pub max: u32,
}

impl Intervals {
    pub const MIN_SECONDS: u32 = 1;
    pub const MAX_SECONDS: u32 = 86_400;

    pub fn validate(&self) -> Result<(), IntervalError> {
        let groups = [
            ("activity", self.activity),
            ("database", self.database),
            ("replication", self.replication),
            ("host", self.host),
            ("tables", self.tables),
            ("statements", self.statements),
            ("disk", self.disk),
        ];
        for (group, got) in groups {
            if !(Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(&got) {
                return Err(IntervalError {
                    group,
                    got,
                    min: Self::MIN_SECONDS,
                    max: Self::MAX_SECONDS,
                });
            }
        }
        Ok(())
    }

    /// The shortest interval: how often the agent should push at the latest.
    pub fn shortest(&self) -> u32 {
        [
            self.activity,
            self.database,
            self.replication,
            self.host,
            self.tables,
            self.statements,
            self.disk,
        ]
        .into_iter()
        .min()
        .unwrap_or(60)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectorConfig {
    pub version: i64,
    pub intervals: Intervals,
    /// Families the agent collects; empty means every family in the catalog.
    pub enabled_families: BTreeSet<String>,
    /// How often the agent should pull this configuration, in seconds.
    pub config_poll_seconds: u32,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            version: Self::DEFAULT_VERSION,
            intervals: Intervals::default(),
            enabled_families: BTreeSet::new(),
            config_poll_seconds: 300,
        }
    }
}

impl CollectorConfig {
    /// The version of the built-in defaults, before anyone changed a collector's config.
    pub const DEFAULT_VERSION: i64 = 1;

    /// Whether an operator changed this configuration on the server. Until then an agent
    /// keeps the intervals of its own configuration file; from then on the server's win.
    pub fn set_by_operator(&self) -> bool {
        self.version > Self::DEFAULT_VERSION
    }

    /// A strong ETag derived from the version.
    pub fn etag(&self) -> String {
        format!("\"v{}\"", self.version)
    }

    /// Whether an `If-None-Match` header value matches this version.
    pub fn matches_etag(&self, if_none_match: &str) -> bool {
        let mine = self.etag();
        if_none_match
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == mine || t.strip_prefix("W/") == Some(mine.as_str()))
    }

    /// When the agent should next check in after a push, in seconds.
    pub fn next_check_in_seconds(&self) -> u32 {
        self.intervals.shortest().min(self.config_poll_seconds)
    }
}

/// Which families an agent collects: every family, or only those listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyFilter {
    only: Option<BTreeSet<String>>,
}

impl FamilyFilter {
    pub fn all() -> Self {
        Self::default()
    }

    /// The server's list; an empty list means every family.
    pub fn from_config(config: &CollectorConfig) -> Self {
        Self {
            only: (!config.enabled_families.is_empty()).then(|| config.enabled_families.clone()),
        }
    }

    pub fn allows(&self, family: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(family))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_intervals() {
        let c = CollectorConfig::default();
        assert_eq!(c.intervals.activity, 15);
        assert_eq!(c.intervals.tables, 300);
        assert!(c.intervals.validate().is_ok());
        assert_eq!(c.next_check_in_seconds(), 15);
    }

    #[test]
    fn etag_matches_itself_weak_form_and_star_but_not_other_versions() {
        let c = CollectorConfig {
            version: 3,
            ..CollectorConfig::default()
        };
        assert!(c.matches_etag("\"v3\""));
        assert!(c.matches_etag("W/\"v3\""));
        assert!(c.matches_etag("\"v1\", \"v3\""));
        assert!(c.matches_etag("*"));
        assert!(!c.matches_etag("\"v2\""));
    }

    #[test]
    fn an_empty_family_list_enables_every_family() {
        let mut c = CollectorConfig::default();
        assert!(FamilyFilter::from_config(&c).allows("pg_table"));
        c.enabled_families.insert("pg_database".into());
        let f = FamilyFilter::from_config(&c);
        assert!(f.allows("pg_database") && !f.allows("pg_table"));
    }

    #[test]
    fn zero_and_huge_intervals_are_rejected() {
        let i = Intervals {
            host: 0,
            ..Intervals::default()
        };
        assert_eq!(i.validate().unwrap_err().group, "host");
    }
}
