//! How the overlay looks at 1920×1080 in a real Chromium: the corner
//! (`pos=`), the chat-bubble style, one avatar colour per author, cards
//! that never run off the screen at large sizes; the builder's URL; and a
//! `/favicon.ico` for every page. Screenshots are saved as test artifacts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{backlog, post_featured};
use crate::chrome::Browser;
use crate::helpers::{PATIENCE, TestApp, spawn_app};

/// Puts `n` of the backlog's plain comments (by different authors where
/// there are enough) on stream, oldest first.
async fn feature_some(app: &TestApp, n: usize) {
    let comments = backlog(app, 20).await;
    let mut authors = std::collections::HashSet::new();
    let mut chosen: Vec<&Value> = comments
        .iter()
        .filter(|c| {
            let text = c["text"].as_str().unwrap_or("");
            !text.is_empty() && !text.contains(['<', '>', '{', '$', '\\', '['])
        })
        .filter(|c| authors.insert(c["author"]["id"].to_string()))
        .collect();
    chosen.truncate(n);
    assert_eq!(chosen.len(), n, "enough plain comments in the demo backlog");
    for c in chosen {
        let resp = post_featured(app, &json!({ "source": c["source"], "id": c["id"] })).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
}

/// The settled cards: their boxes, avatar colours, bubble and card paint.
const CARDS: &str = "
    const cards = [...document.querySelectorAll('#stage > li.card:not(.leaving):not(.entering)')];
    return {
      w: innerWidth, h: innerHeight,
      shown: cards.filter(c => !c.classList.contains('no-room')).map(c => {
        const r = c.getBoundingClientRect();
        return [r.left, r.top, r.right, r.bottom];
      }),
      hidden: cards.filter(c => c.classList.contains('no-room')).length,
      avatars: cards.map(c => getComputedStyle(c.querySelector('.avatar')).backgroundColor),
      card: cards.length ? getComputedStyle(cards[0]).backgroundColor : '',
      bubble: cards.length ? getComputedStyle(cards[0].querySelector('.body')).backgroundColor : '',
    };";

#[derive(serde::Deserialize, Debug)]
struct Cards {
    w: f64,
    h: f64,
    shown: Vec<[f64; 4]>,
    hidden: usize,
    avatars: Vec<String>,
    card: String,
    bubble: String,
}

async fn settled(browser: &Browser, at_least: usize) -> Cards {
    browser
        .poll("the cards, settled", PATIENCE, CARDS, |c: &Cards| {
            c.shown.len() + c.hidden >= at_least
        })
        .await
}

// See: issue 15, "Overlay: a position choice, an avatar colour per author,
// at least one more card style (a chat-bubble style)".
#[tokio::test]
async fn overlay_cards_sit_in_the_chosen_corner_as_bubbles_with_a_colour_per_author() {
    let Some(browser) = Browser::launch_with(&["--window-size=1920,1080"]).await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    feature_some(&app, 4).await;
    browser
        .cdp(
            "Emulation.setDefaultBackgroundColorOverride",
            json!({ "color": { "r": 0, "g": 0, "b": 0, "a": 0 } }),
        )
        .await;
    for (pos, theme) in [
        ("top-right", "bubble"),
        ("bottom-left", "bubble"),
        ("bottom-right", "dark"),
        ("top-left", "light"),
    ] {
        browser
            .goto(&app.url(&format!(
                "/overlay?mode=featured&limit=5&size=36&theme={theme}&pos={pos}"
            )))
            .await;
        let c = settled(&browser, 4).await;
        assert_eq!(c.shown.len(), 4, "{pos}: {c:?}");
        let (top, right) = (pos.starts_with("top"), pos.ends_with("right"));
        for [l, t, r, b] in &c.shown {
            assert!(
                *l >= 0.0 && *t >= 0.0 && *r <= c.w && *b <= c.h,
                "{pos}: {c:?}"
            );
            if right {
                assert!(
                    c.w - r < 60.0,
                    "{pos}: a card away from the right edge {c:?}"
                );
            } else {
                assert!(*l < 60.0, "{pos}: a card away from the left edge {c:?}");
            }
        }
        let first_top = c.shown[0][1];
        let last_bottom = c.shown[3][3];
        if top {
            assert!(first_top < 60.0, "{pos}: the stack starts at the top {c:?}");
        } else {
            assert!(
                c.h - last_bottom < 60.0,
                "{pos}: the stack ends at the bottom {c:?}"
            );
        }
        let colours: std::collections::HashSet<&String> = c.avatars.iter().collect();
        assert!(colours.len() >= 3, "one colour per author: {:?}", c.avatars);
        if theme == "bubble" {
            assert_eq!(c.card, "rgba(0, 0, 0, 0)", "no card behind a bubble");
            assert!(c.bubble.starts_with("rgba(255, 255, 255"), "{c:?}");
        }
        browser
            .screenshot(&format!("overlay-{theme}-{pos}-1920"))
            .await;
    }
    browser.close().await;
    app.stop().await;
}

// See: issue 15, "cards never cut by the edge at large sizes".
#[tokio::test]
async fn large_overlay_cards_never_run_off_the_screen() {
    let Some(browser) = Browser::launch_with(&["--window-size=1920,1080"]).await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_FEATURED_MAX", "20")]).await;
    feature_some(&app, 8).await;
    for pos in ["bottom-left", "top-right"] {
        browser
            .goto(&app.url(&format!(
                "/overlay?mode=featured&limit=20&size=96&theme=dark&pos={pos}"
            )))
            .await;
        let c = settled(&browser, 8).await;
        assert!(c.hidden > 0, "{pos}: not everything fits at 96 px: {c:?}");
        assert!(!c.shown.is_empty());
        for [l, t, r, b] in &c.shown {
            assert!(
                *l >= 0.0 && *t >= 0.0 && *r <= c.w + 0.5 && *b <= c.h + 0.5,
                "{pos}: a card runs off the screen: {c:?}"
            );
        }
        // The newest is the one always shown: the last card of the stack.
        let newest_shown: bool = browser
            .eval("const cs = document.querySelectorAll('#stage > li.card:not(.leaving)'); return !cs[cs.length - 1].classList.contains('no-room');")
            .await;
        assert!(newest_shown, "{pos}");
        browser
            .screenshot(&format!("overlay-large-{pos}-1920"))
            .await;
    }
    browser.close().await;
    app.stop().await;
}

// See: issue 15, "the overlay builder showing 99 where the URL says limit=20".
#[tokio::test]
async fn the_overlay_builder_shows_what_its_url_says_and_offers_the_corner_and_bubbles() {
    let Some(browser) = Browser::launch_with(&["--window-size=1280,900"]).await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    let got: Value = browser
        .poll(
            "the builder's URL",
            PATIENCE,
            r#"document.getElementById('overlay-builder').open = true;
               const limit = document.getElementById('ov-limit');
               limit.value = '99';
               limit.dispatchEvent(new Event('input', { bubbles: true }));
               limit.dispatchEvent(new Event('change', { bubbles: true }));
               const pos = document.getElementById('ov-pos');
               pos.value = 'top-right';
               pos.dispatchEvent(new Event('input', { bubbles: true }));
               const theme = document.getElementById('ov-theme');
               theme.value = 'bubble';
               theme.dispatchEvent(new Event('input', { bubbles: true }));
               const url = document.getElementById('overlay-url').value;
               return url ? { url, limit: limit.value, label: pos.previousElementSibling.htmlFor } : null;"#,
            |v: &Value| !v.is_null(),
        )
        .await;
    let url = got["url"].as_str().unwrap();
    assert!(url.contains("limit=20"), "{url}");
    assert_eq!(got["limit"], "20", "the field shows what the URL says");
    assert!(
        url.contains("pos=top-right") && url.contains("theme=bubble"),
        "{url}"
    );
    assert_eq!(got["label"], "ov-pos", "the corner has its label");
    browser.close().await;
    app.stop().await;
}

// See: issue 15, "no /favicon.ico 404".
#[tokio::test]
async fn every_page_names_its_icon_and_favicon_ico_is_served() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let resp = reqwest::get(app.url("/favicon.ico")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    for page in ["/", "/log", "/overlay", "/login", "/logout"] {
        let resp = reqwest::get(app.url(page)).await.unwrap();
        let status = resp.status();
        let html = resp.text().await.unwrap();
        if status != StatusCode::OK {
            continue;
        }
        assert!(
            html.contains(r#"<link rel="icon" href="/assets/favicon.svg""#),
            "{page} names its icon"
        );
    }
}
