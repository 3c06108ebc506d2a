//! Silences (matchers over a time window) and maintenance windows (a server over a time
//! window): alerts they cover still change state, but nobody is notified.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

use super::matcher::{Matcher, all_match};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: Uuid,
    pub matchers: Vec<Matcher>,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    pub fn active(&self, now: OffsetDateTime) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
    pub fn covers(&self, labels: &BTreeMap<String, String>, now: OffsetDateTime) -> bool {
        self.active(now) && all_match(&self.matchers, labels)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub id: Uuid,
    pub server_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    pub created_by: String,
    pub comment: String,
}

impl MaintenanceWindow {
    pub fn covers(&self, server_id: Option<i64>, now: OffsetDateTime) -> bool {
        server_id == Some(self.server_id) && self.starts_at <= now && now < self.ends_at
    }
}

/// Why a window is refused.
pub fn check_window(
    starts_at: OffsetDateTime,
    ends_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), String> {
    if ends_at <= starts_at {
        return Err("`ends_at` must be after `starts_at`".into());
    }
    if ends_at <= now {
        return Err("the window is already over".into());
    }
    if ends_at - starts_at > time::Duration::days(366) {
        return Err("a window lasts at most a year".into());
    }
    Ok(())
}
