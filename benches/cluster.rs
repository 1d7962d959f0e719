//! Cross-instance fan-out over a shared PostgreSQL log: two `App`s (A and
//! B) run in this process on one fresh database; comments are committed on
//! A through its pipeline, as a poller would, and WebSocket clients on B
//! (and, for comparison, on A) receive them. With a shared log both paths
//! go through the database: commit → `NOTIFY` → each instance's `LISTEN`
//! connection wakes → it reads the new changes from the log → its hub →
//! its sockets.
//!
//! Run with `CW_BENCH_POSTGRES` (or `CW_TEST_POSTGRES`) set to an admin URL
//! of a PostgreSQL server (`export CW_TEST_POSTGRES=$(.ci/postgres)` starts
//! a throwaway one) and `cargo bench --bench cluster` (50 clients on each
//! instance) or `cargo bench --bench cluster -- 100` (100 each). A database
//! `bench_<pid>_<random>` is created for the run and dropped at the end.
//!
//! Prints, per scenario: latency from the moment a batch is handed to A's
//! `Pipeline::ingest` to the moment each client reads the comment's frame,
//! p50/p99/max over every (comment, client) pair, for B's clients and for
//! A's; the same measured from the moment `ingest` returned (the commit is
//! done; a frame read before that counts as 0); the commit time per batch;
//! and delivered/missing/duplicate/out-of-order counts. The figures are
//! also written to `target/cluster.json`.
//!
//! Everything (both instances, the clients, the PostgreSQL server) shares
//! the machine, so on a small one the figures include CPU contention.

mod common;
/// The integration tests' helpers: the same app, started the same way.
#[allow(dead_code)]
#[path = "../tests/app/helpers.rs"]
mod helpers;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use commentwatch::domain::RawComment;
use commentwatch::poller::Pipeline;
use commentwatch::store::Batch;
use helpers::TestApp;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Clients read by one task; small so that reading is not what waits.
const CLIENTS_PER_TASK: usize = 10;
/// Ids of the benchmark's comments: `bench` and ten digits.
const ID_PREFIX: &str = "\"id\":\"bench";
/// The source the benchmark's comments are recorded under.
const SOURCE: &str = "bench";
/// Longest wait for every expected frame after the last commit.
const DRAIN: Duration = Duration::from_secs(60);

/// One in-process instance: the integration tests' app, on the shared
/// database. Its only source is the demo, which posts its 20-comment
/// backlog once (on whichever instance takes the source's lock) and then
/// nothing: rate 0, polled once a day.
async fn instance(db: &str) -> TestApp {
    helpers::spawn_app_with_db(
        db,
        &[
            ("CW_SOURCES", "demo"),
            ("CW_DEMO_RATE", "0"),
            ("CW_POLL", "24h"),
            ("CW_MAX_CLIENTS", "20000"),
        ],
    )
    .await
}

/// What the clients of one instance saw, shared with their tasks. The main
/// task takes the arrivals after each scenario.
#[derive(Default)]
struct Side {
    /// `(comment index, arrival offset from the epoch)`, first copy only.
    arrivals: Mutex<Vec<(u64, Duration)>>,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    out_of_order: AtomicU64,
}

impl common::Sink for &Side {
    fn arrival(&mut self, k: u64, at: Duration) {
        self.arrivals.lock().unwrap().push((k, at));
    }
    fn duplicate(&mut self) {
        self.duplicates.fetch_add(1, Ordering::Relaxed);
    }
    fn out_of_order(&mut self) {
        self.out_of_order.fetch_add(1, Ordering::Relaxed);
    }
}

impl Side {
    /// Clears the counters for the next scenario.
    fn reset(&self) {
        self.arrivals.lock().unwrap().clear();
        self.delivered.store(0, Ordering::SeqCst);
        self.duplicates.store(0, Ordering::SeqCst);
        self.out_of_order.store(0, Ordering::SeqCst);
    }
}

/// Connects `n` clients to `addr`; returns when every one has its `hello`.
async fn connect_clients(
    addr: &str,
    n: usize,
    epoch: Instant,
    side: Arc<Side>,
    stop: Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    let ready = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for chunk in 0..n.div_ceil(CLIENTS_PER_TASK) {
        let count = CLIENTS_PER_TASK.min(n - chunk * CLIENTS_PER_TASK);
        let url = format!("ws://{addr}/ws");
        let (side, stop, ready) = (side.clone(), stop.clone(), ready.clone());
        tasks.push(tokio::spawn(async move {
            let mut clients = Vec::with_capacity(count);
            for _ in 0..count {
                let client = common::ws::connect(&url)
                    .await
                    .expect("a WebSocket client connects");
                clients.push(client);
            }
            common::read_frames(
                clients,
                epoch,
                ID_PREFIX,
                &stop,
                &ready,
                &side.delivered,
                &mut &*side,
            )
            .await;
        }));
    }
    while ready.load(Ordering::SeqCst) < n as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tasks
}

