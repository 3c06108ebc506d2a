//! The OpenAPI document and its interactive page, both served by the server itself (the
//! Swagger UI files are built into the binary: no CDN, works offline).

use std::sync::{Arc, LazyLock};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;
use crate::state::AppState;

/// Where the page finds the document.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// The page's policy: its own scripts, styles and images only. Swagger UI sets styles
/// inline, hence `'unsafe-inline'` for styles (never for scripts).
pub const SWAGGER_CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The OpenAPI document
///
/// OpenAPI 3.1, generated from the code: every route of the server, its parameters, bodies,
/// answers, errors and who may call it.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "docs", operation_id = "openapi",
    responses((status = 200, description = "The document", body = serde_json::Value,
        content_type = "application/json")))]
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(state.openapi_json)
}

/// The interactive documentation
///
/// Redirects to the Swagger UI page.
#[utoipa::path(get, path = "/swagger", tag = "docs", operation_id = "swagger",
    responses((status = 308, description = "To `/swagger/index.html`",
        headers(("Location" = String, description = "/swagger/index.html")))))]
pub async fn swagger() -> HttpResponse {
    HttpResponse::build(StatusCode::PERMANENT_REDIRECT)
        .insert_header((header::LOCATION, "/swagger/index.html"))
        .finish()
}

/// A file of the interactive documentation
///
/// `index.html` and the scripts, styles and images it loads.
#[utoipa::path(get, path = "/swagger/{file}", tag = "docs", operation_id = "swagger_file",
    params(("file" = String, Path, description = "`index.html`, `swagger-ui.css`, …")),
    responses((status = 200, description = "The file (HTML, JavaScript, CSS or PNG)", body = String,
        content_type = "text/html")))]
pub async fn swagger_file(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
        Arc::new(
            Config::new([DOCUMENT_PATH])
                // No call to the public validator (the page must work offline).
                .validator_url("none")
                .persist_authorization(false)
                .display_request_duration(true),
        )
    });
    let found =
        utoipa_swagger_ui::serve(&file, CONFIG.clone()).map_err(|e| ApiError::internal(&*e))?;
    let Some(f) = found else {
        return Err(ApiError::not_found("no such documentation file"));
    };
    Ok(HttpResponse::Ok()
        .content_type(f.content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, SWAGGER_CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(f.bytes.into_owned()))
}
