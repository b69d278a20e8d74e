//! Every row of a SQLite database, raw: what the secret scan searches and
//! what the bad-input test compares before and after a refused call.

use sea_orm::{ConnectionTrait, Statement};

/// Each row of each table, as (table, the row's columns joined by `|`).
pub async fn all_rows(db: &impl ConnectionTrait) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for table in sqlite_tables(db).await {
        let columns = column_count(db, &table).await;
        let rows = db
            .query_all(sql(
                db,
                &format!("SELECT * FROM \"{table}\" ORDER BY rowid"),
            ))
            .await
            .unwrap();
        for row in &rows {
            let mut bytes = Vec::new();
            for i in 0..columns {
                bytes.extend(column_bytes(row, i, &table));
                bytes.push(b'|');
            }
            all.push((table.clone(), bytes));
        }
    }
    all
}

fn sql(db: &impl ConnectionTrait, text: &str) -> Statement {
    Statement::from_string(db.get_database_backend(), text.to_owned())
}

async fn sqlite_tables(db: &impl ConnectionTrait) -> Vec<String> {
    let rows = db
        .query_all(sql(
            db,
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        ))
        .await
        .unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n == "integration_settings"),
        "{names:?}"
    );
    names
}

async fn column_count(db: &impl ConnectionTrait, table: &str) -> usize {
    let q = format!("SELECT count(*) FROM pragma_table_info('{table}')");
    let row = db.query_one(sql(db, &q)).await.unwrap().unwrap();
    let n: i64 = row.try_get_by_index(0).unwrap();
    n as usize
}

/// A column's value as bytes, whatever its SQLite type.
fn column_bytes(row: &sea_orm::QueryResult, i: usize, table: &str) -> Vec<u8> {
    if let Ok(v) = row.try_get_by_index::<Option<String>>(i) {
        return v.unwrap_or_default().into_bytes();
    }
    if let Ok(v) = row.try_get_by_index::<Option<i64>>(i) {
        return v.map(|n| n.to_string()).unwrap_or_default().into_bytes();
    }
    if let Ok(v) = row.try_get_by_index::<Option<f64>>(i) {
        return v.map(|n| n.to_string()).unwrap_or_default().into_bytes();
    }
    match row.try_get_by_index::<Option<Vec<u8>>>(i) {
        Ok(v) => v.unwrap_or_default(),
        Err(e) => panic!("column {i} of {table} is unreadable: {e}"),
    }
}
