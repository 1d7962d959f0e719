//! Server memory in the fan-out benchmark: the RSS a minute after a burst,
//! and the RSS of idle dashboards that were given the backlog. Reads the
//! server's `/proc` through [`Server`]; touches nothing else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mock::{Mock, start_mock, start_server};
use crate::server::Server;
use crate::{BACKLOG, Phases, connect_clients};

/// How long the clients stay idle after a burst while the server's RSS is
/// sampled, and how often.
pub const AFTER_BURST: Duration = Duration::from_secs(60);
pub const AFTER_BURST_EVERY: Duration = Duration::from_secs(5);

/// The burst posted after the minute that follows the first one.
pub const SECOND_BURST: u64 = 500;

/// Keeps the clients idle for [`AFTER_BURST`] after `what` (a burst),
/// sampling the server's RSS every [`AFTER_BURST_EVERY`]. Returns the
/// figures and the lines to print after the scenario's own: RSS idle before
/// the burst, the peak, RSS at the end, and how far that is above idle
/// against issue 20's target (within 10 %).
pub async fn after_burst(server: &Server, idle_rss: u64, what: &str) -> (Value, String) {
    let start = Instant::now();
    let mut samples: Vec<(u64, u64)> = vec![(0, server.memory_kib().0)];
    while start.elapsed() < AFTER_BURST {
        tokio::time::sleep(AFTER_BURST_EVERY).await;
        samples.push((start.elapsed().as_secs(), server.memory_kib().0));
    }
    let (end, peak) = (samples[samples.len() - 1].1, server.memory_kib().1);
    let over = (end as f64 - idle_rss as f64) * 100.0 / idle_rss as f64;
    let met = over <= 10.0;
    let series: Vec<String> = samples
        .iter()
        .map(|(t, kib)| format!("+{t}s:{:.1}MB", *kib as f64 / 1024.0))
        .collect();
    let lines = format!(
        "        after {what}, clients idle: RSS idle before {what} {idle_rss} KiB, peak {peak} KiB, \
         at +{}s {end} KiB: {what}: {over:+.1} % of idle (target within 10 %: {})\n        \
         RSS after {what}: {}",
        AFTER_BURST.as_secs(),
        if met { "met" } else { "NOT met" },
        series.join(" ")
    );
    let figures = json!({
        "rss_idle_before_burst_kib": idle_rss,
        "rss_peak_kib": peak,
        "rss_end_kib": end,
        "seconds": AFTER_BURST.as_secs(),
        "percent_over_idle": over,
        "within_10_percent": met,
        "rss_kib_samples": samples,
    });
    (figures, lines)
}

/// After the first burst's minute: posts [`SECOND_BURST`] more comments
/// (`posted` is the mock's count), waits up to a minute for `n` clients to
/// have them (`delivered` counts every client's frames), then samples the
/// RSS for a minute against the RSS just before it. The scenario counts
/// the burst's frames; this returns the RSS figures and lines.
pub async fn second_burst(
    server: &Server,
    posted: &AtomicU64,
    delivered: &AtomicU64,
    n: usize,
) -> (Value, String) {
    let before = server.memory_kib().0;
    let want = delivered.load(Ordering::SeqCst) + SECOND_BURST * n as u64;
    posted.fetch_add(SECOND_BURST, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered.load(Ordering::Relaxed) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    after_burst(server, before, "the second burst").await
}

/// Memory per idle dashboard: `n` clients (to `/ws?batch=1` with `batch`)
/// connect without `since` to a server whose log holds 300 comments, so each
/// gets the backlog a freshly opened dashboard gets; then they sit idle.
/// Prints RSS before, with the clients, and the difference per client,
/// three times, against issue 20's targets (≤ 8 KiB per idle client;
/// 10,000 idle clients in < 100 MB of RSS in all).
pub async fn idle(n: usize, batch: bool) -> Value {
    let mut runs = Vec::new();
    for run in 1..=3 {
        let epoch = Instant::now();
        let mock = Mock {
            epoch,
            posted: Arc::new(AtomicU64::new(BACKLOG)),
            served: Arc::default(),
        };
        let api = start_mock(mock.clone()).await;
        let server = start_server(api, None);
        // The first poll reads the 300 (100 a page) and the log settles.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let (before, _) = server.memory_kib();
        let stop = Arc::new(AtomicBool::new(false));
        let delivered = Arc::new(AtomicU64::new(0));
        let connecting = Instant::now();
        let tasks = connect_clients(
            &server.addr,
            n,
            batch,
            Phases {
                backlog: BACKLOG,
                base: BACKLOG,
                second: u64::MAX,
            },
            epoch,
            stop.clone(),
            delivered.clone(),
        )
        .await;
        let connected = connecting.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (with_clients, peak) = server.memory_kib();
        let per_client = (with_clients as f64 - before as f64) / n as f64;
        // Decimal megabytes, as in the target.
        let total_mb = with_clients as f64 * 1024.0 / 1e6;
        println!(
            "idle run {run}: N={n}{} backlog frames {} of {}, all connected in {connected:.1} s; \
             RSS {before} KiB before, {with_clients} KiB with the clients ({total_mb:.1} MB; peak {peak} KiB): \
             {per_client:.1} KiB per idle client (target ≤ 8 KiB: {})",
            if batch { " batch" } else { "" },
            delivered.load(Ordering::Relaxed),
            BACKLOG * n as u64,
            if per_client <= 8.0 { "met" } else { "NOT met" },
        );
        if n >= 10_000 {
            println!(
                "        {n} idle clients: RSS {total_mb:.1} MB in all (target 10,000 idle clients < 100 MB: {})",
                if total_mb < 100.0 { "met" } else { "NOT met" }
            );
        }
        drop(server);
        stop.store(true, Ordering::Relaxed);
        let (mut messages, mut frames) = (0u64, 0u64);
        for t in tasks {
            if let Ok(seen) = t.await {
                messages += seen.messages + seen.backlog_messages;
                frames += seen.frames + seen.backlog_message_frames;
            }
        }
        if batch {
            println!(
                "        {messages} WebSocket messages carried {frames} frames ({:.2} a message)",
                frames as f64 / messages.max(1) as f64
            );
        }
        runs.push(json!({
            "clients": n,
            "batch": batch,
            "backlog_frames": delivered.load(Ordering::Relaxed),
            "connect_seconds": connected,
            "server_rss_before_kib": before,
            "server_rss_with_clients_kib": with_clients,
            "server_rss_peak_kib": peak,
            "server_rss_with_clients_mb": total_mb,
            "kib_per_idle_client": per_client,
            "websocket_messages": messages,
            "frames_per_message": frames as f64 / messages.max(1) as f64,
        }));
    }
    Value::Array(runs)
}
