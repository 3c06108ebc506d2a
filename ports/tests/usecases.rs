//! Use-case rules checked with mocks: what must (not) be called, and how errors map.

use pganalytics_domain::credentials::{RegistrationSecret, RegistrationToken};
use pganalytics_ports::StoreError;
use pganalytics_ports::crypto::{MockCertificateAuthority, MockTokenSigner};
use pganalytics_ports::env::{MockClock, MockIdSource};
use pganalytics_ports::store::{MockCollectorStore, MockMetricStore, MockRegistrationTokenStore};
use pganalytics_ports::usecases::{
    CollectorPresence, GroupCommitSettings, IngestBatch, IngestError, RegisterCollector,
    RegisterError, RegisterRequest,
};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn clock() -> MockClock {
    let mut c = MockClock::new();
    c.expect_now().returning(now);
    c
}

fn register_with_token(
    stored: RegistrationToken,
    secret: &RegistrationSecret,
) -> Result<(), RegisterError> {
    let mut tokens = MockRegistrationTokenStore::new();
    tokens
        .expect_find_registration_token()
        .returning(move |_| Ok(stored.clone()));
    // The CA must never be asked to sign for a caller whose token is already unusable.
    let mut ca = MockCertificateAuthority::new();
    ca.expect_sign_collector_csr().never();
    let mut collectors = MockCollectorStore::new();
    collectors.expect_enroll().never();
    let uc = RegisterCollector {
        tokens: Arc::new(tokens),
        collectors: Arc::new(collectors),
        ca: Arc::new(ca),
        signer: Arc::new(MockTokenSigner::new()),
        clock: Arc::new(clock()),
        ids: Arc::new(MockIdSource::new()),
    };
    let req = RegisterRequest {
        registration_token: secret.expose().to_owned().into(),
        name: "db1".into(),
        hostname: "db1.example.com".into(),
        csr_pem: "-----BEGIN CERTIFICATE REQUEST-----".into(),
    };
    block_on(uc.execute(req, Default::default())).map(|_| ())
}

/// The use cases only await mocks, which complete immediately.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn an_expired_or_used_up_registration_token_is_refused_before_any_signing() {
    let secret = RegistrationSecret::from_bytes(&[9; 32]);
    let base = RegistrationToken {
        id: uuid::Uuid::nil(),
        hash: secret.hash(),
        uses_left: 1,
        expires_at: now() + Duration::hours(1),
        created_at: now(),
    };
    let used = RegistrationToken {
        uses_left: 0,
        ..base.clone()
    };
    assert!(matches!(
        register_with_token(used, &secret),
        Err(RegisterError::TokenRejected(_))
    ));
    let expired = RegistrationToken {
        expires_at: now() - Duration::seconds(1),
        ..base
    };
    assert!(matches!(
        register_with_token(expired, &secret),
        Err(RegisterError::TokenRejected(_))
    ));
}

fn ingest_uc(
    metrics: MockMetricStore,
    collectors: MockCollectorStore,
    settings: GroupCommitSettings,
) -> Arc<IngestBatch> {
    let presence = Arc::new(CollectorPresence::new(
        Arc::new(collectors),
        Arc::new(clock()),
        std::time::Duration::from_secs(5),
    ));
    Arc::new(IngestBatch::new(
        Arc::new(metrics),
        presence,
        Arc::new(clock()),
        Default::default(),
        settings,
    ))
}

