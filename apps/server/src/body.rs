//! Request bodies read with limits: the compressed size while reading, the decompressed
//! size while inflating, so a gzip or zstd bomb costs at most the limit in memory.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use futures_util::{Stream, StreamExt as _};
use std::future::Future as _;
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

pub fn content_encoding(req: &HttpRequest) -> Result<Encoding, ApiError> {
    let Some(value) = req.headers().get(actix_web::http::header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    match value
        .to_str()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "zstd" => Ok(Encoding::Zstd),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("Content-Encoding {other:?} is not supported; use gzip, zstd or identity"),
        )),
    }
}

fn too_large(what: &str, limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the {what} is larger than {limit} bytes"),
    )
}

/// How long a request body may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeouts {
    /// The longest wait for the next bytes, and the grace before `min_bytes_per_second`.
    pub stall: Duration,
    pub min_bytes_per_second: u64,
}

/// A request body that fails with a time-out when it stalls for `stall`, or, past its first
/// `stall`, arrives slower than `min_bytes_per_second` on average: a client dribbling a
/// byte every few seconds cannot hold a connection for long.
pub struct TimedPayload {
    inner: Payload,
    timeouts: BodyTimeouts,
    started: Instant,
    received: u64,
    deadline: Pin<Box<Sleep>>,
}

impl TimedPayload {
    pub fn new(inner: Payload, timeouts: BodyTimeouts) -> Self {
        let started = Instant::now();
        Self {
            inner,
            timeouts,
            started,
            received: 0,
            deadline: Box::pin(tokio::time::sleep_until(started + timeouts.stall)),
        }
    }

    fn next_deadline(&self) -> Instant {
        let earned = Duration::from_secs_f64(
            self.received as f64 / self.timeouts.min_bytes_per_second as f64,
        );
        (Instant::now() + self.timeouts.stall).min(self.started + self.timeouts.stall + earned)
    }
}

impl Stream for TimedPayload {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                this.received += bytes.len() as u64;
                let next = this.next_deadline();
                this.deadline.as_mut().reset(next);
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body arrived too slowly",
                ))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// The answer for a body that could not be read: 408 when it arrived too slowly.
pub fn unreadable(e: &PayloadError, otherwise: impl FnOnce() -> ApiError) -> ApiError {
    match e {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the request body arrived too slowly (see body_timeout_seconds)",
        ),
        _ => otherwise(),
    }
}

/// Reads the body, refusing it as soon as it passes `limit` bytes.
pub async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            unreadable(&e, || {
                ApiError::bad_request("bad_body", format!("could not read the body: {e}"))
            })
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large("body", limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// How much larger than its compressed body a pushed batch usually is (JSON metric
/// batches compress 6–10 times with zstd or gzip).
const INFLATION_HINT: usize = 8;

/// Inflates `raw`, refusing output past `limit` bytes. CPU-bound: run it off the async workers.
pub fn decompress(encoding: Encoding, raw: Vec<u8>, limit: usize) -> Result<Vec<u8>, ApiError> {
    // Room for the whole output at once, so inflating is not a series of grow-and-copy
    // steps: the size a zstd frame declares, else a metric batch's usual ratio; never past
    // the limit (capacity not yet written costs no memory).
    let declared = match encoding {
        Encoding::Zstd => zstd::zstd_safe::get_frame_content_size(&raw)
            .ok()
            .flatten()
            .and_then(|n| usize::try_from(n).ok()),
        _ => None,
    };
    let capacity = declared
        .unwrap_or_else(|| raw.len().saturating_mul(INFLATION_HINT))
        .min(limit.saturating_add(1));
    let reader: Box<dyn Read> = match encoding {
        Encoding::Identity => {
            return if raw.len() > limit {
                Err(too_large("decompressed batch", limit))
            } else {
                Ok(raw)
            };
        }
        Encoding::Gzip => Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(raw))),
        Encoding::Zstd => Box::new(
            zstd::stream::read::Decoder::new(std::io::Cursor::new(raw)).map_err(|e| {
                ApiError::bad_request(
                    "bad_encoding",
                    format!("the zstd body cannot be decoded: {e}"),
                )
            })?,
        ),
    };
    let mut out = Vec::with_capacity(capacity);
    let read = reader.take(limit as u64 + 1).read_to_end(&mut out);
    read.map_err(|e| {
        ApiError::bad_request(
            "bad_encoding",
            format!("the body does not match its Content-Encoding: {e}"),
        )
    })?;
    if out.len() > limit {
        return Err(too_large("decompressed batch", limit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit_not_inflated() {
        let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        let err = decompress(Encoding::Gzip, bomb, 1024 * 1024).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        let z = zstd::encode_all(&vec![0u8; 10 * 1024 * 1024][..], 3).unwrap();
        assert_eq!(
            decompress(Encoding::Zstd, z, 1024 * 1024)
                .unwrap_err()
                .status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[test]
    fn bodies_round_trip_and_garbage_is_a_400() {
        assert_eq!(
            decompress(Encoding::Gzip, gzip(b"hello"), 10).unwrap(),
            b"hello"
        );
        assert_eq!(
            decompress(
                Encoding::Zstd,
                zstd::encode_all(&b"hello"[..], 3).unwrap(),
                10
            )
            .unwrap(),
            b"hello"
        );
        assert_eq!(
            decompress(Encoding::Gzip, b"not gzip".to_vec(), 10)
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
    }
}
