//! The streamer's dashboard in a real headless Chromium: comments in order
//! (newest on top, or chat order, remembered), scrolling away holds the view
//! and counts what arrives, the focus tools (filter, highlight, hiding)
//! survive a reload, a restart ends with every comment exactly once, and a
//! flood keeps the DOM under its cap. Screenshots of the dashboard in light
//! and dark land in `target/screenshots/`.
//!
//! Every wait polls the page up to a deadline (`Browser::poll`), never a
//! fixed sleep, so a loaded machine makes the tests slower, not flaky.

use std::collections::HashSet;

use fantoccini::Locator;
use serde::Deserialize;
use serde_json::Value;

use crate::chrome::Browser;
use crate::helpers::{self, PATIENCE, TestApp};

/// The DOM cap of `dashboard.js`.
const MAX_RENDERED: usize = 500;
const WINDOW: &str = "--window-size=1440,900";

/// One look at the feed: every comment top to bottom, the "new" button and
/// the scroll position.
const LOOK: &str = r#"
const feed = document.getElementById('feed');
const scroller = document.getElementById('scroller');
const btn = document.getElementById('new-btn');
const items = Array.from(feed.querySelectorAll(':scope > li.comment'));
return {
    live: document.getElementById('conn').dataset.state === 'live',
    seqs: items.map((li) => Number(li.dataset.seq)),
    keys: items.map((li) => li.dataset.source + '/' + li.dataset.id),
    authors: items.map((li) => li.querySelector('.author').textContent),
    texts: items.map((li) => li.querySelector('.body').textContent),
    highlighted: items.map((li) => li.classList.contains('hl') && li.querySelector('.body mark') !== null),
    new_count: btn.hidden ? 0 : Number(btn.dataset.count),
    scroll_top: scroller.scrollTop,
};
"#;

#[derive(Debug, Deserialize)]
struct Look {
    live: bool,
    seqs: Vec<i64>,
    keys: Vec<String>,
    authors: Vec<String>,
    texts: Vec<String>,
    highlighted: Vec<bool>,
    new_count: i64,
    scroll_top: f64,
}

impl Look {
    fn top(&self) -> i64 {
        self.seqs.iter().copied().max().unwrap_or(0)
    }
    fn newest_first(&self) -> bool {
        self.seqs.windows(2).all(|w| w[0] > w[1])
    }
    fn oldest_first(&self) -> bool {
        self.seqs.windows(2).all(|w| w[0] < w[1])
    }
}

async fn look(browser: &Browser) -> Look {
    browser.eval(LOOK).await
}

async fn wait(browser: &Browser, what: &str, done: impl Fn(&Look) -> bool) -> Look {
    browser.poll(what, PATIENCE, LOOK, done).await
}

