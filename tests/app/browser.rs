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
//! skipped with a loud line on stderr, unless the browser is required
//! (`helpers::required`: `CI`, `CW_REQUIRE_ALL` or `CW_REQUIRE_BROWSER`),
//! which makes them fail instead.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use commentwatch::domain::RawComment;
use commentwatch::source::demo::{BACKLOG, DemoSource};
use serde::Deserialize;
use tokio::time::Instant;

use crate::chrome::Browser;
use crate::helpers::{self, PATIENCE};

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

/// The dashboard-specific looks, next to the shared harness in `chrome`.
impl Browser {
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
}