fn empty_batch(collector: &pganalytics_domain::collector::Collector) -> Vec<u8> {
    serde_json::json!({
        "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": collector.id, "agent_version": "t",
        "collected_at": "2027-01-15T08:00:00Z", "metrics": []
    })
    .to_string()
    .into_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn an_unavailable_metric_store_is_reported_as_unavailable_not_as_bad_input() {
    let mut metrics = MockMetricStore::new();
    metrics.expect_ingest_group().returning(|batches, _| {
        batches
            .iter()
            .map(|_| {
                Err(StoreError::unavailable(std::io::Error::other(
                    "connection refused",
                )))
            })
            .collect()
    });
    let mut collectors = MockCollectorStore::new();
    collectors.expect_check_in().never();
    let uc = ingest_uc(metrics, collectors, GroupCommitSettings::default());
    let collector = pganalytics_ports::contract::collector("db1");
    let rt = runtime();
    for c in uc.take_committers() {
        rt.spawn(c);
    }
    let err = rt
        .block_on(uc.execute(&collector, &empty_batch(&collector)))
        .unwrap_err();
    assert!(
        matches!(err, IngestError::Store(StoreError::Unavailable(_))),
        "{err:?}"
    );
}

#[test]
fn a_push_is_refused_as_unavailable_when_no_committer_runs() {
    let mut metrics = MockMetricStore::new();
    metrics.expect_ingest_group().never();
    let uc = ingest_uc(
        metrics,
        MockCollectorStore::new(),
        GroupCommitSettings::default(),
    );
    let collector = pganalytics_ports::contract::collector("db1");
    let err = runtime()
        .block_on(uc.execute(&collector, &empty_batch(&collector)))
        .unwrap_err();
    assert!(
        matches!(err, IngestError::Store(StoreError::Unavailable(_))),
        "{err:?}"
    );
}

/// Pushes that arrive while a group commits form the next group, one `ingest_group` call;
/// each push is answered with its own result, and only once its group's call returned.
#[test]
fn pushes_waiting_for_a_commit_are_stored_together_and_each_gets_its_own_answer() {
    use pganalytics_ports::store::{IngestCounts, IngestOutcome};
    use std::sync::Mutex;
    let groups: Arc<Mutex<Vec<Vec<uuid::Uuid>>>> = Arc::default();
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let hold = Mutex::new(hold);
    let bad: Arc<Mutex<Option<uuid::Uuid>>> = Arc::default();
    let mut metrics = MockMetricStore::new();
    let (seen, rejected) = (groups.clone(), bad.clone());
    metrics.expect_ingest_group().returning(move |batches, _| {
        let first = seen.lock().unwrap().is_empty();
        seen.lock()
            .unwrap()
            .push(batches.iter().map(|b| b.batch_id).collect());
        if first {
            // The first group's transaction lasts until the test lets it commit.
            hold.lock().unwrap().recv().unwrap();
        }
        let bad = *rejected.lock().unwrap();
        batches
            .iter()
            .map(|b| {
                if Some(b.batch_id) == bad {
                    Err(StoreError::Invalid("rejected by the database".into()))
                } else {
                    Ok(IngestOutcome::Inserted(IngestCounts::default()))
                }
            })
            .collect()
    });
    let mut collectors = MockCollectorStore::new();
    collectors
        .expect_check_in()
        .returning(|_, _, _| Ok(Default::default()));
    collectors
        .expect_check_in_many()
        .returning(|_| Ok(Default::default()));
    let settings = GroupCommitSettings {
        committers: 1,
        max_wait: std::time::Duration::ZERO,
        ..GroupCommitSettings::default()
    };
    let uc = ingest_uc(metrics, collectors, settings);
    let rt = runtime();
    for c in uc.take_committers() {
        rt.spawn(c);
    }
    let collector = Arc::new(pganalytics_ports::contract::collector("db1"));
    let push = |body: Vec<u8>| {
        let (uc, c) = (uc.clone(), collector.clone());
        rt.spawn(async move { uc.execute(&c, &body).await })
    };
    let first = push(empty_batch(&collector));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while groups.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first group never started"
        );
        std::thread::yield_now();
    }
    let bodies: Vec<Vec<u8>> = (0..3).map(|_| empty_batch(&collector)).collect();
    let id = |b: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(b).unwrap()["batch_id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .unwrap()
    };
    *bad.lock().unwrap() = Some(id(&bodies[1]));
    let later: Vec<_> = bodies.iter().map(|b| push(b.clone())).collect();
    while uc.waiting() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the pushes never queued"
        );
        std::thread::yield_now();
    }
    assert!(!first.is_finished(), "answered before its group committed");
    release.send(()).unwrap();
    let results: Vec<_> = later.into_iter().map(|h| rt.block_on(h).unwrap()).collect();
    assert!(rt.block_on(first).unwrap().is_ok());
    assert_eq!(
        groups.lock().unwrap().len(),
        2,
        "{:?}",
        groups.lock().unwrap()
    );
    assert_eq!(
        groups.lock().unwrap()[1],
        bodies.iter().map(|b| id(b)).collect::<Vec<_>>()
    );
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(
        matches!(&results[1], Err(IngestError::Store(StoreError::Invalid(_)))),
        "{results:?}"
    );
}

