//! The dashboard in a real headless Chromium, driven over WebDriver.
//!
//! Each test starts Debian's `chromedriver` on a free loopback port, opens a
//! fresh Chromium profile through it (fantoccini is the client) and loads the
//! dashboard of a real app from `helpers`. The page is read through one
//! script per look (`Feed::read`), and every wait polls the DOM up to a
//! deadline instead of sleeping a fixed time, so a slow shared machine makes
//! the tests slower, not flaky.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the tests are
//! skipped with a loud line on stderr, unless `CW_REQUIRE_BROWSER=1` (set in
//! CI), which makes them fail instead.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::Method;
use commentwatch::comment::RawComment;
use commentwatch::source::demo::{BACKLOG, DemoSource};
use fantoccini::error::CmdError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::time::Instant;
use url::Url;

use crate::helpers::{self, PATIENCE};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Headless, and nothing that phones home or depends on the machine's GPU,
/// sandbox support or the size of `/dev/shm`.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

#[tokio::test]
async fn the_dashboard_shows_live_demo_comments() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "600"), ("CW_POLL", "1s")]).await;
    browser.goto(&app.url("/")).await;

    browser
        .wait_for("the connection to be live", PATIENCE, |f| f.is_live())
        .await;
    let backlog = browser
        .wait_for("the demo backlog", PATIENCE, |f| {
            f.comments.len() >= BACKLOG as usize
        })
        .await;
    let grown = browser
        .wait_for("more comments without a reload", PATIENCE, |f| {
            f.comments.len() > backlog.comments.len() && f.top_seq() > backlog.top_seq()
        })
        .await;
    grown.assert_newest_first();
    for c in &grown.comments {
        assert_eq!(c.source, "demo", "every comment names its source: {c:?}");
        assert!(!c.id.is_empty(), "every comment has its id: {c:?}");
        assert!(
            !c.author.trim().is_empty(),
            "every comment shows its author: {c:?}"
        );
        assert!(c.has_body, "every comment has a .body: {c:?}");
        assert!(
            c.datetime.is_some(),
            "every comment has time.time[datetime]: {c:?}"
        );
    }
    browser
        .wait_for("the demo source to be reported ok", PATIENCE, |f| {
            f.sources
                .iter()
                .any(|s| s.source == "demo" && s.state == "ok")
        })
        .await;

    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn hostile_demo_comments_are_inert_in_the_page() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let seeds = seeds_covering_markup_attacks();
    eprintln!("hostile: the page shows the backlogs of demo seeds {seeds:?}");
    let mut texts = String::new();
    for seed in seeds {
        let seed = seed.to_string();
        let app = helpers::spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_DEMO_SEED", &seed)]).await;
        browser.goto(&app.url("/")).await;
        browser
            .wait_for("the whole backlog", PATIENCE, |f| {
                f.is_live() && f.comments.len() == BACKLOG as usize
            })
            .await;

        let report: InertReport = browser.eval(INERT_CHECK).await;
        assert!(
            report.problems.is_empty(),
            "with CW_DEMO_SEED={seed} the feed holds live markup:\n{}",
            report.problems.join("\n")
        );
        let bidi: Vec<char> = report
            .text
            .chars()
            .filter(|c| is_bidi_control(*c))
            .collect();
        assert!(
            bidi.is_empty(),
            "with CW_DEMO_SEED={seed} the feed shows bidi controls {bidi:?}"
        );
        browser.assert_no_dialog().await;
        let errors = browser.console_errors().await;
        assert!(
            errors.is_empty(),
            "with CW_DEMO_SEED={seed} the console reports:\n{}",
            errors.join("\n")
        );
        texts.push_str(&report.text);

        // Leave the page before its server goes, so that reconnect attempts
        // do not run into the next round.
        browser.goto("about:blank").await;
        app.stop().await;
    }
    assert!(
        texts.contains("<script>"),
        "hostile text is shown as text: no `<script>` in the feeds' text"
    );

    browser.close().await;
}

