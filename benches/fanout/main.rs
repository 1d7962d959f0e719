//! The whole pipeline under fan-out load: a mock YouTube Data API on
//! loopback posts comments, the real `commentwatch` binary (release build)
//! polls it, and N WebSocket clients receive every comment. Before the
//! clients of a steady, burst, soak or cluster run connect, the mock holds
//! 1,100 comments (more than the hub's 1,024 recent frames and more than a
//! burst) and the server has stored them all (`/api/today`); the clients
//! connect to `/ws` without `since`, as a freshly opened dashboard does, so
//! each gets the 300-comment backlog. Backlog frames are counted apart
//! ("backlog frames X of N×300") and left out of the latency, missing,
//! duplicate and out-of-order figures, which are about the comments posted
//! after the clients connected; the idle RSS is read once every backlog
//! has arrived.
//!
//! Run with `cargo bench --bench fanout` (all scenarios),
//! `cargo bench --bench fanout -- 1000` (only N = 1000), or
//! `cargo bench --bench fanout -- soak` (1,000 clients, 100 comments/s for
//! ten minutes, RSS at start and end), or `cargo bench --bench fanout --
//! idle [N]` (memory per idle client: N clients, 1,000 by default, each
//! given the 300-comment backlog at connect, three runs; RSS before and
//! with the clients, KiB per client against ≤ 8 KiB and, from 10,000
//! clients, the total against < 100 MB; written to
//! `target/fanout-idle.json`), or `cargo bench --bench fanout -- cluster
//! [N]` (two instances sharing a PostgreSQL log, N clients, 100 by
//! default, all on the instance that does not poll: every frame crosses
//! from the instance that committed it; needs `CW_TEST_POSTGRES`, an admin
//! URL, e.g. `export CW_TEST_POSTGRES=$(.ci/postgres)`). Prints, per
//! scenario: pipeline latency (frame arrival − the moment the mock first
//! served the comment, so the poll wait is excluded) p50/p99/max, messages
//! delivered per second, missing/duplicate/out-of-order counts, server CPU
//! per delivered message and the load generator's (this process: the
//! clients and the mock), server RSS idle with N clients and at peak. Add
//! `steady` or `burst` to run one load only (`-- 1000 steady`). The
//! figures are also written to `target/fanout.json` (`fanout-cluster.json`).
//!
//! After the burst of 500 to 1,000 clients or more (in the default run for
//! 1,000 and 10,000, and in `-- 1000`: two minutes longer each), the clients
//! stay connected and idle for 60 s while the server's RSS is sampled every
//! 5 s; it prints RSS idle before the burst (a warm server: its log and hub
//! already hold more than a burst, and the clients have their backlog), the
//! peak, RSS at +60 s and (+60 s − idle) ÷ idle against issue 20's "within
//! 10 % of idle" (`after_burst` in the JSON). Then a second burst of 500:
//! its frames counted apart (delivered, missing, duplicate, out of order,
//! latency), and RSS a minute after it against the RSS just before it
//! ("the second burst: +X % of idle"; `after_second_burst`).
//!
//! Add `batch` to any mode (`-- 1000 batch`, `-- idle 1000 batch`) to
//! connect the clients to `/ws?batch=1`: a message is then one frame object
//! or a JSON array of frames, each element counted as a delivered frame
//! with the message's arrival time; it also prints how many frames a
//! message carried. `-- selftest` only checks the client side: splitting
//! arrays (which every run also does first), and clients of a stand-in
//! `/ws` on loopback counting single frames and arrays alike, and backlog
//! and second-burst frames, faults and messages apart. With `batch`, the
//! frames per message are those after the backlog; the backlog's messages
//! are counted apart.
//!
//! `-- floor [N]` measures the machine instead of the server (`floor.rs`):
//! the same bytes written to N loopback sockets and read back, with no
//! server and no WebSocket, the least time a batch can take to reach them.
//!
//! The clients are `common::ws`'s: as light as a client can be, since they
//! share the machine's two cores with the server; each still checks every
//! frame (once, in `seq` order, none missing).
//!
//! Clients connect in waves of 1,000, each wave waiting for its `hello`s
//! (and, in `idle`, its backlog) before the next; 10,000 clients are 20,000
//! sockets, so the bench raises its open-file limit to the hard limit (the
//! server, its child, inherits it) and warns when that is too low.
//!
//! Not part of `cargo test`: it takes minutes and wants a quiet machine.

