use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

/// The largest rule file imported (the whole built-in pack is about 50 KiB).
const MAX_FILE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    /// The rules created or replaced, by name.
    rules: Vec<String>,
}

/// Import a rule file
///
/// The body is a rule file (TOML, up to 1 MiB). Every rule is created, or replaced when
/// one of its name exists; when any rule is invalid nothing is stored and the answer names
/// each problem with its line.
#[utoipa::path(post, path = "/api/v1/alert-rules/import", tag = "alerts", operation_id = "import_alert_rules",
    request_body(content = String, content_type = "text/plain", description = "A rule file (sent as `text/plain` or `application/toml`)"),
    responses(
        (status = 200, description = "The rules imported", body = Imported),
        (status = 400, description = "An invalid file, every problem with its line", body = ErrorBody<'_>),
        (status = 413, description = "Larger than 1 MiB", body = ErrorBody<'_>),
    ))]
pub async fn post(
    who: Caller,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use futures_util::StreamExt as _;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
        if body.len() + chunk.len() > MAX_FILE_BYTES {
            return Err(ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("a rule file is at most {} KiB", MAX_FILE_BYTES / 1024),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_rule", "the rule file is not UTF-8 text"))?;
    let rules = state.uc.rules.import(&who.ctx, text).await?;
    Ok(HttpResponse::Ok().json(Imported { rules }))
}