/// Comment `k` as a poller would hand it over: sanitized, fetched now.
fn comment(k: u64) -> commentwatch::domain::Comment {
    let text = format!("benchmark comment {k}: great stream, greetings from the load generator");
    let raw = RawComment {
        id: format!("bench{k:010}"),
        author_name: format!("@viewer{}", k % 997),
        author_id: format!("UCviewer{}", k % 997),
        text,
        published_at: Some(Utc::now()),
        ..RawComment::default()
    };
    commentwatch::sanitize::sanitize(SOURCE, raw, Utc::now()).expect("a valid comment")
}

/// When each comment of a scenario was handed to `ingest`, and when that
/// `ingest` returned, as offsets from the epoch.
#[derive(Default)]
struct Sent {
    called: HashMap<u64, Duration>,
    committed: HashMap<u64, Duration>,
    /// How long each `ingest` call took.
    commit_ms: Vec<f64>,
}

/// Commits comments `first..first + n` on `pipeline` in batches of `size`.
/// `every` paces the batches (a poller's interval); `None` sends them
/// back to back.
async fn drive(
    pipeline: &Pipeline,
    epoch: Instant,
    first: u64,
    n: u64,
    size: u64,
    every: Option<Duration>,
) -> Sent {
    let mut sent = Sent::default();
    let mut tick = every.map(tokio::time::interval);
    let mut k = first;
    while k < first + n {
        if let Some(tick) = &mut tick {
            tick.tick().await;
        }
        let ids: Vec<u64> = (k..(k + size).min(first + n)).collect();
        k += ids.len() as u64;
        let batch = Batch {
            source: SOURCE.to_owned(),
            comments: ids.iter().map(|&i| comment(i)).collect(),
            ..Batch::default()
        };
        let called = epoch.elapsed();
        let changes = pipeline.ingest(batch).await.expect("the commit succeeds");
        let committed = epoch.elapsed();
        assert_eq!(changes.len(), ids.len(), "every comment is new");
        sent.commit_ms
            .push((committed - called).as_secs_f64() * 1000.0);
        for i in ids {
            sent.called.insert(i, called);
            sent.committed.insert(i, committed);
        }
    }
    sent
}

fn summary(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    json!({
        "count": ms.len(),
        "p50": common::percentile(&ms, 0.50),
        "p99": common::percentile(&ms, 0.99),
        "max": ms.last().copied().unwrap_or(f64::NAN),
    })
}

fn describe(s: &Value) -> String {
    format!(
        "p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        s["p50"].as_f64().unwrap_or(f64::NAN),
        s["p99"].as_f64().unwrap_or(f64::NAN),
        s["max"].as_f64().unwrap_or(f64::NAN),
    )
}

/// The figures of one side for one scenario.
fn side_figures(side: &Side, sent: &Sent, clients: usize) -> Value {
    let arrivals = std::mem::take(&mut *side.arrivals.lock().unwrap());
    let mut from_call = Vec::with_capacity(arrivals.len());
    let mut from_commit = Vec::with_capacity(arrivals.len());
    for (k, at) in &arrivals {
        if let (Some(c), Some(d)) = (sent.called.get(k), sent.committed.get(k)) {
            from_call.push(at.saturating_sub(*c).as_secs_f64() * 1000.0);
            // A frame can be read before `ingest` has returned to its caller:
            // the commit is what wakes the listeners. That counts as 0.
            from_commit.push(at.saturating_sub(*d).as_secs_f64() * 1000.0);
        }
    }
    let expected = (sent.called.len() * clients) as u64;
    let delivered = from_call.len() as u64;
    json!({
        "clients": clients,
        "expected": expected,
        "delivered": delivered,
        "missing": expected.saturating_sub(delivered),
        "duplicates": side.duplicates.load(Ordering::SeqCst),
        "out_of_order": side.out_of_order.load(Ordering::SeqCst),
        "latency_from_ingest_ms": summary(from_call),
        "latency_from_commit_ms": summary(from_commit),
    })
}

struct Cluster {
    a: TestApp,
    b: TestApp,
    side_a: Arc<Side>,
    side_b: Arc<Side>,
    clients: usize,
    epoch: Instant,
    next: u64,
}