#[path = "../common/mod.rs"]
mod common;
mod floor;
mod memory;
mod mock;
mod seen;
mod selftest;
#[path = "../server/mod.rs"]
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memory::{SECOND_BURST, after_burst, idle, second_burst};
use mock::{Mock, start_mock, start_server, wait_stored};
use seen::{Phases, Seen, Tally};
use serde_json::{Value, json};

/// Clients handled by one task: the load generator must not be the
/// bottleneck, and 10,000 tasks each with its own stack would be.
const CLIENTS_PER_TASK: usize = 50;

/// The comments a client that connects without `since` gets at once (the
/// server's `web::ws::BACKLOG`).
pub const BACKLOG: u64 = 300;

/// Comments the mock holds, and the server has stored, before the clients
/// of a steady, burst, soak or cluster run connect: more than the hub's
/// 1,024 recent frames and more than a burst, so the server is warm and
/// every client gets the full backlog.
pub const WARM: u64 = 1100;

/// The ids the benchmark's mock gives its comments.
const ID_PREFIX: &str = "\"id\":\"Ugbench";

/// Clients that connect at once: each wave has its `hello`s (and its
/// backlog) before the next one starts, so 10,000 handshakes do not queue
/// behind each other until they time out.
const WAVE: usize = 1000;

/// How long one handshake may take before the client tries again.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects `n` clients (to `/ws?batch=1` with `batch`), in waves of
/// [`WAVE`]; returns when all have their `hello` and, when
/// `phases.backlog` is not 0, that many benchmark comments each.
async fn connect_clients(
    server: &str,
    n: usize,
    batch: bool,
    phases: Phases,
    epoch: Instant,
    stop: Arc<AtomicBool>,
    delivered: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<Seen>> {
    let ready = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let url = if batch {
        format!("ws://{server}/ws?batch=1")
    } else {
        format!("ws://{server}/ws")
    };
    let chunks = n.div_ceil(CLIENTS_PER_TASK);
    for chunk in 0..chunks {
        let count = CLIENTS_PER_TASK.min(n - chunk * CLIENTS_PER_TASK);
        let url = url.clone();
        let (stop, task_ready, task_delivered) = (stop.clone(), ready.clone(), delivered.clone());
        tasks.push(tokio::spawn(async move {
            let mut clients = Vec::with_capacity(count);
            for _ in 0..count {
                let client = loop {
                    let connect = common::ws::connect(&url);
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connect).await {
                        Ok(Ok(client)) => break client,
                        _ => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                };
                clients.push(client);
            }
            let mut seen = Seen::new(phases);
            common::read_frames(
                clients,
                epoch,
                ID_PREFIX,
                &stop,
                &task_ready,
                &task_delivered,
                &mut seen,
            )
            .await;
            seen
        }));
        let started = chunk * CLIENTS_PER_TASK + count;
        if started.is_multiple_of(WAVE) || chunk + 1 == chunks {
            wait_for(&ready, started as u64, "hello").await;
            if phases.backlog > 0 {
                let want = phases.backlog * started as u64;
                wait_for(&delivered, want, "backlog frames").await;
            }
        }
    }
    tasks
}

/// Waits until `counter` reaches `want`; panics, saying what was missing,
/// after two minutes without progress.
async fn wait_for(counter: &AtomicU64, want: u64, what: &str) {
    let mut last = (counter.load(Ordering::SeqCst), Instant::now());
    while last.0 < want {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counter.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        }
        assert!(
            last.1.elapsed() < Duration::from_secs(120),
            "stuck at {now} of {want} {what} for two minutes"
        );
    }
}

