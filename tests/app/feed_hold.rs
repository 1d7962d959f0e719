//! Acting on the right comment, in a real headless Chromium: a resting
//! pointer holds the feed for as long as it rests (new comments wait behind
//! the "N new" button and the comment under the cursor never moves), so do a
//! selection and an open menu; F with nothing selected selects the newest
//! comment instead of putting it on stream. And what is unread: only what
//! arrived unseen (a hidden tab, a held feed), cleared once in view, and
//! never counted beyond what the page can show.
//!
//! Every wait polls the page up to a deadline (`Browser::poll`).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::chrome::Browser;
use crate::helpers::{self, PATIENCE, TestApp};

const WINDOW: &str = "--window-size=1440,900";

/// The feed at a glance: the seqs shown (top to bottom), the "N new"
/// button's count, the pause note's reason, the selected comment.
const LOOK: &str = r#"
const items = Array.from(document.querySelectorAll('#feed > li.comment'));
const btn = document.getElementById('new-btn');
const note = document.getElementById('pause-note');
const sel = document.querySelector('#feed > li.comment.selected');
return {
    live: document.getElementById('conn').dataset.state === 'live',
    seqs: items.map((li) => Number(li.dataset.seq)),
    new_count: btn.hidden ? 0 : Number(btn.dataset.count),
    hold: note.hidden ? '' : note.dataset.reason,
    selected: sel ? Number(sel.dataset.seq) : null,
};
"#;

#[derive(Debug, Deserialize)]
pub struct Look {
    pub live: bool,
    pub seqs: Vec<i64>,
    pub new_count: i64,
    pub hold: String,
    pub selected: Option<i64>,
}

impl Look {
    pub fn top(&self) -> i64 {
        self.seqs.iter().copied().max().unwrap_or(0)
    }
}

pub async fn wait(browser: &Browser, what: &str, done: impl Fn(&Look) -> bool) -> Look {
    browser.poll(what, PATIENCE, LOOK, done).await
}

/// The server's latest `seq`, from `/healthz`.
pub async fn server_seq(app: &TestApp) -> i64 {
    let v: Value = serde_json::from_str(&app.get_text("/healthz").await).unwrap();
    v["latest_seq"].as_i64().unwrap()
}

/// A real pointer move to (x, y) in the viewport, through DevTools.
pub async fn mouse_to(browser: &Browser, x: f64, y: f64) {
    browser
        .cdp(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        )
        .await;
}

/// A real key press (down and up), through DevTools.
pub async fn press(browser: &Browser, key: &str) {
    for kind in ["keyDown", "keyUp"] {
        let mut params = json!({ "type": kind, "key": key });
        if kind == "keyDown" && key.chars().count() == 1 {
            params["text"] = json!(key);
        }
        if key == "Escape" {
            // What the browser's own handling (closing a dialog) looks at.
            params["code"] = json!("Escape");
            params["windowsVirtualKeyCode"] = json!(27);
        }
        browser.cdp("Input.dispatchKeyEvent", params).await;
    }
}

/// The comment under (x, y): its seq and how far from the top it is drawn.
fn under(x: f64, y: f64) -> String {
    format!(
        "const el = document.elementFromPoint({x}, {y});
         const li = el && el.closest('li.comment');
         return li ? [Number(li.dataset.seq), li.getBoundingClientRect().top] : null;"
    )
}