/// The server's latest `seq`, from `/healthz`.
async fn server_seq(app: &TestApp) -> i64 {
    let body = reqwest::get(app.url("/healthz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    v["latest_seq"].as_i64().unwrap()
}

#[tokio::test]
async fn comments_arrive_newest_first_and_chat_order_is_remembered() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "600"), ("CW_POLL", "1s")]).await;
    browser.goto(&app.url("/")).await;
    let first = wait(&browser, "the backlog", |l| l.live && l.seqs.len() >= 20).await;
    let grown = wait(&browser, "live comments", |l| l.top() > first.top()).await;
    assert!(grown.newest_first(), "newest on top: {:?}", grown.seqs);

    browser
        .eval::<Value>("document.getElementById('order-btn').click()")
        .await;
    let chat = wait(&browser, "chat order", |l| {
        l.oldest_first() && l.seqs.len() > 1
    })
    .await;
    let later = wait(&browser, "new comments at the bottom", |l| {
        l.top() > chat.top() && l.oldest_first()
    })
    .await;
    assert_eq!(
        later.seqs.last(),
        Some(&later.top()),
        "newest at the bottom"
    );

    // Remembered across a reload.
    browser.client.refresh().await.unwrap();
    wait(&browser, "chat order after a reload", |l| {
        l.live && l.seqs.len() > 20 && l.oldest_first()
    })
    .await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn scrolling_away_holds_the_view_and_the_new_button_counts_what_arrived() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "600"), ("CW_POLL", "1s")]).await;
    browser.goto(&app.url("/")).await;
    wait(&browser, "enough comments to scroll", |l| {
        l.live && l.seqs.len() >= 40
    })
    .await;

    // Scroll a little way down, as a reader would, and note what is under
    // the middle of the feed.
    const ANCHOR: &str = r#"
        const scroller = document.getElementById('scroller');
        const box = scroller.getBoundingClientRect();
        const el = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
        const li = el && el.closest('li.comment');
        return li ? { seq: Number(li.dataset.seq), top: li.getBoundingClientRect().top } : null;
    "#;
    browser
        .eval::<Value>("document.getElementById('scroller').scrollTop = 600;")
        .await;
    let held = wait(&browser, "the pause to take hold", |l| l.scroll_top > 500.0).await;
    let anchor: Value = browser.eval(ANCHOR).await;
    let top_when_paused = held.top();

    // Comments keep coming; the view stays where it is and the button
    // counts exactly the comments that arrived since.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let arrived = loop {
        let now = look(&browser).await;
        let server = server_seq(&app).await;
        assert_eq!(
            now.top(),
            top_when_paused,
            "nothing was inserted while paused"
        );
        let still: Value = browser.eval(ANCHOR).await;
        assert_eq!(still, anchor, "the comment under the reader moved");
        // The demo only adds comments, so every seq above the page's top is
        // one new comment; frames may be in flight, so wait for agreement.
        if now.new_count >= 10 && now.new_count == server - top_when_paused {
            break now.new_count;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the button says {} new; the server has {} more",
            now.new_count,
            server - top_when_paused
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };

    // One click: back to the live edge with everything shown once.
    browser
        .eval::<Value>("document.getElementById('new-btn').click();")
        .await;
    let live = wait(&browser, "the live edge again", |l| {
        l.new_count == 0 && l.scroll_top == 0.0 && l.top() >= top_when_paused + arrived
    })
    .await;
    assert!(live.newest_first());
    let unique: HashSet<&String> = live.keys.iter().collect();
    assert_eq!(unique.len(), live.keys.len(), "a comment shown twice");
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn filter_highlight_and_hidden_authors_work_and_survive_a_reload() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_HIGHLIGHT", "zzzz-unused")]).await;
    browser.goto(&app.url("/")).await;
    let all = wait(&browser, "the backlog", |l| l.live && l.seqs.len() == 20).await;

    // A word some comments have and others do not.
    let word = all
        .texts
        .iter()
        .flat_map(|t| t.split_whitespace())
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| w.len() >= 4 && w.is_ascii())
        .find(|w| {
            let n = all
                .texts
                .iter()
                .filter(|t| t.to_lowercase().contains(w))
                .count();
            n > 0 && n < all.texts.len()
        })
        .expect("a word to filter by");
    let with_word = all
        .texts
        .iter()
        .filter(|t| t.to_lowercase().contains(&word))
        .count();

    // Filter: only matching comments are shown.
    let filter = browser.client.find(Locator::Id("filter")).await.unwrap();
    filter.send_keys(&word).await.unwrap();
    let filtered = wait(&browser, "the filter to apply", |l| {
        l.seqs.len() == with_word
    })
    .await;
    assert!(
        filtered
            .texts
            .iter()
            .all(|t| t.to_lowercase().contains(&word))
    );

    // Highlight the same word from the page.
    let hl = browser.client.find(Locator::Id("hl-input")).await.unwrap();
    hl.send_keys(&word).await.unwrap();
    browser
        .eval::<Value>("document.querySelector('#hl-form button').click();")
        .await;
    wait(&browser, "highlighted comments", |l| {
        !l.highlighted.is_empty() && l.highlighted.iter().all(|h| *h)
    })
    .await;

    // Hide the first comment's author, undo, hide again.
    let author = all.authors[0].clone();
    let by_author = all.authors.iter().filter(|a| **a == author).count();
    filter.clear().await.unwrap();
    browser
        .eval::<Value>("document.getElementById('filter').dispatchEvent(new Event('input'));")
        .await;
    wait(&browser, "the filter to clear", |l| l.seqs.len() == 20).await;
    let hide = "document.querySelector('#feed > li.comment button[data-act=hide]').click();";
    browser.eval::<Value>(hide).await;
    wait(&browser, "the author hidden", |l| {
        l.seqs.len() == 20 - by_author && !l.authors.contains(&author)
    })
    .await;
    browser
        .eval::<Value>("document.getElementById('toast-undo').click();")
        .await;
    wait(&browser, "the hide undone", |l| l.seqs.len() == 20).await;
    browser.eval::<Value>(hide).await;
    wait(&browser, "the author hidden again", |l| {
        l.seqs.len() == 20 - by_author
    })
    .await;
    filter.send_keys(&word).await.unwrap();
    let before = wait(&browser, "filtered and hidden", |l| {
        l.seqs.len() < 20 - by_author && !l.authors.contains(&author)
    })
    .await;

    // Everything persists across a reload.
    browser.client.refresh().await.unwrap();
    let after = wait(&browser, "the same view after a reload", |l| {
        l.live && l.keys == before.keys
    })
    .await;
    assert!(after.highlighted.iter().all(|h| *h), "highlight remembered");
    let kept: String = browser
        .eval("return document.getElementById('filter').value;")
        .await;
    assert_eq!(kept, word);
    let chips: Vec<String> = browser
        .eval("return Array.from(document.querySelectorAll('#block-list .chip-text'), (e) => e.textContent);")
        .await;
    assert_eq!(chips, [format!("author:{author}")]);
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn hidden_words_from_cw_block_and_the_questions_filter_apply_from_the_start() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    let all = wait(&browser, "the backlog", |l| l.live && l.seqs.len() == 20).await;
    // What the page counts as a question (its rule, over a table of
    // examples, is checked in seeing.rs): a question mark, or a Chinese or
    // Japanese question near the end.
    let asks = |texts: &[String]| {
        format!(
            "const {{ isQuestion }} = await import('/assets/settings.js'); return {}.map(isQuestion);",
            serde_json::to_string(texts).unwrap()
        )
    };
    let asked: Vec<bool> = browser.eval(&asks(&all.texts)).await;
    let questions = asked.iter().filter(|q| **q).count();
    assert!(
        questions > 0 && questions < 20,
        "the demo's backlog mixes questions with other comments: {questions}"
    );
    browser
        .eval::<Value>("document.getElementById('only-questions').click();")
        .await;
    let only = wait(&browser, "only questions", |l| l.seqs.len() == questions).await;
    let asked: Vec<bool> = browser.eval(&asks(&only.texts)).await;
    assert!(asked.iter().all(|q| *q), "{:?}", only.texts);
    assert!(
        only.texts
            .iter()
            .any(|t| !t.trim_end().ends_with(['?', '？'])),
        "a question without a question mark is let through: {:?}",
        only.texts
    );
    browser.close().await;

    // A word from CW_BLOCK never shows.
    let word = all.authors[0].clone();
    let blocked_app = helpers::spawn_app(&[
        ("CW_DEMO_RATE", "0"),
        ("CW_BLOCK", &format!("author:{word}")),
    ])
    .await;
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    browser.goto(&blocked_app.url("/")).await;
    let shown = wait(&browser, "the backlog without the blocked author", |l| {
        l.live && !l.seqs.is_empty()
    })
    .await;
    assert!(
        !shown.authors.contains(&word),
        "{word} is blocked by CW_BLOCK"
    );
    browser.close().await;
    app.stop().await;
    blocked_app.stop().await;
}

