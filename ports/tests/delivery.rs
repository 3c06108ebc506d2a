//! The agent's delivery rules, driven with an in-memory spool and a scripted transport: no
//! network, no disk, no clock. Each test scripts the server's answers and checks what was
//! acknowledged, kept aside, retried and when.

use pganalytics_domain::config::CollectorConfig;
use pganalytics_domain::delivery::{Backoff, PushResult};
use pganalytics_ports::BoxError;
use pganalytics_ports::spool::{Appended, Spool, SpoolError, SpoolStats, SpooledRecord};
use pganalytics_ports::transport::{DeadLetters, PushAnswer, Transport, TransportError};
use pganalytics_ports::usecases::{
    DEAD_LETTER_STALL, DeliverBatches, Delivery, PollConfig, SPOOL_STALL,
};
use secrecy::SecretString;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A FIFO spool in memory.
#[derive(Debug, Default)]
struct MemorySpool {
    next: u64,
    records: VecDeque<SpooledRecord>,
    broken: bool,
}

impl Spool for MemorySpool {
    fn append(&mut self, payload: &[u8]) -> Result<Appended, SpoolError> {
        self.next += 1;
        self.records.push_back(SpooledRecord {
            id: self.next,
            payload: payload.to_vec(),
        });
        Ok(Appended {
            id: self.next,
            dropped: 0,
            pressure: None,
        })
    }
    fn oldest(&mut self) -> Result<Option<SpooledRecord>, SpoolError> {
        if self.broken {
            return Err(SpoolError::Io("disk gone".into()));
        }
        Ok(self.records.front().cloned())
    }
    fn ack(&mut self, id: u64) -> Result<(), SpoolError> {
        self.records.retain(|r| r.id > id);
        Ok(())
    }
    fn stats(&self) -> SpoolStats {
        SpoolStats {
            records: self.records.len() as u64,
            ..SpoolStats::default()
        }
    }
}

/// A server that answers from a script, one answer per push, and records what it got.
#[derive(Debug, Default)]
struct ScriptedServer {
    answers: Mutex<VecDeque<PushAnswer>>,
    pushed: Mutex<Vec<Vec<u8>>>,
    refreshes: Mutex<u32>,
    refresh_fails: bool,
    configs: Mutex<VecDeque<Result<Option<CollectorConfig>, TransportError>>>,
}

fn status(code: u16, body: &str) -> PushAnswer {
    PushAnswer {
        result: PushResult::Status(code),
        retry_after: None,
        body: body.to_owned(),
    }
}

fn down() -> PushAnswer {
    PushAnswer {
        result: PushResult::NetworkError,
        retry_after: None,
        body: "connection refused".into(),
    }
}

const OK: &str = r#"{"status":"ok","next_config_version":3}"#;

impl ScriptedServer {
    fn answering(answers: impl IntoIterator<Item = PushAnswer>) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(answers.into_iter().collect()),
            ..Self::default()
        })
    }
    fn pushes(&self) -> usize {
        self.pushed.lock().unwrap().len()
    }
}

impl Transport for ScriptedServer {
    fn push(&self, batch: &[u8]) -> PushAnswer {
        self.pushed.lock().unwrap().push(batch.to_vec());
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("a push the script did not expect")
    }
    fn refresh_token(&self) -> Result<(), TransportError> {
        *self.refreshes.lock().unwrap() += 1;
        if self.refresh_fails {
            return Err(TransportError::Unreachable("down".into()));
        }
        Ok(())
    }
    fn config(&self, _etag: Option<&str>) -> Result<Option<CollectorConfig>, TransportError> {
        self.configs.lock().unwrap().pop_front().expect("scripted")
    }
    fn renew_certificate(&self, _csr_pem: &str) -> Result<String, TransportError> {
        unreachable!("not part of delivery")
    }
    fn use_certificate(&self, _: &str, _: &SecretString) -> Result<(), TransportError> {
        unreachable!("not part of delivery")
    }
}

/// Dead letters in memory; can be made to fail like a full disk.
#[derive(Debug, Default)]
struct Kept {
    letters: Mutex<Vec<(u64, Vec<u8>, String)>>,
    full: bool,
}

