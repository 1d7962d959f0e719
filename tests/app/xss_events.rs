//! The attack corpus of `xss_proof.rs` in the fields of who is speaking and
//! what kind of message it is: a member level, a gift's name, a sticker's
//! alternative text, a poll's question and options, a milestone's level. Fed
//! through the app (`TestApp::feed`), shown on the dashboard and the overlay
//! in headless Chromium with the same recorder: nothing runs, nothing
//! dangerous lands in the DOM, nothing is fetched from elsewhere.

use std::time::Duration;

use commentwatch::domain::{Comment, Event, EventType, Kind, PollOption, RawComment, Role};
use commentwatch::store::Batch;
use serde_json::Value;

use crate::helpers::{PATIENCE, spawn_app};
use crate::xss_proof::{READ, Report, assert_clean, corpus, launch};

const SRC: &str = "youtube:xssevents1";

/// Payload `i` in the new fields, the kind cycling through the four.
fn hostile(round: &str, i: usize, p: &str) -> Option<Comment> {
    let now = chrono::Utc::now();
    let (kind, event) = match i % 4 {
        0 => (
            Kind::Gift,
            Event {
                name: Some(p.into()),
                alt: Some(p.into()),
                count: Some(2),
                ..Event::new(EventType::Gift)
            },
        ),
        1 => (
            Kind::Sticker,
            Event {
                alt: Some(p.into()),
                tier: Some(3),
                ..Event::new(EventType::Sticker)
            },
        ),
        2 => (
            Kind::Event,
            Event {
                question: Some(p.into()),
                options: vec![PollOption {
                    text: p.into(),
                    votes: 1,
                }],
                ..Event::new(EventType::Poll)
            },
        ),
        _ => (
            Kind::Membership,
            Event {
                months: Some(3),
                level: Some(p.into()),
                ..Event::new(EventType::Milestone)
            },
        ),
    };
    commentwatch::sanitize::sanitize(
        SRC,
        RawComment {
            id: format!("x-{round}-{i}"),
            author_name: format!("attacker {i}"),
            author_id: format!("UC-x{i}"),
            text: "x".into(),
            published_at: Some(now),
            roles: vec![Role::Member, Role::Verified],
            member_level: Some(p.into()),
            kind,
            event: Some(event),
            ..RawComment::default()
        },
        now,
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_in_event_fields_is_inert_on_the_dashboard_and_the_overlay() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let origin = app.url("");
    for (page, url, count) in [
        (
            "dashboard",
            "/",
            "return document.querySelectorAll('#feed li.comment[data-id^=\"x-\"] .event:not([hidden])').length;",
        ),
        (
            "overlay",
            "/overlay?mode=latest&limit=20",
            "return document.querySelectorAll('#stage li.card[data-id^=\"x-\"] .event:not([hidden])').length;",
        ),
    ] {
        browser.goto(&app.url(url)).await;
        // Each page open while its own round streams in.
        let comments: Vec<Comment> = corpus()
            .iter()
            .enumerate()
            .filter_map(|(i, p)| hostile(page, i, p))
            .collect();
        assert!(comments.len() >= 300, "the corpus reached the fields");
        app.feed
            .ingest(Batch {
                source: SRC.into(),
                comments,
                ..Batch::default()
            })
            .await
            .unwrap();
        let _: Value = browser
            .poll(
                &format!("{page} to draw the hostile events"),
                PATIENCE * 2,
                count,
                |v: &Value| v.as_u64().is_some_and(|n| n >= 10),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        browser.assert_no_dialog().await;
        let report: Report = browser.eval(READ).await;
        assert_clean(page, &origin, &report);
    }
}
