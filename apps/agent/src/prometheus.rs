//! The agent's own figures as Prometheus text on a loopback port (tiny_http on a thread of
//! its own: a scrape every few seconds needs no async runtime in the agent).

use slog::{Logger, info, warn};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::selfmetrics::SelfMetrics;

pub fn serve(addr: SocketAddr, metrics: Arc<SelfMetrics>, log: Logger) -> anyhow::Result<()> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for Prometheus: {e}"))?;
    info!(log, "serving the agent's metrics"; "url" => format!("http://{addr}/metrics"));
    let content_type = tiny_http::Header::from_bytes(
        &b"Content-Type"[..],
        &b"text/plain; version=0.0.4; charset=utf-8"[..],
    )
    .expect("a valid header");
    std::thread::Builder::new()
        .name("prometheus".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let path = request.url().split('?').next().unwrap_or("");
                let response = if *request.method() == tiny_http::Method::Get && path == "/metrics"
                {
                    tiny_http::Response::from_string(metrics.prometheus())
                        .with_header(content_type.clone())
                } else {
                    tiny_http::Response::from_string("only GET /metrics is served here\n")
                        .with_status_code(404)
                };
                if let Err(e) = request.respond(response) {
                    warn!(log, "a metrics scrape failed"; "error" => %e);
                }
            }
        })?;
    Ok(())
}