impl DeadLetters for Kept {
    fn keep(&self, spool_id: u64, payload: &[u8], reason: &str) -> Result<(), BoxError> {
        if self.full {
            return Err("no space left on device".into());
        }
        self.letters
            .lock()
            .unwrap()
            .push((spool_id, payload.to_vec(), reason.to_owned()));
        Ok(())
    }
}

struct Rig {
    spool: Arc<Mutex<MemorySpool>>,
    server: Arc<ScriptedServer>,
    kept: Arc<Kept>,
    deliver: DeliverBatches,
}

/// A delivery over `batches` spooled in order, a server answering `answers`, and a jitter
/// draw that always takes the ceiling's upper end (so delays are exact).
fn rig(batches: &[&str], server: Arc<ScriptedServer>, kept: Kept) -> Rig {
    let spool = Arc::new(Mutex::new(MemorySpool::default()));
    for b in batches {
        spool.lock().unwrap().append(b.as_bytes()).unwrap();
    }
    let kept = Arc::new(kept);
    let deliver = DeliverBatches::new(
        spool.clone(),
        server.clone(),
        kept.clone(),
        Backoff::default(),
        Box::new(|| 0.999_999_9),
    );
    Rig {
        spool,
        server,
        kept,
        deliver,
    }
}

impl Rig {
    fn spooled(&self) -> Vec<String> {
        let s = self.spool.lock().unwrap();
        s.records
            .iter()
            .map(|r| String::from_utf8(r.payload.clone()).unwrap())
            .collect()
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs_f64().round() as u64
}

#[test]
fn a_batch_is_acknowledged_only_after_a_2xx_and_in_spool_order() {
    let mut r = rig(
        &["a", "b"],
        ScriptedServer::answering([status(200, OK), status(200, OK)]),
        Kept::default(),
    );
    assert_eq!(
        r.deliver.step(),
        Delivery::Delivered {
            spool_id: 1,
            next_config_version: Some(3)
        }
    );
    assert_eq!(r.spooled(), ["b"]);
    assert!(matches!(
        r.deliver.step(),
        Delivery::Delivered { spool_id: 2, .. }
    ));
    assert_eq!(r.deliver.step(), Delivery::Idle);
    assert_eq!(r.server.pushed.lock().unwrap().as_slice(), [b"a", b"b"]);
}

#[test]
fn while_the_server_is_down_the_batch_stays_and_the_waits_double_to_the_cap() {
    let answers = std::iter::repeat_with(down)
        .take(12)
        .chain([status(200, OK)]);
    let mut r = rig(&["a"], ScriptedServer::answering(answers), Kept::default());
    let mut waits = Vec::new();
    for attempt in 1..=12 {
        match r.deliver.step() {
            Delivery::RetryLater {
                delay, attempt: n, ..
            } => {
                assert_eq!(n, attempt);
                waits.push(secs(delay));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            r.spooled(),
            ["a"],
            "nothing is lost while the server is down"
        );
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    assert!(matches!(r.deliver.step(), Delivery::Delivered { .. }));
    assert!(r.spooled().is_empty());
    // After a success the backoff starts over.
    r.spool.lock().unwrap().append(b"b").unwrap();
    r.server.answers.lock().unwrap().push_back(down());
    assert!(matches!(
        r.deliver.step(),
        Delivery::RetryLater { attempt: 1, .. }
    ));
}

#[test]
fn a_401_refreshes_the_token_and_pushes_again_at_once() {
    let mut r = rig(
        &["a"],
        ScriptedServer::answering([
            status(401, r#"{"error":{"code":"token_expired"}}"#),
            status(200, OK),
        ]),
        Kept::default(),
    );
    assert!(matches!(
        r.deliver.step(),
        Delivery::Delivered { spool_id: 1, .. }
    ));
    assert_eq!(*r.server.refreshes.lock().unwrap(), 1);
    assert_eq!(r.server.pushes(), 2);
    assert!(r.spooled().is_empty());
}

#[test]
fn a_401_whose_refresh_fails_is_retried_later_without_losing_the_batch() {
    let server = Arc::new(ScriptedServer {
        answers: Mutex::new([status(401, "{}")].into()),
        refresh_fails: true,
        ..ScriptedServer::default()
    });
    let mut r = rig(&["a"], server, Kept::default());
    assert!(matches!(
        r.deliver.step(),
        Delivery::RetryLater { attempt: 1, .. }
    ));
    assert_eq!(r.server.pushes(), 1, "no second push without a new token");
    assert_eq!(r.spooled(), ["a"]);
}

#[test]
fn a_400_or_413_goes_to_the_dead_letters_with_the_reason_and_the_next_batch_goes_on() {
    let bad = r#"{"error":{"code":"malformed_batch","message":"no"}}"#;
    let big = r#"{"error":{"code":"payload_too_large","message":"too big"}}"#;
    let mut r = rig(
        &["a", "b", "c"],
        ScriptedServer::answering([status(400, bad), status(413, big), status(200, OK)]),
        Kept::default(),
    );
    assert_eq!(
        r.deliver.step(),
        Delivery::DeadLettered {
            spool_id: 1,
            answer: bad.into()
        }
    );
    assert!(matches!(
        r.deliver.step(),
        Delivery::DeadLettered { spool_id: 2, .. }
    ));
    assert!(matches!(
        r.deliver.step(),
        Delivery::Delivered { spool_id: 3, .. }
    ));
    let kept = r.kept.letters.lock().unwrap();
    assert_eq!(
        kept.iter()
            .map(|(id, p, why)| (*id, p.as_slice(), why.as_str()))
            .collect::<Vec<_>>(),
        [(1, &b"a"[..], bad), (2, &b"b"[..], big)]
    );
    assert_eq!(*r.server.refreshes.lock().unwrap(), 0);
}

#[test]
fn a_refused_batch_that_cannot_be_kept_aside_stays_spooled() {
    let mut r = rig(
        &["a"],
        ScriptedServer::answering([status(400, "{}")]),
        Kept {
            full: true,
            ..Kept::default()
        },
    );
    assert!(matches!(
        r.deliver.step(),
        Delivery::Stalled { delay, .. } if delay == DEAD_LETTER_STALL
    ));
    assert_eq!(r.spooled(), ["a"]);
}

#[test]
fn a_429_waits_at_least_its_retry_after_and_a_503_backs_off() {
    let throttled = PushAnswer {
        retry_after: Some(Duration::from_secs(30)),
        ..status(429, r#"{"error":{"code":"rate_limited"}}"#)
    };
    let unavailable = PushAnswer {
        retry_after: Some(Duration::from_secs(5)),
        ..status(503, r#"{"error":{"code":"unavailable"}}"#)
    };
    let mut r = rig(
        &["a"],
        ScriptedServer::answering([throttled, unavailable, status(503, "{}"), status(200, OK)]),
        Kept::default(),
    );
    let delays: Vec<u64> = (0..3)
        .map(|_| match r.deliver.step() {
            Delivery::RetryLater { delay, .. } => secs(delay),
            other => panic!("{other:?}"),
        })
        .collect();
    // 30 s asked (above the 1 s ceiling), then 5 s asked (above 2 s), then the 4 s ceiling.
    assert_eq!(delays, [30, 5, 4]);
    assert_eq!(r.spooled(), ["a"]);
    assert!(matches!(r.deliver.step(), Delivery::Delivered { .. }));
    assert!(r.kept.letters.lock().unwrap().is_empty());
}

#[test]
fn a_spool_that_cannot_be_read_stalls_without_pushing() {
    let mut r = rig(&["a"], ScriptedServer::answering([]), Kept::default());
    r.spool.lock().unwrap().broken = true;
    assert!(matches!(
        r.deliver.step(),
        Delivery::Stalled { delay, .. } if delay == SPOOL_STALL
    ));
    assert_eq!(r.server.pushes(), 0);
}

#[test]
fn the_configuration_poll_refreshes_a_refused_token_once() {
    let server = Arc::new(ScriptedServer::default());
    let refused = || TransportError::Refused {
        status: 401,
        code: "token_expired".into(),
        message: "expired".into(),
    };
    server.configs.lock().unwrap().extend([
        Err(refused()),
        Ok(Some(CollectorConfig::default())),
        Err(refused()),
        Err(refused()),
    ]);
    let poll = PollConfig {
        transport: server.clone(),
    };
    assert!(poll.execute(None).unwrap().is_some());
    assert_eq!(*server.refreshes.lock().unwrap(), 1);
    assert_eq!(poll.execute(Some("\"1\"")).unwrap_err().status(), Some(401));
    assert_eq!(*server.refreshes.lock().unwrap(), 2, "one refresh per poll");
}