#[tokio::test]
async fn a_resting_pointer_holds_the_feed_until_it_leaves() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    // Ten comments a second.
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "600"), ("CW_POLL", "1s")]).await;
    browser.goto(&app.url("/")).await;
    let first = wait(&browser, "the backlog", |l| l.live && l.seqs.len() >= 20).await;
    wait(&browser, "live comments", |l| l.top() > first.top()).await;

    // The middle of the feed, where a streamer rests the cursor to read.
    let (x, y): (f64, f64) = browser
        .eval(
            "const r = document.getElementById('scroller').getBoundingClientRect();
             return [r.left + r.width / 2, r.top + r.height / 2];",
        )
        .await;
    // One move, then stillness: no more pointer events for ten seconds.
    mouse_to(&browser, x, y).await;
    let held = wait(&browser, "the hold", |l| l.hold == "hover").await;
    let anchor: (i64, f64) = browser.eval(&under(x, y)).await;
    let held_at = server_seq(&app).await.max(held.top());

    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let now: Look = browser.eval(LOOK).await;
        assert_eq!(
            now.hold,
            "hover",
            "the hold lapsed after {:?}",
            start.elapsed()
        );
        assert_eq!(now.top(), held.top(), "a comment was inserted while held");
        let still: (i64, f64) = browser.eval(&under(x, y)).await;
        assert_eq!(
            still,
            anchor,
            "the comment under the cursor changed after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Comments did arrive meanwhile, and they all wait behind the button.
    let server = server_seq(&app).await;
    assert!(
        server >= held_at + 20,
        "the demo added only {} comments in 10 s",
        server - held_at
    );
    wait(&browser, "the button to count what waits", |l| {
        l.new_count >= server - held.top()
    })
    .await;

    // The pointer leaves (to the side panel): the feed runs again.
    mouse_to(&browser, 1400.0, 400.0).await;
    let resumed = wait(&browser, "the feed to resume", |l| {
        l.hold.is_empty() && l.new_count == 0 && l.top() >= server
    })
    .await;
    let mut sorted = resumed.seqs.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, resumed.seqs, "newest first, each once");

    // Resting where the "N new" button appears (the top of the feed): the
    // button showing up under the cursor does not let the feed run.
    let (bx, by): (f64, f64) = browser
        .eval(
            "const b = document.getElementById('new-btn');
             b.hidden = false;
             const r = b.getBoundingClientRect();
             b.hidden = true;
             return [r.left + r.width / 2, r.top + r.height / 2];",
        )
        .await;
    mouse_to(&browser, bx, by).await;
    let held = wait(&browser, "the hold at the top", |l| l.hold == "hover").await;
    let shown = wait(&browser, "the button under the cursor", |l| {
        l.new_count >= 5
    })
    .await;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let now: Look = browser.eval(LOOK).await;
        assert_eq!(now.hold, "hover", "the button let the feed run");
        assert_eq!(
            now.top(),
            held.top().max(shown.top()),
            "inserted under the button"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn f_with_nothing_selected_selects_the_newest_and_a_second_f_features_it() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    let all = wait(&browser, "the backlog", |l| l.live && l.seqs.len() == 20).await;
    let newest = all.top();

    // First F: the newest comment is selected, shown with a focus ring,
    // and nothing goes on stream.
    press(&browser, "f").await;
    let look = wait(&browser, "the newest selected", |l| l.selected.is_some()).await;
    assert_eq!(look.selected, Some(newest), "F selects the newest");
    assert_eq!(look.hold, "selected", "a selection holds the feed");
    let ring: (String, bool) = browser
        .eval(
            "const li = document.querySelector('#feed > li.comment.selected');
             const r = li.getBoundingClientRect();
             const s = document.getElementById('scroller').getBoundingClientRect();
             return [getComputedStyle(li).outlineStyle, r.top >= s.top && r.bottom <= s.bottom];",
        )
        .await;
    assert_ne!(ring.0, "none", "the selected comment has a focus ring");
    assert!(ring.1, "the selected comment is in view");
    let queue = app.get_json("/api/featured").await;
    assert_eq!(queue["comments"], json!([]), "the first F features nothing");
    let on_page: u64 = browser
        .eval("return document.querySelectorAll('#featured > li').length;")
        .await;
    assert_eq!(on_page, 0);

    // Second F: that comment goes on stream (had the first F featured it,
    // this one would take it off again).
    press(&browser, "f").await;
    let seq_of_featured = "const f = document.querySelector('#featured > li');
        if (!f) return null;
        const li = Array.from(document.querySelectorAll('#feed > li.comment'))
            .find((li) => li.dataset.source === f.dataset.source && li.dataset.id === f.dataset.id);
        return li ? Number(li.dataset.seq) : -1;";
    let featured: Option<i64> = browser
        .poll(
            "the comment on stream",
            PATIENCE,
            seq_of_featured,
            |s: &Option<i64>| s.is_some(),
        )
        .await;
    assert_eq!(
        featured,
        Some(newest),
        "the second F features the selected one"
    );
    let queue = app.get_json("/api/featured").await;
    assert_eq!(queue["comments"].as_array().map(Vec::len), Some(1));

    // Esc lets the feed run again.
    press(&browser, "Escape").await;
    wait(&browser, "the selection released", |l| {
        l.selected.is_none() && l.hold.is_empty()
    })
    .await;

    // An open menu (the help dialog) holds the feed too, until it closes.
    press(&browser, "?").await;
    wait(&browser, "the help to hold the feed", |l| l.hold == "menu").await;
    press(&browser, "Escape").await;
    wait(&browser, "the help closed", |l| l.hold.is_empty()).await;
    browser.close().await;
    app.stop().await;
}

