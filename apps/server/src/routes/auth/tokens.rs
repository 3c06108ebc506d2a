use actix_web::HttpResponse;
use pganalytics_ports::usecases::Tokens;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::routes::users::view::UserView;

/// The answer to a login or a refresh.
#[derive(Serialize, ToSchema)]
pub struct SessionTokens<'a> {
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// A JWT for `Authorization: Bearer …`, valid 15 minutes.
    access_token: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    /// Works once, for `POST /api/v1/auth/refresh`; a used one presented again ends the
    /// session.
    refresh_token: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    refresh_expires_at: OffsetDateTime,
    user: UserView,
}

/// The answer to a login or a refresh. Never cached.
pub fn tokens_response(t: &Tokens) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(SessionTokens {
            token_type: "Bearer",
            access_token: &t.access_token,
            expires_at: t.access_expires_at,
            refresh_token: t.refresh_token.expose(),
            refresh_expires_at: t.refresh_expires_at,
            user: UserView::from(&t.user),
        })
}
