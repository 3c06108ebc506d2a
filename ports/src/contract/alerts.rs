//! Contract clauses of the alerting stores: rules, alerts with transitions and deliveries,
//! silences, maintenance windows, channels, and what evaluation reads.

use pganalytics_domain::alerts::channel::{Channel, ChannelKind, DeliveryStatus, Route};
use pganalytics_domain::alerts::eval::{LabelFilter, RowsNeed};
use pganalytics_domain::alerts::matcher::Matcher;
use pganalytics_domain::alerts::silence::{MaintenanceWindow, Silence};
use pganalytics_domain::alerts::state::{Ack, AlertState, Phase, TransitionKind};
use pganalytics_domain::alerts::{RuleSpec, Severity, builtin};
use pganalytics_domain::catalog;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use time::Duration;
use uuid::Uuid;

use super::{audit, database_batch, now, registered};
use crate::StoreError;
use crate::store::{
    AlertChange, AlertFilter, DeliveryOutcome, QueuedDelivery, StoredChannel, StoredRule, Stores,
    Transition,
};

fn spec(name: &str) -> RuleSpec {
    let mut s = builtin::rules().unwrap()[0].spec.clone();
    s.name = name.to_owned();
    s
}

fn stored(name: &str, builtin: bool) -> StoredRule {
    StoredRule {
        spec: spec(name),
        builtin,
        edited: false,
        created_at: now(),
        updated_at: now(),
        last_error: None,
        last_evaluated: None,
    }
}