/// Unread marks: how many items carry one, how many of those are in view
/// (wholly inside the scroller), and the counter's numbers.
const UNREAD: &str = r#"
const s = document.getElementById('scroller').getBoundingClientRect();
const unread = Array.from(document.querySelectorAll('#feed > li.comment.unread'));
const inView = unread.filter((li) => {
    const r = li.getBoundingClientRect();
    const overlap = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
    return overlap >= r.height - 1;
});
const counter = document.getElementById('counter');
return {
    shown: document.querySelectorAll('#feed > li.comment').length,
    marked: unread.length,
    in_view: inView.length,
    counter: counter.textContent,
};
"#;

#[derive(Debug, Deserialize)]
struct Unread {
    shown: usize,
    marked: usize,
    in_view: usize,
    counter: String,
}

async fn unread(browser: &Browser, what: &str, done: impl Fn(&Unread) -> bool) -> Unread {
    browser.poll(what, PATIENCE, UNREAD, done).await
}

/// `n` new comments from one viewer, straight into the app's pipeline.
pub async fn say(app: &TestApp, tag: &str, n: usize) {
    let comments = (0..n)
        .map(|i| {
            crate::log_page::comment(
                crate::log_page::YT,
                &format!("{tag}-{i}"),
                "Viewer",
                &format!("{tag} number {i}"),
                i as i64,
            )
        })
        .collect();
    crate::export::ingest(app, comments).await;
}

