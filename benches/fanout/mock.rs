//! The fan-out benchmark's mock YouTube Data API (`commentThreads.list`,
//! newest first, 100 a page, recording when it first served each comment)
//! and the `commentwatch` binary set to poll it. Touches nothing but
//! loopback and the server child it starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};

use crate::WARM;
use crate::server::Server;

#[derive(Clone)]
pub struct Mock {
    /// When the run started; comment times are offsets from it.
    pub epoch: Instant,
    /// How many comments exist now (ids 0..posted).
    pub posted: Arc<AtomicU64>,
    /// First time each comment id was served, as offsets from `epoch`.
    pub served: Arc<Mutex<HashMap<u64, Duration>>>,
}

fn thread_json(k: u64) -> Value {
    let id = format!("Ugbench{k:010}");
    let snippet = json!({
        "textDisplay": format!("benchmark comment {k}: great stream, greetings from the load generator"),
        "textOriginal": format!("benchmark comment {k}: great stream, greetings from the load generator"),
        "authorDisplayName": format!("@viewer{}", k % 997),
        "authorChannelId": {"value": format!("UCviewer{}", k % 997)},
        "likeCount": 0,
        "publishedAt": "2026-03-14T19:05:42Z",
        "updatedAt": "2026-03-14T19:05:42Z"
    });
    json!({
        "kind": "youtube#commentThread",
        "id": id,
        "snippet": {"topLevelComment": {"kind": "youtube#comment", "id": id, "snippet": snippet}, "totalReplyCount": 0}
    })
}

/// `commentThreads.list`: newest first, 100 a page, `pageToken` = offset.
async fn comment_threads(
    State(mock): State<Mock>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::Json<Value> {
    let posted = mock.posted.load(Ordering::SeqCst);
    let offset: u64 = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let top = posted.saturating_sub(offset);
    let bottom = top.saturating_sub(100);
    let now = mock.epoch.elapsed();
    {
        let mut served = mock.served.lock().unwrap();
        for k in bottom..top {
            served.entry(k).or_insert(now);
        }
    }
    let items: Vec<Value> = (bottom..top).rev().map(thread_json).collect();
    let mut body = json!({"kind": "youtube#commentThreadListResponse", "items": items});
    if bottom > 0 {
        body["nextPageToken"] = json!((offset + 100).to_string());
    }
    axum::Json(body)
}

pub async fn start_mock(mock: Mock) -> SocketAddr {
    let app = Router::new()
        .route("/youtube/v3/commentThreads", get(comment_threads))
        .with_state(mock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The binary polling the mock at `api` every second, with room for
/// 20,000 clients, on its own log or the PostgreSQL log `db` names; its
/// first poll reads up to [`WARM`] comments.
pub fn start_server(api: SocketAddr, db: Option<&str>) -> Server {
    Server::start(
        &[
            ("CW_SOURCES", "youtube:benchbench1".into()),
            ("YOUTUBE_API_KEY", "bench".into()),
            ("YOUTUBE_API_BASE", format!("http://{api}").into()),
            ("YOUTUBE_DAILY_QUOTA", "100000000".into()),
            ("CW_POLL", "1s".into()),
            ("CW_MAX_CLIENTS", "20000".into()),
            // The first poll reads every comment the mock already holds.
            (
                "CW_BACKFILL_PAGES",
                (WARM.div_ceil(100) + 1).to_string().into(),
            ),
        ],
        db,
    )
}

/// Waits until the server at `addr` has stored `want` comments
/// (`/api/today` counted from 2000); panics after a minute.
pub async fn wait_stored(addr: &str, want: u64) {
    let url = format!("http://{addr}/api/today?since=2000-01-01T00:00:00Z");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = match reqwest::get(&url).await {
            Ok(resp) => resp.text().await.ok(),
            Err(_) => None,
        };
        let stored = stored
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["comments"].as_u64());
        if stored.is_some_and(|s| s >= want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server stored {stored:?} of {want} comments in a minute"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
