//! The whole pipeline under fan-out load: a mock YouTube Data API on
//! loopback posts comments, the real `commentwatch` binary (release build)
//! polls it, and N WebSocket clients receive every comment.
//!
//! Run with `cargo bench --bench fanout` (all scenarios),
//! `cargo bench --bench fanout -- 1000` (only N = 1000), or
//! `cargo bench --bench fanout -- soak` (1,000 clients, 100 comments/s for
//! ten minutes, RSS at start and end), or `cargo bench --bench fanout --
//! idle [N]` (memory per idle client: N clients, 1,000 by default, each
//! given the 300-comment backlog at connect, three runs), or `cargo bench --bench fanout --
//! cluster [N]` (two instances sharing a PostgreSQL log, N clients, 100 by
//! default, all on the instance that does not poll: every frame crosses
//! from the instance that committed it; needs `CW_TEST_POSTGRES`, an admin
//! URL, e.g. `export CW_TEST_POSTGRES=$(.ci/postgres)`). Prints, per
//! scenario: pipeline latency (frame arrival − the moment the mock first
//! served the comment, so the poll wait is excluded) p50/p99/max, messages
//! delivered per second, missing/duplicate/out-of-order counts, server CPU
//! per delivered message, server RSS idle with N clients and at peak. The
//! figures are also written to `target/fanout.json` (`fanout-cluster.json`).
//!
//! Not part of `cargo test`: it takes minutes and wants a quiet machine.

mod common;
mod server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use futures_util::StreamExt;
use serde_json::{Value, json};
use server::Server;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Clients handled by one task: the load generator must not be the
/// bottleneck, and 10,000 tasks each with its own stack would be.
const CLIENTS_PER_TASK: usize = 50;

