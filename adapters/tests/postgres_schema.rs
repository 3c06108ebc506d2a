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
        cols.extend(
            f.columns
                .iter()
                .map(|c| (c.name, pg_type(c.kind.sql_type()))),
        );
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
