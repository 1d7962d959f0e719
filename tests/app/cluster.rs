//! Several instances of the real binary on one PostgreSQL log, as a
//! deployment behind a load balancer runs them: one instance polls each
//! source while the others stand by and take over when it dies; every
//! instance serves every comment to its own dashboards, in `seq` order, and a
//! dashboard resumes on any instance; YouTube's daily quota is one budget
//! for all of them.
//!
//! Each test gets a fresh database from `helpers::postgres_db` and returns
//! early (saying so) when `CW_TEST_POSTGRES` names no server.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{self, Binary, Client, PATIENCE, eventually};

/// `CW_POLL` of every instance.
const POLL: Duration = Duration::from_secs(1);
/// How long after its poller died a source may go unpolled: the lock goes
/// with the dead instance's connection, and a survivor takes it on one of
/// its next ticks.
const FAILOVER_BOUND: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Failover and fan-out
// ---------------------------------------------------------------------------

/// The name of the generic source every instance of the failover test
/// polls, as `/metrics` and status frames label it.
const FEED: &str = "generic:feed";

/// A JSON API whose comment list grows while the test runs: every comment
/// posted so far, newest first, in one page.
#[derive(Clone, Default)]
struct Growing {
    items: Arc<Mutex<Vec<Value>>>,
}

impl Growing {
    /// Posts one more comment; returns its id.
    fn post(&self) -> String {
        let mut items = self.items.lock().unwrap();
        let k = items.len();
        let id = format!("c{k:04}");
        items.push(json!({
            "id": id,
            "author": format!("viewer {}", k % 7),
            "text": format!("comment number {k}"),
            "t": 1_773_500_000_000u64 + k as u64 * 1000,
        }));
        id
    }

