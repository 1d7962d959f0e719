//! The connected account in the log, on both backends: kept, replaced,
//! forgotten, and added by the schema upgrade to a log from before it
//! (SQLite 9, PostgreSQL 6), with the log's rows kept.

use commentwatch::config::Secret;
use commentwatch::store::{self, ActionRecord, CommentLog, LinkedAccount};

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
    let id = log
        .record_action(action("delete", "UC-x", true, None))
        .await
        .unwrap();
    assert!(id > 0);
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
    conn.execute_batch("DROP TABLE linked_accounts; DROP TABLE actions; PRAGMA user_version = 8;")
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
            "DROP TABLE linked_accounts; DROP TABLE actions; \
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

fn action(action: &str, author: &str, ok: bool, ban: Option<&str>) -> ActionRecord {
    ActionRecord {
        at: 1_700_000_100,
        session: "ab".repeat(32),
        action: action.into(),
        source: "youtube-live:Vid1Vid1Vid".into(),
        comment_id: "m1".into(),
        author_id: author.into(),
        duration: (action == "timeout").then_some(300),
        ok,
        answer: if ok { "done".into() } else { "gone: no".into() },
        ban_id: ban.map(str::to_owned),
    }
}

#[tokio::test]
async fn actions_are_recorded_listed_and_give_back_the_newest_ban_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let mut logs = vec![CommentLog::open(&dir.path().join("a.db")).unwrap()];
    if let Some(url) = crate::helpers::postgres_db().await {
        logs.push(
            CommentLog::connect(&store::Target::Postgres(url))
                .await
                .unwrap(),
        );
    }
    for log in logs {
        let chat = "youtube-live:Vid1Vid1Vid".to_owned();
        assert_eq!(
            log.last_ban(chat.clone(), "UC-t".into()).await.unwrap(),
            None
        );
        let first = log
            .record_action(action("timeout", "UC-t", true, Some("ban-1")))
            .await
            .unwrap();
        log.record_action(action("ban", "UC-t", false, None))
            .await
            .unwrap();
        log.record_action(action("ban", "UC-t", true, Some("ban-2")))
            .await
            .unwrap();
        let last = log
            .record_action(action("delete", "UC-other", false, None))
            .await
            .unwrap();
        assert!(last > first);
        assert_eq!(
            log.last_ban(chat.clone(), "UC-t".into())
                .await
                .unwrap()
                .as_deref(),
            Some("ban-2")
        );
        assert_eq!(log.last_ban(chat, "UC-other".into()).await.unwrap(), None);
        let recent = log.recent_actions(3).await.unwrap();
        assert_eq!(recent.len(), 3);
        assert_eq!(recent[0], action("delete", "UC-other", false, None));
        assert_eq!(recent[2], action("ban", "UC-t", false, None));
        let all = log.recent_actions(10).await.unwrap();
        assert_eq!(all[3], action("timeout", "UC-t", true, Some("ban-1")));
    }
}
