//! A streamed YouTube live chat in the whole app: the dashboard says how the
//! chat is delivered and how many streams it opened, and a restart of the
//! app resumes the stream from the token stored with the last batch; on a
//! shared log one instance streams and another takes over from the token.

use std::time::Duration;

use crate::chrome::Browser;
use commentwatch::status::SourceState;

use crate::helpers::{PATIENCE, eventually, spawn_app_on, spawn_app_with_db};
use crate::youtube_stream::mock::{self, Answer};
use crate::youtube_stream::response;

const SOURCE: &str = "youtube-live:STREAMVID01";

/// What the dashboard's status line says of the source.
const LABEL: &str = r#"
const li = document.querySelector('#sources .source-status[data-source="youtube-live:STREAMVID01"]');
return li ? li.textContent : '';
"#;

async fn ids(app: &crate::helpers::TestApp) -> Vec<String> {
    // Newest first on the wire; oldest first here.
    let page = app.get_json("/api/comments?limit=100").await;
    let mut ids: Vec<String> = page["comments"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.reverse();
    ids
}

#[tokio::test]
async fn the_dashboard_says_streaming_with_its_connections_and_a_restart_resumes_from_the_token() {
    let server = mock::start(
        vec![
            Answer::CutAfter(vec![response(0, 10)]),
            Answer::Hold(vec![response(10, 20)]),
            Answer::Hold(vec![response(20, 30)]),
        ],
        None,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("comments.db");
    let env = [
        ("CW_SOURCES", SOURCE),
        ("YOUTUBE_API_KEY", "test-key_123"),
        ("YOUTUBE_API_BASE", server.base.as_str()),
    ];
    let app = spawn_app_on(&db, &env).await;
    let expected = |n: usize| -> Vec<String> { (0..n).map(|i| format!("LCC.s{i:03}")).collect() };
    eventually("the first 20 messages", PATIENCE, || async {
        ids(&app).await == expected(20)
    })
    .await;

    if let Some(browser) = Browser::launch().await {
        browser.goto(&app.url("/")).await;
        let label: String = browser
            .poll("the source's status line", PATIENCE, LABEL, |l: &String| {
                l.contains("2 connections")
            })
            .await;
        assert!(label.contains("streaming"), "{label}");
        assert!(label.contains("units today"), "{label}");
        assert!(!label.contains("test-key"), "{label}");
        browser.close().await;
    }
    app.stop().await;

    // The whole app restarts on the same log: the stream is opened again
    // after the last stored batch, and nothing arrives twice.
    let app = spawn_app_on(&db, &env).await;
    eventually("all 30 messages after the restart", PATIENCE, || async {
        ids(&app).await == expected(30)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ids(&app).await, expected(30), "nothing doubled");
    let queries = server.stream_queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(queries[1].contains("pageToken=t10"), "{}", queries[1]);
    assert!(
        queries[2].contains("pageToken=t20"),
        "the restart resumes: {}",
        queries[2]
    );
    app.stop().await;
}

#[tokio::test]
async fn on_a_shared_log_one_instance_streams_and_another_takes_over_from_the_token() {
    let Some(db) = crate::helpers::postgres_db().await else {
        return;
    };
    let server = mock::start(
        vec![
            Answer::Hold(vec![response(0, 10)]),
            Answer::Hold(vec![response(10, 20)]),
        ],
        None,
    )
    .await;
    let env = [
        ("CW_SOURCES", SOURCE),
        ("YOUTUBE_API_KEY", "test-key_123"),
        ("YOUTUBE_API_BASE", server.base.as_str()),
    ];
    let expected = |n: usize| -> Vec<String> { (0..n).map(|i| format!("LCC.s{i:03}")).collect() };
    let first = spawn_app_with_db(&db, &env).await;
    eventually("the first instance streams", PATIENCE, || async {
        ids(&first).await == expected(10)
    })
    .await;
    let second = spawn_app_with_db(&db, &env).await;
    eventually("the second instance stands by", PATIENCE, || async {
        let state = second
            .feed
            .hub
            .statuses()
            .into_iter()
            .find(|s| s.source == SOURCE)
            .map(|s| s.state);
        matches!(state, Some(SourceState::Standby | SourceState::Ok))
    })
    .await;
    // Two checks of the lease later, still one stream for the two.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        server.stream_queries.lock().unwrap().len(),
        1,
        "one instance streams the chat"
    );

    // The streaming instance goes: the other takes the lock and resumes
    // from the token stored with the last batch.
    first.stop().await;
    eventually(
        "the second instance resumes the stream",
        PATIENCE,
        || async { ids(&second).await == expected(20) },
    )
    .await;
    let queries = server.stream_queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(queries[1].contains("pageToken=t10"), "{}", queries[1]);
    let status = second
        .feed
        .hub
        .statuses()
        .into_iter()
        .find(|s| s.source == SOURCE)
        .unwrap();
    assert_eq!(status.state, SourceState::Ok, "{status:?}");
    second.stop().await;
}