#[tokio::test]
async fn a_server_restart_mid_stream_ends_with_every_comment_exactly_once() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("comments.db");
    let env = [("CW_DEMO_RATE", "300"), ("CW_POLL", "1s")];
    let first = helpers::spawn_app_on(&db, &env).await;
    let listen = first.addr.to_string();
    browser.goto(&first.url("/")).await;
    let before = wait(&browser, "comments", |l| l.live && l.seqs.len() >= 25).await;
    first.stop().await;
    wait(&browser, "the page to notice", |l| !l.live).await;

    let mut env = env.to_vec();
    env.push(("CW_LISTEN", &listen));
    let second = helpers::spawn_app_on(&db, &env).await;
    wait(&browser, "the page to reconnect", |l| l.live).await;
    // The demo replays its first run's comments (dropped as known) before
    // new ones: wait for a seq past the restart, then for the page to hold
    // every seq the server has.
    let mut target = before.top() + 1;
    let deadline = tokio::time::Instant::now() + PATIENCE * 3;
    let end = loop {
        let l = look(&browser).await;
        let server = server_seq(&second).await;
        if server >= target && l.top() == server {
            break l;
        }
        target = target.max(before.top() + 1);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page shows up to {}, the server has {server}",
            l.top()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // A fresh log of new comments only: seqs 1..=N, each shown once.
    let n = end.top() as usize;
    assert!(n < MAX_RENDERED, "the test must stay under the DOM cap");
    assert_eq!(
        end.seqs.len(),
        n,
        "{} items for seqs 1..={n}",
        end.seqs.len()
    );
    let unique: HashSet<i64> = end.seqs.iter().copied().collect();
    assert_eq!(unique.len(), n, "a comment shown twice");
    assert!(end.newest_first());
    browser.close().await;
    second.stop().await;
}

