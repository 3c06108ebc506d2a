use actix_web::{HttpResponse, web};
use pganalytics_domain::rollup::Tier;
use pganalytics_ports::usecases::Series;
use pganalytics_ports::usecases::SeriesRequest;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Params {
    /// A metric family of the catalog, e.g. `pg_database` (`400 unknown_family` otherwise).
    #[param(pattern = "^[a-z][a-z0-9_]*$", max_length = 63)]
    family: String,
    /// Comma-separated; default: every counter and gauge of the family.
    columns: Option<String>,
    /// RFC 3339; default: one hour before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// RFC 3339; default: now.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// `60`, `60s`, `5m`, `1h`, `1d`; default `60s`. At least 1 s. A range holding more
    /// than 11,000 steps is downsampled to a larger step (the answer's `downsampled` says
    /// why); at most 500,000 points in the answer (`400 query_too_large`).
    #[param(pattern = "^[0-9]+[smhd]?$")]
    step: Option<String>,
}

pub(crate) fn parse_time(name: &str, v: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
        ApiError::bad_request(
            "invalid_range",
            format!("`{name}` must be an RFC 3339 timestamp"),
        )
    })
}

pub(crate) fn parse_step(v: &str) -> Result<Duration, ApiError> {
    crate::settings::parse_duration(v).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_range",
            "`step` must look like 60, 60s, 5m, 1h or 1d",
        )
    })
}

#[derive(Serialize, ToSchema)]
pub struct SeriesAnswer {
    server_id: i64,
    family: String,
    #[serde(with = "time::serde::rfc3339")]
    from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    to: OffsetDateTime,
    step_seconds: i64,
    /// Which data answered: `raw` rows, `hourly` or `daily` rollups (the part of the range
    /// past the rollups' watermark, the running hour, always comes from raw rows).
    tier: Tier,
    /// Why `step_seconds` differs from the step asked for, when it does.
    downsampled: Option<String>,
    series: Vec<Series>,
}

/// Read a server's time series
///
/// Averaged per `step`; counters as per-second rates with resets handled. Raw rows answer
/// steps under an hour, hourly rollups steps under a day, daily rollups longer ones; a
/// range older than a tier keeps moves to the next (see `GET /api/v1/retention`).
#[utoipa::path(get, path = "/api/v1/servers/{id}/metrics", tag = "servers",
    operation_id = "server_metrics",
    params(("id" = i64, Path, description = "The server's id"), Params),
    responses((status = 200, description = "The series", body = SeriesAnswer)))]
pub async fn get(
    _who: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let server = state.uc.servers.get(id.into_inner()).await?;
    let q = q.into_inner();
    let time = |name, v: Option<String>| v.map(|v| parse_time(name, &v)).transpose();
    let columns = q
        .columns
        .map(|c| {
            c.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let reply = state
        .uc
        .query
        .execute(SeriesRequest {
            server_id: server.id,
            family: q.family.clone(),
            columns,
            from: time("from", q.from)?,
            to: time("to", q.to)?,
            step: q.step.as_deref().map(parse_step).transpose()?,
            filters: Vec::new(),
        })
        .await?;
    Ok(HttpResponse::Ok().json(SeriesAnswer {
        server_id: server.id,
        family: q.family,
        from: reply.from,
        to: reply.to,
        step_seconds: reply.step.whole_seconds(),
        tier: reply.tier,
        downsampled: reply.downsampled,
        series: reply.series,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_accept_plain_seconds_and_units() {
        assert_eq!(parse_step("90").unwrap(), Duration::seconds(90));
        assert_eq!(parse_step("5m").unwrap(), Duration::minutes(5));
        assert_eq!(parse_step("1d").unwrap(), Duration::days(1));
        assert!(parse_step("5y").is_err());
        assert!(parse_step("m").is_err());
    }
}