#[derive(Clone, Copy)]
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
/// clients on the one that does not poll. With `batch`, the clients ask for
/// batched messages (`/ws?batch=1`). The server has stored [`WARM`]
/// comments before the clients connect without `since`; each gets the
/// [`BACKLOG`], counted apart from the figures, which are about the
/// comments posted after. After a burst to 1,000 clients or more, the
/// clients stay connected and idle for a minute while the server's RSS is
/// sampled (is it back within 10 % of its idle level?), then a second
/// burst and another minute.
async fn scenario(n: usize, load: Load, shared: Option<&str>, batch: bool) -> Value {
    let epoch = Instant::now();
    let mock = Mock {
        epoch,
        posted: Arc::new(AtomicU64::new(WARM)),
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
    // The first poll reads the warm comments; the clients' server has them.
    wait_stored(&server.addr, WARM).await;
    let total = match load {
        Load::Steady {
            per_second,
            seconds,
        } => per_second * seconds,
        Load::Burst { comments } => comments,
    };
    let phases = Phases {
        backlog: BACKLOG,
        base: WARM,
        second: WARM + total,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let tasks = connect_clients(
        &server.addr,
        n,
        batch,
        phases,
        epoch,
        stop.clone(),
        delivered.clone(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Every backlog has arrived: the idle RSS is that of fed dashboards.
    let backlog_frames = delivered.load(Ordering::SeqCst);
    let (idle_rss, _) = server.memory_kib();
    let cpu_before = server.cpu_seconds();
    let generator_before = server::cpu_seconds("self");
    let started = Instant::now();
    // RSS sampled through the run: a leak shows as a slope, not a step.
    let mut rss_over_time: Vec<(u64, u64)> = Vec::new();
    let burst = matches!(load, Load::Burst { .. });
    let mut label = match load {
        Load::Steady {
            per_second,
            seconds,
        } => {
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
            format!("steady {per_second}/s for {seconds}s")
        }
        Load::Burst { comments } => {
            mock.posted.fetch_add(comments, Ordering::SeqCst);
            format!("burst of {comments}")
        }
    };
    let expected = total * n as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered.load(Ordering::Relaxed) < backlog_frames + expected && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let generator_cpu = server::cpu_seconds("self") - generator_before;
    let (end_rss, peak_rss) = server.memory_kib();
    let after = if burst && n >= 1000 {
        let first = after_burst(&server, idle_rss, "the burst").await;
        let second = second_burst(&server, &mock.posted, &delivered, n).await;
        Some((first, second))
    } else {
        None
    };
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut second_latencies = Vec::new();
    let (mut duplicates, mut out_of_order, mut got) = (0, 0, 0u64);
    let (mut backlog, mut second) = (Tally::default(), Tally::default());
    let (mut messages, mut frames) = (0u64, 0u64);
    let (mut backlog_messages, mut backlog_message_frames) = (0u64, 0u64);
    let served = mock.served.lock().unwrap().clone();
    for t in tasks {
        let seen = t.await.unwrap();
        duplicates += seen.duplicates;
        out_of_order += seen.out_of_order;
        messages += seen.messages;
        frames += seen.frames;
        backlog_messages += seen.backlog_messages;
        backlog_message_frames += seen.backlog_message_frames;
        backlog.add(seen.backlog);
        second.add(seen.second);
        for (k, at) in seen.arrivals {
            let into = if k >= phases.second {
                second.frames += 1;
                &mut second_latencies
            } else {
                got += 1;
                &mut latencies
            };
            if let Some(s) = served.get(&k) {
                into.push(at.saturating_sub(*s).as_secs_f64() * 1000.0);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    second_latencies.sort_by(f64::total_cmp);
    if batch {
        label.push_str(", batch");
    }
    let mut result = json!({
        "instances": if shared.is_some() { 2 } else { 1 },
        "clients": n,
        "batch": batch,
        "load": label,
        "comments": total,
        "backlog": {
            "comments_stored_before_connect": WARM,
            "frames": backlog.frames,
            "expected": BACKLOG * n as u64,
            "duplicates": backlog.duplicates,
            "out_of_order": backlog.out_of_order,
        },
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
        "load_generator_cpu_us_per_message": generator_cpu * 1e6 / got.max(1) as f64,
        "server_rss_idle_kib": idle_rss,
        "server_rss_idle_kib_per_client": idle_rss as f64 / n as f64,
        "server_rss_peak_kib": peak_rss,
        "server_rss_end_kib": end_rss,
        "server_rss_kib_over_time": rss_over_time,
        "websocket_messages": messages,
        "frames_per_message": frames as f64 / messages.max(1) as f64,
        "backlog_websocket_messages": backlog_messages,
        "backlog_frames_per_message": backlog_message_frames as f64 / backlog_messages.max(1) as f64,
    });
    if shared.is_some() {
        print!("across instances, clients on the one not polling: ");
    }
    println!(
        "N={n:>5}  {label:<22} latency p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  | {:>9.0} msg/s | \
         missing {} dup {} disorder {} | CPU {:.3} µs/msg (load generator {:.3}) | RSS idle {} KiB ({:.1} KiB/client), end {} KiB, peak {} KiB",
        common::percentile(&latencies, 0.5),
        common::percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        got as f64 / elapsed,
        expected.saturating_sub(got),
        duplicates,
        out_of_order,
        cpu * 1e6 / got.max(1) as f64,
        generator_cpu * 1e6 / got.max(1) as f64,
        idle_rss,
        idle_rss as f64 / n as f64,
        end_rss,
        peak_rss,
    );
    println!(
        "        backlog frames {} of {n}×{BACKLOG} (dup {} disorder {}), apart from the figures above; \
         the server held {WARM} comments before the clients connected",
        backlog.frames, backlog.duplicates, backlog.out_of_order
    );
    if rss_over_time.len() > 2 {
        let series: Vec<String> = rss_over_time
            .iter()
            .map(|(t, kib)| format!("{t}s:{}MB", kib / 1024))
            .collect();
        println!("        RSS over the run: {}", series.join(" "));
    }
    if batch {
        println!(
            "        {messages} WebSocket messages carried {frames} frames ({:.2} a message); \
             the backlog came in {backlog_messages} messages of {backlog_message_frames} frames",
            frames as f64 / messages.max(1) as f64
        );
    }
    if let Some(((figures, lines), (mut second_figures, second_lines))) = after {
        println!("{lines}");
        result["after_burst"] = figures;
        let want = SECOND_BURST * n as u64;
        println!(
            "        second burst of {SECOND_BURST}: delivered {} of {want}, missing {} dup {} disorder {}, \
             latency p50 {:.2} ms p99 {:.2} ms\n{second_lines}",
            second.frames,
            want.saturating_sub(second.frames),
            second.duplicates,
            second.out_of_order,
            common::percentile(&second_latencies, 0.5),
            common::percentile(&second_latencies, 0.99),
        );
        second_figures["comments"] = json!(SECOND_BURST);
        second_figures["delivered"] = json!(second.frames);
        second_figures["missing"] = json!(want.saturating_sub(second.frames));
        second_figures["duplicates"] = json!(second.duplicates);
        second_figures["out_of_order"] = json!(second.out_of_order);
        second_figures["latency_ms"] = json!({
            "p50": common::percentile(&second_latencies, 0.50),
            "p99": common::percentile(&second_latencies, 0.99),
        });
        result["after_second_burst"] = second_figures;
    }
    result
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    selftest::split();
    if std::env::args().any(|a| a == "selftest") {
        selftest::clients().await;
        println!("selftest: single frames and arrays of frames are split and counted correctly");
        return;
    }
    // 10,000 clients are 20,000 sockets on this machine: 10,000 in this
    // process and 10,000 in the server, which inherits this limit.
    let limit = rlimit::increase_nofile_limit(65_536).unwrap_or(0);
    let batch = std::env::args().any(|a| a == "batch");
    if std::env::args().any(|a| a == "soak") {
        let result = scenario(
            1000,
            Load::Steady {
                per_second: 100,
                seconds: 600,
            },
            None,
            batch,
        )
        .await;
        let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/fanout-soak.json");
        std::fs::write(out, serde_json::to_string_pretty(&result).unwrap()).unwrap();
        println!("results written to {out}");
        return;
    }
    let only: Option<usize> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    let mode = |name: &str| std::env::args().any(|a| a == name);
    // The most clients this run connects at once, each a socket here and
    // one in the server.
    let most = only.unwrap_or(if mode("idle") {
        1000
    } else if mode("cluster") {
        100
    } else {
        10_000
    });
    if limit < most as u64 + 100 {
        println!(
            "warning: only {limit} open files allowed (raise the hard limit, `ulimit -Hn`): {most} clients may not connect"
        );
    }
    if mode("floor") {
        floor::floor(only.unwrap_or(1000)).await;
        return;
    }
    if std::env::args().any(|a| a == "idle") {
        let result = idle(only.unwrap_or(1000), batch).await;
        let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/fanout-idle.json");
        std::fs::write(out, serde_json::to_string_pretty(&result).unwrap()).unwrap();
        println!("results written to {out}");
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
            results.push(scenario(n, load, Some(&db), batch).await);
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
    // `steady` or `burst` runs that load alone.
    let loads: Vec<Load> = [
        Load::Steady {
            per_second: 50,
            seconds: 20,
        },
        Load::Burst { comments: 500 },
    ]
    .into_iter()
    .filter(|load| match load {
        Load::Steady { .. } => !mode("burst"),
        Load::Burst { .. } => !mode("steady"),
    })
    .collect();
    let mut results = Vec::new();
    for n in sizes {
        for &load in &loads {
            results.push(scenario(n, load, None, batch).await);
        }
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