#[tokio::test]
async fn only_what_arrives_unseen_is_unread_and_it_clears_once_in_view() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    wait(&browser, "the backlog", |l| l.live && l.seqs.len() == 20).await;

    // On a visible, running feed a comment is seen as it comes.
    say(&app, "seen", 2).await;
    let seen = unread(&browser, "two live comments", |u| u.shown == 22).await;
    assert_eq!(seen.marked, 0, "comments that came in view are not unread");

    // While the feed holds (Pause), what arrives is unread.
    browser
        .eval::<Value>("document.getElementById('pause-btn').click(); return null;")
        .await;
    say(&app, "held", 3).await;
    wait(&browser, "three waiting", |l| l.new_count == 3).await;
    let held = unread(&browser, "the counter", |u| u.counter.starts_with("3 ")).await;
    assert_eq!(held.shown, 22, "nothing inserted while paused");
    browser
        .eval::<Value>("document.getElementById('pause-btn').click(); return null;")
        .await;
    unread(&browser, "the three shown", |u| u.shown == 25).await;
    // In view on a visible tab, they are read after a moment.
    unread(&browser, "the three read in view", |u| u.marked == 0).await;

    // While the tab is hidden (another tab in front), what arrives is unread,
    // and stays so however long it waits.
    let dashboard = browser.client.window().await.unwrap();
    let other = browser.client.new_window(true).await.unwrap().handle;
    browser.client.switch_to_window(other).await.unwrap();
    browser.goto(&app.url("/log")).await;
    say(&app, "away", 30).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    browser.client.switch_to_window(dashboard).await.unwrap();
    unread(&browser, "the thirty shown", |u| u.shown == 55).await;
    // Back in front: those in view are read after a moment; every one of
    // the thirty below the fold is still unread, and nothing else is.
    let settled = unread(&browser, "the ones in view read", |u| u.in_view == 0).await;
    const SPLIT: &str = r#"
        const s = document.getElementById('scroller').getBoundingClientRect();
        const out = { below_read: 0, in_view_unread: 0, other_unread: 0 };
        for (const li of document.querySelectorAll('#feed > li.comment')) {
            const r = li.getBoundingClientRect();
            const away = li.dataset.id.startsWith('away-');
            const unread = li.classList.contains('unread');
            if (!away && unread) out.other_unread += 1;
            if (away && !unread && r.top >= s.bottom) out.below_read += 1;
            if (unread && r.top >= s.top && r.bottom <= s.bottom) out.in_view_unread += 1;
        }
        return out;
    "#;
    let split: Value = browser.eval(SPLIT).await;
    assert_eq!(
        split,
        json!({ "below_read": 0, "in_view_unread": 0, "other_unread": 0 }),
        "what came while hidden is unread until seen"
    );
    assert!(
        settled.marked > 0 && settled.marked < 30,
        "only the comments in view are read: {settled:?}"
    );
    // Scrolling down a screen brings more into view, and they are read too.
    browser
        .eval::<Value>("const s = document.getElementById('scroller'); s.scrollTop += s.clientHeight * 0.8; return null;")
        .await;
    unread(&browser, "the scrolled-to ones read", |u| {
        u.marked < settled.marked && u.in_view == 0
    })
    .await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_counter_never_claims_more_unread_than_the_page_can_show() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    wait(&browser, "the backlog", |l| l.live && l.seqs.len() == 20).await;

    // 600 comments while another tab is in front: more than the page keeps.
    let dashboard = browser.client.window().await.unwrap();
    let other = browser.client.new_window(true).await.unwrap().handle;
    browser.client.switch_to_window(other).await.unwrap();
    browser.goto(&app.url("/log")).await;
    say(&app, "flood", 600).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    browser.client.switch_to_window(dashboard).await.unwrap();
    let full = unread(&browser, "the page full", |u| u.shown == 500).await;
    let (n, rest) = full
        .counter
        .split_once(" new since you looked · ")
        .unwrap_or_else(|| panic!("the counter says {:?}", full.counter));
    let n: usize = n.replace(',', "").parse().unwrap();
    assert!(n > 500 && n <= 600, "{}", full.counter);
    assert_eq!(rest, "showing the latest 500");
    let (unread_here, total): (usize, usize) = browser
        .eval("const c = document.getElementById('counter'); return [Number(c.dataset.unread), Number(c.dataset.total)];")
        .await;
    assert!(unread_here <= full.shown && unread_here <= total);

    // Mark all read: back to plain numbers, and they add up.
    press(&browser, "m").await;
    let read = unread(&browser, "all read", |u| u.marked == 0).await;
    assert_eq!(read.counter, "0 unread · 500 shown");
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_panels_drawer_on_a_narrow_screen_holds_the_feed_while_open() {
    let Some(browser) = Browser::launch_with(&["--window-size=420,900"]).await else {
        return;
    };
    let app = helpers::spawn_app(&[("CW_DEMO_RATE", "600"), ("CW_POLL", "1s")]).await;
    browser.goto(&app.url("/")).await;
    let first = wait(&browser, "the backlog", |l| l.live && l.seqs.len() >= 20).await;
    wait(&browser, "live comments", |l| l.top() > first.top()).await;

    let toggle = "document.getElementById('side-btn').click(); return null;";
    browser.eval::<Value>(toggle).await;
    let held = wait(&browser, "the drawer to hold the feed", |l| {
        l.hold == "menu"
    })
    .await;
    wait(&browser, "comments waiting behind the button", |l| {
        l.new_count >= 5 && l.top() == held.top()
    })
    .await;
    browser.eval::<Value>(toggle).await;
    wait(&browser, "the feed to run again", |l| {
        l.hold.is_empty() && l.new_count == 0 && l.top() > held.top()
    })
    .await;
    browser.close().await;
    app.stop().await;
}