#[test]
fn a_register_request_never_shows_its_token_in_debug_output() {
    let secret = RegistrationSecret::from_bytes(&[5; 32]);
    let req = RegisterRequest {
        registration_token: secret.expose().to_owned().into(),
        name: "db1".into(),
        hostname: "h".into(),
        csr_pem: String::new(),
    };
    let shown = format!("{req:?}");
    assert!(!shown.contains(&secret.expose()[5..]), "{shown}");
}

mod collect_cycle {
    use pganalytics_domain::collect::CollectedRows;
    use pganalytics_domain::config::{CollectorConfig, Intervals};
    use pganalytics_domain::schedule::Group;
    use pganalytics_ports::sources::{MockSource, Reading, SourceError};
    use pganalytics_ports::usecases::CollectCycle;
    use serde_json::json;
    use std::time::Duration;

    fn rows(family: &'static str) -> CollectedRows {
        let mut r = CollectedRows::new(family, &["datname"]);
        r.push(vec![json!("app")]);
        r
    }

    /// A PostgreSQL-like source: pg_database and pg_bgwriter in the database group.
    fn source() -> MockSource {
        let mut s = MockSource::new();
        s.expect_instance().return_const("main".to_owned());
        s.expect_collectors().returning(|group| match group {
            Group::Database => vec!["pg_database", "pg_bgwriter"],
            Group::Activity => vec!["pg_activity"],
            _ => Vec::new(),
        });
        s
    }

    fn at() -> time::OffsetDateTime {
        pganalytics_domain::truncate_to_micros(time::OffsetDateTime::now_utc())
    }

    #[test]
    fn a_failing_collector_is_reported_and_the_others_still_make_blocks() {
        let mut pg = source();
        pg.expect_read().returning(|name| match name {
            "pg_bgwriter" => Reading::timed(name, || {
                Err(SourceError::new("pg_bgwriter", "permission denied"))
            }),
            _ => Reading::timed(name, || Ok(vec![rows(name)])),
        });
        let mut cycle = CollectCycle::new(vec![Box::new(pg)], Intervals::default(), Duration::ZERO);
        let report = cycle.run(&[Group::Database], &|| Duration::ZERO, at());
        assert_eq!(report.blocks.len(), 1);
        assert_eq!(report.blocks[0].instance, "main");
        assert_eq!(report.blocks[0].family, "pg_database");
        assert_eq!(report.runs.len(), 2);
        assert_eq!(report.runs[1].error.as_deref(), Some("permission denied"));
    }

    #[test]
    fn only_the_servers_enabled_families_are_read() {
        let mut pg = source();
        pg.expect_read()
            .withf(|name| name == "pg_database")
            .times(1)
            .returning(|name| Reading::timed(name, || Ok(vec![rows(name)])));
        let mut cycle = CollectCycle::new(vec![Box::new(pg)], Intervals::default(), Duration::ZERO);
        cycle.apply(&CollectorConfig {
            version: 2,
            enabled_families: ["pg_database".to_owned()].into(),
            ..CollectorConfig::default()
        });
        let report = cycle.run(&[Group::Database], &|| Duration::ZERO, at());
        assert_eq!(report.runs.len(), 1, "pg_bgwriter is not even run");
        // Only the group that ran moved on; the others are still due.
        assert_eq!(cycle.next_due(), Duration::ZERO);
    }
}

mod authorize {
    use super::{block_on, clock, now};
    use pganalytics_domain::access::{Access, Permission, Role};
    use pganalytics_domain::audit::Origin;
    use pganalytics_domain::credentials::{ApiToken, ApiTokenSecret};
    use pganalytics_ports::crypto::MockTokenSigner;
    use pganalytics_ports::store::{MockApiTokenStore, MockAuditStore, MockSessionStore};
    use pganalytics_ports::usecases::{
        Attempt, AuthError, AuthenticateCollector, AuthenticatePerson, Authorize, Authorized,
        Credential, Denied, Presented,
    };
    use std::sync::Arc;