#[tokio::test]
async fn the_dashboard_resumes_after_a_server_restart_without_duplicates() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("comments.db");
    let env = [("CW_DEMO_RATE", "600"), ("CW_POLL", "1s")];
    let started = Instant::now();
    let first = helpers::spawn_app_on(&db, &env).await;
    // The restarted app must come back on the same address, or the page
    // would have nothing to reconnect to.
    let listen = first.addr.to_string();
    browser.goto(&first.url("/")).await;
    browser
        .wait_for("the demo backlog", PATIENCE, |f| {
            f.is_live() && f.comments.len() >= BACKLOG as usize
        })
        .await;

    first.stop().await;
    let before = browser
        .wait_for("the page to notice the server is gone", PATIENCE, |f| {
            !f.is_live()
        })
        .await;
    // The demo restarts its clock with the app, so with the same seed it
    // serves the comments it served before (the log drops them as known)
    // until it gets past them: allow for as long as the first run took.
    let catch_up = started.elapsed() + PATIENCE;

    let mut env = env.to_vec();
    env.push(("CW_LISTEN", listen.as_str()));
    let second = helpers::spawn_app_on(&db, &env).await;
    browser
        .wait_for("the page to reconnect", PATIENCE, |f| f.is_live())
        .await;
    let after = browser
        .wait_for("comments from after the restart", catch_up, |f| {
            f.top_seq() > before.top_seq()
        })
        .await;

    after.assert_newest_first();
    let mut seqs = HashSet::new();
    let mut keys = HashSet::new();
    for c in &after.comments {
        assert!(seqs.insert(c.seq), "seq {} is shown twice: {c:?}", c.seq);
        assert!(
            keys.insert((&c.source, &c.id)),
            "comment ({}, {}) is shown twice: {c:?}",
            c.source,
            c.id
        );
    }
    // The log is fresh and the demo neither edits nor deletes, so every seq
    // up to the newest is a comment; the page keeps 500, far more than this
    // test makes. A gap is a comment lost across the restart.
    let newest = after.top_seq();
    let lost: Vec<i64> = (1..=newest).filter(|s| !seqs.contains(s)).collect();
    assert!(
        lost.is_empty(),
        "the page never showed seqs {lost:?} of 1..={newest}"
    );

    browser.close().await;
    second.stop().await;
}

/// Demo seeds (the helpers' 7 first) whose backlogs together hold every kind
/// of markup attack the demo posts at least once, including `<script>`
/// typed as plain text. They are worked out from the demo itself, so they
/// stay right if its comments change.
fn seeds_covering_markup_attacks() -> Vec<u64> {
    let backlog = |seed: u64| -> BTreeSet<String> {
        DemoSource::new(0.0, Some(seed))
            .fetch_page(None)
            .expect("the demo serves its backlog")
            .comments
            .iter()
            .filter_map(markup_attack)
            .collect()
    };
    // Each demo comment is an attack with odds of about one in eight, picked
    // from a couple of dozen kinds: a few hundred backlogs hold every kind.
    let candidates: Vec<(u64, BTreeSet<String>)> = std::iter::once(7)
        .chain((1..=400).filter(|s| *s != 7))
        .map(|seed| (seed, backlog(seed)))
        .collect();
    let mut missing: BTreeSet<String> = candidates.iter().flat_map(|(_, a)| a.clone()).collect();
    assert!(
        missing.iter().any(|a| a.contains("<script>")),
        "the demo no longer types `<script>` as text; kinds found: {missing:#?}"
    );
    // Greedy set cover: the helpers' seed, then whichever seed adds most.
    let mut seeds = vec![7];
    for attack in &candidates[0].1 {
        missing.remove(attack);
    }
    while !missing.is_empty() {
        let (seed, attacks) = candidates
            .iter()
            .max_by_key(|(_, a)| a.intersection(&missing).count())
            .expect("candidates");
        seeds.push(*seed);
        for attack in attacks {
            missing.remove(attack);
        }
    }
    seeds
}

/// What makes `c` a markup attack, if it is one: the first field that holds
/// a `<`.
fn markup_attack(c: &RawComment) -> Option<String> {
    [
        c.html.as_deref(),
        Some(c.text.as_str()),
        Some(&c.author_name),
    ]
    .into_iter()
    .flatten()
    .find(|s| s.contains('<'))
    .map(str::to_owned)
}