#[derive(Clone)]
struct Mock {
    /// When the run started; comment times are offsets from it.
    epoch: Instant,
    /// How many comments exist now (ids 0..posted).
    posted: Arc<AtomicU64>,
    /// First time each comment id was served, as offsets from `epoch`.
    served: Arc<Mutex<HashMap<u64, Duration>>>,
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

async fn start_mock(mock: Mock) -> SocketAddr {
    let app = Router::new()
        .route("/youtube/v3/commentThreads", get(comment_threads))
        .with_state(mock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The binary polling the mock at `api` every second, with room for
/// 20,000 clients, on its own log or the PostgreSQL log `db` names.
fn start_server(api: SocketAddr, db: Option<&str>) -> Server {
    Server::start(
        &[
            ("CW_SOURCES", "youtube:benchbench1".into()),
            ("YOUTUBE_API_KEY", "bench".into()),
            ("YOUTUBE_API_BASE", format!("http://{api}").into()),
            ("YOUTUBE_DAILY_QUOTA", "100000000".into()),
            ("CW_POLL", "1s".into()),
            ("CW_MAX_CLIENTS", "20000".into()),
        ],
        db,
    )
}

/// What every client saw: per comment index, arrival offsets; plus counts.
#[derive(Default)]
struct Seen {
    /// `(comment index, arrival offset)` for each delivered frame.
    arrivals: Vec<(u64, Duration)>,
    duplicates: u64,
    out_of_order: u64,
}

impl common::Sink for Seen {
    fn arrival(&mut self, k: u64, at: Duration) {
        self.arrivals.push((k, at));
    }
    fn duplicate(&mut self) {
        self.duplicates += 1;
    }
    fn out_of_order(&mut self) {
        self.out_of_order += 1;
    }
}

/// The ids the benchmark's mock gives its comments.
const ID_PREFIX: &str = "\"id\":\"Ugbench";

/// Connects `n` clients; returns when all have their `hello`.
async fn connect_clients(
    server: &str,
    n: usize,
    epoch: Instant,
    stop: Arc<AtomicBool>,
    delivered: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<Seen>> {
    let ready = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for chunk in 0..n.div_ceil(CLIENTS_PER_TASK) {
        let count = CLIENTS_PER_TASK.min(n - chunk * CLIENTS_PER_TASK);
        let url = format!("ws://{server}/ws");
        let (stop, ready, delivered) = (stop.clone(), ready.clone(), delivered.clone());
        tasks.push(tokio::spawn(async move {
            // Small buffers: 10,000 clients must fit in the load generator too.
            let config = WebSocketConfig::default()
                .read_buffer_size(8 * 1024)
                .write_buffer_size(0);
            let mut streams = futures_util::stream::SelectAll::new();
            for i in 0..count {
                let (ws, _) = loop {
                    match tokio_tungstenite::connect_async_with_config(&url, Some(config), false)
                        .await
                    {
                        Ok(ok) => break ok,
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                };
                streams.push(ws.map(move |m| (i, m)));
            }
            let mut seen = Seen::default();
            common::read_frames(
                streams, count, epoch, ID_PREFIX, &stop, &ready, &delivered, &mut seen,
            )
            .await;
            seen
        }));
    }
    while ready.load(Ordering::SeqCst) < n as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tasks
}

enum Load {
    Steady { per_second: u64, seconds: u64 },
    Burst { comments: u64 },
}

/// Whether the instance at `addr` polls the bench's source (`/metrics`).
async fn polls(addr: &str) -> Option<bool> {
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let prefix = "commentwatch_source_polled_here{source=\"youtube:benchbench1\"} ";
    body.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|v| v.trim() == "1")
}

/// With `shared` (a PostgreSQL URL): two instances on that log, and the
/// clients on the one that does not poll.
async fn scenario(n: usize, load: Load, shared: Option<&str>) -> Value {
    let epoch = Instant::now();
    let mock = Mock {
        epoch,
        posted: Arc::new(AtomicU64::new(0)),
        served: Arc::default(),
    };
    let api = start_mock(mock.clone()).await;
    let (server, _poller) = match shared {
        None => (start_server(api, None), None),
        Some(db) => {
            let a = start_server(api, Some(db));
            let b = start_server(api, Some(db));
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match (polls(&a.addr).await, polls(&b.addr).await) {
                    (Some(true), Some(false)) => break (b, Some(a)),
                    (Some(false), Some(true)) => break (a, Some(b)),
                    _ => assert!(Instant::now() < deadline, "no instance took the source"),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    // Let the first (empty) poll happen before clients connect.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let tasks = connect_clients(&server.addr, n, epoch, stop.clone(), delivered.clone()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle_rss, _) = server.memory_kib();
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    // RSS sampled through the run: a leak shows as a slope, not a step.
    let mut rss_over_time: Vec<(u64, u64)> = Vec::new();
    let (total, label) = match load {
        Load::Steady {
            per_second,
            seconds,
        } => {
            let total = per_second * seconds;
            let interval = Duration::from_secs_f64(1.0 / per_second as f64);
            let mut tick = tokio::time::interval(interval);
            let sample_every = (total / 20).max(1);
            for k in 0..total {
                tick.tick().await;
                mock.posted.fetch_add(1, Ordering::SeqCst);
                if k % sample_every == 0 {
                    rss_over_time.push((started.elapsed().as_secs(), server.memory_kib().0));
                }
            }
            (total, format!("steady {per_second}/s for {seconds}s"))
        }
        Load::Burst { comments } => {
            mock.posted.fetch_add(comments, Ordering::SeqCst);
            (comments, format!("burst of {comments}"))
        }
    };
    let expected = total * n as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let (end_rss, peak_rss) = server.memory_kib();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let (mut duplicates, mut out_of_order, mut got) = (0, 0, 0u64);
    let served = mock.served.lock().unwrap().clone();
    for t in tasks {
        let seen = t.await.unwrap();
        duplicates += seen.duplicates;
        out_of_order += seen.out_of_order;
        got += seen.arrivals.len() as u64;
        for (k, at) in seen.arrivals {
            if let Some(s) = served.get(&k) {
                latencies.push(at.saturating_sub(*s).as_secs_f64() * 1000.0);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let result = json!({
        "instances": if shared.is_some() { 2 } else { 1 },
        "clients": n,
        "load": label,
        "comments": total,
        "delivered": got,
        "missing": expected.saturating_sub(got),
        "duplicates": duplicates,
        "out_of_order": out_of_order,
        "latency_ms": {
            "p50": common::percentile(&latencies, 0.50),
            "p99": common::percentile(&latencies, 0.99),
            "max": latencies.last().copied().unwrap_or(f64::NAN),
        },
        "messages_per_second": got as f64 / elapsed,
        "server_cpu_us_per_message": cpu * 1e6 / got.max(1) as f64,
        "server_rss_idle_kib": idle_rss,
        "server_rss_idle_kib_per_client": idle_rss as f64 / n as f64,
        "server_rss_peak_kib": peak_rss,
        "server_rss_end_kib": end_rss,
        "server_rss_kib_over_time": rss_over_time,
    });
    if shared.is_some() {
        print!("across instances, clients on the one not polling: ");
    }
    println!(
        "N={n:>5}  {label:<22} latency p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  | {:>9.0} msg/s | \
         missing {} dup {} disorder {} | CPU {:.3} µs/msg | RSS idle {} KiB ({:.1} KiB/client), end {} KiB, peak {} KiB",
        common::percentile(&latencies, 0.5),
        common::percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        got as f64 / elapsed,
        expected.saturating_sub(got),
        duplicates,
        out_of_order,
        cpu * 1e6 / got.max(1) as f64,
        idle_rss,
        idle_rss as f64 / n as f64,
        end_rss,
        peak_rss,
    );
    if rss_over_time.len() > 2 {
        let series: Vec<String> = rss_over_time
            .iter()
            .map(|(t, kib)| format!("{t}s:{}MB", kib / 1024))
            .collect();
        println!("        RSS over the run: {}", series.join(" "));
    }
    result
}

/// Memory per idle dashboard: `n` clients connect without `since` to a
/// server whose log holds 300 comments, so each gets the backlog a freshly
/// opened dashboard gets; then they sit idle. Prints RSS before, with the
/// clients, and the difference per client, three times.
async fn idle(n: usize) {
    for run in 1..=3 {
        let epoch = Instant::now();
        let mock = Mock {
            epoch,
            posted: Arc::new(AtomicU64::new(300)),
            served: Arc::default(),
        };
        let api = start_mock(mock.clone()).await;
        let server = start_server(api, None);
        // The first poll reads the 300 (100 a page) and the log settles.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let (before, _) = server.memory_kib();
        let stop = Arc::new(AtomicBool::new(false));
        let delivered = Arc::new(AtomicU64::new(0));
        let tasks = connect_clients(&server.addr, n, epoch, stop.clone(), delivered.clone()).await;
        let want = 300 * n as u64;
        let deadline = Instant::now() + Duration::from_secs(120);
        while delivered.load(Ordering::Relaxed) < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (with_clients, peak) = server.memory_kib();
        println!(
            "idle run {run}: N={n} backlog frames {} of {want}; RSS {before} KiB before, {with_clients} KiB with the clients (peak {peak} KiB): {:.1} KiB per idle client",
            delivered.load(Ordering::Relaxed),
            (with_clients as f64 - before as f64) / n as f64
        );
        drop(server);
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // 10,000 clients are 20,000 sockets on this machine.
    let _ = rlimit::increase_nofile_limit(65_536);
    if std::env::args().any(|a| a == "soak") {
        let result = scenario(
            1000,
            Load::Steady {
                per_second: 100,
                seconds: 600,
            },
            None,
        )
        .await;
        let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/fanout-soak.json");
        std::fs::write(out, serde_json::to_string_pretty(&result).unwrap()).unwrap();
        println!("results written to {out}");
        return;
    }
    let only: Option<usize> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    if std::env::args().any(|a| a == "idle") {
        idle(only.unwrap_or(1000)).await;
        return;
    }
    if std::env::args().any(|a| a == "cluster") {
        if std::env::var_os("CW_TEST_POSTGRES").is_none() {
            println!("skipped: set CW_TEST_POSTGRES to an admin URL (see .ci/postgres)");
            return;
        }
        let n = only.unwrap_or(100);
        let steady = Load::Steady {
            per_second: 50,
            seconds: 20,
        };
        // A fresh database each: the mock numbers its comments from 0 again.
        let mut results = Vec::new();
        for load in [steady, Load::Burst { comments: 500 }] {
            let db = postgres_database().await.expect("CW_TEST_POSTGRES is set");
            results.push(scenario(n, load, Some(&db)).await);
        }
        let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/fanout-cluster.json");
        std::fs::write(out, serde_json::to_string_pretty(&results).unwrap()).unwrap();
        println!("results written to {out}");
        return;
    }
    let sizes: Vec<usize> = match only {
        Some(n) => vec![n],
        None => vec![1, 100, 1000, 10_000],
    };
    let mut results = Vec::new();
    for n in sizes {
        results.push(
            scenario(
                n,
                Load::Steady {
                    per_second: 50,
                    seconds: 20,
                },
                None,
            )
            .await,
        );
        results.push(scenario(n, Load::Burst { comments: 500 }, None).await);
    }
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/fanout.json");
    std::fs::write(out, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    println!("results written to {out}");
}

/// A new database on the server `CW_TEST_POSTGRES` names, for one run.
async fn postgres_database() -> Option<String> {
    let admin = std::env::var("CW_TEST_POSTGRES").ok()?;
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("CW_TEST_POSTGRES answers");
    tokio::spawn(connection);
    let name = format!(
        "fanout_{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("a database for the run");
    let mut url = url::Url::parse(&admin).expect("a URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}
