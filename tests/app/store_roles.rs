//! Who is speaking and what kind of message it is, in the log: roles,
//! membership level, kind and event details stored and read back alike on
//! both backends (feed, pages, JSONL export), and a log from before they
//! existed upgraded with its rows kept. A part of `store_suite`.

use commentwatch::domain::{Event, EventType, Kind, RawComment, Role};
use commentwatch::store::{self, CommentLog, Format, Selection};

use super::{backends, batch, comment, raw};

/// A member's milestone by a moderator, and a plain viewer's text.
fn speaking() -> (RawComment, RawComment) {
    let mut milestone = raw("m1", "Mo", "two years already!", 1);
    milestone.roles = vec![Role::Member, Role::Moderator];
    milestone.member_level = Some("Gold".into());
    milestone.kind = Kind::Membership;
    let mut event = Event::new(EventType::Milestone);
    event.months = Some(24);
    event.level = Some("Gold".into());
    event.image = Some("https://yt3.ggpht.com/badge.png".into());
    milestone.event = Some(event);
    (milestone, raw("t1", "Viewer", "hello", 2))
}

async fn jsonl(log: &CommentLog) -> String {
    let log = log.clone();
    tokio::task::spawn_blocking(move || {
        let mut reader = log.reader().unwrap();
        let mut out = Vec::new();
        let sel = Selection::default();
        store::export(
            &mut reader,
            &sel,
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
    .unwrap()
}

#[tokio::test]
async fn roles_kinds_and_events_are_kept_and_absent_when_empty_on_both_backends() {
    for (backend, log) in backends().await.logs {
        let yt = "youtube-live:v";
        let (milestone, plain) = speaking();
        let sent = vec![comment(yt, milestone), comment(yt, plain)];
        log.record(batch(yt, sent.clone())).await.unwrap();
        let feed: Vec<_> = log
            .changes_since(0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.comment)
            .collect();
        assert_eq!(feed, sent, "{backend}: the feed gives back what was stored");
        let m = &feed[0];
        assert_eq!(m.author.roles, [Role::Moderator, Role::Member], "{backend}");
        assert_eq!(m.kind, Kind::Membership, "{backend}");
        let page = log.page(Selection::default(), None, 10).await.unwrap();
        let paged: Vec<_> = page.comments.iter().map(|(_, c)| c.clone()).collect();
        assert!(
            paged.contains(&sent[0]) && paged.contains(&sent[1]),
            "{backend}"
        );
        let export = jsonl(&log).await;
        let lines: Vec<serde_json::Value> = export
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let by_id = |id: &str| lines.iter().find(|l| l["id"] == id).unwrap().clone();
        let m = by_id("m1");
        assert_eq!(
            m["author"]["roles"],
            serde_json::json!(["moderator", "member"])
        );
        assert_eq!(m["author"]["member_level"], "Gold");
        assert_eq!(m["kind"], "membership");
        assert_eq!(
            m["event"],
            serde_json::json!({"type":"milestone","months":24,"level":"Gold",
                "image":"https://yt3.ggpht.com/badge.png"}),
            "{backend}"
        );
        let t = by_id("t1");
        for absent in ["kind", "event"] {
            assert!(t.get(absent).is_none(), "{backend}: {absent} in {t}");
        }
        assert!(t["author"].get("roles").is_none(), "{backend}: {t}");
        assert!(t["author"].get("member_level").is_none(), "{backend}: {t}");
    }
}

#[tokio::test]
async fn a_log_file_from_before_roles_and_kinds_opens_keeps_its_rows_and_stores_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let yt = "youtube-live:v";
    let log = CommentLog::open(&path).unwrap();
    log.record(batch(yt, vec![comment(yt, raw("old", "Old", "before", 1))]))
        .await
        .unwrap();
    log.shut_down().await.unwrap();
    drop(log);
    // What a version-6 file looks like: none of the four columns.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP INDEX comments_kind; DROP INDEX comments_roles; ALTER TABLE comments DROP COLUMN roles; \
         ALTER TABLE comments DROP COLUMN member_level; ALTER TABLE comments DROP COLUMN kind; \
         ALTER TABLE comments DROP COLUMN event; PRAGMA user_version = 6;",
    )
    .unwrap();
    drop(conn);
    let log = CommentLog::open(&path).unwrap();
    assert_eq!(log.count().await.unwrap(), 1);
    let (milestone, _) = speaking();
    let new = comment(yt, milestone);
    log.record(batch(yt, vec![new.clone()])).await.unwrap();
    let feed = log.changes_since(0, 10).await.unwrap();
    assert_eq!(feed.len(), 2);
    assert_eq!(feed[0].comment.id, "old");
    assert_eq!(feed[0].comment.kind, Kind::Text);
    assert_eq!(feed[1].comment, new);
    drop(log);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 9);
}

