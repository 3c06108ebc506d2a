//! Servers started together (an upgrade behind a load balancer) migrate one at a time.

use pganalytics_adapters::testing::TestDatabase;

#[test]
fn concurrent_migrations_apply_each_migration_once() {
    let db = TestDatabase::create();
    let admin = db.url.replace(&format!("///{}?", db.name), "///postgres?");
    let name = format!("{}_empty", db.name);
    let url = db
        .url
        .replace(&format!("///{}?", db.name), &format!("///{name}?"));
    let (a, n) = (admin, name);
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(pganalytics_adapters::postgres::ensure_database(
                &a, &n, None,
            ))
            .unwrap();
    })
    .join()
    .unwrap();
    let servers: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || pganalytics_adapters::postgres::migrate(&url))
        })
        .collect();
    let applied: Vec<usize> = servers
        .into_iter()
        .map(|t| t.join().unwrap().expect("every server's migrate succeeds"))
        .collect();
    let all = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("up.sql").exists())
        .count();
    assert_eq!(applied.iter().sum::<usize>(), all, "{applied:?}");
    assert_eq!(applied.iter().filter(|&&n| n > 0).count(), 1, "{applied:?}");
}
