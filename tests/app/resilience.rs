//! Never lose a comment, never show one twice, whatever the clients, the
//! disk or the process do: stuck clients, caps and limits, storage faults,
//! shutdown, and `/metrics`.

use std::time::Duration;

use chrono::Utc;
use commentwatch::domain::RawComment;
use commentwatch::poller::Pipeline;
use commentwatch::sanitize::sanitize;
use commentwatch::store::Batch;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{PATIENCE, seqs, spawn_app};

/// `n` comments with ids `prefix-0 …`, each about `len` bytes of text.
fn batch(prefix: &str, n: usize, len: usize) -> Batch {
    let now = Utc::now();
    let filler = "lorem ipsum dolor sit amet ".repeat(len / 27 + 1);
    let comments = (0..n)
        .map(|i| {
            let raw = RawComment {
                id: format!("{prefix}-{i}"),
                author_name: format!("viewer {i}"),
                text: format!("{i}: {}", &filler[..len]),
                ..RawComment::default()
            };
            sanitize("demo", raw, now).unwrap()
        })
        .collect();
    Batch {
        source: "demo".into(),
        comments,
        ..Batch::default()
    }
}

async fn metrics(app: &crate::helpers::TestApp) -> String {
    reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of one sample, e.g. `commentwatch_ws_clients`.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_hold_up_the_others() {
    // Rate 0: only the demo's backlog of 20, then what the test pushes.
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let mut reader = app.connect(None).await;
    reader.comments(20).await;
    // A client that completes the handshake and then never reads again.
    let (stuck, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr))
        .await
        .unwrap();

    // 10,000 comments of ~2 KB: far more than the stuck client's socket
    // buffers and send queue can hold.
    // Made before the clock starts: the test times the server, not the
    // sanitizer in a debug build.
    let batches: Vec<Batch> = (0..20)
        .map(|round| batch(&format!("flood{round}"), 500, 2000))
        .collect();
    let feed: Pipeline = app.feed.clone();
    let pusher = tokio::spawn(async move {
        for b in batches {
            feed.ingest(b).await.unwrap();
        }
    });
    // 20 MB to one reader while the whole suite runs on two cores: what
    // matters is that it all arrives, not how fast; a stuck client that
    // held the others up would stop the flow for good.
    let got = reader
        .comments_within(10_000, Duration::from_secs(90))
        .await;
    let s = seqs(&got);
    assert!(
        s.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none missing"
    );
    pusher.await.unwrap();

    // The stuck client is dropped with a reason (or caught up), never waited on.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let m = metrics(&app).await;
        let dropped =
            sample(&m, r#"commentwatch_ws_dropped_total{reason="too_slow"}"#).unwrap_or(0.0);
        let resynced = sample(&m, "commentwatch_ws_resyncs_total").unwrap_or(0.0);
        if dropped >= 1.0 || resynced >= 1.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stuck client was never dealt with:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(stuck);
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_with_a_reason() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_MAX_CLIENTS", "2")]).await;
    let _a = app.connect(None).await;
    let _b = app.connect(None).await;
    match tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
            let body =
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("CW_MAX_CLIENTS"), "{body}");
        }
        other => panic!("expected a 503, got {:?}", other.map(|_| ())),
    }
    // The overlay's feeds count against the same cap, whatever their mode.
    for path in ["/overlay/ws?mode=featured", "/overlay/ws"] {
        let refused = tokio_tungstenite::connect_async(format!("ws://{}{path}", app.addr)).await;
        assert!(
            matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == StatusCode::SERVICE_UNAVAILABLE),
            "{path}: {:?}",
            refused.map(|_| ())
        );
    }
    let m = metrics(&app).await;
    assert_eq!(sample(&m, "commentwatch_ws_clients"), Some(2.0), "{m}");
    assert_eq!(
        sample(&m, r#"commentwatch_ws_refused_total{reason="capacity"}"#),
        Some(3.0)
    );
}

#[tokio::test]
async fn an_oversized_request_body_is_refused() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", "correct-horse-battery")]).await;
    let huge = "x".repeat(200 * 1024);
    let resp = reqwest::Client::new()
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={huge}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_oversized_websocket_message_closes_that_connection() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr))
        .await
        .unwrap();
    ws.send(Message::text("x".repeat(64 * 1024))).await.unwrap();
    let ended = tokio::time::timeout(PATIENCE, async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Close(_)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server kept the connection open");
}

#[tokio::test]
async fn a_locked_log_holds_fetched_comments_in_memory_and_writes_them_once_it_frees() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let mut client = app.connect(None).await;
    client.comments(20).await;

    // Another process takes the write lock.
    let other = rusqlite::Connection::open(&app.db).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let failed = app.feed.ingest(batch("while-locked", 50, 100)).await;
    assert!(failed.is_err(), "the write cannot go through while locked");
    let m = metrics(&app).await;
    assert_eq!(
        sample(&m, "commentwatch_pending_comments"),
        Some(50.0),
        "{m}"
    );

    other.execute_batch("ROLLBACK").unwrap();
    let changes = app.feed.ingest(batch("after", 5, 100)).await.unwrap();
    assert_eq!(changes.len(), 55, "the held batch first, then the new one");
    let got = client.comments(55).await;
    let ids: Vec<&str> = got
        .iter()
        .map(|f| f["comment"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], "while-locked-0");
    assert_eq!(ids[54], "after-4");
    assert_eq!(
        sample(&metrics(&app).await, "commentwatch_pending_comments"),
        Some(0.0)
    );
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_POLL", "1s")]).await;
    let mut client = app.connect(None).await;
    client.comments(20).await;
    client
        .until(|f| f["type"] == "status" && f["sources"][0]["state"] == "ok")
        .await;
    let resp = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = resp.text().await.unwrap();
    // Every line is a comment or `name{labels} value`.
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ")
                    || line.starts_with("# TYPE ")
                    || line.starts_with("# UNIT ")
                    || line == "# EOF",
                "{line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        assert!(value.parse::<f64>().is_ok(), "value of {line}");
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("commentwatch_"), "{line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
    }
    assert!(text.trim_end().ends_with("# EOF"));
    assert_eq!(
        sample(&text, r#"commentwatch_comments_new_total{source="demo"}"#),
        Some(20.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"commentwatch_polls_total{source="demo",outcome="ok"}"#
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(sample(&text, "commentwatch_ws_clients"), Some(1.0));
    assert!(sample(&text, "commentwatch_poll_duration_seconds_count").unwrap() >= 1.0);
    assert!(sample(&text, "commentwatch_log_bytes").unwrap() > 0.0);
    assert_eq!(
        sample(&text, "commentwatch_frames_published_total"),
        Some(20.0)
    );
}

#[tokio::test]
async fn metrics_need_the_token_like_the_api() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", "correct-horse-battery")]).await;
    let resp = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = reqwest::Client::new()
        .get(app.url("/metrics"))
        .bearer_auth("correct-horse-battery")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
