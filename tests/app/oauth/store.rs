//! The connected account in the log, on both backends: kept, replaced,
//! forgotten, and added by the schema upgrade to a log from before it
//! (SQLite 9, PostgreSQL 6), with the log's rows kept.

use commentwatch::config::Secret;
use commentwatch::store::{self, CommentLog, LinkedAccount};

fn account(refresh: &str, title: &str) -> LinkedAccount {
    LinkedAccount {
        platform: "youtube".into(),
        refresh_token: Secret::new(refresh),
        channel_id: "UCx".into(),
        channel_title: title.into(),
        connected_at: 1_700_000_000,
        connected_by: Some("ab".repeat(32)),
    }
}

async fn keeps_replaces_and_forgets(log: &CommentLog) {
    assert_eq!(log.linked_account("youtube".into()).await.unwrap(), None);
    log.link_account(account("1//one", "First")).await.unwrap();
    log.link_account(account("1//two", "Second")).await.unwrap();
    let got = log.linked_account("youtube".into()).await.unwrap().unwrap();
    assert_eq!(got, account("1//two", "Second"));
    assert_eq!(log.linked_account("twitch".into()).await.unwrap(), None);
    assert!(log.unlink_account("youtube".into()).await.unwrap());
    assert!(!log.unlink_account("youtube".into()).await.unwrap());
    assert_eq!(log.linked_account("youtube".into()).await.unwrap(), None);
}

#[tokio::test]
async fn a_sqlite_log_from_before_accounts_is_upgraded_to_9_and_keeps_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let log = CommentLog::open(&path).unwrap();
    log.set_hidden("spam".into(), "spam".into(), true)
        .await
        .unwrap();
    log.shut_down().await.unwrap();
    drop(log);
    // What a file of version 7 or 8 looks like: no accounts table.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TABLE linked_accounts; PRAGMA user_version = 8;")
        .unwrap();
    drop(conn);
    #[cfg(unix)]
    let mode = || {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777
    };
    #[cfg(unix)]
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let log = CommentLog::open(&path).unwrap();
    assert_eq!(log.hidden().await.unwrap(), ["spam"]);
    keeps_replaces_and_forgets(&log).await;
    #[cfg(unix)]
    assert_eq!(
        mode(),
        0o600,
        "a log holding a refresh token is its owner's only"
    );
    drop(log);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 9);
}

#[tokio::test]
async fn a_postgres_log_from_before_accounts_is_upgraded_to_6_and_keeps_one() {
    let Some(url) = crate::helpers::postgres_db().await else {
        return;
    };
    let target = store::Target::Postgres(url.clone());
    let log = CommentLog::connect(&target).await.unwrap();
    log.set_hidden("spam".into(), "spam".into(), true)
        .await
        .unwrap();
    drop(log);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "DROP TABLE linked_accounts; \
             UPDATE meta SET value = '5' WHERE key = 'schema_version';",
        )
        .await
        .unwrap();
    let log = CommentLog::connect(&target).await.unwrap();
    assert_eq!(log.hidden().await.unwrap(), ["spam"]);
    keeps_replaces_and_forgets(&log).await;
    let version: String = client
        .query_one("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, "6");
}
