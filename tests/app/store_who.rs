//! Who wrote it, in the log: the author's badges and name colour, the
//! owner's marks (pinned, liked) and the location line, stored and read
//! back alike on both backends (feed, pages, JSONL export), absent when
//! empty, checked again on the way out, and a log from before they existed
//! (SQLite version 7, PostgreSQL version 4) upgraded with its rows kept. A
//! part of `store_suite`.

use commentwatch::domain::{RawComment, Role};
use commentwatch::store::{self, CommentLog, Format, Selection};

use super::{backends, batch, comment, raw};

/// The UP主's pinned comment that they liked, with badges and a location.
fn owners() -> RawComment {
    let mut c = raw("up1", "主播本人", "置顶：谢谢大家", 1);
    c.roles = vec![Role::Owner];
    c.badges = vec!["LV6".into(), "大会员".into(), "主播团 12".into()];
    c.author_color = Some("#FB7299".into());
    c.pinned = true;
    c.liked_by_owner = true;
    c.location = Some("IP属地：上海".into());
    c
}

/// The whole log exported as CSV: its header and rows.
async fn csv_rows(log: &CommentLog) -> (Vec<String>, Vec<Vec<String>>) {
    let log = log.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut reader = log.reader().unwrap();
        let mut out = Vec::new();
        store::export(
            &mut reader,
            &Selection::default(),
            None,
            None,
            Format::Csv { bom: false },
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        out
    })
    .await
    .unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

async fn jsonl(log: &CommentLog) -> Vec<serde_json::Value> {
    let log = log.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut reader = log.reader().unwrap();
        let mut out = Vec::new();
        store::export(
            &mut reader,
            &Selection::default(),
            None,
            None,
            Format::Jsonl,
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    })
    .await
    .unwrap();
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn badges_colour_marks_and_location_are_kept_and_absent_when_empty_on_both_backends() {
    for (backend, log) in backends().await.logs {
        let bili = "bilibili:BV1xx411c7mD";
        let sent = vec![
            comment(bili, owners()),
            comment(bili, raw("v1", "viewer", "hello", 2)),
        ];
        assert_eq!(sent[0].author.color.as_deref(), Some("#fb7299"));
        log.record(batch(bili, sent.clone())).await.unwrap();
        let feed: Vec<_> = log
            .changes_since(0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.comment)
            .collect();
        assert_eq!(feed, sent, "{backend}: the feed gives back what was stored");
        let page = log.page(Selection::default(), None, 10).await.unwrap();
        let paged: Vec<_> = page.comments.into_iter().map(|(_, c)| c).collect();
        assert!(
            paged.contains(&sent[0]) && paged.contains(&sent[1]),
            "{backend}"
        );
        let lines = jsonl(&log).await;
        let by_id = |id: &str| lines.iter().find(|l| l["id"] == id).unwrap().clone();
        let up = by_id("up1");
        assert_eq!(
            up["author"]["badges"],
            serde_json::json!(["LV6", "大会员", "主播团 12"]),
            "{backend}"
        );
        assert_eq!(up["author"]["color"], "#fb7299", "{backend}");
        assert_eq!(up["author"]["roles"], serde_json::json!(["owner"]));
        assert_eq!(
            (&up["pinned"], &up["liked_by_owner"], &up["location"]),
            (
                &serde_json::json!(true),
                &serde_json::json!(true),
                &serde_json::json!("IP属地：上海")
            ),
            "{backend}"
        );
        let v = by_id("v1");
        for absent in ["pinned", "liked_by_owner", "location"] {
            assert!(v.get(absent).is_none(), "{backend}: {absent} in {v}");
        }
        for absent in ["badges", "color"] {
            assert!(
                v["author"].get(absent).is_none(),
                "{backend}: {absent} in {v}"
            );
        }
        // The CSV export has them in its last six columns.
        let (header, rows) = csv_rows(&log).await;
        assert_eq!(
            header[13..],
            [
                "roles",
                "kind",
                "badges",
                "pinned",
                "liked_by_owner",
                "location"
            ],
            "{backend}"
        );
        let row = |id: &str| rows.iter().find(|r| r[2] == id).unwrap()[13..].to_vec();
        assert_eq!(
            row("up1"),
            [
                "owner",
                "",
                "LV6 · 大会员 · 主播团 12",
                "true",
                "true",
                "IP属地：上海"
            ],
            "{backend}"
        );
        assert_eq!(row("v1"), ["", "", "", "false", "false", ""], "{backend}");
        // The owner's comment is found by role=owner.
        let owners = Selection {
            roles: vec![Role::Owner],
            ..Selection::default()
        };
        let found = log.page(owners, None, 10).await.unwrap();
        assert_eq!(found.comments.len(), 1, "{backend}");
        assert_eq!(found.comments[0].1.id, "up1", "{backend}");
    }
}

