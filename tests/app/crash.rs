//! The real binary under the worst a machine does to it: SIGKILL at random
//! moments, a disk that fills up, SIGTERM, a corrupt log file.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{Binary, Client, PATIENCE};

/// A JSON API whose comment section keeps growing: comment `k` exists once
/// `posted > k`, pages of 20, newest first, `?page=N`.
struct Growing {
    posted: Arc<AtomicU64>,
}

impl Respond for Growing {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let posted = self.posted.load(Ordering::SeqCst);
        let page: u64 = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        let top = posted.saturating_sub((page - 1) * 20);
        let items: Vec<Value> = (top.saturating_sub(20)..top)
            .rev()
            .map(|k| json!({"id": k, "text": format!("comment number {k}"), "t": 1_773_500_000_000u64 + k * 1000}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "items": items }))
    }
}

fn generic_env(api: &str) -> Vec<(String, String)> {
    [
        ("CW_SOURCES", "generic:feed"),
        ("CW_GENERIC_FEED_URL", api),
        ("CW_GENERIC_FEED_ITEMS", "/items"),
        ("CW_GENERIC_FEED_ID", "/id"),
        ("CW_GENERIC_FEED_TEXT", "/text"),
        ("CW_GENERIC_FEED_TIME", "/t"),
        ("CW_GENERIC_FEED_CURSOR", "page:page"),
        ("CW_POLL", "1s"),
        ("CW_BACKFILL_PAGES", "100"),
        ("CW_LISTEN", "127.0.0.1:0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn start(dir: &std::path::Path, env: &[(String, String)], prefix: &str) -> Binary {
    let db = dir.join("log.db").display().to_string();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.push(("CW_DB", &db));
    Binary::start(dir, &all, prefix)
}

/// Reads comment frames until the connection ends, `limit` passes or
/// `enough` of them were seen, recording `(seq, id)` in order.
async fn record(mut client: Client, seen: &mut Vec<(i64, String)>, limit: Duration, enough: usize) {
    let deadline = tokio::time::Instant::now() + limit;
    while seen.len() < enough {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_frame_within(left).await {
            Ok(Some(f)) if f["type"] == "comment" => seen.push((
                f["seq"].as_i64().unwrap(),
                f["comment"]["id"].as_str().unwrap().to_owned(),
            )),
            Ok(Some(_)) => {}
            Ok(None) | Err(()) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_no_comment_and_shows_none_twice() {
    let server = MockServer::start().await;
    let posted = Arc::new(AtomicU64::new(0));
    Mock::given(path("/api"))
        .respond_with(Growing {
            posted: posted.clone(),
        })
        .mount(&server)
        .await;
    // The platform keeps posting, 40 comments a second, while we kill.
    let poster = {
        let posted = posted.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(25)).await;
                posted.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let env = generic_env(&format!("{}/api", server.uri()));
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut rng = rand::rng();
    for _ in 0..20 {
        let bin = start(dir.path(), &env, "");
        let since = seen.last().map(|(s, _)| *s).unwrap_or(0);
        let client = bin.connect(Some(since)).await;
        let alive = Duration::from_millis(rng.random_range(200..1500));
        let killer = tokio::spawn(async move {
            tokio::time::sleep(alive).await;
            bin.signal("KILL");
            bin
        });
        // The dashboard reads until the connection dies with the process.
        record(client, &mut seen, PATIENCE, usize::MAX).await;
        drop(killer.await.unwrap());
    }
    poster.abort();
    let total = posted.load(Ordering::SeqCst);

    // One last, undisturbed run catches up; the dashboard resumes once more.
    let bin = start(dir.path(), &env, "");
    let since = seen.last().map(|(s, _)| *s).unwrap_or(0);
    let client = bin.connect(Some(since)).await;
    record(client, &mut seen, PATIENCE * 3, total as usize).await;
    let mut count: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, id) in &seen {
        *count.entry(id.parse().unwrap()).or_default() += 1;
    }
    let missing: Vec<u64> = (0..total).filter(|k| !count.contains_key(k)).collect();
    let doubled: Vec<(&u64, &usize)> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty(),
        "{} of {total} missing: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert!(doubled.is_empty(), "shown twice: {doubled:?}");
    let seqs: Vec<i64> = seen.iter().map(|(s, _)| *s).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq order across restarts"
    );
}

#[tokio::test]
async fn sigterm_closes_dashboards_with_1001_and_exits_0_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db").display().to_string();
    let bin = Binary::start(
        dir.path(),
        &[
            ("CW_LISTEN", "127.0.0.1:0"),
            ("CW_DB", &db),
            ("CW_DEMO_RATE", "600"),
        ],
        "",
    );
    let mut client = bin.connect(None).await;
    client.comments(20).await;
    let started = std::time::Instant::now();
    bin.signal("TERM");
    assert_eq!(client.close_code().await, Some(1001));
    let (status, stderr) = tokio::task::spawn_blocking(move || bin.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // Checkpointed: the write-ahead log is empty, the file complete alone.
    let wal = dir.path().join("log.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}

#[test]
fn a_corrupt_log_file_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    let path = db.display().to_string();
    let bin = Binary::start(
        dir.path(),
        &[("CW_LISTEN", "127.0.0.1:0"), ("CW_DB", &path)],
        "",
    );
    let (status, stderr) = bin.wait(Duration::from_secs(10));
    assert!(!status.success());
    assert!(
        stderr.contains("CW_DB") && stderr.contains("not a database"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "the file was changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_pauses_the_log_and_it_recovers_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db").display().to_string();
    // Writes past 2 MiB fail (EFBIG, as on a full disk) instead of killing
    // the process.
    let mut bin = Binary::start(
        dir.path(),
        &[
            ("CW_LISTEN", "127.0.0.1:0"),
            ("CW_DB", &db),
            ("CW_DEMO_RATE", "30000"),
            ("CW_POLL", "1s"),
        ],
        "trap '' XFSZ; ulimit -S -f 2048;",
    );
    let mut client = bin.connect(None).await;
    let frames = client
        .until(|f| f["type"] == "status" && f["sources"][0]["state"] == "backoff")
        .await;
    let status = frames.last().unwrap();
    let error = status["sources"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("comment log"), "{error}");

    // Space comes back.
    let ok = std::process::Command::new("prlimit")
        .args(["--pid", &bin.child.id().to_string(), "--fsize=unlimited"])
        .status()
        .unwrap();
    assert!(ok.success());
    client
        .until(|f| f["type"] == "status" && f["sources"][0]["state"] == "ok")
        .await;
    assert!(
        bin.child.try_wait().unwrap().is_none(),
        "the server survived the full disk"
    );

    // Everything the log holds is whole: seqs 1..N, each comment once.
    let mut all = bin.connect(Some(0)).await;
    let latest = all.latest_seq;
    let frames = all.until(|f| f["seq"].as_i64() == Some(latest)).await;
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (f, expected) in frames.iter().filter(|f| f["seq"].is_i64()).zip(1..) {
        assert_eq!(f["seq"].as_i64(), Some(expected), "no gap in the log");
        *ids.entry(f["comment"]["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(ids.values().all(|n| *n == 1));
}
