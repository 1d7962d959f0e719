//! The comment log's contract, run against both backends: a SQLite file and
//! a PostgreSQL database (when `CW_TEST_POSTGRES` names a server; CI starts
//! one). Every scenario runs on each backend and asserts the same answers,
//! and a cross-check gives both the same batches and compares what they
//! return byte for byte, exports included.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use commentwatch::domain::{Comment, RawAmount, RawComment};
use commentwatch::store::{
    self, Batch, ChangeKind, CommentLog, FeaturedOp, Flag, Format, Selection, SourceFilter, Target,
};

use crate::helpers;

/// Roles, kinds and events in the log.
#[path = "store_roles.rs"]
mod roles;

/// Filtering the log by role and by kind.
#[path = "store_role_filters.rs"]
mod role_filters;

/// Badges, name colour, the owner's marks and the location in the log.
#[path = "store_who.rs"]
mod who;

/// One log per backend, each empty. The temp dir keeps the SQLite file.
struct Backends {
    logs: Vec<(&'static str, CommentLog)>,
    _dir: tempfile::TempDir,
}

async fn backends() -> Backends {
    let dir = tempfile::tempdir().unwrap();
    let file = Target::File(dir.path().join("log.db"));
    let mut logs = vec![("sqlite", CommentLog::connect(&file).await.unwrap())];
    if let Some(url) = helpers::postgres_db().await {
        logs.push((
            "postgres",
            CommentLog::connect(&Target::Postgres(url)).await.unwrap(),
        ));
    }
    Backends { logs, _dir: dir }
}

fn raw(id: &str, author: &str, text: &str, minute: i64) -> RawComment {
    RawComment {
        id: id.into(),
        author_name: author.into(),
        author_id: format!("UC-{author}"),
        text: text.into(),
        published_at: Some(
            Utc.with_ymd_and_hms(2026, 5, 1, 20, 0, 0).unwrap() + chrono::Duration::minutes(minute),
        ),
        ..RawComment::default()
    }
}

/// `raw` as the platform reports it after its author edited it.
fn edit(mut raw: RawComment) -> RawComment {
    raw.updated_at = raw.published_at.map(|t| t + chrono::Duration::minutes(30));
    raw
}

fn comment(source: &str, raw: RawComment) -> Comment {
    let at = raw.published_at.unwrap();
    commentwatch::sanitize::sanitize(source, raw, at).expect("a valid comment")
}

fn batch(source: &str, comments: Vec<Comment>) -> Batch {
    Batch {
        source: source.into(),
        comments,
        ..Batch::default()
    }
}

/// A small log with something of everything: scripts, a reply, a paid
/// message, an edit and a deletion, two platforms.
async fn fill(log: &CommentLog) {
    let yt = "youtube:vid1";
    let bili = "bilibili:BV1xx";
    let mut paid = raw("p1", "Rich", "Super Chat! 100% _love_", 5);
    paid.amount = Some(RawAmount {
        display: "$5.00".into(),
        micros: 5_000_000,
        currency: "USD".into(),
    });
    let mut reply = raw("r1", "Alice", "@Bob agreed", 6);
    reply.reply_to = Some("c2".into());
    log.record(batch(
        yt,
        vec![
            comment(yt, raw("c1", "Alice", "Hello World from Berlin", 1)),
            comment(yt, raw("c2", "Bob", "主播今天好帅 草", 2)),
            comment(yt, raw("c3", "ÉMILE", "Ça va? 👍 =1+1", 3)),
            comment(yt, paid),
            comment(yt, reply),
        ],
    ))
    .await
    .unwrap();
    log.record(batch(
        bili,
        vec![
            comment(bili, raw("b1", "弹幕君", "哈哈哈哈 主播加油", 4)),
            comment(bili, raw("b2", "Carol", "first time here", 7)),
        ],
    ))
    .await
    .unwrap();
    // An edit and a deletion, each a change of its own.
    let edited = edit(raw("c1", "Alice", "Hello World from Hamburg", 1));
    log.record(batch(yt, vec![comment(yt, edited)]))
        .await
        .unwrap();
    log.record(Batch {
        source: bili.into(),
        deleted: vec!["b2".into()],
        ..Batch::default()
    })
    .await
    .unwrap();
}

fn ids(page: &store::Page) -> Vec<String> {
    page.comments.iter().map(|(_, c)| c.id.clone()).collect()
}

async fn search(log: &CommentLog, sel: Selection) -> Vec<String> {
    ids(&log.page(sel, None, 100).await.unwrap())
}

fn q(text: &str) -> Selection {
    Selection {
        q: Some(text.into()),
        ..Selection::default()
    }
}

#[tokio::test]
async fn the_change_feed_numbers_new_comments_edits_and_deletions_once_each() {
    for (backend, log) in backends().await.logs {
        assert_eq!(log.latest_seq().await.unwrap(), 0, "{backend}");
        let yt = "youtube:v";
        let first = log
            .record(batch(
                yt,
                vec![
                    comment(yt, raw("a", "A", "one", 1)),
                    comment(yt, raw("b", "B", "two", 2)),
                ],
            ))
            .await
            .unwrap();
        assert_eq!(
            first.iter().map(|c| c.seq).collect::<Vec<_>>(),
            [1, 2],
            "{backend}"
        );
        // The same comments again (an overlapping page): nothing changes.
        let again = log
            .record(batch(
                yt,
                vec![
                    comment(yt, raw("a", "A", "one", 1)),
                    comment(yt, raw("c", "C", "three", 3)),
                ],
            ))
            .await
            .unwrap();
        assert_eq!(again.len(), 1, "{backend}: only the new one");
        assert_eq!((again[0].seq, again[0].comment.id.as_str()), (3, "c"));
        // An edit, a deletion, and a deletion of something never stored.
        let edit = edit(raw("a", "A", "one, edited", 1));
        let changes = log
            .record(Batch {
                source: yt.into(),
                comments: vec![comment(yt, edit)],
                deleted: vec!["b".into(), "never-seen".into()],
                cursor: Some("cursor-1".into()),
                quota: None,
                ..Batch::default()
            })
            .await
            .unwrap();
        let kinds: Vec<_> = changes.iter().map(|c| (c.seq, c.kind)).collect();
        assert_eq!(
            kinds,
            [(4, ChangeKind::Update), (5, ChangeKind::Delete)],
            "{backend}"
        );
        let feed = log.changes_since(0, 100).await.unwrap();
        assert_eq!(
            feed.iter().map(|c| c.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5],
            "{backend}"
        );
        assert_eq!(feed[3].comment.text, "one, edited");
        assert!(feed[3].comment.edited);
        assert!(
            feed[4].comment.deleted,
            "{backend}: the deletion carries the comment"
        );
        assert_eq!(log.changes_since(3, 1).await.unwrap()[0].seq, 4);
        assert_eq!(log.latest_seq().await.unwrap(), 5);
        assert_eq!(log.count().await.unwrap(), 3);
        assert_eq!(
            log.cursor(yt.into()).await.unwrap().as_deref(),
            Some("cursor-1")
        );
        assert_eq!(log.cursor("other".into()).await.unwrap(), None);
        assert!(log.has_source(yt.into()).await.unwrap());
        assert!(!log.has_source("youtube:other".into()).await.unwrap());
        let known = log
            .known_ids(yt.into(), vec!["a".into(), "zzz".into(), "c".into()])
            .await
            .unwrap();
        assert_eq!(
            known,
            HashSet::from(["a".to_owned(), "c".to_owned()]),
            "{backend}"
        );
        let stored = log.comment(yt.into(), "a".into()).await.unwrap().unwrap();
        assert_eq!(stored.text, "one, edited", "{backend}");
        assert_eq!(
            log.recent_start(2).await.unwrap(),
            1,
            "{backend}: replay from after seq 1"
        );
        assert_eq!(
            log.recent(10)
                .await
                .unwrap()
                .iter()
                .map(|(s, _)| *s)
                .collect::<Vec<_>>(),
            [3, 2, 1],
            "{backend}: a comment keeps the seq that created it"
        );
    }
}

#[tokio::test]
async fn quota_is_counted_per_day_and_reserved_only_within_the_budget() {
    for (backend, log) in backends().await.logs {
        let day = "2026-05-01".to_owned();
        log.record(Batch {
            source: "youtube:v".into(),
            quota: Some((day.clone(), 3)),
            ..Batch::default()
        })
        .await
        .unwrap();
        assert_eq!(log.quota_used(day.clone()).await.unwrap(), 3, "{backend}");
        assert_eq!(
            log.reserve_quota(day.clone(), 5, 10).await.unwrap(),
            Some(8),
            "{backend}"
        );
        assert_eq!(
            log.reserve_quota(day.clone(), 5, 10).await.unwrap(),
            None,
            "{backend}: 13 would pass the budget of 10"
        );
        assert_eq!(log.quota_used(day.clone()).await.unwrap(), 8, "{backend}");
        // Giving units back always fits.
        assert_eq!(
            log.reserve_quota(day.clone(), -5, i64::MAX).await.unwrap(),
            Some(3)
        );
        // A fresh day starts from nothing, and a reservation larger than
        // the whole budget never fits.
        assert_eq!(
            log.reserve_quota("2026-05-02".into(), 11, 10)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            log.quota_used("2026-05-02".into()).await.unwrap(),
            0,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn the_on_stream_queue_is_kept_in_order_and_trimmed_to_its_size() {
    for (backend, log) in backends().await.logs {
        let add = |id: &str| FeaturedOp::Add {
            source: "demo".into(),
            id: id.into(),
            max: 3,
        };
        for id in ["a", "b", "a", "c", "d"] {
            log.change_featured(add(id)).await.unwrap();
        }
        let ids = |q: Vec<(String, String)>| q.into_iter().map(|(_, id)| id).collect::<Vec<_>>();
        assert_eq!(
            ids(log.featured().await.unwrap()),
            ["b", "c", "d"],
            "{backend}: featured again keeps its place; the oldest made room"
        );
        log.change_featured(FeaturedOp::Remove {
            source: "demo".into(),
            id: "c".into(),
        })
        .await
        .unwrap();
        assert_eq!(ids(log.featured().await.unwrap()), ["b", "d"], "{backend}");
        log.change_featured(FeaturedOp::Clear).await.unwrap();
        assert!(log.featured().await.unwrap().is_empty(), "{backend}");
    }
}

#[tokio::test]
async fn hidden_entries_are_kept_unhidden_ones_are_remembered_and_seeding_adds_only_the_unknown() {
    for (backend, log) in backends().await.logs {
        let e = |key: &str, entry: &str| (key.to_owned(), entry.to_owned());
        assert_eq!(
            log.seed_hidden(vec![e("spam", "Spam"), e("author:bot", "author:Bot")])
                .await
                .unwrap(),
            2,
            "{backend}"
        );
        assert!(
            log.set_hidden("author:troll".into(), "author:Troll".into(), true)
                .await
                .unwrap()
        );
        assert!(
            !log.set_hidden("author:troll".into(), "AUTHOR:troll".into(), true)
                .await
                .unwrap(),
            "{backend}: hidden already"
        );
        assert_eq!(
            log.hidden().await.unwrap(),
            ["Spam", "author:Bot", "author:Troll"],
            "{backend}: as typed, in the order hidden"
        );
        assert!(
            log.set_hidden("spam".into(), "spam".into(), false)
                .await
                .unwrap()
        );
        assert!(
            !log.set_hidden("spam".into(), "spam".into(), false)
                .await
                .unwrap(),
            "{backend}: unhidden already"
        );
        assert!(
            !log.set_hidden("never".into(), "never".into(), false)
                .await
                .unwrap(),
            "{backend}: never hidden"
        );
        // Seeding again (a restart with the same CW_BLOCK and one more entry)
        // brings back nothing the streamer unhid.
        assert_eq!(
            log.seed_hidden(vec![
                e("spam", "spam"),
                e("author:bot", "author:Bot"),
                e("new", "new")
            ])
            .await
            .unwrap(),
            1,
            "{backend}"
        );
        assert_eq!(
            log.hidden().await.unwrap(),
            ["author:Bot", "author:Troll", "new"],
            "{backend}"
        );
        // Hidden again by hand: back, at the end.
        assert!(
            log.set_hidden("spam".into(), "SPAM".into(), true)
                .await
                .unwrap()
        );
        assert_eq!(
            log.hidden().await.unwrap(),
            ["author:Bot", "author:Troll", "new", "SPAM"],
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_log_file_from_before_the_hidden_list_opens_and_keeps_its_comments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let log = CommentLog::open(&path).unwrap();
    fill(&log).await;
    let count = log.count().await.unwrap();
    log.shut_down().await.unwrap();
    drop(log);
    // What a version-5 file looks like: no queue, no hidden list.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TABLE featured; DROP TABLE hidden; PRAGMA user_version = 5;")
        .unwrap();
    drop(conn);
    let log = CommentLog::open(&path).unwrap();
    assert_eq!(log.count().await.unwrap(), count);
    assert!(log.hidden().await.unwrap().is_empty());
    assert!(log.featured().await.unwrap().is_empty());
    log.set_hidden("spam".into(), "spam".into(), true)
        .await
        .unwrap();
    assert_eq!(log.hidden().await.unwrap(), ["spam"]);
}

#[tokio::test]
async fn search_finds_substrings_of_any_length_in_any_script_and_nothing_else() {
    for (backend, log) in backends().await.logs {
        fill(&log).await;
        let cases: &[(&str, &[&str])] = &[
            // One and two CJK characters, then longer.
            ("草", &["c2"]),
            ("主播", &["b1", "c2"]),
            ("主播加油", &["b1"]),
            ("哈哈哈哈", &["b1"]),
            // Case-insensitive, accents included; author names too.
            ("hello world", &["c1"]),
            ("HAMBURG", &["c1"]),
            ("berlin", &[]),
            ("émile", &["c3"]),
            ("ça", &["c3"]),
            ("👍", &["c3"]),
            ("弹幕", &["b1"]),
            // LIKE and FTS syntax is only text.
            ("100%", &["p1"]),
            ("_love_", &["p1"]),
            ("%", &["p1"]),
            ("_", &["p1"]),
            ("\"", &[]),
            ("=1+1", &["c3"]),
        ];
        for (text, want) in cases {
            assert_eq!(search(&log, q(text)).await, *want, "{backend}: q={text:?}");
        }
    }
}

#[tokio::test]
async fn filters_select_the_same_comments_on_both_backends() {
    for (backend, log) in backends().await.logs {
        fill(&log).await;
        let flag = |f: fn(&mut Selection)| {
            let mut s = Selection::default();
            f(&mut s);
            s
        };
        let cases: Vec<(&str, Selection, &[&str])> = vec![
            (
                "platform",
                flag(|s| s.source = Some(SourceFilter::Platform("bilibili"))),
                &["b2", "b1"],
            ),
            (
                "exact source",
                flag(|s| s.source = Some(SourceFilter::Exact("youtube:vid1".into()))),
                &["r1", "p1", "c3", "c2", "c1"],
            ),
            (
                "author by name, any case",
                flag(|s| s.author = Some("alice".into())),
                &["r1", "c1"],
            ),
            (
                "author by id",
                flag(|s| s.author = Some("UC-Bob".into())),
                &["c2"],
            ),
            ("deleted", flag(|s| s.deleted = Flag::Only), &["b2"]),
            ("edited", flag(|s| s.edited = Flag::Only), &["c1"]),
            ("replies", flag(|s| s.replies = Flag::Only), &["r1"]),
            ("paid", flag(|s| s.paid = Flag::Only), &["p1"]),
            (
                "not paid, not deleted",
                flag(|s| {
                    s.paid = Flag::Without;
                    s.deleted = Flag::Without;
                }),
                &["b1", "r1", "c3", "c2", "c1"],
            ),
            (
                "since and until",
                flag(|s| {
                    s.since = Some(Utc.with_ymd_and_hms(2026, 5, 1, 20, 3, 0).unwrap());
                    s.until = Some(Utc.with_ymd_and_hms(2026, 5, 1, 20, 6, 0).unwrap());
                }),
                &["b1", "p1", "c3"],
            ),
            (
                "highlighted",
                flag(|s| {
                    s.highlighted = Flag::Only;
                    s.highlight_words = vec!["加油".into(), "super".into()];
                }),
                &["b1", "p1"],
            ),
            (
                "search within an author",
                flag(|s| {
                    s.q = Some("b".into());
                    s.author = Some("Alice".into());
                }),
                &["r1", "c1"],
            ),
        ];
        for (what, sel, want) in cases {
            assert_eq!(search(&log, sel.clone()).await, want, "{backend}: {what}");
            assert_eq!(
                log.count_matching(sel).await.unwrap(),
                want.len() as u64,
                "{backend}: count of {what}"
            );
        }
        assert_eq!(
            log.sources().await.unwrap(),
            ["bilibili:BV1xx", "youtube:vid1"],
            "{backend}"
        );
        log.mark_featured("youtube:vid1".into(), "c2".into())
            .await
            .unwrap();
        let featured = flag(|s| s.featured = Flag::Only);
        assert_eq!(search(&log, featured).await, ["c2"], "{backend}");
    }
}

#[tokio::test]
async fn keyset_pages_walk_the_whole_log_newest_first_without_repeats() {
    for (backend, log) in backends().await.logs {
        let src = "generic:shop";
        for chunk in 0..5 {
            let comments = (0..50)
                .map(|i| {
                    let n = chunk * 50 + i;
                    comment(
                        src,
                        raw(&format!("id{n:03}"), "Shopper", &format!("order {n}"), n),
                    )
                })
                .collect();
            log.record(batch(src, comments)).await.unwrap();
        }
        let mut before = None;
        let mut seen = Vec::new();
        loop {
            let page = log.page(Selection::default(), before, 100).await.unwrap();
            seen.extend(page.comments.iter().map(|(s, _)| *s));
            match page.next_before_seq {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, (1..=250).rev().collect::<Vec<i64>>(), "{backend}");
        // A search pages the same way.
        let sel = q("order 1");
        let first = log.page(sel.clone(), None, 50).await.unwrap();
        let rest = log.page(sel, first.next_before_seq, 500).await.unwrap();
        // "order 1", "order 10".."order 19", "order 100".."order 199".
        assert_eq!(first.comments.len() + rest.comments.len(), 111, "{backend}");
        assert_eq!(rest.next_before_seq, None);
    }
}

#[tokio::test]
async fn retention_prunes_old_comments_and_seq_never_goes_back() {
    for (backend, log) in backends().await.logs {
        fill(&log).await;
        let latest = log.latest_seq().await.unwrap();
        let pruned = log
            .prune(Utc::now() + chrono::Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(pruned, 7, "{backend}");
        assert_eq!(log.count().await.unwrap(), 0);
        assert!(
            log.changes_since(0, 10).await.unwrap().is_empty(),
            "{backend}"
        );
        let src = "demo";
        let new = log
            .record(batch(src, vec![comment(src, raw("n1", "N", "after", 9))]))
            .await
            .unwrap();
        assert_eq!(new[0].seq, latest + 1, "{backend}: numbering goes on");
    }
}

#[tokio::test]
async fn both_backends_answer_exports_stats_and_the_feed_identically() {
    let backends = backends().await;
    let outputs = {
        let mut all = Vec::new();
        for (backend, log) in &backends.logs {
            fill(log).await;
            // As the server does before an export that searches.
            log.index_pending().await.unwrap();
            let stats = log.stats(Selection::default()).await.unwrap();
            let feed = log.changes_since(0, 100).await.unwrap();
            let mut exports = Vec::new();
            for (format, sel) in [
                (Format::Csv { bom: true }, Selection::default()),
                (Format::Jsonl, Selection::default()),
                (Format::Csv { bom: false }, q("主播")),
            ] {
                let log = log.clone();
                // Exports read on a blocking thread, as the server runs them.
                let bytes = tokio::task::spawn_blocking(move || {
                    let mut reader = log.reader().unwrap();
                    let mut out = Vec::new();
                    store::export(&mut reader, &sel, None, None, format, &mut out, &mut |_| {})
                        .unwrap();
                    out
                })
                .await
                .unwrap();
                exports.push(String::from_utf8(bytes).unwrap());
            }
            all.push((*backend, stats, feed, exports));
        }
        all
    };
    let (_, stats, feed, exports) = &outputs[0];
    assert_eq!(stats.total, 7);
    assert!(exports[0].starts_with("\u{feff}seq,source,id,"));
    assert!(
        exports[0].contains(",'@Bob agreed,"),
        "a cell that starts a formula is neutralised: {}",
        exports[0]
    );
    assert_eq!(exports[1].lines().count(), 7);
    assert_eq!(exports[2].lines().count(), 3, "a header and two rows");
    for (backend, other_stats, other_feed, other_exports) in &outputs[1..] {
        assert_eq!(other_stats, stats, "{backend}: stats");
        assert_eq!(other_feed, feed, "{backend}: the change feed");
        for (i, (a, b)) in exports.iter().zip(other_exports).enumerate() {
            assert_eq!(a, b, "{backend}: export {i}");
        }
    }
}

#[tokio::test]
async fn the_log_id_belongs_to_the_log_and_survives_reconnecting() {
    let Some(url) = helpers::postgres_db().await else {
        return;
    };
    let target = Target::Postgres(url);
    let first = CommentLog::connect(&target).await.unwrap();
    let again = CommentLog::connect(&target).await.unwrap();
    assert_eq!(first.log_id(), again.log_id());
    assert_eq!(first.log_id().len(), 16);
    let other = CommentLog::connect(&Target::Postgres(helpers::postgres_db().await.unwrap()))
        .await
        .unwrap();
    assert_ne!(first.log_id(), other.log_id());
}

/// Four writers insert 10,000 comments each while a reader follows the
/// feed with `since`: the reader must see every change exactly once, in
/// order, with no gaps, even though the writers commit concurrently.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_leave_a_gap_behind_a_reader() {
    const WRITERS: usize = 4;
    const PER_WRITER: usize = 10_000;
    const BATCH: usize = 50;
    for (backend, log) in backends().await.logs {
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let log = log.clone();
            writers.push(tokio::spawn(async move {
                let src = format!("generic:w{w}");
                for start in (0..PER_WRITER).step_by(BATCH) {
                    let comments = (start..start + BATCH)
                        .map(|i| comment(&src, raw(&format!("{w}-{i}"), "W", "hi", 0)))
                        .collect();
                    log.record(batch(&src, comments)).await.unwrap();
                }
            }));
        }
        let total = (WRITERS * PER_WRITER) as i64;
        let reader = {
            let log = log.clone();
            tokio::spawn(async move {
                let mut last = 0i64;
                let mut ids = HashSet::new();
                let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
                while last < total {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the reader stalled at {last}"
                    );
                    let changes = log.changes_since(last, 700).await.unwrap();
                    for c in &changes {
                        assert_eq!(c.seq, last + 1, "a gap or a repeat after seq {last}");
                        last = c.seq;
                        assert!(ids.insert(c.comment.id.clone()), "{} twice", c.comment.id);
                    }
                    if changes.is_empty() {
                        tokio::task::yield_now().await;
                    }
                }
                ids.len()
            })
        };
        for w in writers {
            w.await.unwrap();
        }
        let seen = reader.await.unwrap();
        assert_eq!(seen, WRITERS * PER_WRITER, "{backend}");
        assert_eq!(log.latest_seq().await.unwrap(), total, "{backend}");
    }
}

#[tokio::test]
async fn a_batch_that_repeats_a_new_comment_stores_it_once_and_its_edit_as_an_update() {
    for (backend, log) in backends().await.logs {
        let src = "generic:shop";
        let changes = log
            .record(batch(
                src,
                vec![
                    comment(src, raw("n1", "A", "first words", 1)),
                    comment(src, raw("n2", "B", "other", 2)),
                    comment(src, raw("n1", "A", "first words", 1)),
                    comment(src, edit(raw("n1", "A", "second words", 1))),
                ],
            ))
            .await
            .unwrap();
        let kinds: Vec<_> = changes
            .iter()
            .map(|c| (c.seq, c.kind, c.comment.id.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (1, ChangeKind::New, "n1"),
                (2, ChangeKind::New, "n2"),
                (3, ChangeKind::Update, "n1")
            ],
            "{backend}"
        );
        let stored = log.comment(src.into(), "n1".into()).await.unwrap().unwrap();
        assert_eq!(
            (stored.text.as_str(), stored.edited),
            ("second words", true),
            "{backend}"
        );
        let feed = log.changes_since(0, 10).await.unwrap();
        assert_eq!(feed.len(), 3, "{backend}");
        assert_eq!(feed[2].comment.text, "second words");
        assert_eq!(
            search(&log, q("second")).await,
            ["n1"],
            "{backend}: search sees the edit"
        );
        assert_eq!(log.count().await.unwrap(), 2);
    }
}

/// `sslmode` and `sslrootcert` in `CW_DB` work as in libpq. The test server
/// from `.ci/postgres` speaks TLS with a certificate from its own CA.
#[tokio::test]
async fn connections_to_postgres_are_encrypted_and_checked_as_sslmode_says() {
    let Some(url) = helpers::postgres_db().await else {
        return;
    };
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let ca: String = db.query_one("SHOW ssl_ca_file", &[]).await.unwrap().get(0);
    let ssl: String = db.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    if ssl != "on" || ca.is_empty() {
        assert!(
            !helpers::required(helpers::Need::Postgres),
            "the CI server must speak TLS (see .ci/postgres)"
        );
        eprintln!("skipping: the PostgreSQL server does not speak TLS");
        return;
    }
    // Whether every connection a log opened (pool, LISTEN, locks) is TLS.
    let encrypted = async |name: &str| -> Vec<bool> {
        db.query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
             WHERE a.datname = current_database() AND a.application_name = $1",
            &[&name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let with = |query: &str| Target::Postgres(format!("{url}?application_name=cw-{query}"));
    for (query, want_tls) in [
        ("x&sslmode=disable", false),
        ("y&sslmode=prefer", true),
        ("z&sslmode=require", true),
    ] {
        let target = with(query);
        let log = CommentLog::connect(&target).await.unwrap();
        log.latest_seq().await.unwrap();
        let name = format!("cw-{}", &query[..1]);
        let seen = encrypted(&name).await;
        assert!(
            !seen.is_empty() && seen.iter().all(|s| *s == want_tls),
            "{query}: {seen:?}"
        );
        log.shut_down().await.unwrap();
    }
    // verify-full trusts only the given CA (or the system's roots).
    let good = with(&format!("v&sslmode=verify-full&sslrootcert={ca}"));
    let log = CommentLog::connect(&good).await.unwrap();
    log.latest_seq().await.unwrap();
    assert_eq!(encrypted("cw-v").await, [true]);
    let err = CommentLog::connect(&with("w&sslmode=verify-full"))
        .await
        .err()
        .expect("a certificate from an unknown CA is refused")
        .to_string();
    assert!(err.contains("certificate"), "{err}");
    let err = CommentLog::connect(&with("u&sslmode=verify-full&sslrootcert=/nonexistent.pem"))
        .await
        .err()
        .expect("a missing CA file is an error")
        .to_string();
    assert!(err.contains("sslrootcert=/nonexistent.pem"), "{err}");
}