impl Cluster {
    /// Commits `n` comments on A in batches of `size` (paced by `every`),
    /// waits for every client to have all of them, and prints the figures.
    async fn scenario(&mut self, label: &str, n: u64, size: u64, every: Option<Duration>) -> Value {
        self.side_a.reset();
        self.side_b.reset();
        let first = self.next;
        self.next += n;
        let started = Instant::now();
        let sent = drive(&self.a.feed, self.epoch, first, n, size, every).await;
        let sending = started.elapsed();
        let expected = n * self.clients as u64;
        let deadline = Instant::now() + DRAIN;
        while (self.side_a.delivered.load(Ordering::SeqCst) < expected
            || self.side_b.delivered.load(Ordering::SeqCst) < expected)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let b = side_figures(&self.side_b, &sent, self.clients);
        let a = side_figures(&self.side_a, &sent, self.clients);
        let commits = summary(sent.commit_ms.clone());
        let result = json!({
            "scenario": label,
            "comments": n,
            "batch_size": size,
            "batches": sent.commit_ms.len(),
            "sending_seconds": sending.as_secs_f64(),
            "commit_ms": commits,
            "cross_instance_b": b,
            "same_instance_a": a,
        });
        println!(
            "{label}: {n} comments in {} commits over {:.1} s; commit (ingest call) {}",
            sent.commit_ms.len(),
            sending.as_secs_f64(),
            describe(&commits),
        );
        for (name, fig) in [
            (
                "A → B clients (cross-instance)",
                &result["cross_instance_b"],
            ),
            ("A → A clients (same instance) ", &result["same_instance_a"]),
        ] {
            println!(
                "  {name}  n={:>6}  from ingest: {}  | from commit: {}  | missing {} dup {} disorder {}",
                fig["delivered"],
                describe(&fig["latency_from_ingest_ms"]),
                describe(&fig["latency_from_commit_ms"]),
                fig["missing"],
                fig["duplicates"],
                fig["out_of_order"],
            );
        }
        result
    }
}

/// Creates database `name` through the admin URL and returns its URL.
async fn create_database(admin: &str, name: &str) -> String {
    let (client, connection) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the admin URL: {e}"));
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the bench database");
    let mut url = url::Url::parse(admin).expect("the admin URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

async fn drop_database(admin: &str, name: &str) {
    let Ok((client, connection)) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await
    else {
        eprintln!("could not connect to drop database {name}");
        return;
    };
    tokio::spawn(connection);
    if let Err(e) = client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
    {
        eprintln!("could not drop database {name}: {e}");
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let (filter, log_filter) = tracing_subscriber::reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer())
        .init();
    let Some(admin) = ["CW_BENCH_POSTGRES", "CW_TEST_POSTGRES"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    else {
        eprintln!(
            "cluster bench skipped: set CW_BENCH_POSTGRES (or CW_TEST_POSTGRES) to an admin \
             PostgreSQL URL, e.g. `export CW_TEST_POSTGRES=$(.ci/postgres)`"
        );
        return;
    };
    let clients: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let _ = rlimit::increase_nofile_limit(65_536);

    let name = format!("bench_{}_{:08x}", std::process::id(), rand::random::<u32>());
    let db = create_database(&admin, &name).await;
    let a = instance(&db).await;
    let b = instance(&db).await;
    // The demo's backlog is committed once, by whichever instance polls it;
    // wait for it so it does not land in the middle of a measurement.
    let backlog = commentwatch::source::demo::BACKLOG as i64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.feed.log.latest_seq().await.unwrap_or(0) < backlog && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let side_a = Arc::new(Side::default());
    let side_b = Arc::new(Side::default());
    let mut tasks = connect_clients(
        &b.addr.to_string(),
        clients,
        epoch,
        side_b.clone(),
        stop.clone(),
    )
    .await;
    tasks.extend(
        connect_clients(
            &a.addr.to_string(),
            clients,
            epoch,
            side_a.clone(),
            stop.clone(),
        )
        .await,
    );
    let mut cluster = Cluster {
        a,
        b,
        side_a,
        side_b,
        clients,
        epoch,
        next: 0,
    };
    println!(
        "two instances on one PostgreSQL database ({}), {clients} WebSocket clients on each; \
         comments committed on A",
        commentwatch::store::postgres::redact(&db)
    );
    // Warm-up: pools, prepared statements, the clients' buffers.
    let _ = cluster
        .scenario(
            "warm-up (not a measurement)",
            200,
            10,
            Some(Duration::from_millis(20)),
        )
        .await;
    let mut results = Vec::new();
    results.push(
        cluster
            .scenario(
                "steady 50/s, a 10-comment batch every 200 ms for 40 s",
                2000,
                10,
                Some(Duration::from_millis(200)),
            )
            .await,
    );
    results.push(
        cluster
            .scenario(
                "steady 50/s, a 50-comment batch every 1 s for 40 s",
                2000,
                50,
                Some(Duration::from_secs(1)),
            )
            .await,
    );
    results.push(
        cluster
            .scenario(
                "burst: 2000 comments as 4 backfill-sized batches of 500, back to back",
                2000,
                500,
                None,
            )
            .await,
    );

    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let Cluster { a, b, .. } = cluster;
    tokio::join!(a.stop(), b.stop());
    // The instances' pooled connections outlive `App::run` in this process
    // (18 of them stay open); dropping the database closes them by force,
    // and their pool would report each one.
    let _ = log_filter.modify(|f| *f = tracing_subscriber::EnvFilter::new("warn,deadpool=off"));
    drop_database(&admin, &name).await;
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/cluster.json");
    std::fs::write(out, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    println!("results written to {out}");
}
