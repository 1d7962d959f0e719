//! The attack corpus of `xss_proof.rs` in the fields of who wrote a
//! comment: the author's badges, the location line and the name colour
//! (where anything but `#rrggbb` must be dropped). Fed through the app,
//! shown on the dashboard, the overlay and the `/log` page in headless
//! Chromium with the same recorder: nothing runs, nothing dangerous lands
//! in the DOM, nothing is fetched from elsewhere.

use std::time::Duration;

use commentwatch::domain::{Comment, RawComment, Role};
use commentwatch::store::Batch;
use serde_json::Value;

use crate::helpers::{PATIENCE, spawn_app};
use crate::xss_proof::{READ, Report, assert_clean, corpus, launch};

const SRC: &str = "bilibili:BV1xx411c7mD";

/// Payload `p` (number `i`) in every who-field of one comment.
fn hostile(round: &str, i: usize, p: &str) -> Option<Comment> {
    let now = chrono::Utc::now();
    commentwatch::sanitize::sanitize(
        SRC,
        RawComment {
            id: format!("w-{round}-{i}"),
            author_name: format!("attacker {i}"),
            author_id: format!("{i}"),
            text: "x".into(),
            published_at: Some(now),
            roles: vec![Role::Owner],
            badges: vec![p.into(), format!("LV{i}")],
            author_color: Some(p.into()),
            pinned: true,
            liked_by_owner: true,
            location: Some(p.into()),
            ..RawComment::default()
        },
        now,
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_in_badges_location_and_colour_is_inert_on_every_page() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let origin = app.url("");
    for (page, url, count) in [
        (
            "dashboard",
            "/",
            "return document.querySelectorAll('#feed li.comment[data-id^=\"w-\"] .roles .badge').length;",
        ),
        (
            "overlay",
            "/overlay?mode=latest&limit=20",
            "return document.querySelectorAll('#stage li.card[data-id^=\"w-\"] .roles .badge').length;",
        ),
        (
            "log",
            "/log?role=owner",
            "return document.querySelectorAll('.log-item .log-badge').length;",
        ),
    ] {
        let comments: Vec<Comment> = corpus()
            .iter()
            .enumerate()
            .filter_map(|(i, p)| hostile(page, i, p))
            .collect();
        assert!(comments.len() >= 300, "the corpus reached the fields");
        let colours: Vec<&str> = comments
            .iter()
            .filter_map(|c| c.author.color.as_deref())
            .collect();
        assert!(colours.is_empty(), "no payload is a colour: {colours:?}");
        if page == "log" {
            // Server-rendered: the comments are in the log before it loads.
            ingest(&app, comments).await;
            browser.goto(&app.url(url)).await;
        } else {
            // Each live page open while its own round streams in.
            browser.goto(&app.url(url)).await;
            ingest(&app, comments).await;
        }
        let _: Value = browser
            .poll(
                &format!("{page} to draw the hostile badges"),
                PATIENCE * 2,
                count,
                |v: &Value| v.as_u64().is_some_and(|n| n >= 10),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        browser.assert_no_dialog().await;
        let report: Report = browser.eval(READ).await;
        assert_clean(page, &origin, &report);
        let styled: bool = browser
            .eval("return !![...document.querySelectorAll('.author, .log-author')].find((a) => a.style.length > 0 || a.dataset.color);")
            .await;
        assert!(!styled, "{page}: a payload coloured a name");
    }
}

async fn ingest(app: &crate::helpers::TestApp, comments: Vec<Comment>) {
    for chunk in comments.chunks(500) {
        app.feed
            .ingest(Batch {
                source: SRC.into(),
                comments: chunk.to_vec(),
                ..Batch::default()
            })
            .await
            .unwrap();
    }
}
