//! Parse and validate a realistic 1,000-row `pg_table` batch: the server's CPU cost per push
//! before the database. `cargo bench -p pganalytics-domain`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pganalytics_domain::batch::{self, BatchLimits, ValidationContext};
use pganalytics_domain::collector::CollectorId;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn table_batch(rows: usize, collector: uuid::Uuid, now: OffsetDateTime) -> Vec<u8> {
    let ts = now.format(&Rfc3339).unwrap();
    let data: Vec<_> = (0..rows)
        .map(|t| {
            let b = t as i64 * 1000;
            json!([
                "app",
                "public",
                format!("table_{t}"),
                b,
                b * 100,
                b * 3,
                b * 3,
                b * 7,
                b * 2,
                b / 3,
                b,
                b as f64 * 5.0,
                12.0,
                40.0,
                1,
                2,
                0,
                3,
                b * 11,
                b * 900,
                b * 2,
                b * 400,
                8192.0 * b as f64,
                4096.0 * b as f64,
                0.0,
                120_000.0,
                ts
            ])
        })
        .collect();
    serde_json::to_vec(&json!({
        "version": 1, "batch_id": uuid::Uuid::nil(), "collector_id": collector, "agent_version": "bench", "collected_at": ts,
        "metrics": [{ "family": "pg_table", "instance": "main", "columns": [
            "datname", "schemaname", "relname", "seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins", "n_tup_upd",
            "n_tup_del", "n_tup_hot_upd", "n_live_tup", "n_dead_tup", "n_mod_since_analyze", "vacuum_count", "autovacuum_count",
            "analyze_count", "autoanalyze_count", "heap_blks_read", "heap_blks_hit", "idx_blks_read", "idx_blks_hit",
            "table_size_bytes", "indexes_size_bytes", "toast_size_bytes", "relfrozenxid_age", "last_autovacuum"], "rows": data }]
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let id = uuid::Uuid::from_u128(1);
    let now = OffsetDateTime::now_utc();
    let body = table_batch(1000, id, now);
    let ctx = ValidationContext {
        collector_id: CollectorId::from_uuid(id),
        now,
        limits: BatchLimits::default(),
    };
    let mut g = c.benchmark_group("pg_table_1000_rows");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("parse", |b| b.iter(|| batch::parse(&body).unwrap()));
    g.bench_function("parse_then_validate", |b| {
        b.iter(|| batch::validate(batch::parse(&body).unwrap(), &ctx).unwrap())
    });
    g.bench_function("parse_and_validate_one_pass", |b| {
        b.iter(|| batch::parse_and_validate(&body, &ctx).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
