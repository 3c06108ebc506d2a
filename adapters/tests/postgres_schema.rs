//! The migrations and the domain catalog must describe the same metric tables.

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pganalytics_adapters::testing::TestDatabase;
use pganalytics_domain::catalog::FAMILIES;

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Col {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

fn pg_type(sql: &str) -> &str {
    match sql {
        "timestamptz" => "timestamp with time zone",
        other => other,
    }
}

#[tokio::test]
async fn every_catalog_family_has_a_table_with_the_same_typed_columns_in_order() {
    let db = TestDatabase::create();
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    let actual: Vec<Col> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = 'metrics' AND table_name NOT LIKE '%\\_p________' ORDER BY table_name, ordinal_position",
    )
    .load(&mut conn)
    .await
    .unwrap();

    let mut expected = Vec::new();
    for f in FAMILIES {
        let mut cols = vec![
            ("time", "timestamp with time zone"),
            ("server_id", "bigint"),
        ];
        for c in f.columns {
            cols.push((c.name, pg_type(c.kind.sql_type())));
            // The one column the server adds: the order of arrival, for log search pages.
            // It came after `kind`; the kinds' typed fields were added after it.
            if f.name == "pg_log_event" && c.name == "kind" {
                cols.push(("event_id", "bigint"));
            }
        }
        expected.extend(cols.into_iter().map(|(c, t)| Col {
            table_name: f.name.into(),
            column_name: c.into(),
            data_type: t.into(),
        }));
    }
    expected.sort_by(|a, b| a.table_name.cmp(&b.table_name));
    let mut actual_sorted = actual;
    actual_sorted.sort_by(|a, b| a.table_name.cmp(&b.table_name));
    assert_eq!(actual_sorted, expected);
}

#[tokio::test]
async fn every_family_has_hourly_and_daily_rollup_tables_with_every_part() {
    use pganalytics_domain::rollup::{self, Tier};
    let db = TestDatabase::create();
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    for tier in Tier::ROLLED {
        let actual: Vec<Col> = diesel::sql_query(format!(
            "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = '{}' AND table_name NOT LIKE '%\\_p________' ORDER BY table_name, ordinal_position",
            tier.schema()
        ))
        .load(&mut conn)
        .await
        .unwrap();
        let mut expected = Vec::new();
        for f in FAMILIES {
            let mut cols: Vec<(String, String)> = vec![
                ("bucket".into(), "timestamp with time zone".into()),
                ("server_id".into(), "bigint".into()),
            ];
            cols.extend(f.labels().map(|l| (l.name.to_owned(), "text".to_owned())));
            cols.push(("samples".into(), "integer".into()));
            cols.push(("seconds".into(), "double precision".into()));
            cols.extend(
                rollup::columns(f)
                    .iter()
                    .map(|c| (c.name(), pg_type(c.sql_type()).to_owned())),
            );
            expected.extend(cols.into_iter().map(|(c, t)| Col {
                table_name: f.name.into(),
                column_name: c,
                data_type: t,
            }));
        }
        expected.sort_by(|a, b| a.table_name.cmp(&b.table_name));
        let mut actual = actual;
        actual.sort_by(|a, b| a.table_name.cmp(&b.table_name));
        assert_eq!(actual, expected, "{tier:?}");
    }
}
