//! A server's statements (`pg_stat_statements` deltas): the top ones over a range, and one
//! statement's series.

use actix_web::{HttpResponse, web};
use pganalytics_domain::rollup::Tier;
use pganalytics_ports::store::StatementOrder;
use pganalytics_ports::usecases::{RankedStatement, StatementStep, StatementsRequest};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// An RFC 3339 query parameter, or a 400 naming it.
pub(crate) fn time_param(
    field: &'static str,
    v: Option<&str>,
) -> Result<Option<OffsetDateTime>, ApiError> {
    v.map(|s| {
        OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
            ApiError::invalid_field(field, format!("`{field}` must be an RFC 3339 time"))
        })
    })
    .transpose()
}

/// A step (`60`, `5m`, `1h`, `1d`) query parameter, or a 400 naming it.
pub(crate) fn step_param(v: Option<&str>) -> Result<Option<Duration>, ApiError> {
    v.map(|s| {
        crate::settings::parse_duration(s).ok_or_else(|| {
            ApiError::invalid_field("step", "`step` must look like 60, 60s, 5m, 1h or 1d")
        })
    })
    .transpose()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TopParams {
    /// RFC 3339; default: a day before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// RFC 3339; default: now.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// What ranks the statements (largest first); default `total_time`.
    #[param(value_type = Option<StatementOrder>)]
    order: Option<String>,
    /// At most 1,000; default 50.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// Only statements run in this database.
    database: Option<String>,
    /// Only statements run by this user.
    user: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TopStatements {
    server_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    to: OffsetDateTime,
    /// Which data answered: `raw` rows (ranges within a day), `hourly` or `daily` rollups.
    tier: Tier,
    order: StatementOrder,
    statements: Vec<RankedStatement>,
}

/// Top statements of a server
///
/// Sums of the statement deltas the agent stores (calls, execution and planning time,
/// rows, shared blocks, temporary blocks, I/O time, WAL) over the range, per query id,
/// database and user, ranked by `order`; each with its text as redacted by the agent.
/// Ranges within a day read raw rows; longer ones the hourly rollups, beyond their
/// retention the daily ones.
#[utoipa::path(get, path = "/api/v1/servers/{id}/statements", tag = "servers",
    operation_id = "server_statements",
    params(("id" = i64, Path, description = "The server's id"), TopParams),
    responses((status = 200, description = "The top statements", body = TopStatements)))]
pub async fn top(
    _who: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<TopParams>,
) -> Result<HttpResponse, ApiError> {
    let server = state.uc.servers.get(id.into_inner()).await?;
    let q = q.into_inner();
    let order = q
        .order
        .as_deref()
        .map(|o| {
            StatementOrder::parse(o).ok_or_else(|| {
                let all: Vec<_> = StatementOrder::ALL.iter().map(|o| o.as_str()).collect();
                ApiError::invalid_field("order", format!("`order` is one of {}", all.join(", ")))
            })
        })
        .transpose()?;
    let reply = state
        .uc
        .statements
        .top(StatementsRequest {
            server_id: server.id,
            from: time_param("from", q.from.as_deref())?,
            to: time_param("to", q.to.as_deref())?,
            order,
            limit: q.limit,
            datname: q.database,
            username: q.user,
        })
        .await?;
    Ok(HttpResponse::Ok().json(TopStatements {
        server_id: server.id,
        from: reply.from,
        to: reply.to,
        tier: reply.tier,
        order: reply.order,
        statements: reply.statements,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DetailParams {
    /// RFC 3339; default: a day before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// RFC 3339; default: now.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// `60`, `5m`, `1h`, `1d`; default: about 120 steps over the range, at least a minute.
    #[param(pattern = "^[0-9]+[smhd]?$")]
    step: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StatementSeries {
    server_id: i64,
    queryid: String,
    #[serde(with = "time::serde::rfc3339")]
    from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    to: OffsetDateTime,
    step_seconds: i64,
    tier: Tier,
    downsampled: Option<String>,
    /// The statement's sums over the range, per database and user it ran as.
    totals: Vec<RankedStatement>,
    /// Per step: the sums of its deltas and the per-call figures.
    series: Vec<StatementStep>,
}

/// One statement of a server
///
/// Its totals over the range and its series per step (calls, time, mean time per call,
/// rows, rows per call, shared blocks, temporary blocks).
#[utoipa::path(get, path = "/api/v1/servers/{id}/statements/{queryid}", tag = "servers",
    operation_id = "server_statement",
    params(("id" = i64, Path, description = "The server's id"),
        ("queryid" = String, Path, description = "The statement's `pg_stat_statements` query id"),
        DetailParams),
    responses((status = 200, description = "The statement", body = StatementSeries),
        (status = 404, description = "No such server, or no such statement in the range")))]
pub async fn detail(
    _who: Caller,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    q: web::Query<DetailParams>,
) -> Result<HttpResponse, ApiError> {
    let (id, queryid) = path.into_inner();
    let server = state.uc.servers.get(id).await?;
    let q = q.into_inner();
    let d = state
        .uc
        .statements
        .detail(
            server.id,
            &queryid,
            time_param("from", q.from.as_deref())?,
            time_param("to", q.to.as_deref())?,
            step_param(q.step.as_deref())?,
        )
        .await?;
    Ok(HttpResponse::Ok().json(StatementSeries {
        server_id: server.id,
        queryid,
        from: d.from,
        to: d.to,
        step_seconds: d.step.whole_seconds(),
        tier: d.tier,
        downsampled: d.downsampled,
        totals: d.totals,
        series: d.series,
    }))
}