#[tokio::test]
async fn a_flood_of_5000_comments_a_minute_keeps_the_dom_under_its_cap() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "20000"), ("CW_POLL", "1s")]).await;
    browser.goto(&app.url("/")).await;
    const COUNT: &str = r#"return {
        items: document.getElementById('feed').childElementCount,
        top: Number((document.querySelector('#feed > li.comment') || { dataset: { seq: 0 } }).dataset.seq),
        heap: (performance.memory || {}).usedJSHeapSize || 0,
    };"#;
    #[derive(Debug, Deserialize)]
    struct Count {
        items: usize,
        top: i64,
        heap: u64,
    }
    let mut most = 0;
    let deadline = tokio::time::Instant::now() + PATIENCE * 4;
    let last = loop {
        let c: Count = browser.eval(COUNT).await;
        most = most.max(c.items);
        assert!(c.items <= MAX_RENDERED, "{} comments in the DOM", c.items);
        if c.top >= 5000 {
            break c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page reached seq {} of 5,000 (server at {})",
            c.top,
            server_seq(&app).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(most, MAX_RENDERED, "the cap was reached and held");
    eprintln!(
        "flood: {} items, top seq {}, JS heap {} MB",
        last.items,
        last.top,
        last.heap / 1_000_000
    );
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_captured_in_light_and_dark() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[
        ("CW_DEMO_RATE", "240"),
        ("CW_POLL", "1s"),
        ("CW_DEMO_SEED", "11"),
        ("CW_HIGHLIGHT", "VOD,keyboard,explain"),
    ])
    .await;
    browser.goto(&app.url("/")).await;
    // The backlog and some live (unread) comments.
    wait(&browser, "live comments", |l| l.live && l.seqs.len() >= 28).await;
    // Something on stream, a selected comment and the overlay builder open:
    // the cockpit as a streamer sees it.
    browser
        .eval::<Value>(
            "document.getElementById('pause-btn').click();
             document.querySelectorAll('#feed > li.comment button[data-act=feature]')[5].click();
             document.querySelectorAll('#feed > li.comment')[3].click();
             document.getElementById('overlay-builder').open = true;",
        )
        .await;
    browser
        .poll(
            "the featured comment",
            PATIENCE,
            "return document.querySelectorAll('#featured > li').length;",
            |n: &u64| *n == 1,
        )
        .await;
    let mut backgrounds = Vec::new();
    for theme in ["light", "dark"] {
        let background: String = browser
            .eval(&format!(
                "document.documentElement.dataset.theme = '{theme}';
                 return getComputedStyle(document.body).backgroundColor;"
            ))
            .await;
        backgrounds.push(background);
        browser.screenshot(&format!("dashboard-{theme}")).await;
    }
    assert_ne!(backgrounds[0], backgrounds[1], "the themes look different");
    // A second monitor and a phone: 1920 and 420 px wide, both themes.
    for (width, height) in [(1920, 1080), (420, 900)] {
        browser
            .client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
        let inner: u32 = browser
            .poll(
                "the new width",
                PATIENCE,
                "return window.innerWidth;",
                |w: &u32| w.abs_diff(width) < 40,
            )
            .await;
        let overflow: bool = browser
            .eval("return document.documentElement.scrollWidth > window.innerWidth + 1;")
            .await;
        assert!(!overflow, "the page scrolls sideways at {inner} px");
        for theme in ["light", "dark"] {
            browser
                .eval::<Value>(&format!(
                    "document.documentElement.dataset.theme = '{theme}'; return null;"
                ))
                .await;
            browser
                .screenshot(&format!("dashboard-{width}-{theme}"))
                .await;
        }
    }
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn unread_marks_survive_a_reload() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let count = |selector: &str| format!("return document.querySelectorAll('{selector}').length;");
    browser.goto(&app.url("/")).await;
    browser
        .poll(
            "the backlog",
            PATIENCE,
            &count("#feed > li.comment"),
            |n: &u64| *n >= 20,
        )
        .await;
    // Thirty comments arrive while another tab is in front: all unread.
    let dashboard = browser.client.window().await.unwrap();
    let other = browser.client.new_window(true).await.unwrap().handle;
    browser.client.switch_to_window(other).await.unwrap();
    crate::feed_hold::say(&app, "away", 30).await;
    // Away for a while, as a streamer in another tab would be: the frames
    // reach the background tab meanwhile.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    browser.client.switch_to_window(dashboard).await.unwrap();
    // Back in front, those in view are read; those below the fold (at
    // most a sliver in view) are not.
    const BELOW: &str = "const s = document.getElementById('scroller').getBoundingClientRect();
        const unread = Array.from(document.querySelectorAll('#feed > li.comment.unread'));
        const seen = (li) => {
            const r = li.getBoundingClientRect();
            return Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top) >= r.height * 0.5;
        };
        return unread.some(seen) ? -1 : unread.length;";
    let left: i64 = browser
        .poll("only unread below the fold", PATIENCE, BELOW, |n: &i64| {
            *n > 1
        })
        .await;
    // Reading one (selecting it) leaves one fewer.
    let unread = count("#feed > li.comment.unread");
    browser
        .eval::<Value>("document.querySelector('#feed > li.comment.unread').click(); return null;")
        .await;
    browser
        .poll("one fewer unread", PATIENCE, &unread, |n: &u64| {
            *n == left as u64 - 1
        })
        .await;
    let unread_ids = "return Array.from(document.querySelectorAll('#feed > li.comment.unread'))
        .map((li) => li.dataset.id).sort();";
    let before: Vec<String> = browser.eval(unread_ids).await;
    // A reload shows the backlog, with the same ones still unread (below
    // the fold again, so none is read by being in view).
    browser.goto(&app.url("/")).await;
    browser
        .poll(
            "the backlog again",
            PATIENCE,
            &count("#feed > li.comment"),
            |n: &u64| *n >= 50,
        )
        .await;
    let after: Vec<String> = browser
        .poll(
            "the same unread after the reload",
            PATIENCE,
            unread_ids,
            |ids: &Vec<String>| ids.len() == before.len(),
        )
        .await;
    assert_eq!(after, before);
    browser.close().await;
    app.stop().await;
}
