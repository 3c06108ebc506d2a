use actix_web::{HttpResponse, web};
use pganalytics_domain::audit::{ActorKind, AuditQuery, Outcome};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    actor_kind: Option<String>,
    actor_id: Option<String>,
    /// An exact action (`user.create`) or a prefix ending in `.` (`user.`).
    action: Option<String>,
    target: Option<String>,
    outcome: Option<String>,
    /// RFC 3339; entries at or after.
    since: Option<String>,
    /// RFC 3339; entries before.
    until: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
    /// Entries per page: 1 to 1000, default 100.
    limit: Option<usize>,
}

fn time_param(name: &str, v: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    v.map(|s| {
        OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
            ApiError::bad_request(
                "invalid_query",
                format!("`{name}` must be an RFC 3339 time"),
            )
        })
    })
    .transpose()
}

/// `GET /api/v1/audit-log` (admin) — newest first, keyset-paginated: pass `next_cursor` as
/// `cursor` for the next page (stable while new entries arrive).
pub async fn get(
    _who: Allowed<perm::ReadAuditLog>,
    state: web::Data<AppState>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let bad = |m: &str| ApiError::bad_request("invalid_query", m.to_owned());
    let limit = p.limit.unwrap_or(100);
    if !(1..=AuditQuery::MAX_LIMIT).contains(&limit) {
        return Err(bad("`limit` is 1 to 1000"));
    }
    let query = AuditQuery {
        actor_kind: p
            .actor_kind
            .as_deref()
            .map(|k| ActorKind::parse(k).ok_or_else(|| bad("unknown `actor_kind`")))
            .transpose()?,
        actor_id: p.actor_id,
        action: p.action,
        target: p.target,
        outcome: p
            .outcome
            .as_deref()
            .map(|o| Outcome::parse(o).ok_or_else(|| bad("`outcome` is success or denied")))
            .transpose()?,
        since: time_param("since", p.since.as_deref())?,
        until: time_param("until", p.until.as_deref())?,
        before_id: p.cursor,
        limit,
    };
    let entries = state.audit_log.list(query).await?;
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "entries": entries, "next_cursor": next })))
}
