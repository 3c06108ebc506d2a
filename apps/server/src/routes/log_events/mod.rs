//! Search across the servers' log events.

use actix_web::{HttpResponse, web};
use pganalytics_ports::store::{LogCount, LogEventRow};
use pganalytics_ports::usecases::LogSearchRequest;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::routes::statements::{step_param, time_param};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Params {
    /// RFC 3339; default: a day before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// RFC 3339; default: now.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// Comma-separated server ids.
    server: Option<String>,
    /// Comma-separated: `ERROR,FATAL`…
    severity: Option<String>,
    /// Comma-separated event categories.
    category: Option<String>,
    /// Comma-separated event kinds.
    kind: Option<String>,
    /// Comma-separated SQLSTATEs (`40P01`) or classes (`40`).
    sqlstate: Option<String>,
    /// Comma-separated database names.
    database: Option<String>,
    /// Comma-separated user names.
    user: Option<String>,
    /// Comma-separated application names.
    application: Option<String>,
    /// Words the message must all contain (PostgreSQL full-text search, no stemming).
    q: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Events per page; default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// For counts only: `60`, `5m`, `1h`, `1d`; default about 60 buckets over the range.
    #[param(pattern = "^[0-9]+[smhd]?$")]
    step: Option<String>,
}

fn list(v: Option<String>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn request(p: Params) -> Result<(LogSearchRequest, Option<String>), ApiError> {
    let servers = list(p.server)
        .iter()
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                ApiError::invalid_field("server", format!("`server`: {s:?} is not a server id"))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((
        LogSearchRequest {
            from: time_param("from", p.from.as_deref())?,
            to: time_param("to", p.to.as_deref())?,
            servers,
            severities: list(p.severity)
                .into_iter()
                .map(|s| s.to_uppercase())
                .collect(),
            categories: list(p.category),
            kinds: list(p.kind),
            sqlstates: list(p.sqlstate)
                .into_iter()
                .map(|s| s.to_uppercase())
                .collect(),
            databases: list(p.database),
            users: list(p.user),
            applications: list(p.application),
            text: p.q,
            cursor: p.cursor,
            limit: p.limit,
        },
        p.step,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct LogEventPage {
    #[serde(with = "time::serde::rfc3339")]
    from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    to: OffsetDateTime,
    /// Newest first.
    events: Vec<LogEventRow>,
    /// Pass as `cursor` (with the same filters) for the next page; none on the last page.
    /// Pages stay stable while new events arrive.
    next_cursor: Option<String>,
}

/// Search log events
///
/// Across servers, with filters (each comma-separated list matches any of its values) and
/// full-text search over the message; newest first, paged by cursor. A bad filter is a
/// 400 naming it in `error.field`.
#[utoipa::path(get, path = "/api/v1/log-events", tag = "log events",
    operation_id = "search_log_events",
    params(Params),
    responses((status = 200, description = "A page of events", body = LogEventPage),
        (status = 400, description = "A bad filter, named in `error.field`")))]
pub async fn search(
    _who: Caller,
    state: web::Data<AppState>,
    q: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let (req, step) = request(q.into_inner())?;
    if step.is_some() {
        return Err(ApiError::invalid_field(
            "step",
            "`step` is for /api/v1/log-events/counts",
        ));
    }
    let page = state.uc.log_events.page(&req).await?;
    Ok(HttpResponse::Ok().json(LogEventPage {
        from: page.from,
        to: page.to,
        events: page.events,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct LogEventCounts {
    #[serde(with = "time::serde::rfc3339")]
    from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    to: OffsetDateTime,
    step_seconds: i64,
    /// Per bucket (aligned on the epoch) and kind, in time order; empty buckets left out.
    counts: Vec<LogCount>,
}

/// Count log events by kind over time
///
/// The same filters as the search (no cursor); counts per kind in `step` buckets.
#[utoipa::path(get, path = "/api/v1/log-events/counts", tag = "log events",
    operation_id = "count_log_events",
    params(Params),
    responses((status = 200, description = "Counts per bucket and kind", body = LogEventCounts),
        (status = 400, description = "A bad filter, named in `error.field`")))]
pub async fn counts(
    _who: Caller,
    state: web::Data<AppState>,
    q: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let (req, step) = request(q.into_inner())?;
    if req.cursor.is_some() {
        return Err(ApiError::invalid_field("cursor", "counts are not paged"));
    }
    let c = state
        .uc
        .log_events
        .counts(&req, step_param(step.as_deref())?)
        .await?;
    Ok(HttpResponse::Ok().json(LogEventCounts {
        from: c.from,
        to: c.to,
        step_seconds: c.step.whole_seconds(),
        counts: c.counts,
    }))
}
