//! The live feed over `/ws`: demo comments arrive in `seq` order with the
//! whole COMMENT shape, a reconnect with `since` misses nothing and repeats
//! nothing, and a restart publishes nothing twice.

use std::time::Duration;

use commentwatch::hub::Hub;
use commentwatch::poller::{Pipeline, poll_once};
use commentwatch::source::demo::DemoSource;
use commentwatch::store::CommentLog;
use serde_json::Value;

use crate::helpers::{seqs, spawn_app, spawn_app_on};

/// Checks one comment frame against the COMMENT shape in docs/PROTOCOL.md.
fn assert_comment_shape(frame: &Value) {
    assert_eq!(frame["type"], "comment");
    assert!(frame["seq"].as_i64().is_some_and(|s| s > 0), "{frame}");
    let c = &frame["comment"];
    let obj = c.as_object().expect("comment is an object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "amount",
            "author",
            "deleted",
            "edited",
            "fetched_at",
            "html",
            "id",
            "likes",
            "published_at",
            "reply_to",
            "source",
            "text"
        ]
    );
    assert!(c["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(c["source"], "demo");
    let author = c["author"].as_object().expect("author object");
    assert!(author["name"].is_string() && author["id"].is_string());
    assert!(
        author["avatar"].is_null() || author["avatar"].as_str().unwrap().starts_with("https://")
    );
    assert!(c["text"].is_string() && c["html"].is_string());
    for t in ["published_at", "fetched_at"] {
        let s = c[t].as_str().expect("a time string");
        chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|_| panic!("{t} is RFC 3339: {s}"));
    }
    assert!(c["likes"].as_i64().is_some_and(|l| l >= 0));
    assert!(c["reply_to"].is_null() || c["reply_to"].is_string());
    let amount = &c["amount"];
    assert!(
        amount.is_null()
            || (amount["display"].is_string()
                && amount["micros"].is_i64()
                && amount["currency"].is_string()),
        "{amount}"
    );
    assert_eq!(c["edited"], false);
    assert_eq!(c["deleted"], false);
}

#[tokio::test]
async fn demo_comments_reach_a_client_in_seq_order_with_every_field() {
    let app = spawn_app(&[("CW_DEMO_RATE", "600"), ("CW_POLL", "1s")]).await;
    let mut client = app.connect(None).await;

    let status = client.next_frame().await.expect("status after hello");
    assert_eq!(status["type"], "status", "{status}");
    let sources = status["sources"].as_array().expect("sources array");
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["source"], "demo");
    for field in [
        "state",
        "detail",
        "last_ok",
        "last_error",
        "next_poll",
        "quota_used",
    ] {
        assert!(
            sources[0].get(field).is_some(),
            "status lacks {field}: {status}"
        );
    }

    // The backlog of 20 and then live ones from later polls.
    let comments = client.comments(30).await;
    for c in &comments {
        assert_comment_shape(c);
    }
    let seqs = seqs(&comments);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq order: {seqs:?}");
    let ids: std::collections::HashSet<_> = comments
        .iter()
        .map(|c| c["comment"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), comments.len(), "no comment twice");
    app.stop().await;
}

#[tokio::test]
async fn a_client_reconnecting_with_since_gets_exactly_the_comments_it_missed() {
    let app = spawn_app(&[("CW_DEMO_RATE", "1200"), ("CW_POLL", "1s")]).await;
    let mut first = app.connect(None).await;
    let seen = first.comments(25).await;
    let last_seen = *seqs(&seen).last().unwrap();
    first.close().await;

    // Meanwhile the feed moves on; a watcher tells us how far.
    let mut watcher = app.connect(Some(last_seen)).await;
    let moved_on = watcher
        .until(|f| f["seq"].as_i64().is_some_and(|s| s >= last_seen + 15))
        .await;
    let target = *seqs(&moved_on).last().unwrap();

    let mut back = app.connect(Some(last_seen)).await;
    let frames = back
        .until(|f| f["seq"].as_i64().is_some_and(|s| s >= target))
        .await;
    let got = seqs(&frames);
    let expected: Vec<i64> = (last_seen + 1..=target).collect();
    assert_eq!(got, expected, "every missed change once, in order");
    app.stop().await;
}

#[tokio::test]
async fn restarting_on_the_same_log_keeps_every_comment_and_publishes_none_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    // Rate 0: the demo serves the same 20 comments (fixed seed) every run.
    let env = [("CW_DEMO_RATE", "0"), ("CW_POLL", "1s")];

    let app = spawn_app_on(&db, &env).await;
    let mut client = app.connect(None).await;
    let before = client.comments(20).await;
    app.stop().await;

    let app = spawn_app_on(&db, &env).await;
    let mut client = app.connect(None).await;
    // Wait for the restarted poller's first poll to finish...
    client
        .until(|f| f["type"] == "status" && f["sources"][0]["state"] == "ok")
        .await;
    // ...after which the log has handed out no new seq: nothing was published.
    let check = app.connect(Some(20)).await;
    assert_eq!(check.latest_seq, 20, "nothing is new after a restart");

    let mut replay = app.connect(Some(0)).await;
    let after = replay.comments(20).await;
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|c| c["comment"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&after),
        ids(&before),
        "the log still holds every comment"
    );
    assert_eq!(seqs(&after), (1..=20).collect::<Vec<_>>());
    app.stop().await;
}

#[tokio::test]
async fn a_poll_that_returns_only_known_comments_publishes_nothing() {
    let log = CommentLog::open_in_memory().unwrap();
    let hub = Hub::new();
    let pipeline = Pipeline::new(log.clone(), hub.clone());
    let mut rx = hub.subscribe();
    let source = DemoSource::new(0.0, Some(11));

    let first = poll_once(&source, &pipeline, 5, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!((first.fetched, first.new), (20, 20));
    for expected in 1..=20 {
        assert_eq!(rx.try_recv().unwrap().seq, Some(expected));
    }

    let again = poll_once(&source, &pipeline, 5, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!((again.fetched, again.new, again.updated), (20, 0, 0));
    assert!(
        rx.try_recv().is_err(),
        "nothing published for known comments"
    );
    assert_eq!(log.count().await.unwrap(), 20);
}

#[tokio::test]
async fn shutdown_closes_every_dashboard_with_going_away() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let mut client = app.connect(None).await;
    client.comments(20).await;
    let stopping = tokio::spawn(app.stop());
    let code = client.close_code().await;
    assert_eq!(code, Some(1001));
    stopping.await.unwrap();
}