    /// `Authorize` over a viewer's API token, with an audit store expecting `audits` rows.
    fn authorize(audits: usize) -> (Authorize, String) {
        let secret = ApiTokenSecret::from_bytes(&[1; 6], &[2; 32]);
        let token = ApiToken {
            id: uuid::Uuid::nil(),
            name: "grafana".into(),
            role: Role::Viewer,
            owner: None,
            prefix: secret.prefix().to_owned(),
            hash: secret.hash(),
            created_at: now(),
            expires_at: None,
            revoked_at: None,
        };
        let mut tokens = MockApiTokenStore::new();
        tokens
            .expect_find_api_token()
            .returning(move |_| Ok(token.clone()));
        let mut audit = MockAuditStore::new();
        audit
            .expect_append_audit()
            .withf(|e| {
                e.action == "POST /api/v1/users"
                    && e.details.get("missing_permission").map(String::as_str)
                        == Some("manage_users")
            })
            .times(audits)
            .returning(|_| Ok(()));
        let uc = Authorize {
            people: AuthenticatePerson {
                tokens: Arc::new(tokens),
                sessions: Arc::new(MockSessionStore::new()),
                signer: Arc::new(MockTokenSigner::new()),
                clock: Arc::new(clock()),
            },
            collectors: Arc::new(AuthenticateCollector {
                presence: Arc::new(pganalytics_ports::usecases::CollectorPresence::new(
                    Arc::new(pganalytics_ports::store::MockCollectorStore::new()),
                    Arc::new(clock()),
                    std::time::Duration::from_secs(5),
                )),
                signer: Arc::new(MockTokenSigner::new()),
                clock: Arc::new(clock()),
            }),
            audit: Arc::new(audit),
            clock: Arc::new(clock()),
        };
        (uc, secret.expose().to_owned())
    }

    fn attempt(access: Access, changes: bool) -> Attempt {
        Attempt {
            access,
            action: "POST /api/v1/users".into(),
            changes,
            origin: Origin::default(),
        }
    }

    fn with(token: &str) -> Presented {
        Presented {
            credential: Some(Credential::ApiKey(token.to_owned())),
            client_certificate: None,
        }
    }

    #[test]
    fn a_granted_permission_lets_the_principal_through_and_audits_nothing() {
        let (uc, token) = authorize(0);
        let got = block_on(uc.execute(
            attempt(Access::Person(Permission::Read), false),
            with(&token),
        ));
        match got {
            Ok(Authorized::Person { principal, audit }) => {
                assert_eq!(principal.role, Role::Viewer);
                assert_eq!(audit.actor.role, Some(Role::Viewer));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_change_refused_for_its_permission_is_audited_once_and_a_refused_read_is_not() {
        let (uc, token) = authorize(1);
        let refused = |changes| {
            block_on(uc.execute(
                attempt(Access::Person(Permission::ManageUsers), changes),
                with(&token),
            ))
        };
        assert!(matches!(
            refused(true),
            Err(Denied::Forbidden {
                role: Role::Viewer,
                permission: Permission::ManageUsers
            })
        ));
        assert!(matches!(refused(false), Err(Denied::Forbidden { .. })));
    }

    #[test]
    fn agents_must_present_their_token_or_certificate() {
        let (uc, _) = authorize(0);
        let none = || Presented::default();
        assert!(matches!(
            block_on(uc.execute(attempt(Access::RegistrationToken, true), none())),
            Err(Denied::RegistrationTokenRequired)
        ));
        assert!(matches!(
            block_on(uc.execute(attempt(Access::CollectorCertificate, true), none())),
            Err(Denied::Collector(AuthError::MissingCertificate))
        ));
        assert!(matches!(
            block_on(uc.execute(attempt(Access::Collector, true), none())),
            Err(Denied::Collector(AuthError::MissingCertificate))
        ));
        assert!(matches!(
            block_on(uc.execute(attempt(Access::Public, true), none())),
            Ok(Authorized::Anyone)
        ));
    }
}