#[tokio::test]
async fn a_postgres_log_from_before_roles_and_kinds_is_upgraded_with_its_rows() {
    let Some(url) = crate::helpers::postgres_db().await else {
        return;
    };
    let target = store::Target::Postgres(url.clone());
    let yt = "youtube-live:v";
    let log = CommentLog::connect(&target).await.unwrap();
    log.record(batch(yt, vec![comment(yt, raw("old", "Old", "before", 1))]))
        .await
        .unwrap();
    drop(log);
    // What a version-3 database looks like: none of the four columns.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "DROP INDEX comments_kind; ALTER TABLE comments DROP COLUMN roles, \
             DROP COLUMN member_level, DROP COLUMN kind, DROP COLUMN event; \
             UPDATE meta SET value = '3' WHERE key = 'schema_version';",
        )
        .await
        .unwrap();
    let log = CommentLog::connect(&target).await.unwrap();
    assert_eq!(log.count().await.unwrap(), 1);
    let (milestone, _) = speaking();
    let new = comment(yt, milestone);
    log.record(batch(yt, vec![new.clone()])).await.unwrap();
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
async fn a_banned_author_loses_every_message_in_that_source_only_on_both_backends() {
    for (backend, log) in backends().await.logs {
        let (chat, other) = ("youtube-live:v", "youtube-live:w");
        log.record(batch(
            chat,
            vec![
                comment(chat, raw("t1", "Troll", "spam one", 1)),
                comment(chat, raw("k1", "Kind", "hello", 2)),
                comment(chat, raw("t2", "Troll", "spam two", 3)),
            ],
        ))
        .await
        .unwrap();
        log.record(batch(
            other,
            vec![comment(other, raw("t3", "Troll", "elsewhere", 4))],
        ))
        .await
        .unwrap();
        let mut ban = batch(chat, Vec::new());
        ban.deleted = vec!["t2".into()];
        ban.banned_authors = vec!["UC-Troll".into(), String::new()];
        let changes = log.record(ban.clone()).await.unwrap();
        let deleted: Vec<_> = changes
            .iter()
            .map(|c| (c.seq, c.kind, c.comment.id.as_str()))
            .collect();
        assert_eq!(
            deleted,
            [
                (5, store::ChangeKind::Delete, "t2"),
                (6, store::ChangeKind::Delete, "t1")
            ],
            "{backend}: each once, the other source untouched"
        );
        assert!(
            log.record(ban).await.unwrap().is_empty(),
            "{backend}: a repeated ban changes nothing"
        );
        let feed = log.changes_since(4, 10).await.unwrap();
        assert_eq!(feed.len(), 2, "{backend}: replayed as deletions");
        assert!(feed.iter().all(|c| c.comment.deleted), "{backend}");
    }
}

/// A gift under `id` with combo count `count`.
fn gift(id: &str, count: u32) -> RawComment {
    let mut c = raw(id, "Giver", "sent a Rose", 1);
    c.kind = Kind::Gift;
    let mut e = Event::new(EventType::Gift);
    e.name = Some("Rose".into());
    e.count = Some(count);
    c.event = Some(e);
    c
}

#[tokio::test]
async fn an_event_that_changes_under_its_id_is_one_update_on_both_backends() {
    for (backend, log) in backends().await.logs {
        let yt = "youtube-live:v";
        // New, then its combo grows within the same batch: one new comment
        // holding the latest count.
        let first = log
            .record(batch(
                yt,
                vec![comment(yt, gift("g1", 1)), comment(yt, gift("g1", 2))],
            ))
            .await
            .unwrap();
        let kinds: Vec<_> = first.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [store::ChangeKind::New, store::ChangeKind::Update],
            "{backend}"
        );
        let stored = |feed: Vec<store::Change>| feed.last().unwrap().comment.clone();
        let page = log.page(Selection::default(), None, 10).await.unwrap();
        assert_eq!(
            page.comments[0].1.event.as_ref().unwrap().count,
            Some(2),
            "{backend}"
        );
        // Later: a bigger combo is an update; the same again is nothing.
        let later = log
            .record(batch(yt, vec![comment(yt, gift("g1", 5))]))
            .await
            .unwrap();
        assert_eq!(later.len(), 1, "{backend}");
        assert_eq!(later[0].kind, store::ChangeKind::Update, "{backend}");
        assert_eq!(
            stored(later).event.unwrap().count,
            Some(5),
            "{backend}: the update carries the new count"
        );
        assert!(
            log.record(batch(yt, vec![comment(yt, gift("g1", 5))]))
                .await
                .unwrap()
                .is_empty(),
            "{backend}: a repeat is no change"
        );
        let page = log.page(Selection::default(), None, 10).await.unwrap();
        assert_eq!(page.comments.len(), 1, "{backend}");
        assert_eq!(
            page.comments[0].1.event.as_ref().unwrap().count,
            Some(5),
            "{backend}"
        );
        // A retracted gift stays retracted.
        let mut gone = batch(yt, Vec::new());
        gone.deleted = vec!["g1".into()];
        log.record(gone).await.unwrap();
        assert!(
            log.record(batch(yt, vec![comment(yt, gift("g1", 9))]))
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
    }
}