/// Bidi embeddings, overrides and isolates, which the sanitizer drops.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Lists everything in `#feed` that could run script, load something or
/// leak the page, and returns the feed's text.
const INERT_CHECK: &str = r#"
const feed = document.getElementById('feed');
const problems = [];
const show = (el) => el.outerHTML.slice(0, 300);
for (const el of feed.querySelectorAll('script, svg, iframe, math, style, object, embed')) {
    problems.push('forbidden element: ' + show(el));
}
// The only images are avatars and emotes, over https from the platforms'
// image hosts.
const avatarHost = /^https:\/\/([a-z0-9-]+\.)*(ggpht\.com|googleusercontent\.com|ytimg\.com|hdslb\.com)\//;
for (const img of feed.querySelectorAll('img')) {
    const placed = img.closest('.avatar') || img.classList.contains('emote');
    if (!placed || !avatarHost.test(img.getAttribute('src') || '')) {
        problems.push('image that is not a platform avatar: ' + show(img));
    }
}
for (const el of feed.querySelectorAll('*')) {
    for (const attr of el.attributes) {
        if (attr.name.toLowerCase().startsWith('on')) {
            problems.push('event handler attribute ' + attr.name + ': ' + show(el));
        }
    }
}
for (const a of feed.querySelectorAll('a')) {
    const href = a.getAttribute('href');
    if (href !== null && !href.startsWith('http://') && !href.startsWith('https://')) {
        problems.push('link that is not http(s): ' + show(a));
    }
    const rel = (a.getAttribute('rel') || '').split(/\s+/);
    for (const needed of ['noopener', 'noreferrer', 'nofollow']) {
        if (!rel.includes(needed)) {
            problems.push('link without rel=' + needed + ': ' + show(a));
        }
    }
}
for (const s of document.scripts) {
    if (new URL(s.src || 'inline:', location.href).origin !== location.origin) {
        problems.push('script not from this server: ' + show(s));
    }
}
return { problems, text: feed.textContent };
"#;

#[derive(Debug, Deserialize)]
struct InertReport {
    problems: Vec<String>,
    text: String,
}

/// Reads the connection state, the sources and every comment, top to bottom.
const READ_FEED: &str = r#"
const conn = document.getElementById('conn');
const feed = document.getElementById('feed');
const sources = document.querySelectorAll('#sources .source-status');
const items = feed ? feed.querySelectorAll(':scope > li.comment') : [];
return {
    conn: conn && conn.getAttribute('data-state'),
    sources: Array.from(sources, (li) => ({
        source: li.getAttribute('data-source') || '',
        state: li.getAttribute('data-state') || '',
    })),
    comments: Array.from(items, (li) => ({
        seq: li.getAttribute('data-seq') || '',
        source: li.getAttribute('data-source') || '',
        id: li.getAttribute('data-id') || '',
        author: (li.querySelector('.author') || {}).textContent || '',
        has_body: li.querySelector('.body') !== null,
        datetime: (li.querySelector('time.time') || { getAttribute: () => null })
            .getAttribute('datetime'),
    })),
};
"#;

/// One look at the page.
#[derive(Debug, Deserialize)]
struct Feed {
    conn: Option<String>,
    sources: Vec<SourceStatus>,
    comments: Vec<ShownComment>,
}

#[derive(Debug, Deserialize)]
struct SourceStatus {
    source: String,
    state: String,
}

#[derive(Debug, Deserialize)]
struct ShownComment {
    #[serde(deserialize_with = "seq_from_attribute")]
    seq: i64,
    source: String,
    id: String,
    author: String,
    has_body: bool,
    datetime: Option<String>,
}

fn seq_from_attribute<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let raw = String::deserialize(d)?;
    raw.parse()
        .map_err(|_| serde::de::Error::custom(format!("data-seq={raw:?} is not a number")))
}

impl Feed {
    fn is_live(&self) -> bool {
        self.conn.as_deref() == Some("live")
    }

    fn top_seq(&self) -> i64 {
        self.comments.iter().map(|c| c.seq).max().unwrap_or(0)
    }

    fn assert_newest_first(&self) {
        let seqs: Vec<i64> = self.comments.iter().map(|c| c.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] > w[1]),
            "data-seq must strictly decrease from the top: {seqs:?}"
        );
    }

    /// A few words on what the page shows, for failure messages.
    fn summary(&self) -> String {
        let top: Vec<i64> = self.comments.iter().take(5).map(|c| c.seq).collect();
        format!(
            "#conn is {:?}, {} comments (top seqs {top:?}), sources {:?}",
            self.conn,
            self.comments.len(),
            self.sources
        )
    }
}

