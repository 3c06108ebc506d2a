//! A real HTTP receiver on loopback: it records what it gets, checks webhook signatures, and
//! can be told to fail (a receiver that is down answers 503).

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    pub raw: Vec<u8>,
}

pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    failing: Arc<AtomicBool>,
    holding: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    pub fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let failing = Arc::new(AtomicBool::new(false));
        let holding = Arc::new(AtomicBool::new(false));
        let (s, g, f, h) = (
            server.clone(),
            got.clone(),
            failing.clone(),
            holding.clone(),
        );
        let thread = std::thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let mut raw = Vec::new();
                let _ = req.as_reader().read_to_end(&mut raw);
                if f.load(Ordering::SeqCst) {
                    let _ = req.respond(tiny_http::Response::empty(503));
                    continue;
                }
                let headers = req
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_owned(),
                        )
                    })
                    .collect();
                g.lock().unwrap().push(Received {
                    path: req.url().to_owned(),
                    headers,
                    body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
                    raw,
                });
                // Holding: the message is in, the answer is not (a sender that dies now
                // never learns it was delivered).
                while h.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let _ = req.respond(tiny_http::Response::empty(200));
            }
        });
        Self {
            url,
            got,
            failing,
            holding,
            server,
            thread: Some(thread),
        }
    }

    /// Answers 503 to everything while `down`.
    pub fn set_down(&self, down: bool) {
        self.failing.store(down, Ordering::SeqCst);
    }

    /// Takes messages in but does not answer while `hold`.
    pub fn set_hold(&self, hold: bool) {
        self.holding.store(hold, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
