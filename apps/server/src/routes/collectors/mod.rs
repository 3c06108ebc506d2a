pub mod certificate;
pub mod get;
pub mod list;
pub mod register;
pub mod revoke;
pub mod token;

use pganalytics_domain::collector::CollectorId;

use crate::error::ApiError;

/// A collector id from the path; anything else is a 404 (no such collector).
pub fn parse_id(raw: &str) -> Result<CollectorId, ApiError> {
    CollectorId::parse(raw).map_err(|_| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            "collector not found",
        )
    })
}
