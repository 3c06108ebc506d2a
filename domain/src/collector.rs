//! Collectors: the agents registered with the server.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::credentials::Fingerprint;

/// A collector's identity, issued by the server at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct CollectorId(Uuid);

impl CollectorId {
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
    pub fn parse(s: &str) -> Result<Self, NameError> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| NameError::new("collector_id", "is not a UUID"))
    }
}

impl fmt::Display for CollectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A name or identifier that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct NameError {
    pub field: &'static str,
    pub reason: String,
}

impl NameError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

fn check_len(field: &'static str, s: &str, max: usize) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::new(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(NameError::new(field, format!("is longer than {max} bytes")));
    }
    Ok(())
}

/// A collector's display name: 1–64 characters of letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct CollectorName(String);

impl CollectorName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_len("name", s, Self::MAX_LEN)?;
        let valid_chars = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        let starts_well = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !valid_chars || !starts_well {
            return Err(NameError::new(
                "name",
                "may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit",
            ));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A host name as the agent reports it (RFC 1123 labels, up to 253 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Hostname(String);

impl Hostname {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_len("hostname", s, 253)?;
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !s.split('.').all(label_ok) {
            return Err(NameError::new(
                "hostname",
                "must be dot-separated labels of letters, digits, '-' and '_'",
            ));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The monitored PostgreSQL instance a block of metrics came from, as the agent names it
/// (one agent may watch several instances).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct InstanceName(String);

impl InstanceName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_len("instance", s, Self::MAX_LEN)?;
        if s.chars().any(char::is_control) {
            return Err(NameError::new(
                "instance",
                "must not contain control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CollectorStatus {
    Active,
    Revoked,
}

impl CollectorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// The certificate the server issued to a collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateInfo {
    pub fingerprint: Fingerprint,
    /// Serial number, upper-case hex.
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The certificate itself (public), served to its agent after a renewal; not listed.
    #[serde(skip)]
    pub pem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Collector {
    pub id: CollectorId,
    pub name: CollectorName,
    pub hostname: Hostname,
    pub status: CollectorStatus,
    pub certificate: CertificateInfo,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
    pub config_version: i64,
    /// The agent's release, from its latest push; none before the first.
    pub agent_version: Option<String>,
}

impl Collector {
    pub fn is_active(&self) -> bool {
        self.status == CollectorStatus::Active
    }
}

/// A monitored instance as the server knows it: one per collector and instance name,
/// created when the server first sees metrics from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonitoredServer {
    pub id: i64,
    pub collector_id: CollectorId,
    pub instance: InstanceName,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_names_accept_the_usual_host_like_names() {
        for ok in ["db1", "db-1.prod", "A_b", "x"] {
            assert!(CollectorName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn collector_names_reject_empty_long_and_odd_names() {
        for bad in ["", "-db", ".x", "a b", "db/1", &"a".repeat(65), "é"] {
            assert!(CollectorName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames_follow_rfc1123_labels() {
        assert!(Hostname::parse("db1.example.com").is_ok());
        assert!(Hostname::parse("db1..example").is_err());
        assert!(Hostname::parse("-db").is_err());
        assert!(Hostname::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn instance_names_reject_control_characters() {
        assert!(InstanceName::parse("main:5432").is_ok());
        assert!(InstanceName::parse("a\nb").is_err());
        assert!(InstanceName::parse("").is_err());
    }
}
