//! The store contract suite: the same checks run against every store adapter, so the
//! in-memory harness and PostgreSQL obey one contract.
//!
//! An adapter's tests call [`store_contract_tests!`](crate::store_contract_tests) with an
//! async expression that yields a fresh, empty store and a guard that cleans up after it
//! (dropped once the store is gone).

use pganalytics_domain::audit::{AuditContext, AuditEntry};
use pganalytics_domain::batch::{self, BatchLimits, ValidatedBatch, ValidationContext};
use pganalytics_domain::catalog;
use pganalytics_domain::collector::{
    CertificateInfo, Collector, CollectorId, CollectorName, CollectorStatus, Hostname,
};
use pganalytics_domain::config::Intervals;
use pganalytics_domain::credentials::{
    ApiToken, ApiTokenSecret, CredentialError, Fingerprint, RegistrationSecret, RegistrationToken,
};
use serde_json::json;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;
pub use crate::store::Stores;
use crate::store::{EnrollError, IngestOutcome, SeriesQuery};

mod alerts;
mod people;
mod tiers;
pub use alerts::*;
pub use people::*;
pub use tiers::*;

/// An audit entry for `action`, as the CLI would write it.
pub fn audit(action: &str) -> AuditEntry {
    AuditContext::cli(Some("contract".into())).entry(action, None, now())
}

/// The current time at PostgreSQL's resolution: ingest rejects times outside retention.
pub fn now() -> OffsetDateTime {
    pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc())
}

fn fingerprint(n: u8) -> Fingerprint {
    Fingerprint::of_der(&[n; 8])
}

pub fn collector(name: &str) -> Collector {
    Collector {
        id: CollectorId::from_uuid(Uuid::new_v4()),
        name: CollectorName::parse(name).unwrap(),
        hostname: Hostname::parse("db1.example.com").unwrap(),
        status: CollectorStatus::Active,
        certificate: CertificateInfo {
            fingerprint: fingerprint(name.len() as u8),
            serial: "0A1B".into(),
            not_after: now() + Duration::days(90),
            pem: format!("-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n"),
        },
        registered_at: now(),
        last_seen: None,
        config_version: 1,
        agent_version: None,
    }
}

async fn token<S: Stores>(s: &S, uses: u32, expires_in: Duration) -> RegistrationSecret {
    let secret = RegistrationSecret::from_bytes(&rand_bytes());
    let t = RegistrationToken {
        id: Uuid::new_v4(),
        hash: secret.hash(),
        uses_left: uses,
        expires_at: now() + expires_in,
        created_at: now(),
    };
    s.create_registration_token(&t, &audit("registration_token.create"))
        .await
        .unwrap();
    secret
}

/// How many uses the registration token has left.
async fn uses_left<S: Stores>(s: &S, secret: &RegistrationSecret) -> u32 {
    s.find_registration_token(&secret.hash())
        .await
        .unwrap()
        .uses_left
}

