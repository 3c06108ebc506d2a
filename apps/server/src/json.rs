//! The JSON body extractor every people's endpoint uses: `Content-Type: application/json`
//! required (415 otherwise), a size limit (413), a nesting-depth limit checked before
//! parsing (400), and unknown fields refused by the body types themselves.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest JSON body a people's endpoint accepts.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// The deepest nesting of arrays and objects in `bytes` (strings skipped), stopping early
/// once past `limit`.
pub fn depth_exceeds(bytes: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        let depth = req
            .app_data::<web::Data<AppState>>()
            .map_or(32, |s| s.limits.max_json_depth);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be JSON (Content-Type: application/json)",
                ));
            }
            let bytes = body.await.map_err(|e| {
                let too_large = || {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the body could not be read within {MAX_JSON_BYTES} bytes: {e}"),
                    )
                };
                match e.as_error::<actix_web::error::PayloadError>() {
                    Some(p) => crate::body::unreadable(p, too_large),
                    None => too_large(),
                }
            })?;
            if depth_exceeds(&bytes, depth) {
                return Err(ApiError::bad_request(
                    "json_too_deep",
                    format!("the JSON body nests deeper than {depth} levels"),
                ));
            }
            // serde reads a struct from an array too (`[]`, `[1,2]`): only objects are bodies.
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(ApiError::bad_request(
                    "malformed_json",
                    "the body must be a JSON object",
                ));
            }
            serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
                ApiError::bad_request(
                    "malformed_json",
                    format!("the body is not valid JSON for this endpoint: {e}"),
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::depth_exceeds;

    #[test]
    fn depth_counts_nesting_outside_strings_only() {
        assert!(!depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(!depth_exceeds(br#"{"a":"[[[[[[{{{{"}"#, 1));
        assert!(!depth_exceeds(br#"{"a":"\"[[[["}"#, 1));
        assert!(depth_exceeds(&b"[".repeat(100_000), 32));
    }
}
