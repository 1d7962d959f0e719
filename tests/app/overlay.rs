//! The OBS overlay and the "on stream" queue: featuring over the API and the
//! `featured` frames it sends, the read-only overlay key and what it does
//! not open, and, in a real Chromium, a featured comment reaching an open
//! overlay within a second on a transparent page.

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::chrome::{Browser, decode_png};
use crate::helpers::{PATIENCE, TestApp, spawn_app};

/// How it looks: corners, bubbles, colours, sizes, the builder, the icon.
mod looks;

const TOKEN: &str = "overlay-test-token";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The backlog's comments, read from `/ws` (hello, status, featured, then
/// the comments).
async fn backlog(app: &TestApp, n: usize) -> Vec<Value> {
    let mut client = app.connect(None).await;
    client
        .comments(n)
        .await
        .into_iter()
        .map(|f| f["comment"].clone())
        .collect()
}

async fn post_featured(app: &TestApp, body: &Value) -> reqwest::Response {
    app.post_json("/api/featured", body).await
}

#[tokio::test]
async fn the_featured_queue_comes_right_after_status_and_after_every_change() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_FEATURED_MAX", "2")]).await;
    let comments = backlog(&app, 3).await;

    let mut client = app.connect(None).await;
    let first = client.until(|_| true).await;
    assert_eq!(first[0]["type"], "status", "{first:?}");
    let featured = client.until(|_| true).await.remove(0);
    assert_eq!(
        featured,
        json!({ "type": "featured", "comments": [], "max": 2 }),
        "the queue follows the status frame on connect"
    );

    for c in &comments {
        let resp = post_featured(&app, &json!({ "source": c["source"], "id": c["id"] })).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // Three featured into a queue of two: the oldest made room.
    let frames = client
        .until(|f| f["type"] == "featured" && f["comments"][0]["id"] == comments[1]["id"])
        .await;
    let last = frames.last().unwrap();
    let ids: Vec<&Value> = last["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&comments[1]["id"], &comments[2]["id"]]);
    assert!(last.get("seq").is_none(), "featured frames carry no seq");
    assert_eq!(
        last["comments"][1], comments[2],
        "the overlay gets the comment exactly as the log has it"
    );

    let resp = http()
        .delete(app.url("/api/featured"))
        .header("Content-Type", "application/json")
        .body(json!({ "source": comments[1]["source"], "id": comments[1]["id"] }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    client
        .until(|f| f["type"] == "featured" && f["comments"].as_array().unwrap().len() == 1)
        .await;
    let resp = http()
        .delete(app.url("/api/featured"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    client
        .until(|f| f["type"] == "featured" && f["comments"] == json!([]))
        .await;
    app.stop().await;
}

#[tokio::test]
async fn featuring_refuses_other_sites_plain_forms_and_unknown_comments() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let c = backlog(&app, 1).await.remove(0);
    let target = json!({ "source": c["source"], "id": c["id"] });

    let cross = http()
        .post(app.url("/api/featured"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/json")
        .body(target.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let cross_fetch = http()
        .post(app.url("/api/featured"))
        .header("Sec-Fetch-Site", "cross-site")
        .header("Content-Type", "application/json")
        .body(target.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(cross_fetch.status(), StatusCode::FORBIDDEN);
    // What an HTML form on another site could send.
    let form = http()
        .post(app.url("/api/featured"))
        .header("Content-Type", "text/plain")
        .body(target.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let unknown = post_featured(&app, &json!({ "source": "demo", "id": "no-such-id" })).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let same_site = http()
        .post(app.url("/api/featured"))
        .header("Origin", format!("http://{}", app.addr))
        .header("Content-Type", "application/json")
        .body(target.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), StatusCode::OK);
    let queue: Value = serde_json::from_str(&same_site.text().await.unwrap()).unwrap();
    assert_eq!(queue["comments"][0]["id"], c["id"]);
    app.stop().await;
}

#[tokio::test]
async fn with_a_token_the_overlay_key_opens_the_overlay_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("comments.db");
    let env = [("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)];
    let owned = crate::helpers::spawn_app_on(&db, &env).await;
    let app = &owned;
    let bearer = format!("Bearer {TOKEN}");
    let settings: Value = http()
        .get(app.url("/api/overlay"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let key = settings["key"].as_str().expect("an overlay key").to_owned();
    assert!(key.len() >= 16 && !key.contains(TOKEN), "{key}");

    let get = |path: String| async move { http().get(app.url(&path)).send().await.unwrap() };
    assert_eq!(
        get(format!("/overlay?mode=featured&key={key}"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        get("/overlay".into()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get("/overlay?key=not-the-key-at-all".into()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for path in ["/", "/api/featured", "/api/overlay", "/log"] {
        let resp = http()
            .get(app.url(&format!("{path}?key={key}")))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert!(
            resp.status() == StatusCode::UNAUTHORIZED || resp.status().is_redirection(),
            "the overlay key must not open {path}: {}",
            resp.status()
        );
    }
    let post = http()
        .post(app.url(&format!("/api/featured?key={key}")))
        .header("Content-Type", "application/json")
        .body(json!({ "source": "demo", "id": "x" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::UNAUTHORIZED);

    // The overlay's WebSocket opens with the key; the dashboard's does not.
    let ws = |path: String| {
        let url = format!("ws://{}{path}", app.addr);
        async move {
            let req = url.into_client_request().unwrap();
            tokio::time::timeout(PATIENCE, connect_async(req))
                .await
                .expect("in time")
        }
    };
    let (mut overlay, _) = ws(format!("/overlay/ws?mode=featured&key={key}"))
        .await
        .expect("the overlay key opens /overlay/ws");
    let first = tokio::time::timeout(PATIENCE, overlay.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Message::Text(first) = first else {
        panic!("a text frame: {first:?}")
    };
    let first: Value = serde_json::from_str(first.as_str()).unwrap();
    assert_eq!(first["type"], "featured");
    assert!(ws(format!("/ws?key={key}")).await.is_err());
    assert!(ws("/overlay/ws?mode=featured".into()).await.is_err());

    // The same key after a restart on the same log: the OBS URL keeps working.
    drop(overlay);
    owned.stop().await;
    let again = crate::helpers::spawn_app_on(&db, &env).await;
    let resp = http()
        .get(again.url(&format!("/overlay?key={key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    again.stop().await;
}

#[tokio::test]
async fn the_overlay_page_loads_nothing_from_elsewhere() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let resp = http().get(app.url("/overlay")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"));
    let body = resp.text().await.unwrap();
    for needle in [
        "http://", "https://", "<style", " style=", "@import", "fonts.g",
    ] {
        assert!(!body.contains(needle), "the overlay page holds {needle:?}");
    }
    for asset in ["overlay.css", "overlay.js"] {
        let text = http()
            .get(app.url(&format!("/assets/{asset}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for needle in ["http://", "https://", "@import", "@font-face", "url("] {
            assert!(!text.contains(needle), "{asset} holds {needle:?}");
        }
    }
    app.stop().await;
}

/// Reads the overlay's cards.
const READ_CARDS: &str = r#"
return Array.from(document.querySelectorAll('#stage > li.card:not(.leaving)'), (li) => ({
    source: li.dataset.source || '',
    id: li.dataset.id || '',
    shown_at: Number(li.dataset.shownAt || 0),
    author: (li.querySelector('.author') || {}).textContent || '',
}));
"#;

#[derive(Debug, serde::Deserialize)]
struct Card {
    source: String,
    id: String,
    shown_at: u64,
    author: String,
}

#[tokio::test]
async fn featuring_a_comment_shows_it_on_an_open_overlay_within_a_second() {
    let Some(browser) = Browser::launch_with(&["--window-size=1280,800"]).await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    // The overlay in the first window, the dashboard in a second one.
    browser
        .goto(&app.url("/overlay?mode=featured&limit=3"))
        .await;
    let overlay = browser.client.window().await.unwrap();
    let dashboard = browser.client.new_window(false).await.unwrap().handle;
    browser
        .client
        .switch_to_window(dashboard.clone())
        .await
        .unwrap();
    browser.goto(&app.url("/")).await;
    let target: Value = browser
        .poll(
            "the backlog on the dashboard",
            PATIENCE,
            r#"const li = document.querySelector('#feed > li.comment');
               return li ? { source: li.dataset.source, id: li.dataset.id } : null;"#,
            |v: &Value| !v.is_null(),
        )
        .await;
    // Wait for the overlay socket to be up before timing the click.
    let clicked: u64 = browser
        .eval(
            r#"document.querySelector('#feed > li.comment button[data-act=feature]').click();
               return window.cwLastFeatureClick;"#,
        )
        .await;
    browser
        .poll(
            "the dashboard to show the comment on stream",
            PATIENCE,
            "return document.querySelectorAll('#featured > li').length;",
            |n: &u64| *n == 1,
        )
        .await;

    browser.client.switch_to_window(overlay).await.unwrap();
    let cards: Vec<Card> = browser
        .poll(
            "the featured card on the overlay",
            PATIENCE,
            READ_CARDS,
            |c: &Vec<Card>| !c.is_empty(),
        )
        .await;
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].source, target["source"]);
    assert_eq!(cards[0].id, target["id"]);
    assert!(!cards[0].author.is_empty());
    let delay = cards[0].shown_at.saturating_sub(clicked);
    assert!(
        delay <= 1000,
        "the overlay showed the comment {delay} ms after the click"
    );

    // Dismissing it (here through the API) takes it off the overlay.
    let resp = http()
        .delete(app.url("/api/featured"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    browser
        .poll(
            "the card to leave",
            PATIENCE,
            READ_CARDS,
            |c: &Vec<Card>| c.is_empty(),
        )
        .await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_overlay_background_is_transparent_in_a_screenshot() {
    let Some(browser) = Browser::launch_with(&["--window-size=1280,720"]).await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let comments = backlog(&app, 20).await;
    // A few ordinary comments on stream (the screenshot is also the
    // README's picture; the attack strings have tests of their own).
    let ordinary = comments.iter().rev().filter(|c| {
        let text = c["text"].as_str().unwrap_or("");
        !text.is_empty() && !text.contains(['<', '>', '{', '$', '\\', '['])
    });
    for c in ordinary.take(3) {
        let resp = post_featured(&app, &json!({ "source": c["source"], "id": c["id"] })).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // Chromium paints white behind a page unless told otherwise, as OBS
    // does: with a transparent default, only the page's own paint shows.
    browser
        .cdp(
            "Emulation.setDefaultBackgroundColorOverride",
            json!({ "color": { "r": 0, "g": 0, "b": 0, "a": 0 } }),
        )
        .await;
    browser
        .goto(&app.url("/overlay?mode=featured&limit=5&size=30"))
        .await;
    browser
        .poll(
            "three cards, settled",
            PATIENCE,
            "return document.querySelectorAll('#stage > li.card:not(.entering):not(.leaving)').length;",
            |n: &u64| *n == 3,
        )
        .await;
    let png = browser.screenshot("overlay").await;
    let image = decode_png(&png);
    let (w, h) = (image.width, image.height);
    assert!(w > 100 && h > 100);
    // The top of the page holds no card: every pixel there is see-through.
    let mut opaque = 0;
    for y in 0..h / 3 {
        for x in (0..w).step_by(7) {
            if image.at(x, y)[3] != 0 {
                opaque += 1;
            }
        }
    }
    assert_eq!(opaque, 0, "the overlay paints its background");
    // The cards themselves (bottom left) are painted.
    let card = image.at(60, h - 40);
    assert!(card[3] > 150, "a card pixel is {card:?}");
    browser.close().await;
    app.stop().await;
}
