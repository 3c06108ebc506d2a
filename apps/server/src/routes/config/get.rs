use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::extract::AuthenticatedCollector;
use crate::request::collector_id;
use crate::state::AppState;

/// Get a collector's configuration
///
/// For the collector itself (client certificate and collector token), with an `ETag`;
/// `304 Not Modified` when `If-None-Match` names the current version.
#[utoipa::path(get, path = "/api/v1/config/{collector_id}", tag = "agents",
    operation_id = "get_config",
    params(
        ("collector_id" = uuid::Uuid, Path, description = "The collector's own id"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of the configuration the agent has"),
    ),
    responses(
        (status = 200, description = "The configuration", body = pganalytics_domain::config::CollectorConfig,
            headers(("ETag" = String, description = "The configuration's version"))),
        (status = 304, description = "Unchanged"),
    ))]
pub async fn get(
    req: HttpRequest,
    collector: AuthenticatedCollector,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = collector_id(&id)?;
    if id != collector.0.id {
        return Err(pganalytics_ports::usecases::AuthError::WrongCollector.into());
    }
    let config = state.uc.config.execute(&collector.0).await?;
    let etag = config.etag();
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| config.matches_etag(v));
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    Ok(if matches {
        res.finish()
    } else {
        res.json(&config)
    })
}
