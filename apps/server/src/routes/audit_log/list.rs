use actix_web::{HttpResponse, web};
use pganalytics_domain::audit::{ActorKind, AuditQuery, Outcome, StoredAuditEntry};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Params {
    #[param(value_type = Option<ActorKind>)]
    actor_kind: Option<String>,
    /// A user's or a token's id, a collector's id, a command's name.
    actor_id: Option<String>,
    /// An exact action (`user.create`) or a prefix ending in `.` (`user.`).
    action: Option<String>,
    /// `<resource>:<id>`, e.g. `user:5b0e…`.
    target: Option<String>,
    #[param(value_type = Option<Outcome>)]
    outcome: Option<String>,
    /// Entries at or after (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// Entries before (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    until: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
    /// Entries per page.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    entries: Vec<StoredAuditEntry>,
    /// Pass as `cursor` for the next page; none on the last page.
    next_cursor: Option<i64>,
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

/// Read the audit log
///
/// Every mutation, who made it, from where, and its outcome; newest first, keyset-paginated:
/// pass `next_cursor` as `cursor` for the next page (stable while new entries arrive).
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", operation_id = "list_audit_log",
    params(Params),
    responses((status = 200, description = "A page of entries", body = AuditPage)))]
pub async fn get(
    _who: Caller,
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
    let entries = state.uc.audit_log.list(query).await?;
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditPage {
        entries,
        next_cursor: next,
    }))
}
