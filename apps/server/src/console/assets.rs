//! The console's static files, built into the binary: one stylesheet, one script, one icon.
//! Their URLs carry a hash of their content, so browsers may keep them for a day and still
//! see a new release's files at once.

use actix_web::HttpResponse;
use actix_web::http::header;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const FILES: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/console/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console/console.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../assets/console/favicon.svg"),
    ),
];

static HASHES: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, _, body)| hex::encode(&Sha256::digest(body.as_bytes())[..6]))
        .collect()
});

/// The URL of a file, with its content hash.
pub fn url(name: &str) -> String {
    let hash = FILES
        .iter()
        .position(|(n, _, _)| *n == name)
        .map_or("", |i| HASHES[i].as_str());
    format!("/console/assets/{name}?v={hash}")
}

/// The answer for file `name`, if there is one.
pub fn response(name: &str) -> Option<HttpResponse> {
    let (_, content_type, body) = FILES.iter().find(|(n, _, _)| *n == name)?;
    Some(
        HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(*body),
    )
}