pub async fn rules_are_stored_edited_and_built_ins_seeded_once<S: Stores>(s: S) {
    s.create_rule(&stored("mine", false), &audit("alert_rule.create"))
        .await
        .unwrap();
    assert!(matches!(
        s.create_rule(&stored("mine", false), &audit("alert_rule.create"))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let added = s
        .seed_builtin_rules(&[spec("b1"), spec("b2")], now())
        .await
        .unwrap();
    assert_eq!(added, ["b1", "b2"]);
    // An edit marks a built-in edited; a deleted built-in never comes back; a new one does.
    let mut changed = spec("b1");
    changed.summary = "edited".into();
    let r = s
        .update_rule("b1", &changed, now(), &audit("alert_rule.update"))
        .await
        .unwrap();
    assert!(r.builtin && r.edited && r.spec.summary == "edited");
    s.delete_rule("b2", &audit("alert_rule.delete"))
        .await
        .unwrap();
    let added = s
        .seed_builtin_rules(&[spec("b1"), spec("b2"), spec("b3")], now())
        .await
        .unwrap();
    assert_eq!(added, ["b3"]);
    assert_eq!(s.get_rule("b1").await.unwrap().spec.summary, "edited");
    let names: Vec<String> = s
        .list_rules()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.spec.name)
        .collect();
    assert_eq!(names, ["b1", "b3", "mine"]);
    // An import replaces by name and adds, in one go.
    let mut again = stored("mine", false);
    again.spec.severity = Severity::Critical;
    s.upsert_rules(
        &[again, stored("new", false)],
        now(),
        &audit("alert_rule.import"),
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_rule("mine").await.unwrap().spec.severity,
        Severity::Critical
    );
    assert!(s.get_rule("new").await.is_ok());
    s.record_rule_run("mine", now(), Some("boom".into()))
        .await
        .unwrap();
    assert_eq!(
        s.get_rule("mine").await.unwrap().last_error.as_deref(),
        Some("boom")
    );
    assert!(matches!(
        s.update_rule("nope", &spec("nope"), now(), &audit("alert_rule.update"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.delete_rule("nope", &audit("alert_rule.delete")).await,
        Err(StoreError::NotFound { .. })
    ));
}

fn alert(rule: &str, server: &str, phase: Phase) -> AlertState {
    let labels = BTreeMap::from([("server".to_owned(), server.to_owned())]);
    AlertState {
        fingerprint: pganalytics_domain::alerts::state::fingerprint(rule, &labels),
        rule: rule.to_owned(),
        server_id: Some(1),
        labels,
        phase,
        severity: Severity::Warning,
        value: 1.0,
        threshold: 0.0,
        summary: "s".into(),
        description: "d".into(),
        active_since: now(),
        firing_since: (phase == Phase::Firing).then(now),
        resolved_at: None,
        last_evaluated: now(),
        ack: None,
    }
}

fn transition(a: &AlertState, kind: TransitionKind) -> Transition {
    Transition {
        id: Uuid::new_v4(),
        fingerprint: a.fingerprint.clone(),
        rule: a.rule.clone(),
        kind,
        severity: a.severity,
        value: a.value,
        summary: a.summary.clone(),
        description: a.description.clone(),
        runbook: "r".into(),
        labels: a.labels.clone(),
        active_since: a.active_since,
        at: now(),
    }
}

fn channel(name: &str) -> StoredChannel {
    StoredChannel {
        channel: Channel {
            id: Uuid::new_v4(),
            name: name.to_owned(),
            kind: ChannelKind::Webhook,
            enabled: true,
            settings: Default::default(),
            route: Route::default(),
            has_secret: true,
            created_at: now(),
            updated_at: now(),
        },
        sealed_secret: Some(format!("sealed-{name}")),
    }
}

pub async fn an_evaluation_is_applied_whole_and_deliveries_are_leased_and_finished<S: Stores>(
    s: S,
) {
    let ch = channel("ops");
    s.create_channel(&ch, &audit("notification_channel.create"))
        .await
        .unwrap();
    let firing = alert("r", "db1", Phase::Firing);
    let pending = alert("r", "db2", Phase::Pending);
    let t = transition(&firing, TransitionKind::Firing);
    let (due, later, suppressed) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let queued = vec![
        QueuedDelivery {
            id: due,
            channel_id: ch.channel.id,
            status: DeliveryStatus::Pending,
            not_before: now() - Duration::seconds(1),
        },
        QueuedDelivery {
            id: later,
            channel_id: ch.channel.id,
            status: DeliveryStatus::Pending,
            not_before: now() + Duration::hours(1),
        },
        QueuedDelivery {
            id: suppressed,
            channel_id: ch.channel.id,
            status: DeliveryStatus::Suppressed,
            not_before: now() - Duration::seconds(1),
        },
    ];
    s.apply_evaluation(&[
        AlertChange {
            fingerprint: firing.fingerprint.clone(),
            state: Some(firing.clone()),
            transition: Some((t.clone(), queued)),
        },
        AlertChange {
            fingerprint: pending.fingerprint.clone(),
            state: Some(pending.clone()),
            transition: None,
        },
    ])
    .await
    .unwrap();
    let mut got = s.rule_alerts("r").await.unwrap();
    got.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    let mut want = vec![firing.clone(), pending.clone()];
    want.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    assert_eq!(got, want);
    let only_firing = s
        .list_alerts(&AlertFilter {
            phase: Some(Phase::Firing),
            limit: 10,
            ..AlertFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(only_firing, vec![firing.clone()]);
    assert_eq!(
        s.alert_history(&firing.fingerprint, 10).await.unwrap(),
        vec![t.clone()]
    );
    // A pending alert that cleared is forgotten.
    s.apply_evaluation(&[AlertChange {
        fingerprint: pending.fingerprint.clone(),
        state: None,
        transition: None,
    }])
    .await
    .unwrap();
    assert!(matches!(
        s.get_alert(&pending.fingerprint).await,
        Err(StoreError::NotFound { .. })
    ));
    // Only the due, pending delivery is taken, and only once while leased.
    let taken = s
        .take_due_deliveries(now(), now() + Duration::minutes(2), 10)
        .await
        .unwrap();
    assert_eq!(taken.iter().map(|d| d.id).collect::<Vec<_>>(), [due]);
    assert_eq!(taken[0].transition, t);
    assert!(
        s.take_due_deliveries(now(), now() + Duration::minutes(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A lease that ran out (a sender that died) lets another take it.
    let after_lease = now() + Duration::minutes(3);
    assert_eq!(
        s.take_due_deliveries(after_lease, after_lease + Duration::minutes(2), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    s.finish_delivery(
        due,
        &DeliveryOutcome::Retry {
            at: now() + Duration::minutes(10),
            error: "503".into(),
        },
    )
    .await
    .unwrap();
    assert!(
        s.take_due_deliveries(after_lease, after_lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.finish_delivery(due, &DeliveryOutcome::Delivered { at: now() })
        .await
        .unwrap();
    let log = s.list_deliveries(ch.channel.id, 10).await.unwrap();
    let by_id: BTreeMap<Uuid, _> = log.iter().map(|d| (d.id, d)).collect();
    assert_eq!(by_id[&due].status, DeliveryStatus::Delivered);
    assert_eq!(by_id[&due].attempts, 2);
    assert_eq!(by_id[&suppressed].status, DeliveryStatus::Suppressed);
    assert_eq!(by_id[&later].status, DeliveryStatus::Pending);
    let last = s
        .last_notified(std::slice::from_ref(&firing.fingerprint))
        .await
        .unwrap();
    assert!(last.contains_key(&(firing.fingerprint.clone(), ch.channel.id)));
    assert!(matches!(
        s.finish_delivery(
            Uuid::new_v4(),
            &DeliveryOutcome::Failed { error: "x".into() }
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn concurrent_senders_never_take_the_same_delivery<S: Stores>(s: S) {
    let s = Arc::new(s);
    let ch = channel("ops");
    s.create_channel(&ch, &audit("notification_channel.create"))
        .await
        .unwrap();
    let a = alert("r", "db1", Phase::Firing);
    let changes: Vec<AlertChange> = (0..50)
        .map(|_| {
            let t = transition(&a, TransitionKind::Firing);
            AlertChange {
                fingerprint: a.fingerprint.clone(),
                state: Some(a.clone()),
                transition: Some((
                    t,
                    vec![QueuedDelivery {
                        id: Uuid::new_v4(),
                        channel_id: ch.channel.id,
                        status: DeliveryStatus::Pending,
                        not_before: now() - Duration::seconds(1),
                    }],
                )),
            }
        })
        .collect();
    s.apply_evaluation(&changes).await.unwrap();
    let takers: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.take_due_deliveries(now(), now() + Duration::minutes(5), 20)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for t in takers {
        for d in t.await.unwrap() {
            assert!(seen.insert(d.id), "delivery {} taken twice", d.id);
        }
    }
    assert_eq!(seen.len(), 50);
}

pub async fn an_acknowledgement_needs_a_firing_alert_and_happens_once<S: Stores>(s: S) {
    let firing = alert("r", "db1", Phase::Firing);
    let pending = alert("r", "db2", Phase::Pending);
    s.apply_evaluation(&[
        AlertChange {
            fingerprint: firing.fingerprint.clone(),
            state: Some(firing.clone()),
            transition: None,
        },
        AlertChange {
            fingerprint: pending.fingerprint.clone(),
            state: Some(pending.clone()),
            transition: None,
        },
    ])
    .await
    .unwrap();
    let ack = Ack {
        by: "alice".into(),
        at: now(),
        comment: "on it".into(),
    };
    let t = (
        transition(&firing, TransitionKind::Acknowledged),
        Vec::new(),
    );
    let a = s
        .ack_alert(&firing.fingerprint, &ack, &t, &audit("alert.acknowledge"))
        .await
        .unwrap();
    assert_eq!(a.ack, Some(ack.clone()));
    assert_eq!(
        s.get_alert(&firing.fingerprint).await.unwrap().ack,
        Some(ack.clone())
    );
    let again = (
        transition(&firing, TransitionKind::Acknowledged),
        Vec::new(),
    );
    assert!(matches!(
        s.ack_alert(
            &firing.fingerprint,
            &ack,
            &again,
            &audit("alert.acknowledge")
        )
        .await,
        Err(StoreError::Conflict { .. })
    ));
    let other = (
        transition(&pending, TransitionKind::Acknowledged),
        Vec::new(),
    );
    assert!(matches!(
        s.ack_alert(
            &pending.fingerprint,
            &ack,
            &other,
            &audit("alert.acknowledge")
        )
        .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.ack_alert("nope", &ack, &other, &audit("alert.acknowledge"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    // One acknowledgement, one transition recorded.
    assert_eq!(
        s.alert_history(&firing.fingerprint, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn silences_and_maintenance_windows_are_listed_until_they_end<S: Stores>(s: S) {
    let silence = Silence {
        id: Uuid::new_v4(),
        matchers: vec![Matcher::parse("server=db1").unwrap()],
        starts_at: now(),
        ends_at: now() + Duration::hours(2),
        created_by: "alice".into(),
        comment: "upgrade".into(),
    };
    s.create_silence(&silence, &audit("silence.create"))
        .await
        .unwrap();
    assert_eq!(s.list_silences(now()).await.unwrap(), vec![silence.clone()]);
    let ended = s
        .expire_silence(
            silence.id,
            now() + Duration::minutes(1),
            &audit("silence.expire"),
        )
        .await
        .unwrap();
    assert_eq!(
        ended.ends_at,
        now_trunc(now() + Duration::minutes(1), ended.ends_at)
    );
    assert!(
        s.list_silences(now() + Duration::minutes(2))
            .await
            .unwrap()
            .is_empty()
    );
    let window = MaintenanceWindow {
        id: Uuid::new_v4(),
        server_id: 1,
        starts_at: now(),
        ends_at: now() + Duration::hours(1),
        created_by: "alice".into(),
        comment: "reindex".into(),
    };
    s.create_maintenance(&window, &audit("maintenance.create"))
        .await
        .unwrap();
    assert_eq!(
        s.list_maintenance(now()).await.unwrap(),
        vec![window.clone()]
    );
    assert!(
        s.list_maintenance(now() + Duration::hours(2))
            .await
            .unwrap()
            .is_empty()
    );
    s.delete_maintenance(window.id, &audit("maintenance.delete"))
        .await
        .unwrap();
    assert!(matches!(
        s.delete_maintenance(window.id, &audit("maintenance.delete"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

/// `expected` when it is within a second of `got` (the two `now()` calls differ).
fn now_trunc(expected: time::OffsetDateTime, got: time::OffsetDateTime) -> time::OffsetDateTime {
    if (expected - got).abs() < Duration::seconds(1) {
        got
    } else {
        expected
    }
}

pub async fn channels_have_unique_names_and_keep_their_sealed_secret<S: Stores>(s: S) {
    let a = channel("ops");
    s.create_channel(&a, &audit("notification_channel.create"))
        .await
        .unwrap();
    let mut same_name = channel("ops");
    same_name.sealed_secret = None;
    assert!(matches!(
        s.create_channel(&same_name, &audit("notification_channel.create"))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.get_channel(a.channel.id).await.unwrap(), a);
    let mut renamed = a.clone();
    renamed.channel.name = "pager".into();
    renamed.channel.route.min_severity = Severity::Critical;
    s.update_channel(&renamed, &audit("notification_channel.update"))
        .await
        .unwrap();
    assert_eq!(s.list_channels().await.unwrap(), vec![renamed.clone()]);
    s.delete_channel(a.channel.id, &audit("notification_channel.delete"))
        .await
        .unwrap();
    assert!(matches!(
        s.get_channel(a.channel.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn evaluation_reads_filtered_rows_and_the_latest_time_per_server<S: Stores>(s: S) {
    let c = registered(&s).await;
    let at = now();
    s.ingest(
        &database_batch(c, Uuid::new_v4(), at - Duration::minutes(2), 3),
        at,
    )
    .await
    .unwrap();
    s.ingest(
        &database_batch(c, Uuid::new_v4(), at - Duration::minutes(1), 3),
        at,
    )
    .await
    .unwrap();
    let server = s.list_servers().await.unwrap()[0].id;
    let family = catalog::family("pg_database").unwrap();
    let need = RowsNeed {
        family,
        columns: vec![
            family.column("xact_commit").unwrap().1,
            family.column("stats_reset").unwrap().1,
        ],
        filters: vec![LabelFilter {
            column: "datname",
            values: vec!["db1".into(), "db2".into()],
            prefix: false,
        }],
        from: at - Duration::minutes(10),
        to: at,
        servers: vec![server],
    };
    let rows = s.read_rows(&need, 100).await.unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.labels.len() == 1 && r.values.len() == 2)
    );
    assert!(
        rows.iter()
            .any(|r| r.labels[0].as_deref() == Some("db2") && r.values[0] == Some(20.0))
    );
    // The latest time's rows only: the second reading's, of the databases asked for.
    let latest = s.read_latest(&need, 100).await.unwrap();
    assert_eq!(latest.len(), 2, "{latest:?}");
    assert!(
        latest
            .iter()
            .all(|r| (r.time - (at - Duration::minutes(1))).abs() < Duration::milliseconds(1))
    );
    assert!(matches!(
        s.read_latest(&need, 1).await,
        Err(StoreError::Conflict { .. })
    ));
    let prefix = RowsNeed {
        filters: vec![LabelFilter {
            column: "datname",
            values: vec!["db".into()],
            prefix: true,
        }],
        ..need.clone()
    };
    assert_eq!(s.read_rows(&prefix, 100).await.unwrap().len(), 6);
    assert!(matches!(
        s.read_rows(&prefix, 5).await,
        Err(StoreError::Conflict { .. })
    ));
    let none = RowsNeed {
        servers: vec![server + 1000],
        ..need
    };
    assert!(s.read_rows(&none, 100).await.unwrap().is_empty());
    let last = s
        .last_seen(family, at - Duration::hours(1), &[server, server + 1000])
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    assert!((last[&server] - (at - Duration::minutes(1))).abs() < Duration::milliseconds(1));
    let configs = s.list_collector_configs().await.unwrap();
    assert!(configs.contains_key(&c));
    assert!(s.try_lead("alerts").await.unwrap());
    assert!(
        s.try_lead("alerts").await.unwrap(),
        "a leader keeps leading"
    );
}

/// Rows of `pg_database` over `minutes` minutes before `at`, one per minute and database,
/// with gaps: `size_bytes` only every third minute, `stats_reset` only for `db1`.
fn gappy_batch(
    collector: pganalytics_domain::collector::CollectorId,
    at: time::OffsetDateTime,
    minutes: i64,
) -> pganalytics_domain::batch::ValidatedBatch {
    use pganalytics_domain::batch::{self, BatchLimits, ValidationContext};
    use serde_json::json;
    use time::format_description::well_known::Rfc3339;
    let blocks: Vec<_> = (0..minutes)
        .map(|m| {
            let t = at - Duration::minutes(minutes - m);
            let rows: Vec<_> = (0..2)
                .map(|d| {
                    let size = (m % 3 == 0).then_some(1000 * m + d);
                    let reset = (d == 1).then(|| (t - Duration::days(d)).format(&Rfc3339).unwrap());
                    json!([format!("db{d}"), (m * 7 + d * 3) % 11, size, reset])
                })
                .collect();
            json!({"family": "pg_database", "instance": "main", "collected_at": t.format(&Rfc3339).unwrap(),
                   "columns": ["datname", "xact_commit", "size_bytes", "stats_reset"], "rows": rows})
        })
        .collect();
    let body = json!({
        "version": 1, "batch_id": Uuid::new_v4(), "collector_id": collector.as_uuid(), "agent_version": "test",
        "collected_at": at.format(&Rfc3339).unwrap(), "metrics": blocks,
    });
    let ctx = ValidationContext {
        collector_id: collector,
        now: at,
        limits: BatchLimits::default(),
    };
    batch::validate(batch::parse(body.to_string().as_bytes()).unwrap(), &ctx).unwrap()
}

pub async fn folded_readings_agree_with_the_rows_they_fold<S: Stores>(s: S) {
    use pganalytics_domain::alerts::fold::{FoldExpr, FoldedRow, fold_rows};
    use pganalytics_domain::alerts::rule::Function;
    let c = registered(&s).await;
    let at = now();
    s.ingest(&gappy_batch(c, at, 150), at).await.unwrap();
    let server = s.list_servers().await.unwrap()[0].id;
    let family = catalog::family("pg_database").unwrap();
    let column = |name| family.column(name).unwrap().1;
    let need = RowsNeed {
        family,
        columns: vec![
            column("xact_commit"),
            column("size_bytes"),
            column("stats_reset"),
        ],
        filters: Vec::new(),
        from: at - Duration::minutes(140),
        to: at,
        servers: vec![server],
    };
    // A column, a sum of two (only where both have a value), and a timestamp; each part.
    let e = |columns: Vec<usize>, function| FoldExpr { columns, function };
    let exprs = vec![
        e(vec![0], Function::Sum),
        e(vec![0, 1], Function::Last),
        e(vec![2], Function::Age),
        e(vec![1], Function::Max),
        e(vec![0, 1], Function::Min),
        e(vec![1], Function::Avg),
    ];
    let key = |r: &FoldedRow| (r.server_id, r.labels.clone());
    let mut want = fold_rows(&s.read_rows(&need, 10_000).await.unwrap(), &exprs);
    let mut got = s.read_folds(&need, &exprs, 100).await.unwrap();
    want.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(want.len(), 2, "two databases: {want:?}");
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(key(g), key(w));
        for ((gf, wf), e) in g.folds.iter().zip(&w.folds).zip(&exprs) {
            match (gf, wf) {
                (None, None) => {}
                (Some(a), Some(b)) => {
                    assert_eq!(a.count, b.count, "{g:?} vs {w:?}");
                    let (sum, min, max, last) = e.parts();
                    for (read, x, y) in [
                        (sum, a.sum, b.sum),
                        (min, a.min, b.min),
                        (max, a.max, b.max),
                        (last, a.last, b.last),
                    ] {
                        assert!(!read || (x - y).abs() < 1e-6, "{e:?}: {g:?} vs {w:?}");
                    }
                    if last {
                        assert!((a.last_time - b.last_time).abs() < Duration::milliseconds(1));
                    }
                    let now = at + Duration::minutes(1);
                    assert_eq!(
                        a.value(e.function, now).map(|v| (v * 1e3).round()),
                        b.value(e.function, now).map(|v| (v * 1e3).round()),
                        "{e:?}"
                    );
                }
                _ => panic!("a fold is missing: {g:?} vs {w:?}"),
            }
        }
    }
    assert!(matches!(
        s.read_folds(&need, &exprs, 1).await,
        Err(StoreError::Conflict { .. })
    ));
}
