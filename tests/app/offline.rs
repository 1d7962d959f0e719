//! Offline looks offline, in a real headless Chromium: when the server
//! stops, the status bar becomes a banner with the time since the last
//! frame (ticking), every source's state greys out as unknown, and the feed
//! marks where the gap began; after a restart on the same port and log the
//! banner says how many comments the resume caught up, and fades.

use std::time::Duration;

use commentwatch::hub::Hub;
use commentwatch::poller::Pipeline;
use commentwatch::store::{Batch, CommentLog};
use serde::Deserialize;
use tokio::time::Instant;

use crate::chrome::Browser;
use crate::feed_hold::{Look, wait};
use crate::helpers::{self, PATIENCE};

const WINDOW: &str = "--window-size=1440,900";

/// The status bar and the gap mark at a glance.
const BAR: &str = r#"
const banner = document.getElementById('offline-banner');
const gap = document.querySelector('#feed > li.comment.gap-after');
const items = Array.from(document.querySelectorAll('#feed > li.comment'));
return {
    banner: banner && !banner.hidden ? banner.dataset.state : '',
    text: banner ? banner.textContent : '',
    seconds: banner && banner.dataset.seconds ? Number(banner.dataset.seconds) : -1,
    caught: banner && banner.dataset.caught ? Number(banner.dataset.caught) : -1,
    bar_offline: document.querySelector('footer.statusbar').classList.contains('offline'),
    sources: Array.from(document.querySelectorAll('#sources > li'), (li) => li.dataset.state),
    gap_seq: gap ? Number(gap.dataset.seq) : -1,
    gap_text: gap ? gap.querySelector('.gap-mark').textContent : '',
    gap_caught: gap && gap.querySelector('.gap-mark').dataset.caught ? Number(gap.querySelector('.gap-mark').dataset.caught) : -1,
    gap_index: gap ? items.indexOf(gap) : -1,
};
"#;

#[derive(Debug, Deserialize)]
struct Bar {
    banner: String,
    text: String,
    seconds: i64,
    caught: i64,
    bar_offline: bool,
    sources: Vec<String>,
    gap_seq: i64,
    gap_text: String,
    gap_caught: i64,
    gap_index: i64,
}

async fn bar(browser: &Browser, what: &str, within: Duration, done: impl Fn(&Bar) -> bool) -> Bar {
    browser.poll(what, within, BAR, done).await
}

#[tokio::test]
async fn offline_shows_a_banner_and_a_gap_and_the_restart_says_what_was_caught_up() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("comments.db");
    // Rate 0: the demo serves the same 20 comments every run, so after the
    // restart only what this test writes is new.
    let env = [("CW_DEMO_RATE", "0"), ("CW_POLL", "1s")];
    let first = helpers::spawn_app_on(&db, &env).await;
    let listen = first.addr.to_string();
    browser.goto(&first.url("/")).await;
    let before: Look = wait(&browser, "the backlog", |l| l.live && l.seqs.len() == 20).await;
    bar(&browser, "the source ok", PATIENCE, |b| {
        b.sources == ["ok"] && b.banner.is_empty()
    })
    .await;

    first.stop().await;
    let down = bar(
        &browser,
        "the offline banner",
        Duration::from_secs(2),
        |b| b.banner == "offline" && b.bar_offline,
    )
    .await;
    assert!(down.text.contains("Offline"), "{}", down.text);
    let gray = bar(&browser, "the sources unknown", PATIENCE, |b| {
        b.sources == ["unknown"]
    })
    .await;
    assert_eq!(
        gray.gap_seq,
        before.top(),
        "the gap is marked after the newest comment"
    );
    assert!(!gray.gap_text.is_empty());
    // The time since the last frame ticks.
    let then = down.seconds;
    bar(
        &browser,
        "the banner to tick",
        Duration::from_secs(4),
        |b| b.seconds > then,
    )
    .await;
    browser.screenshot("dashboard-offline").await;
    // On a phone the banner still fits the width.
    browser.client.set_window_size(420, 900).await.unwrap();
    let (width, wide): (f64, f64) = browser
        .poll(
            "the narrow window",
            PATIENCE,
            "const b = document.getElementById('offline-banner').getBoundingClientRect();
             return [window.innerWidth, b.right];",
            |(w, _): &(f64, f64)| *w < 460.0,
        )
        .await;
    assert!(
        wide <= width,
        "the banner runs past the edge: {wide} > {width}"
    );
    browser.screenshot("dashboard-420-offline").await;
    browser.client.set_window_size(1440, 900).await.unwrap();

    // While the server is down, seven comments reach the log (as another
    // instance or a poll before the restart would leave them).
    let fresh: Vec<_> = (0..7)
        .map(|i| {
            crate::log_page::comment(
                crate::log_page::YT,
                &format!("while-down-{i}"),
                "Viewer",
                &format!("said while the page was offline {i}"),
                i,
            )
        })
        .collect();
    {
        let log = CommentLog::open(&db).unwrap();
        Pipeline::new(log, Hub::new())
            .ingest(Batch {
                source: crate::log_page::YT.into(),
                comments: fresh,
                ..Batch::default()
            })
            .await
            .unwrap();
    }

    let mut env = env.to_vec();
    env.push(("CW_LISTEN", &listen));
    let started = Instant::now();
    let second = helpers::spawn_app_on(&db, &env).await;
    let back = bar(&browser, "the catch-up count", PATIENCE, |b| {
        b.banner == "back"
    })
    .await;
    assert_eq!(back.caught, 7, "the banner says: {}", back.text);
    assert!(back.text.contains('7'), "{}", back.text);
    assert!(!back.bar_offline);
    assert_eq!(back.gap_caught, 7, "the gap mark says: {}", back.gap_text);
    // The caught-up comments are above the gap (newest on top), the ones
    // from before it below.
    let look: Look = wait(&browser, "the caught-up comments", |l| l.seqs.len() == 27).await;
    let at = usize::try_from(back.gap_index).expect("the gap is on the page");
    let at = look
        .seqs
        .iter()
        .position(|s| *s == back.gap_seq)
        .unwrap_or(at);
    assert!(
        look.seqs[..at].iter().all(|s| *s > before.top()),
        "{:?}",
        look.seqs
    );
    assert!(
        look.seqs[at..].iter().all(|s| *s <= before.top()),
        "{:?}",
        look.seqs
    );
    // The sources come back from the server's status, and the banner fades.
    bar(&browser, "the sources known again", PATIENCE, |b| {
        !b.sources.is_empty() && !b.sources.contains(&"unknown".to_owned())
    })
    .await;
    bar(&browser, "the banner to fade", PATIENCE, |b| {
        b.banner.is_empty()
    })
    .await;
    eprintln!(
        "back online {:?} after the restart began",
        started.elapsed()
    );
    browser.close().await;
    second.stop().await;
}