    fn ids(&self) -> Vec<String> {
        let items = self.items.lock().unwrap();
        items
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Respond for Growing {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let newest_first: Vec<Value> = self.items.lock().unwrap().iter().rev().cloned().collect();
        ResponseTemplate::new(200).set_body_json(json!({"data": {"comments": newest_first}}))
    }
}

/// What one dashboard saw: every comment frame as `(seq, id)`, in arrival
/// order, and the instances it was connected to, in order.
#[derive(Default, Debug)]
struct Seen {
    comments: Vec<(i64, String)>,
    instances: Vec<String>,
    /// Changes other than new comments (there should be none).
    odd: Vec<Value>,
}

/// A dashboard that stays open for the whole test. It starts on
/// `instances[0]` with `since=0`; when its instance goes away it resumes on
/// the next one with `since=<the last seq it saw>`, like the dashboard page
/// does.
async fn dashboard(instances: Vec<String>, seen: Arc<Mutex<Seen>>) {
    let mut at = 0;
    let mut since = 0;
    loop {
        let addr = &instances[at % instances.len()];
        let mut client = Client::connect(addr, Some(since)).await;
        seen.lock().unwrap().instances.push(addr.clone());
        loop {
            match client.next_frame_within(PATIENCE).await {
                Ok(Some(f)) if f["type"] == "comment" => {
                    let seq = f["seq"].as_i64().expect("a comment has a seq");
                    let id = f["comment"]["id"].as_str().expect("a comment has an id");
                    seen.lock().unwrap().comments.push((seq, id.to_owned()));
                    since = seq;
                }
                // Nothing but new comments changes the log in this test.
                Ok(Some(f)) if f.get("seq").is_some() => seen.lock().unwrap().odd.push(f),
                Ok(Some(_)) => {}
                // Quiet for a while: keep listening.
                Err(()) => {}
                // The instance died: resume on the next one.
                Ok(None) => break,
            }
        }
        at += 1;
    }
}

/// `/metrics` of `addr`; `None` when the instance does not answer.
async fn metrics(http: &reqwest::Client, addr: &str) -> Option<String> {
    http.get(format!("http://{addr}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()
}

/// The value of `commentwatch_source_polled_here{source}` on `addr`; `None`
/// when the instance does not answer or has not ticked yet.
async fn polled_here(http: &reqwest::Client, addr: &str, source: &str) -> Option<i64> {
    let prefix = format!("commentwatch_source_polled_here{{source=\"{source}\"}} ");
    metrics(http, addr)
        .await?
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// `commentwatch_polls_total` of `source` on `addr`, by outcome: the polls
/// this instance itself made.
async fn poll_outcomes(http: &reqwest::Client, addr: &str, source: &str) -> BTreeMap<String, i64> {
    let body = metrics(http, addr).await.unwrap_or_default();
    let label = format!("source=\"{source}\"");
    body.lines()
        .filter_map(|l| l.strip_prefix("commentwatch_polls_total{"))
        .filter(|l| l.contains(&label))
        .filter_map(|l| {
            let (labels, value) = l.split_once("} ")?;
            let outcome = labels.split("outcome=\"").nth(1)?.split('"').next()?;
            Some((outcome.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The gauge on each of `addrs`, once every one of them reports it.
async fn gauges(http: &reqwest::Client, addrs: &[&str], source: &str) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    for addr in addrs {
        out.push(polled_here(http, addr, source).await?);
    }
    Some(out)
}

/// Waits until exactly one of `addrs` polls `source` and every other one
/// says it does not; returns that instance's index. Panics if two ever say
/// they poll it at once.
async fn the_poller(
    http: &reqwest::Client,
    addrs: &[&str],
    source: &str,
    within: Duration,
) -> usize {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = None;
    loop {
        if let Some(g) = gauges(http, addrs, source).await {
            let polling: Vec<usize> = (0..g.len()).filter(|i| g[*i] == 1).collect();
            assert!(
                polling.len() <= 1,
                "{source} is polled by several instances at once: {addrs:?} report {g:?}"
            );
            if polling.len() == 1 && g.iter().all(|v| *v == 0 || *v == 1) {
                return polling[0];
            }
            last = Some(g);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no instance of {addrs:?} took {source} within {within:?}; last gauges {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each source's state in `/healthz` of `addr`.
async fn states(http: &reqwest::Client, addr: &str) -> HashMap<String, String> {
    let body = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("/healthz answers")
        .text()
        .await
        .expect("/healthz has a body");
    let health: Value = serde_json::from_str(&body).expect("/healthz is JSON");
    health["sources"]
        .as_array()
        .expect("/healthz lists the sources")
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap().to_owned(),
                s["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Waits until `/healthz` of `addr` reports `source` in `state`.
async fn wait_for_state(http: &reqwest::Client, addr: &str, source: &str, state: &str) {
    let what = format!("{addr}: {source} becomes {state:?}");
    eventually(&what, PATIENCE, || async {
        let now = states(http, addr).await;
        if now.get(source).map(String::as_str) == Some(state) {
            Ok(())
        } else {
            Err(format!("/healthz says {now:?}"))
        }
    })
    .await;
}

/// Waits until every dashboard has seen at least `n` comments.
async fn until_every_dashboard_saw(seen: &[Arc<Mutex<Seen>>], n: usize, what: &str) {
    eventually(what, PATIENCE, || async {
        let counts: Vec<usize> = seen
            .iter()
            .map(|s| s.lock().unwrap().comments.len())
            .collect();
        if counts.iter().all(|c| *c >= n) {
            Ok(())
        } else {
            Err(format!(
                "dashboards saw {counts:?} comments, expected {n} each"
            ))
        }
    })
    .await;
}

/// Background tasks, stopped when the test ends, however it ends (before
/// the instances they talk to are killed).
#[derive(Default)]
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Three instances, two dashboards on each, a source that keeps posting.
/// The instance that polls is SIGKILLed; a survivor takes over within a few
/// poll intervals, the dead instance's dashboards resume on a survivor with
/// `since`, and every dashboard ends with every comment once, in `seq` order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_poller_is_replaced_and_every_dashboard_sees_every_comment_once_in_order() {
    let Some(db) = helpers::postgres_db().await else {
        return;
    };
    let api = Growing::default();
    for _ in 0..3 {
        api.post();
    }
    let server = MockServer::start().await;
    Mock::given(path("/api/comments"))
        .respond_with(api.clone())
        .mount(&server)
        .await;
    let url = format!("{}/api/comments", server.uri());
    let poll = format!("{}s", POLL.as_secs());
    let env = [
        ("CW_DB", db.as_str()),
        ("CW_LISTEN", "127.0.0.1:0"),
        ("CW_SOURCES", FEED),
        ("CW_POLL", poll.as_str()),
        ("CW_GENERIC_FEED_URL", url.as_str()),
        ("CW_GENERIC_FEED_ITEMS", "/data/comments"),
        ("CW_GENERIC_FEED_ID", "/id"),
        ("CW_GENERIC_FEED_AUTHOR", "/author"),
        ("CW_GENERIC_FEED_TEXT", "/text"),
        ("CW_GENERIC_FEED_TIME", "/t"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut instances: Vec<Option<Binary>> = (0..3)
        .map(|_| Some(Binary::start(dir.path(), &env, "")))
        .collect();
    let addrs: Vec<String> = instances
        .iter()
        .map(|b| b.as_ref().unwrap().addr.clone())
        .collect();
    assert!(
        addrs.iter().all(|a| !a.is_empty()),
        "every instance started: {addrs:?}"
    );

    // Two dashboards on each instance; each resumes on the next instance
    // round the ring if its own dies.
    let mut seen: Vec<Arc<Mutex<Seen>>> = Vec::new();
    let mut home: Vec<usize> = Vec::new();
    let mut tasks = Tasks::default();
    for i in 0..6 {
        let first = i % 3;
        let ring: Vec<String> = (0..3).map(|k| addrs[(first + k) % 3].clone()).collect();
        let s = Arc::new(Mutex::new(Seen::default()));
        seen.push(s.clone());
        home.push(first);
        tasks.0.push(tokio::spawn(dashboard(ring, s)));
    }

    // The platform keeps posting, ten comments a second, all test long.
    let (stop_posting, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let poster = {
        let api = api.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => { api.post(); }
                }
            }
        })
    };

    // Exactly one instance polls; every instance shows the state it reports.
    let http = http();
    let all: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let first = the_poller(&http, &all, FEED, PATIENCE).await;
    for addr in &addrs {
        wait_for_state(&http, addr, FEED, "ok").await;
    }
    // What the poller stores reaches the dashboards of every instance.
    until_every_dashboard_saw(&seen, 10, "before the kill").await;

    // At any moment of its tick: polling, writing or idle.
    let moment = POLL.mul_f64(rand::random::<f64>());
    tokio::time::sleep(moment).await;
    instances[first].take().unwrap().signal("KILL");
    let killed_at = tokio::time::Instant::now();
    let posted_before_kill = api.ids().len();
    let survivors: Vec<&str> = (0..3)
        .filter(|i| *i != first)
        .map(|i| addrs[i].as_str())
        .collect();
    let next = the_poller(&http, &survivors, FEED, PATIENCE).await;
    let took = killed_at.elapsed();
    let next_addr = survivors[next];
    eprintln!(
        "instance {} ({}) polled {FEED}; killed {moment:?} after the dashboards had 10 \
         comments, {next_addr} took over in {took:?}",
        first, addrs[first]
    );
    assert!(
        took <= FAILOVER_BOUND,
        "{FEED} went unpolled for {took:?} after its poller died (CW_POLL={POLL:?}, bound \
         {FAILOVER_BOUND:?})"
    );
    assert_eq!(
        polled_state(&http, next_addr, FEED).await,
        "ok",
        "{next_addr} took {FEED} over"
    );

    // The new poller fetches what is posted from now on.
    let target = api.ids().len() + 10;
    while api.ids().len() < target {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_posting.send(());
    poster.await.unwrap();
    let posted = api.ids();
    assert!(
        posted.len() >= posted_before_kill + 10,
        "comments were posted after the kill"
    );

    // Every dashboard, moved or not, ends with every comment exactly once.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let done = seen.iter().all(|s| {
            let s = s.lock().unwrap();
            posted
                .iter()
                .all(|id| s.comments.iter().any(|(_, seen_id)| seen_id == id))
        });
        if done || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A little longer, so that a late duplicate would be caught too.
    tokio::time::sleep(POLL * 2).await;
    drop(tasks);
    for (d, s) in seen.iter().enumerate() {
        let s = s.lock().unwrap();
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, id) in &s.comments {
            *count.entry(id.as_str()).or_default() += 1;
        }
        let missing: Vec<&String> = posted
            .iter()
            .filter(|id| !count.contains_key(id.as_str()))
            .collect();
        let doubled: Vec<(&&str, &usize)> = count.iter().filter(|(_, n)| **n > 1).collect();
        let unknown: Vec<&&str> = count
            .keys()
            .filter(|id| !posted.iter().any(|p| p == **id))
            .collect();
        let on = &addrs[home[d]];
        assert!(
            missing.is_empty(),
            "dashboard {d} (started on {on}, then {:?}) is missing {} of {} comments: {missing:?}",
            s.instances,
            missing.len(),
            posted.len()
        );
        assert!(
            doubled.is_empty(),
            "dashboard {d} (started on {on}, then {:?}) saw comments twice: {doubled:?}",
            s.instances
        );
        assert!(
            unknown.is_empty(),
            "dashboard {d} saw unknown comments: {unknown:?}"
        );
        assert!(
            s.odd.is_empty(),
            "dashboard {d} saw changes that never happened: {:?}",
            s.odd
        );
        let seqs: Vec<i64> = s.comments.iter().map(|(seq, _)| *seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "dashboard {d} (on {:?}) saw seqs out of order: {seqs:?}",
            s.instances
        );
        // Dashboards of the killed instance moved once; the others never
        // lost their connection.
        let connections = if home[d] == first { 2 } else { 1 };
        assert_eq!(
            s.instances.len(),
            connections,
            "dashboard {d} started on {on}; connections: {:?}",
            s.instances
        );
    }
    // One log: the same comment has the same seq on every dashboard.
    let reference: HashMap<String, i64> = seen[0]
        .lock()
        .unwrap()
        .comments
        .iter()
        .map(|(seq, id)| (id.clone(), *seq))
        .collect();
    for (d, s) in seen.iter().enumerate().skip(1) {
        for (seq, id) in &s.lock().unwrap().comments {
            assert_eq!(
                reference.get(id),
                Some(seq),
                "dashboard {d} saw {id} as seq {seq}; dashboard 0 as {:?}",
                reference.get(id)
            );
        }
    }
    drop(instances);
}

// ---------------------------------------------------------------------------
// The shared YouTube quota
// ---------------------------------------------------------------------------

const KEY: &str = "cluster-test-key";
/// Three videos, so that several sources spend from the one key.
const VIDEOS: [&str; 3] = ["clusterVidA", "clusterVidB", "clusterVidC"];
/// `YOUTUBE_DAILY_QUOTA` of the first quota test: a few polls' worth, and not a
/// multiple of the three sources' round of polls, so that the last round
/// finds fewer units left than sources that want to poll.
const BUDGET: i64 = 26;

/// A mock YouTube Data API whose videos keep getting comments: one page of
/// `commentThreads` per video (the newest first, every thread's replies
/// inline), in the shape of `tests/data/fixtures`.
#[derive(Clone)]
struct YouTube {
    /// Each video's threads, oldest first.
    threads: Arc<Mutex<HashMap<String, Vec<Value>>>>,
    /// A real thread from the fixtures, its replies complete.
    template: Value,
}

impl YouTube {
    fn new() -> YouTube {
        let page: Value =
            serde_json::from_str(&helpers::fixture("youtube_commentThreads_page1.json")).unwrap();
        let template = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["snippet"]["totalReplyCount"] == 0)
            .expect("a fixture thread without replies")
            .clone();
        YouTube {
            threads: Arc::default(),
            template,
        }
    }

    /// Posts one more top-level comment under `video`.
    fn post(&self, video: &str) {
        let mut threads = self.threads.lock().unwrap();
        let list = threads.entry(video.to_owned()).or_default();
        let k = list.len();
        let id = format!("Ug{video}{k:05}");
        let at = chrono::DateTime::from_timestamp(1_773_500_000 + k as i64 * 10, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let text = format!("comment {k} on {video}");
        let mut t = self.template.clone();
        t["id"] = json!(id);
        t["snippet"]["videoId"] = json!(video);
        let c = &mut t["snippet"]["topLevelComment"];
        c["id"] = json!(id);
        c["snippet"]["videoId"] = json!(video);
        c["snippet"]["textDisplay"] = json!(text);
        c["snippet"]["textOriginal"] = json!(text);
        c["snippet"]["publishedAt"] = json!(at);
        c["snippet"]["updatedAt"] = json!(at);
        list.push(t);
    }
}

impl Respond for YouTube {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let video = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "videoId")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let threads = self.threads.lock().unwrap();
        let items: Vec<Value> = threads
            .get(&video)
            .map(|l| l.iter().rev().take(100).cloned().collect())
            .unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(json!({
            "kind": "youtube#commentThreadListResponse",
            "etag": "cluster-test",
            "pageInfo": {"totalResults": items.len(), "resultsPerPage": 100},
            "items": items,
        }))
    }
}

/// Quota units of every request the mock received, at the Data API's
/// prices (src/source/youtube.rs): 1 for `commentThreads.list`,
/// `comments.list` and `videos.list`, 5 for `liveChatMessages.list`.
async fn units_received(server: &MockServer) -> i64 {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| match r.url.path() {
            "/youtube/v3/liveChat/messages" => 5,
            _ => 1,
        })
        .sum()
}

/// How many requests the mock received, by Data API method.
async fn requests_by_method(server: &MockServer) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in server.received_requests().await.unwrap() {
        let method = r.url.path().trim_start_matches("/youtube/v3/").to_owned();
        *out.entry(method).or_default() += 1;
    }
    out
}

/// The units the shared `quota` table holds, every day's row summed.
async fn quota_table(db: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(db, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    let conn = tokio::spawn(connection);
    let rows = client
        .query("SELECT units FROM quota", &[])
        .await
        .expect("read the quota table");
    drop(client);
    let _ = conn.await;
    rows.iter().map(|r| r.get::<_, i64>(0)).sum()
}

/// Waits until the instance at `addr`, which holds `source`'s lock, has
/// polled it (`"ok"`) or found no quota left for it (`"quota"`); panics on
/// any other outcome. Every instance shows the state a source's poller
/// reports, so a state in `/healthz` may be an earlier poller's: a poll of
/// this instance's own is read from its `commentwatch_polls_total`, which
/// counts it once the poll is written and its set-aside quota has gone back.
async fn polled_state(http: &reqwest::Client, addr: &str, source: &str) -> &'static str {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let outcomes = poll_outcomes(http, addr, source).await;
        assert!(
            outcomes.keys().all(|o| o == "ok" || o == "quota"),
            "{addr}: polls of {source} failed: {outcomes:?}; the mock's answers should do"
        );
        if outcomes.get("quota").is_some_and(|n| *n > 0) {
            return "quota";
        }
        if outcomes.get("ok").is_some_and(|n| *n > 0) {
            return "ok";
        }
        let now = states(http, addr).await;
        if now.get(source).map(String::as_str) == Some("quota") {
            return "quota";
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{addr} holds {source} but never polled it; /healthz says {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The videos instance `slot` of the quota tests watches: two of the three,
/// round a ring, so that every video has a poller and a standby, and the
/// three sources end up spread over several instances.
fn ring(slot: usize) -> [&'static str; 2] {
    [VIDEOS[slot % 3], VIDEOS[(slot + 1) % 3]]
}

/// What a quota test ends with.
struct Spent {
    /// Units' worth of requests the API received.
    received: i64,
    /// Units the shared `quota` table holds.
    counted: i64,
}

/// Three instances on `db` watch `VIDEOS` at `server` (see `ring`), with
/// `YOUTUBE_DAILY_QUOTA=budget` and a fast `CW_POLL`, until every source is
/// paused for quota.
///
/// The quota planner spaces one instance's polls out so that the budget
/// lasts the session, but an instance that takes a source over has no such
/// memory of its own: it must go by what the shared log says was spent. So
/// each round waits until every source has been polled (or refused for
/// quota) by its holder, then kills the holders at once and starts fresh
/// instances in their place; the standbys and the fresh ones take over and
/// poll again. Panics as soon as the API has received more than `budget`.
async fn spend_until_paused(db: &str, server: &MockServer, budget: i64) -> Spent {
    let budget_var = budget.to_string();
    let poll = format!("{}s", POLL.as_secs());
    let base = server.uri();
    let dir = tempfile::tempdir().unwrap();
    let start = |slot: usize| {
        let sources = ring(slot).map(|v| format!("youtube:{v}")).join(",");
        let env = [
            ("CW_DB", db),
            ("CW_LISTEN", "127.0.0.1:0"),
            ("CW_SOURCES", sources.as_str()),
            ("CW_POLL", poll.as_str()),
            ("YOUTUBE_API_KEY", KEY),
            ("YOUTUBE_API_BASE", base.as_str()),
            ("YOUTUBE_DAILY_QUOTA", budget_var.as_str()),
        ];
        let b = Binary::start(dir.path(), &env, "");
        assert!(!b.addr.is_empty(), "instance {slot} started");
        b
    };
    let mut instances: Vec<Binary> = (0..3).map(start).collect();
    let http = http();
    let mut rounds = 0;
    loop {
        let mut holders: Vec<usize> = Vec::new();
        let mut by: Vec<String> = Vec::new();
        let mut paused = 0;
        for video in VIDEOS {
            let source = format!("youtube:{video}");
            let watching: Vec<usize> = (0..3).filter(|s| ring(*s).contains(&video)).collect();
            let addrs: Vec<&str> = watching
                .iter()
                .map(|s| instances[*s].addr.as_str())
                .collect();
            let h = watching[the_poller(&http, &addrs, &source, PATIENCE).await];
            let addr = &instances[h].addr;
            let state = polled_state(&http, addr, &source).await;
            paused += usize::from(state == "quota");
            by.push(format!("{video} by instance {h}: {state}"));
            if !holders.contains(&h) {
                holders.push(h);
            }
        }
        let received = units_received(server).await;
        eprintln!("round {rounds}: {received} units spent; {by:?}");
        assert!(
            received <= budget,
            "{received} quota units spent against YOUTUBE_DAILY_QUOTA={budget} after {rounds} \
             takeovers ({by:?}); requests: {:?}; the quota table says {}",
            requests_by_method(server).await,
            quota_table(db).await
        );
        if paused == VIDEOS.len() {
            break;
        }
        rounds += 1;
        assert!(
            rounds <= budget as usize,
            "after {rounds} takeovers the sources still poll, {received} units spent"
        );
        // All at once, so that none takes another's source over just
        // before it dies too.
        let pids: Vec<String> = holders
            .iter()
            .map(|h| instances[*h].child.id().to_string())
            .collect();
        let killed = std::process::Command::new("kill")
            .arg("-KILL")
            .args(&pids)
            .status()
            .unwrap();
        assert!(killed.success());
        for h in holders {
            instances[h] = start(h);
        }
    }

    // Polling has stopped: nothing more reaches the API, whoever holds what.
    let received = units_received(server).await;
    tokio::time::sleep(POLL * 3).await;
    assert_eq!(
        units_received(server).await,
        received,
        "requests after every source paused for quota"
    );
    for (slot, b) in instances.iter().enumerate() {
        let now = states(&http, &b.addr).await;
        for video in ring(slot) {
            let source = format!("youtube:{video}");
            let state = now.get(&source).map(String::as_str);
            assert!(
                matches!(state, Some("quota" | "standby")),
                "instance {slot}: {source} is {state:?} after the quota ran out"
            );
        }
    }
    let counted = quota_table(db).await;
    eprintln!("the API received {received} units' worth; the quota table says {counted}");
    Spent { received, counted }
}

/// Plain polls, one request each: however often the sources change hands,
/// the instances spend the budget once, together, and then all pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_that_take_over_each_other_spend_one_daily_quota_and_stop_at_it() {
    let Some(db) = helpers::postgres_db().await else {
        return;
    };
    let api = YouTube::new();
    for video in VIDEOS {
        for _ in 0..3 {
            api.post(video);
        }
    }
    let server = MockServer::start().await;
    Mock::given(path("/youtube/v3/commentThreads"))
        .and(query_param("key", KEY))
        .respond_with(api.clone())
        .mount(&server)
        .await;
    // The videos keep getting comments, so every poll has something to do.
    let mut background = Tasks::default();
    {
        let api = api.clone();
        background.0.push(tokio::spawn(async move {
            for _ in 0..80 {
                tokio::time::sleep(Duration::from_millis(400)).await;
                for video in VIDEOS {
                    api.post(video);
                }
            }
        }));
    }

    let Spent { received, counted } = spend_until_paused(&db, &server, BUDGET).await;
    assert!(
        received <= BUDGET,
        "{received} quota units spent against YOUTUBE_DAILY_QUOTA={BUDGET}"
    );
    // The log counts what was spent (plus the set-aside of a poll killed
    // midway, which never comes back), and that is what stopped the polling.
    assert!(
        (received..=BUDGET).contains(&counted),
        "the quota table says {counted} units; the API received {received}; the budget is \
         {BUDGET}"
    );
    assert!(
        counted >= BUDGET - 1,
        "polling paused for quota with {counted} of {BUDGET} units counted"
    );
    // The budget was really used, not just respected by standing still.
    assert!(
        received > BUDGET / 2,
        "polling paused for quota after only {received} of {BUDGET} units"
    );
}

/// The thread of `youtube_commentThreads_page1.json` that has more replies
/// than it shows inline.
const THREAD_WITH_MORE_REPLIES: &str = "Ugyci7H3uuIQHZxzwLG4AaABAg";

/// Every reply of `THREAD_WITH_MORE_REPLIES`: the two inline ones and a
/// third, as `comments.list?parentId=` returns them.
fn all_replies() -> Value {
    let page1: Value =
        serde_json::from_str(&helpers::fixture("youtube_commentThreads_page1.json")).unwrap();
    let thread = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == THREAD_WITH_MORE_REPLIES)
        .unwrap();
    let mut replies = thread["replies"]["comments"].as_array().unwrap().clone();
    let mut third = replies[0].clone();
    third["id"] = json!(format!("{THREAD_WITH_MORE_REPLIES}.third"));
    third["snippet"]["textDisplay"] = json!("third reply, not shown inline");
    third["snippet"]["textOriginal"] = json!("third reply, not shown inline");
    replies.push(third);
    json!({"kind": "youtube#commentListResponse", "items": replies})
}

/// A poll may need more requests than the 1 unit it sets aside: a backfill
/// reads several pages, a thread with more replies than it shows takes a
/// `comments.list` call, and an instance that takes a source over reads
/// those replies again. Near the end of the budget, the instances together
/// must still stop at it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_that_need_several_requests_stay_within_the_shared_quota() {
    let Some(db) = helpers::postgres_db().await else {
        return;
    };
    // Every video as the fixtures have it: two pages of threads, and a
    // thread whose replies take a `comments.list` call. A first poll costs
    // 3 units; a poll by an instance that took the source over costs 2
    // (it has not read that thread's replies itself).
    let server = MockServer::start().await;
    let page1 = helpers::fixture("youtube_commentThreads_page1.json");
    let token = serde_json::from_str::<Value>(&page1).unwrap()["nextPageToken"]
        .as_str()
        .unwrap()
        .to_owned();
    Mock::given(path("/youtube/v3/commentThreads"))
        .and(query_param("key", KEY))
        .and(query_param_is_missing("pageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_string(page1))
        .mount(&server)
        .await;
    Mock::given(path("/youtube/v3/commentThreads"))
        .and(query_param("key", KEY))
        .and(query_param("pageToken", token))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(helpers::fixture("youtube_commentThreads_page2.json")),
        )
        .mount(&server)
        .await;
    Mock::given(path("/youtube/v3/comments"))
        .and(query_param("key", KEY))
        .and(query_param("parentId", THREAD_WITH_MORE_REPLIES))
        .respond_with(ResponseTemplate::new(200).set_body_json(all_replies()))
        .mount(&server)
        .await;

    // Room for the first round (9 units) and part of the next, whose polls
    // each need 2 units: the instances must stop at the budget mid-round,
    // though each poll sets aside only the 1 unit of a plain poll.
    let budget = 12;
    let Spent { received, counted } = spend_until_paused(&db, &server, budget).await;
    assert!(
        received <= budget,
        "{received} quota units spent against YOUTUBE_DAILY_QUOTA={budget}"
    );
    assert!(
        (received..=budget).contains(&counted),
        "the quota table says {counted} units; the API received {received}; the budget is \
         {budget}"
    );
}
