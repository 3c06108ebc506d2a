use actix_web::{HttpResponse, web};
use pganalytics_domain::alerts::matcher::Matcher;
use pganalytics_domain::alerts::silence::Silence;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewSilence)]
pub struct Body {
    /// Label matchers, all of which an alert must match: `server=db1`, `rule=~pg_.*`,
    /// `datname!=postgres`.
    #[schema(value_type = Vec<String>, min_items = 1)]
    matchers: Vec<Matcher>,
    /// Default: now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    starts_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    ends_at: OffsetDateTime,
    #[serde(default)]
    #[schema(max_length = 2000)]
    comment: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Silence)]
pub struct SilenceView {
    id: uuid::Uuid,
    #[schema(value_type = Vec<String>)]
    matchers: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    ends_at: OffsetDateTime,
    created_by: String,
    comment: String,
}

impl From<Silence> for SilenceView {
    fn from(s: Silence) -> Self {
        Self {
            id: s.id,
            matchers: s.matchers.iter().map(ToString::to_string).collect(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            created_by: s.created_by,
            comment: s.comment,
        }
    }
}

/// Create a silence
///
/// Alerts matching every matcher between `starts_at` and `ends_at` still change state, but
/// their notifications are recorded as suppressed, not sent.
#[utoipa::path(post, path = "/api/v1/silences", tag = "alerts", operation_id = "create_silence",
    request_body = Body,
    responses(
        (status = 201, description = "The silence", body = SilenceView),
        (status = 400, description = "No matcher, a bad matcher or window", body = ErrorBody<'_>),
    ))]
pub async fn post(
    who: Caller,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let by = who.principal.author();
    let silence = state
        .uc
        .alerts
        .create_silence(
            &who.ctx,
            b.matchers,
            b.starts_at,
            b.ends_at,
            &by,
            &b.comment,
        )
        .await?;
    Ok(HttpResponse::Created().json(SilenceView::from(silence)))
}