#[tokio::test]
async fn a_stored_who_edited_on_disk_is_cleaned_again_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let bili = "bilibili:BV1xx411c7mD";
    let log = CommentLog::open(&path).unwrap();
    log.record(batch(bili, vec![comment(bili, owners())]))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE comments SET who = ?1",
        [r##"{"badges":["LV6\u202e<b>","",""],"color":"red;background:url(x)","location":"\u200b","pinned":true}"##],
    )
    .unwrap();
    drop(conn);
    let page = log.page(Selection::default(), None, 10).await.unwrap();
    let c = &page.comments[0].1;
    assert_eq!(c.author.badges, ["LV6<b>"]);
    assert_eq!(c.author.color, None);
    assert_eq!(c.location, None);
    assert!(c.pinned && !c.liked_by_owner);
}

#[tokio::test]
async fn a_log_file_from_before_who_opens_keeps_its_rows_and_stores_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let bili = "bilibili:BV1xx411c7mD";
    let log = CommentLog::open(&path).unwrap();
    log.record(batch(
        bili,
        vec![comment(bili, raw("old", "Old", "before", 1))],
    ))
    .await
    .unwrap();
    log.shut_down().await.unwrap();
    drop(log);
    // What a version-7 file looks like: no `who` column.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("ALTER TABLE comments DROP COLUMN who; PRAGMA user_version = 7;")
        .unwrap();
    drop(conn);
    let log = CommentLog::open(&path).unwrap();
    assert_eq!(log.count().await.unwrap(), 1);
    let new = comment(bili, owners());
    log.record(batch(bili, vec![new.clone()])).await.unwrap();
    let feed = log.changes_since(0, 10).await.unwrap();
    assert_eq!(feed.len(), 2);
    assert_eq!(feed[0].comment.id, "old");
    assert!(feed[0].comment.author.badges.is_empty() && !feed[0].comment.pinned);
    assert_eq!(feed[1].comment, new);
    drop(log);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 9);
}

#[tokio::test]
async fn a_postgres_log_from_before_who_is_upgraded_with_its_rows() {
    let Some(url) = crate::helpers::postgres_db().await else {
        return;
    };
    let target = store::Target::Postgres(url.clone());
    let bili = "bilibili:BV1xx411c7mD";
    let log = CommentLog::connect(&target).await.unwrap();
    log.record(batch(
        bili,
        vec![comment(bili, raw("old", "Old", "before", 1))],
    ))
    .await
    .unwrap();
    drop(log);
    // What a version-4 database looks like: no `who` column.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "ALTER TABLE comments DROP COLUMN who; \
             UPDATE meta SET value = '4' WHERE key = 'schema_version';",
        )
        .await
        .unwrap();
    let log = CommentLog::connect(&target).await.unwrap();
    assert_eq!(log.count().await.unwrap(), 1);
    let new = comment(bili, owners());
    log.record(batch(bili, vec![new.clone()])).await.unwrap();
    let feed = log.changes_since(0, 10).await.unwrap();
    assert_eq!(feed.len(), 2);
    assert_eq!(feed[0].comment.id, "old");
    assert_eq!(feed[1].comment, new);
    let version: String = client
        .query_one("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, "6");
}

#[tokio::test]
async fn a_reply_pinned_or_liked_later_is_one_update_on_both_backends() {
    for (backend, log) in backends().await.logs {
        let bili = "bilibili:BV1xx411c7mD";
        let before = || {
            let mut c = owners();
            c.pinned = false;
            c.liked_by_owner = false;
            c
        };
        // Seen first unpinned, then pinned in the same batch: one new
        // comment, one update, and the log holds it pinned.
        let first = log
            .record(batch(
                bili,
                vec![comment(bili, before()), comment(bili, owners())],
            ))
            .await
            .unwrap();
        let kinds: Vec<_> = first.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [store::ChangeKind::New, store::ChangeKind::Update],
            "{backend}"
        );
        let stored = |log: CommentLog| async move {
            let page = log.page(Selection::default(), None, 10).await.unwrap();
            page.comments[0].1.clone()
        };
        assert!(stored(log.clone()).await.pinned, "{backend}");
        // Unpinned and unliked on a later poll: an update again.
        let later = log
            .record(batch(bili, vec![comment(bili, before())]))
            .await
            .unwrap();
        assert_eq!(later.len(), 1, "{backend}");
        assert_eq!(later[0].kind, store::ChangeKind::Update, "{backend}");
        assert!(!later[0].comment.pinned && !later[0].comment.liked_by_owner);
        let now = stored(log.clone()).await;
        assert!(!now.pinned && !now.liked_by_owner, "{backend}");
        assert_eq!(
            now.author.badges,
            ["LV6", "大会员", "主播团 12"],
            "{backend}"
        );
        // The same again is no change.
        assert!(
            log.record(batch(bili, vec![comment(bili, before())]))
                .await
                .unwrap()
                .is_empty(),
            "{backend}: a repeat is no change"
        );
        // A deleted reply stays as it was.
        let mut gone = batch(bili, Vec::new());
        gone.deleted = vec!["up1".into()];
        log.record(gone).await.unwrap();
        assert!(
            log.record(batch(bili, vec![comment(bili, owners())]))
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
    }
}