/// A Chromium session and the chromedriver behind it.
struct Browser {
    client: Client,
    /// Held only to end chromedriver (and Chromium) when the test does.
    _driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (after saying so
    /// on stderr) when they are not installed and not required.
    async fn launch() -> Option<Browser> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            let what = format!(
                "{} not found; install Debian's packages: apt-get install chromium chromium-driver",
                missing.join(" and ")
            );
            if std::env::var("CW_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("CW_REQUIRE_BROWSER=1 but {what}");
            }
            eprintln!("\n******** SKIPPED: browser test: {what} ********\n");
            return None;
        }

        let driver = Driver::start().await;
        let profile = format!("--user-data-dir={}", driver.profile.path().display());
        let mut args: Vec<&str> = CHROMIUM_FLAGS.to_vec();
        args.push(&profile);
        let capabilities = json!({
            "browserName": "chrome",
            // Leave any dialog open so that `assert_no_dialog` sees it.
            "unhandledPromptBehavior": "ignore",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        let client = tokio::time::timeout(
            PATIENCE,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&driver.url),
        )
        .await
        .expect("Chromium starts in time")
        .expect("chromedriver opens a Chromium session");
        Some(Browser {
            client,
            _driver: driver,
        })
    }

    async fn goto(&self, url: &str) {
        let done = self.client.goto(url).await;
        self.check(done, &format!("open {url}")).await;
    }

    /// Runs `script` (a function body that returns JSON) in the page.
    async fn eval<T: serde::de::DeserializeOwned>(&self, script: &str) -> T {
        let value = self.client.execute(script, Vec::new()).await;
        let value = self.check(value, "run a script in the page").await;
        serde_json::from_value(value).expect("the script returns the expected shape")
    }

    async fn feed(&self) -> Feed {
        self.eval(READ_FEED).await
    }

    /// Reads the page until `done` accepts it; fails after `within`.
    async fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&Feed) -> bool) -> Feed {
        let deadline = Instant::now() + within;
        loop {
            let feed = self.feed().await;
            if done(&feed) {
                return feed;
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {within:?} for {what}; the page shows {}",
                    feed.summary()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Unwraps a WebDriver result; an open dialog is named as the cause,
    /// since it is the likeliest one in these tests.
    async fn check<T>(&self, result: Result<T, CmdError>, doing: &str) -> T {
        match result {
            Ok(value) => value,
            Err(e) => match self.client.get_alert_text().await {
                Ok(text) => panic!("the page opened a dialog ({text:?}); could not {doing}: {e}"),
                Err(_) => panic!("could not {doing}: {e}"),
            },
        }
    }

    async fn assert_no_dialog(&self) {
        if let Ok(text) = self.client.get_alert_text().await {
            panic!("the page opened a dialog: {text:?}");
        }
    }

    /// Console messages since the last call that show a blocked attack or a
    /// broken page: Content-Security-Policy violations and uncaught errors.
    async fn console_errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await;
        let log = self.check(log, "read the browser log").await;
        let entries = log
            .as_array()
            .unwrap_or_else(|| panic!("chromedriver returned no browser log: {log}"));
        entries
            .iter()
            .filter_map(|e| e["message"].as_str())
            .filter(|m| m.contains("Content Security Policy") || m.contains("Uncaught"))
            .map(str::to_owned)
            .collect()
    }

    /// Ends the session, which closes Chromium; the driver goes on drop.
    async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// chromedriver's `POST /session/{id}/se/log`: the console messages since
/// the last call. It is not W3C WebDriver, so fantoccini leaves it to us.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// A running chromedriver with a fresh profile directory for its Chromium.
/// Dropping it ends chromedriver and every browser process it started.
struct Driver {
    child: Child,
    url: String,
    profile: TempDir,
}

impl Driver {
    async fn start() -> Driver {
        let profile = tempfile::tempdir().expect("temp profile dir");
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, shared by the Chromium processes it
            // starts, so `drop` can end them all even after a panic.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        // chromedriver picks the port and prints it; keep reading afterwards
        // so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = line
                    .split_once("started successfully on port ")
                    .and_then(|(_, rest)| rest.trim_end_matches('.').parse::<u16>().ok());
                if let Some(port) = port
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        let mut driver = Driver {
            child,
            url: String::new(),
            profile,
        };
        let port = tokio::time::timeout(PATIENCE, port_rx)
            .await
            .expect("chromedriver says its port in time")
            .expect("chromedriver says its port before exiting");
        driver.url = format!("http://127.0.0.1:{port}");
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
