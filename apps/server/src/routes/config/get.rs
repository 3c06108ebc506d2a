use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::AuthenticatedCollector;
use crate::routes::collectors::parse_id;

/// `GET /api/v1/config/{collector_id}` — the collector's configuration with an ETag;
/// `304 Not Modified` when `If-None-Match` names the current version.
pub async fn get(
    req: HttpRequest,
    collector: AuthenticatedCollector,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    if id != collector.0.id {
        return Err(pganalytics_ports::usecases::AuthError::WrongCollector.into());
    }
    let config = state.config.execute(&collector.0).await?;
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