/// A registered collector to ingest for.
pub async fn registered<S: Stores>(s: &S) -> CollectorId {
    let secret = token(s, 1, Duration::hours(1)).await;
    let c = collector(&format!("c{}", Uuid::new_v4().simple()));
    s.enroll(&secret.hash(), &c, now(), &audit("collector.register"))
        .await
        .unwrap();
    c.id
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    b[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    b
}

/// A validated batch for `collector` with `rows` pg_database rows on instance `main` at `at`.
pub fn database_batch(
    collector: CollectorId,
    batch_id: Uuid,
    at: OffsetDateTime,
    rows: usize,
) -> ValidatedBatch {
    let rows: Vec<_> = (0..rows)
        .map(|i| json!([format!("db{i}"), i * 10, 1000.5 + i as f64]))
        .collect();
    let body = json!({
        "version": 1, "batch_id": batch_id, "collector_id": collector.as_uuid(), "agent_version": "test",
        "collected_at": at.format(&Rfc3339).unwrap(),
        "metrics": [
            { "family": "pg_database", "instance": "main", "columns": ["datname", "xact_commit", "size_bytes"], "rows": rows },
            { "family": "sys_load", "instance": "main", "columns": ["load1"], "rows": [[0.5]] },
        ]
    });
    let ctx = ValidationContext {
        collector_id: collector,
        now: at,
        limits: BatchLimits::default(),
    };
    batch::validate(batch::parse(body.to_string().as_bytes()).unwrap(), &ctx).unwrap()
}

pub async fn enroll_consumes_one_use_and_refuses_when_used_up<S: Stores>(s: S) {
    let secret = token(&s, 2, Duration::hours(1)).await;
    s.enroll(
        &secret.hash(),
        &collector("a1"),
        now(),
        &audit("collector.register"),
    )
    .await
    .unwrap();
    s.enroll(
        &secret.hash(),
        &collector("a2"),
        now(),
        &audit("collector.register"),
    )
    .await
    .unwrap();
    let err = s
        .enroll(
            &secret.hash(),
            &collector("a3"),
            now(),
            &audit("collector.register"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnrollError::TokenRejected(CredentialError::UsedUp)),
        "{err:?}"
    );
    assert_eq!(uses_left(&s, &secret).await, 0);
    assert_eq!(s.list_collectors().await.unwrap().len(), 2);
}

pub async fn enroll_refuses_unknown_and_expired_tokens_and_writes_nothing<S: Stores>(s: S) {
    let unknown = RegistrationSecret::from_bytes(&rand_bytes());
    assert!(matches!(
        s.enroll(
            &unknown.hash(),
            &collector("b1"),
            now(),
            &audit("collector.register")
        )
        .await,
        Err(EnrollError::UnknownToken)
    ));
    let secret = token(&s, 1, Duration::minutes(1)).await;
    let later = now() + Duration::minutes(2);
    let err = s
        .enroll(
            &secret.hash(),
            &collector("b2"),
            later,
            &audit("collector.register"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnrollError::TokenRejected(CredentialError::Expired)),
        "{err:?}"
    );
    assert!(s.list_collectors().await.unwrap().is_empty());
    assert_eq!(uses_left(&s, &secret).await, 1);
}

pub async fn concurrent_enrolments_race_for_the_last_use_and_exactly_one_wins<S: Stores>(s: S) {
    let s = Arc::new(s);
    let secret = token(s.as_ref(), 1, Duration::hours(1)).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (s, h) = (s.clone(), secret.hash());
            tokio::spawn(async move {
                s.enroll(
                    &h,
                    &collector(&format!("race{i}")),
                    now(),
                    &audit("collector.register"),
                )
                .await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(EnrollError::TokenRejected(CredentialError::UsedUp)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(s.list_collectors().await.unwrap().len(), 1);
}

pub async fn an_active_name_is_unique_and_a_conflict_consumes_no_use<S: Stores>(s: S) {
    let secret = token(&s, 5, Duration::hours(1)).await;
    let first = collector("same");
    s.enroll(&secret.hash(), &first, now(), &audit("collector.register"))
        .await
        .unwrap();
    let err = s
        .enroll(
            &secret.hash(),
            &collector("same"),
            now(),
            &audit("collector.register"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnrollError::Store(StoreError::Conflict { .. })),
        "{err:?}"
    );
    assert_eq!(uses_left(&s, &secret).await, 4);
    // Once revoked, the name is free for a re-installed host.
    s.revoke_collector(first.id, now(), &audit("collector.revoke"))
        .await
        .unwrap();
    s.enroll(
        &secret.hash(),
        &collector("same"),
        now(),
        &audit("collector.register"),
    )
    .await
    .unwrap();
}

pub async fn collectors_are_read_revoked_and_touched<S: Stores>(s: S) {
    let secret = token(&s, 1, Duration::hours(1)).await;
    let c = collector("c1");
    s.enroll(&secret.hash(), &c, now(), &audit("collector.register"))
        .await
        .unwrap();
    assert_eq!(s.get_collector(c.id).await.unwrap(), c);

    let t1 = now() + Duration::seconds(10);
    assert_eq!(
        s.check_in(c.id, t1, Some("1.2.3")).await.unwrap().version,
        1
    );
    s.check_in(c.id, t1 - Duration::seconds(5), None)
        .await
        .unwrap();
    let seen = s.get_collector(c.id).await.unwrap();
    assert_eq!(seen.last_seen, Some(t1));
    assert_eq!(
        seen.agent_version.as_deref(),
        Some("1.2.3"),
        "a check-in without a version keeps the last one"
    );

    let revoked = s
        .revoke_collector(c.id, now(), &audit("collector.revoke"))
        .await
        .unwrap();
    assert_eq!(revoked.status, CollectorStatus::Revoked);
    assert_eq!(
        s.revoke_collector(c.id, now(), &audit("collector.revoke"))
            .await
            .unwrap()
            .status,
        CollectorStatus::Revoked
    );
    assert_eq!(
        s.get_collector(c.id).await.unwrap().status,
        CollectorStatus::Revoked
    );

    let missing = CollectorId::from_uuid(Uuid::new_v4());
    assert!(matches!(
        s.get_collector(missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.revoke_collector(missing, now(), &audit("collector.revoke"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.check_in(missing, now(), None).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.collector_config(missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.collector_config(c.id).await.unwrap().version, 1);
}

pub async fn a_certificate_is_replaced_only_over_the_current_one<S: Stores>(s: S) {
    let secret = token(&s, 2, Duration::hours(1)).await;
    let c = collector("renewing");
    s.enroll(&secret.hash(), &c, now(), &audit("collector.register"))
        .await
        .unwrap();
    let renewed = CertificateInfo {
        fingerprint: fingerprint(200),
        serial: "0B".into(),
        not_after: now() + Duration::days(180),
        pem: "-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n".into(),
    };
    let old = c.certificate.fingerprint.clone();
    let after = s
        .replace_certificate(
            c.id,
            &old,
            renewed.clone(),
            &audit("collector.certificate.renew"),
        )
        .await
        .unwrap();
    assert_eq!(after.certificate, renewed);
    assert_eq!(s.get_collector(c.id).await.unwrap().certificate, renewed);
    // A second renewal presenting the old certificate loses.
    assert!(matches!(
        s.replace_certificate(
            c.id,
            &old,
            c.certificate.clone(),
            &audit("collector.certificate.renew")
        )
        .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.get_collector(c.id).await.unwrap().certificate, renewed);
    // A revoked collector's certificate is never replaced.
    s.revoke_collector(c.id, now(), &audit("collector.revoke"))
        .await
        .unwrap();
    assert!(matches!(
        s.replace_certificate(
            c.id,
            &renewed.fingerprint,
            c.certificate.clone(),
            &audit("collector.certificate.renew")
        )
        .await,
        Err(StoreError::Conflict { .. })
    ));
    let missing = CollectorId::from_uuid(Uuid::new_v4());
    assert!(matches!(
        s.replace_certificate(
            missing,
            &old,
            renewed,
            &audit("collector.certificate.renew")
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn a_configuration_change_bumps_the_version_once_per_change<S: Stores>(s: S) {
    let secret = token(&s, 1, Duration::hours(1)).await;
    let c = collector("configured");
    s.enroll(&secret.hash(), &c, now(), &audit("collector.register"))
        .await
        .unwrap();
    let faster = Intervals {
        host: 5,
        ..Intervals::default()
    };
    let families: std::collections::BTreeSet<String> = ["sys_load".to_owned()].into();
    let set = s
        .set_collector_config(
            c.id,
            faster.clone(),
            families.clone(),
            now(),
            &audit("collector.config.update"),
        )
        .await
        .unwrap();
    assert_eq!((set.version, set.intervals.host), (2, 5));
    assert_eq!(set.enabled_families, families);
    assert_eq!(s.collector_config(c.id).await.unwrap(), set);
    assert_eq!(s.check_in(c.id, now(), None).await.unwrap().version, 2);
    assert_eq!(s.get_collector(c.id).await.unwrap().config_version, 2);
    // Concurrent changes each get their own version.
    let entry = audit("collector.config.update");
    let (a, b) = tokio::join!(
        s.set_collector_config(c.id, faster.clone(), families.clone(), now(), &entry),
        s.set_collector_config(c.id, faster, families, now(), &entry),
    );
    let mut versions = [a.unwrap().version, b.unwrap().version];
    versions.sort_unstable();
    assert_eq!(versions, [3, 4]);
    let missing = CollectorId::from_uuid(Uuid::new_v4());
    assert!(matches!(
        s.set_collector_config(
            missing,
            Intervals::default(),
            Default::default(),
            now(),
            &audit("collector.config.update")
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn tokens_are_found_by_hash_and_duplicates_conflict<S: Stores>(s: S) {
    let secret = ApiTokenSecret::from_bytes(&[1, 2, 3, 4, 5, 6], &rand_bytes());
    let t = ApiToken {
        id: Uuid::new_v4(),
        name: "grafana".into(),
        role: pganalytics_domain::access::Role::Viewer,
        owner: None,
        prefix: secret.prefix().into(),
        hash: secret.hash(),
        created_at: now(),
        expires_at: None,
        revoked_at: None,
    };
    s.create_api_token(&t, &audit("api_token.create"))
        .await
        .unwrap();
    assert_eq!(s.find_api_token(&secret.hash()).await.unwrap(), t);
    assert!(matches!(
        s.create_api_token(&t, &audit("api_token.create")).await,
        Err(StoreError::Conflict { .. })
    ));
    let other = ApiTokenSecret::from_bytes(&[0; 6], &rand_bytes());
    assert!(matches!(
        s.find_api_token(&other.hash()).await,
        Err(StoreError::NotFound { .. })
    ));

    let reg = token(&s, 1, Duration::hours(1)).await;
    let stored = s.find_registration_token(&reg.hash()).await.unwrap();
    assert!(matches!(
        s.create_registration_token(&stored, &audit("registration_token.create"))
            .await,
        Err(StoreError::Conflict { .. })
    ));
}

pub async fn ingest_stores_rows_and_creates_one_server_per_instance<S: Stores>(s: S) {
    let c = registered(&s).await;
    let at = now();
    let outcome = s
        .ingest(&database_batch(c, Uuid::new_v4(), at, 3), at)
        .await
        .unwrap();
    let IngestOutcome::Inserted(counts) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(counts.families.get("pg_database"), Some(&3));
    assert_eq!(counts.total(), 4);
    s.ingest(
        &database_batch(c, Uuid::new_v4(), at + Duration::seconds(60), 3),
        at,
    )
    .await
    .unwrap();

    let servers = s.list_servers().await.unwrap();
    assert_eq!(servers.len(), 1);
    let server = &servers[0];
    assert_eq!((server.collector_id, server.instance.as_str()), (c, "main"));
    assert_eq!(server.last_seen, at);
    assert_eq!(s.get_server(server.id).await.unwrap(), *server);
    assert!(matches!(
        s.get_server(server.id + 1000).await,
        Err(StoreError::NotFound { .. })
    ));

    let family = catalog::family("pg_database").unwrap();
    let q = SeriesQuery {
        server_id: server.id,
        family,
        columns: vec![
            family.column("xact_commit").unwrap().1,
            family.column("size_bytes").unwrap().1,
        ],
        from: at - Duration::minutes(1),
        to: at + Duration::minutes(5),
        filters: vec![],
        max_rows: 100,
    };
    let series = s.query_series(&q).await.unwrap();
    assert_eq!(series.len(), 6, "3 databases x 2 columns");
    let db1 = series
        .iter()
        .find(|r| r.column == "xact_commit" && r.labels["datname"].as_deref() == Some("db1"))
        .unwrap();
    assert_eq!(
        db1.points.iter().map(|p| p.value).collect::<Vec<_>>(),
        vec![10.0, 10.0]
    );
    assert!(db1.points[0].time < db1.points[1].time);

    let narrow = SeriesQuery {
        to: at + Duration::seconds(1),
        ..q.clone()
    };
    assert!(
        s.query_series(&narrow)
            .await
            .unwrap()
            .iter()
            .all(|r| r.points.len() == 1)
    );
    let too_many = SeriesQuery { max_rows: 5, ..q };
    assert!(matches!(
        s.query_series(&too_many).await,
        Err(StoreError::Conflict { .. })
    ));
}

pub async fn a_replayed_batch_writes_nothing_and_returns_the_original_counts<S: Stores>(s: S) {
    let c = registered(&s).await;
    let id = Uuid::new_v4();
    let at = now();
    let first = s.ingest(&database_batch(c, id, at, 2), at).await.unwrap();
    let IngestOutcome::Inserted(counts) = first else {
        panic!()
    };
    // Same id, different content: still a replay, nothing written.
    let again = s.ingest(&database_batch(c, id, at, 5), at).await.unwrap();
    assert_eq!(again, IngestOutcome::Replayed(counts));
    assert_eq!(count_rows(&s, at).await, 2);
}

/// Regression guard for issue 11 (finding 6): a batch id is deduplicated per collector.
pub async fn a_batch_id_another_collector_used_is_stored_for_each<S: Stores>(s: S) {
    let (a, b) = (registered(&s).await, registered(&s).await);
    let id = Uuid::new_v4();
    let at = now();
    let first = s.ingest(&database_batch(a, id, at, 2), at).await.unwrap();
    assert!(matches!(first, IngestOutcome::Inserted(_)));
    let other = s.ingest(&database_batch(b, id, at, 3), at).await.unwrap();
    let IngestOutcome::Inserted(counts) = other else {
        panic!("collector B's batch was taken for A's: {other:?}")
    };
    assert_eq!(counts.total(), 4, "3 database rows and a load row");
    assert_eq!(count_rows(&s, at).await, 5);
    let again = s.ingest(&database_batch(b, id, at, 3), at).await.unwrap();
    assert_eq!(again, IngestOutcome::Replayed(counts));
}

pub async fn concurrent_copies_of_one_batch_are_written_once<S: Stores>(s: S) {
    let c = registered(&s).await;
    let s = Arc::new(s);
    let id = Uuid::new_v4();
    let at = now();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let s = s.clone();
            let b = database_batch(c, id, at, 4);
            tokio::spawn(async move { s.ingest(&b, at).await })
        })
        .collect();
    let mut inserted = 0;
    for t in tasks {
        if let IngestOutcome::Inserted(_) = t.await.unwrap().unwrap() {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 1);
    assert_eq!(count_rows(s.as_ref(), at).await, 4);
}

/// Group commit: each batch of a group is answered as `ingest` would answer it alone — a
/// copy inside the group and a batch stored by an earlier group are replays — and a later
/// group replaying any of them writes nothing.
pub async fn a_group_stores_each_batch_once_and_answers_each_in_order<S: Stores>(s: S) {
    let (c, d) = (registered(&s).await, registered(&s).await);
    let at = now();
    let (a, b, earlier) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let IngestOutcome::Inserted(first) = s
        .ingest(&database_batch(c, earlier, at, 1), at)
        .await
        .unwrap()
    else {
        panic!("a fresh batch was not inserted")
    };
    let group = [
        database_batch(c, a, at, 2),
        database_batch(d, b, at, 3),
        database_batch(c, a, at, 5),
        database_batch(c, earlier, at, 4),
        // The same id from another collector is another batch.
        database_batch(d, a, at, 1),
    ];
    let results: Vec<IngestOutcome> = s
        .ingest_group(&group, at)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let counts =
        |n| IngestOutcome::Inserted(crate::store::IngestCounts::of(&database_batch(c, a, at, n)));
    assert_eq!(
        results,
        vec![
            counts(2),
            counts(3),
            IngestOutcome::Replayed(counts(2).counts().clone()),
            IngestOutcome::Replayed(first),
            counts(1),
        ]
    );
    assert_eq!(count_rows(&s, at).await, 1 + 2 + 3 + 1);
    let again = s.ingest_group(&group[..2], at).await;
    assert!(
        again
            .iter()
            .all(|r| matches!(r, Ok(IngestOutcome::Replayed(_)))),
        "{again:?}"
    );
    assert_eq!(count_rows(&s, at).await, 7);
    assert!(s.ingest_group(&[], at).await.is_empty());
}

/// Groups running at once that share batches (in opposite orders) store each batch once,
/// and neither waits for the other forever.
pub async fn concurrent_groups_sharing_batches_store_each_once<S: Stores>(s: S) {
    let c = registered(&s).await;
    let s = Arc::new(s);
    let at = now();
    let shared: Vec<ValidatedBatch> = (0..4)
        .map(|_| database_batch(c, Uuid::new_v4(), at, 2))
        .collect();
    let tasks: Vec<_> = (0..4)
        .map(|g| {
            let s = s.clone();
            let mut group = shared.clone();
            if g % 2 == 1 {
                group.reverse();
            }
            group.push(database_batch(c, Uuid::new_v4(), at, 1));
            tokio::spawn(async move { s.ingest_group(&group, at).await })
        })
        .collect();
    let mut inserted = 0;
    for t in tasks {
        for r in t.await.unwrap() {
            if let IngestOutcome::Inserted(_) = r.unwrap() {
                inserted += 1;
            }
        }
    }
    assert_eq!(
        inserted,
        4 + 4,
        "each shared batch once, each group's own once"
    );
    assert_eq!(count_rows(s.as_ref(), at).await, 4 * 2 + 4);
}

/// The check-ins a server gathered in memory are written in one step, as `check_in` would.
pub async fn check_ins_of_many_collectors_are_written_together<S: Stores>(s: S) {
    let (a, b) = (registered(&s).await, registered(&s).await);
    let unknown = CollectorId::from_uuid(Uuid::new_v4());
    let t = now() + Duration::seconds(30);
    let seen = |id, at, v: Option<&str>| crate::store::CheckIn {
        id,
        at,
        agent_version: v.map(str::to_owned),
    };
    let configs = s
        .check_in_many(&[
            seen(a, t, Some("2.0.0")),
            seen(b, t - Duration::seconds(5), None),
            seen(unknown, t, None),
            seen(a, t - Duration::seconds(9), None),
        ])
        .await
        .unwrap();
    assert_eq!(configs.keys().copied().collect::<Vec<_>>(), {
        let mut ids = vec![a, b];
        ids.sort();
        ids
    });
    assert_eq!(configs[&a], s.collector_config(a).await.unwrap());
    let (ra, rb) = (
        s.get_collector(a).await.unwrap(),
        s.get_collector(b).await.unwrap(),
    );
    assert_eq!(
        ra.last_seen,
        Some(t),
        "never moved backwards by an older sighting"
    );
    assert_eq!(ra.agent_version.as_deref(), Some("2.0.0"));
    assert_eq!(rb.last_seen, Some(t - Duration::seconds(5)));
    assert!(s.check_in_many(&[]).await.unwrap().is_empty());
    // Older than what is stored: last_seen stays.
    s.check_in_many(&[seen(a, t - Duration::minutes(1), None)])
        .await
        .unwrap();
    assert_eq!(s.get_collector(a).await.unwrap().last_seen, Some(t));
}

pub async fn maintenance_drops_rows_past_retention<S: Stores>(s: S) {
    let c = registered(&s).await;
    let at = now();
    s.ingest(&database_batch(c, Uuid::new_v4(), at, 2), at)
        .await
        .unwrap();
    s.maintain(at, &Default::default()).await.unwrap();
    assert_eq!(
        count_rows(&s, at).await,
        2,
        "young rows survive maintenance"
    );
    s.maintain(at + Duration::days(40), &Default::default())
        .await
        .unwrap();
    assert_eq!(count_rows(&s, at).await, 0);
    s.ping().await.unwrap();
}

/// `pg_database` rows stored around `at`, on every server.
async fn count_rows<S: Stores>(s: &S, at: OffsetDateTime) -> usize {
    let family = catalog::family("pg_database").unwrap();
    let mut n = 0;
    for server in s.list_servers().await.unwrap() {
        let q = SeriesQuery {
            server_id: server.id,
            family,
            columns: vec![family.column("xact_commit").unwrap().1],
            from: at - Duration::days(1),
            to: at + Duration::days(1),
            filters: vec![],
            max_rows: 10_000,
        };
        n += s
            .query_series(&q)
            .await
            .unwrap()
            .iter()
            .map(|r| r.points.len())
            .sum::<usize>();
    }
    n
}

/// Expands to one `#[tokio::test]` per contract clause, each on a fresh store from `$fresh`,
/// an async expression yielding `(store, guard)`.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:expr) => {
        $crate::store_contract_tests!(@each $fresh;
            enroll_consumes_one_use_and_refuses_when_used_up,
            enroll_refuses_unknown_and_expired_tokens_and_writes_nothing,
            concurrent_enrolments_race_for_the_last_use_and_exactly_one_wins,
            an_active_name_is_unique_and_a_conflict_consumes_no_use,
            collectors_are_read_revoked_and_touched,
            a_certificate_is_replaced_only_over_the_current_one,
            a_configuration_change_bumps_the_version_once_per_change,
            tokens_are_found_by_hash_and_duplicates_conflict,
            ingest_stores_rows_and_creates_one_server_per_instance,
            a_replayed_batch_writes_nothing_and_returns_the_original_counts,
            a_batch_id_another_collector_used_is_stored_for_each,
            concurrent_copies_of_one_batch_are_written_once,
            a_group_stores_each_batch_once_and_answers_each_in_order,
            concurrent_groups_sharing_batches_store_each_once,
            check_ins_of_many_collectors_are_written_together,
            maintenance_drops_rows_past_retention,
            every_mutation_writes_its_audit_entry_and_a_failed_one_writes_none,
            the_audit_log_filters_and_pages_newest_first,
            users_are_created_found_updated_and_deleted,
            the_last_active_admin_cannot_be_removed,
            the_first_user_is_created_once_even_when_servers_race,
            a_refresh_token_rotates_once_and_its_reuse_revokes_the_session,
            concurrent_uses_of_one_refresh_token_rotate_it_once,
            a_session_ends_with_logout_password_change_disabling_and_deletion,
            api_tokens_are_listed_and_revoked_with_their_owner,
            secrets_are_stored_and_resealed_only_over_the_value_read,
            rules_are_stored_edited_and_built_ins_seeded_once,
            an_evaluation_is_applied_whole_and_deliveries_are_leased_and_finished,
            concurrent_senders_never_take_the_same_delivery,
            an_acknowledgement_needs_a_firing_alert_and_happens_once,
            silences_and_maintenance_windows_are_listed_until_they_end,
            channels_have_unique_names_and_keep_their_sealed_secret,
            evaluation_reads_filtered_rows_and_the_latest_time_per_server,
            folded_readings_agree_with_the_rows_they_fold,
            rollups_equal_the_raw_rows_of_every_family_after_late_and_replayed_batches,
            retention_drops_exactly_the_expired_partitions_of_each_tier,
            top_statements_over_a_range_match_a_direct_sum,
            log_search_filters_and_pages_without_gaps_or_duplicates,
            retention_choices_are_stored_audited_and_forgotten
        );
    };
    (@each $fresh:expr; $($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (store, guard) = $fresh.await;
            $crate::contract::$name(store).await;
            drop(guard);
        }
    )*};
}
