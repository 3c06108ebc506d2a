use actix_web::{HttpResponse, web};
use pganalytics_ports::usecases::SeriesRequest;
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

#[derive(Debug, Deserialize)]
pub struct Params {
    family: String,
    /// Comma-separated; default: every counter and gauge of the family.
    columns: Option<String>,
    /// RFC 3339; default: one hour before `to`.
    from: Option<String>,
    /// RFC 3339; default: now.
    to: Option<String>,
    /// `60`, `60s`, `5m`, `1h`, `1d`; default `60s`.
    step: Option<String>,
}

fn parse_time(name: &str, v: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
        ApiError::bad_request(
            "invalid_range",
            format!("`{name}` must be an RFC 3339 timestamp"),
        )
    })
}

fn parse_step(v: &str) -> Result<Duration, ApiError> {
    crate::parse_duration(v).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_range",
            "`step` must look like 60, 60s, 5m, 1h or 1d",
        )
    })
}

/// `GET /api/v1/servers/{id}/metrics?family=&columns=&from=&to=&step=` — time series,
/// averaged per `step`; counters as per-second rates with resets handled.
pub async fn get(
    _who: Allowed<perm::Read>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let server = state.servers.get(id.into_inner()).await?;
    let q = q.into_inner();
    let to =
        q.to.as_deref()
            .map(|v| parse_time("to", v))
            .transpose()?
            .unwrap_or_else(|| state.clock.now());
    let from = q
        .from
        .as_deref()
        .map(|v| parse_time("from", v))
        .transpose()?
        .unwrap_or(to - Duration::hours(1));
    let step = q
        .step
        .as_deref()
        .map(parse_step)
        .transpose()?
        .unwrap_or(Duration::seconds(60));
    let columns = q
        .columns
        .map(|c| {
            c.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let series = state
        .query
        .execute(SeriesRequest {
            server_id: server.id,
            family: q.family.clone(),
            columns,
            from,
            to,
            step,
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "server_id": server.id,
        "family": q.family,
        "from": from.format(&Rfc3339).unwrap_or_default(),
        "to": to.format(&Rfc3339).unwrap_or_default(),
        "step_seconds": step.whole_seconds(),
        "series": series,
    })))
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
