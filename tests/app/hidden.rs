//! Hidden words and authors, and the "on stream" queue, as server state kept
//! in the log: hiding an author from the dashboard takes their cards off an
//! open `latest` overlay within a second (in a real Chromium), and both the
//! hiding and the queue survive a restart on the same log file; an entry of
//! `CW_BLOCK` the streamer unhid stays unhidden after a restart;
//! `/api/hidden` refuses bad bodies and other sites; and on a shared
//! PostgreSQL log, a hide through one instance reaches the other.

use commentwatch::store::Batch;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::chrome::Browser;
use crate::helpers::{self, PATIENCE, TestApp, eventually, spawn_app, spawn_app_on};
use crate::log_page::comment;

const WINDOW: &str = "--window-size=1280,800";

/// The author of every card on the overlay (not those leaving).
const CARD_AUTHORS: &str = r#"
return Array.from(document.querySelectorAll('#stage > li.card:not(.leaving) .author'), (e) => e.textContent);
"#;

/// The chips of the dashboard's Hidden panel.
const CHIPS: &str = r#"
return Array.from(document.querySelectorAll('#block-list .chip-text'), (e) => e.textContent);
"#;

/// A JSON string literal of `s`, to put into a script.
fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// `method path` with `body` as JSON from this site (no `Origin`, as a tool
/// sends), whatever the answer.
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    reqwest::Client::new()
        .request(method, app.url(path))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Status and JSON body of `resp`.
async fn answer(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body)
}

/// Ingests one comment of `author` on `app`'s own feed.
async fn say(app: &TestApp, id: &str, author: &str) {
    let src = "youtube:hidden";
    app.feed
        .ingest(Batch {
            source: src.into(),
            comments: vec![comment(src, id, author, &format!("words of {id}"), 0)],
            ..Batch::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn hiding_an_author_takes_their_cards_off_an_open_latest_overlay_at_once_and_survives_a_restart()
 {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("comments.db");
    let env = [("CW_DEMO_RATE", "0")];
    let app = spawn_app_on(&db, &env).await;
    // The overlay in the first window, the dashboard in a second one.
    browser
        .goto(&app.url("/overlay?mode=latest&limit=20"))
        .await;
    let authors: Vec<String> = browser
        .poll(
            "the backlog on the overlay",
            PATIENCE,
            CARD_AUTHORS,
            |a: &Vec<String>| a.len() == 20,
        )
        .await;
    // An author with cards on the overlay, and others besides.
    let troll = authors[0].clone();
    assert!(
        authors.iter().any(|a| *a != troll),
        "the demo's backlog has more than one author: {authors:?}"
    );
    // Note the moment the last of the troll's cards starts to leave.
    browser
        .eval::<Value>(&format!(
            r#"window.cwGoneAt = null;
               const stage = document.getElementById('stage');
               new MutationObserver(() => {{
                 const left = Array.from(stage.querySelectorAll('li.card:not(.leaving) .author'))
                   .some((e) => e.textContent === {name});
                 if (!left && window.cwGoneAt === null) window.cwGoneAt = Date.now();
               }}).observe(stage, {{ subtree: true, childList: true, attributes: true }});
               return null;"#,
            name = js(&troll)
        ))
        .await;
    let overlay = browser.client.window().await.unwrap();
    let dashboard = browser.client.new_window(false).await.unwrap().handle;
    browser.client.switch_to_window(dashboard).await.unwrap();
    browser.goto(&app.url("/")).await;
    let find = format!(
        r#"const li = Array.from(document.querySelectorAll('#feed > li.comment'))
             .find((li) => li.querySelector('.author').textContent === {name});"#,
        name = js(&troll)
    );
    browser
        .poll(
            "the troll's comment on the dashboard",
            PATIENCE,
            &format!("{find} return !!li;"),
            |found: &bool| *found,
        )
        .await;
    // Select the comment and press H, as a streamer would.
    let clicked: u64 = browser
        .eval(&format!(
            "{find} li.click(); document.dispatchEvent(new KeyboardEvent('keydown', {{ key: 'h', bubbles: true }})); return Date.now();"
        ))
        .await;
    browser
        .poll(
            "the troll gone from the dashboard",
            PATIENCE,
            &format!("{find} return !li;"),
            |gone: &bool| *gone,
        )
        .await;
    let toast: String = browser
        .eval("return document.getElementById('toast').hidden ? '' : document.getElementById('toast-text').textContent;")
        .await;
    assert!(
        toast.contains(&troll),
        "the toast says who was hidden: {toast:?}"
    );

    browser.client.switch_to_window(overlay).await.unwrap();
    let gone_at: u64 = browser
        .poll(
            "the troll's cards to leave the overlay",
            PATIENCE,
            "return window.cwGoneAt;",
            |t: &Option<u64>| t.is_some(),
        )
        .await
        .unwrap();
    let delay = gone_at.saturating_sub(clicked);
    assert!(
        delay <= 1000,
        "the overlay dropped the troll's cards {delay} ms after H"
    );
    let left: Vec<String> = browser.eval(CARD_AUTHORS).await;
    assert!(!left.is_empty() && !left.contains(&troll), "{left:?}");

    // A new comment of the troll never shows; one of someone else does.
    say(&app, "troll-again", &troll).await;
    say(&app, "friend", "A Friend").await;
    let now: Vec<String> = browser
        .poll(
            "the friend's card",
            PATIENCE,
            CARD_AUTHORS,
            |a: &Vec<String>| a.iter().any(|n| n == "A Friend"),
        )
        .await;
    assert!(!now.contains(&troll), "{now:?}");

    // A restart on the same log keeps the troll hidden: on a fresh overlay
    // and on the dashboard's Hidden panel.
    app.stop().await;
    let again = spawn_app_on(&db, &env).await;
    let list = again.get_json("/api/hidden").await;
    assert_eq!(list, json!({ "words": [], "authors": [troll] }));
    browser
        .goto(&again.url("/overlay?mode=latest&limit=20"))
        .await;
    let shown: Vec<String> = browser
        .poll(
            "the overlay after a restart",
            PATIENCE,
            CARD_AUTHORS,
            |a: &Vec<String>| a.iter().any(|n| n == "A Friend"),
        )
        .await;
    assert!(!shown.contains(&troll), "{shown:?}");
    browser.goto(&again.url("/")).await;
    let chips: Vec<String> = browser
        .poll("the Hidden panel", PATIENCE, CHIPS, |c: &Vec<String>| {
            !c.is_empty()
        })
        .await;
    assert_eq!(chips, [format!("author:{troll}")]);
    browser.close().await;
    again.stop().await;
}

#[tokio::test]
async fn every_open_dashboard_sees_a_hide_and_its_undo() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    let first = browser.client.window().await.unwrap();
    browser
        .poll(
            "the first dashboard live",
            PATIENCE,
            "return document.querySelectorAll('#feed > li.comment').length;",
            |n: &u64| *n == 20,
        )
        .await;
    let second = browser.client.new_window(false).await.unwrap().handle;
    browser
        .client
        .switch_to_window(second.clone())
        .await
        .unwrap();
    browser.goto(&app.url("/")).await;
    browser
        .poll(
            "the second dashboard live",
            PATIENCE,
            "return document.querySelectorAll('#feed > li.comment').length;",
            |n: &u64| *n == 20,
        )
        .await;
    // Hide a word from the second dashboard's Hidden panel.
    browser
        .eval::<Value>(
            "document.getElementById('block-input').value = 'zebra'; \
             document.querySelector('#block-form button').click(); return null;",
        )
        .await;
    browser
        .poll(
            "the chip on the second",
            PATIENCE,
            CHIPS,
            |c: &Vec<String>| c == &["zebra"],
        )
        .await;
    browser
        .client
        .switch_to_window(first.clone())
        .await
        .unwrap();
    browser
        .poll(
            "the chip on the first",
            PATIENCE,
            CHIPS,
            |c: &Vec<String>| c == &["zebra"],
        )
        .await;
    // Undo on the second takes it off both.
    browser.client.switch_to_window(second).await.unwrap();
    browser
        .eval::<Value>("document.getElementById('toast-undo').click(); return null;")
        .await;
    browser.client.switch_to_window(first).await.unwrap();
    browser
        .poll(
            "the chip gone from the first",
            PATIENCE,
            CHIPS,
            |c: &Vec<String>| c.is_empty(),
        )
        .await;
    assert_eq!(
        app.get_json("/api/hidden").await,
        json!({ "words": [], "authors": [] })
    );
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_on_stream_queue_survives_a_restart_on_the_overlay_and_the_dashboard() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("comments.db");
    let env = [("CW_DEMO_RATE", "0")];
    let app = spawn_app_on(&db, &env).await;
    let mut client = app.connect(None).await;
    let backlog = client.comments(3).await;
    for f in &backlog[..2] {
        let c = &f["comment"];
        let resp = app
            .post_json(
                "/api/featured",
                &json!({ "source": c["source"], "id": c["id"] }),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let ids: Vec<Value> = backlog[..2]
        .iter()
        .map(|f| f["comment"]["id"].clone())
        .collect();
    app.stop().await;

    let again = spawn_app_on(&db, &env).await;
    let queue = again.get_json("/api/featured").await;
    let kept: Vec<Value> = queue["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(kept, ids, "the same queue, oldest first");
    browser
        .goto(&again.url("/overlay?mode=featured&limit=5"))
        .await;
    let cards: Vec<String> = browser
        .poll(
            "the queue on the overlay",
            PATIENCE,
            "return Array.from(document.querySelectorAll('#stage > li.card:not(.leaving)'), (li) => li.dataset.id);",
            |c: &Vec<String>| c.len() == 2,
        )
        .await;
    assert_eq!(json!(cards), json!(ids));
    browser.goto(&again.url("/")).await;
    let on_stream: Vec<String> = browser
        .poll(
            "the queue on the dashboard",
            PATIENCE,
            "return Array.from(document.querySelectorAll('#featured > li'), (li) => li.dataset.id);",
            |c: &Vec<String>| c.len() == 2,
        )
        .await;
    assert_eq!(json!(on_stream), json!(ids));
    // The stars of the feed say so too.
    let stars: u64 = browser
        .poll(
            "the stars in the feed",
            PATIENCE,
            "return document.querySelectorAll('#feed > li.comment.featured').length;",
            |n: &u64| *n == 2,
        )
        .await;
    assert_eq!(stars, 2);
    browser.close().await;
    again.stop().await;
}

#[tokio::test]
async fn a_cw_block_entry_the_streamer_unhid_stays_unhidden_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("comments.db");
    let app = spawn_app_on(
        &db,
        &[("CW_DEMO_RATE", "0"), ("CW_BLOCK", "spam, author:Bot")],
    )
    .await;
    assert_eq!(
        app.get_json("/api/hidden").await,
        json!({ "words": ["spam"], "authors": ["Bot"] })
    );
    let (status, list) = answer(
        call(
            &app,
            reqwest::Method::DELETE,
            "/api/hidden",
            &json!({ "entry": "SPAM" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!({ "words": [], "authors": ["Bot"] }));
    app.stop().await;

    // The same CW_BLOCK, with one entry more: the new one is hidden, the
    // unhidden one is not back.
    let again = spawn_app_on(
        &db,
        &[
            ("CW_DEMO_RATE", "0"),
            ("CW_BLOCK", "spam, author:Bot, scam"),
        ],
    )
    .await;
    assert_eq!(
        again.get_json("/api/hidden").await,
        json!({ "words": ["scam"], "authors": ["Bot"] })
    );
    again.stop().await;
}

#[tokio::test]
async fn the_hidden_api_refuses_bad_bodies_other_sites_and_a_full_list() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let http = reqwest::Client::new();
    let post = |body: String, content_type: &'static str| {
        http.post(app.url("/api/hidden"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let entry = json!({ "entry": "spam" }).to_string();
    let cross = http
        .post(app.url("/api/hidden"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/json")
        .body(entry.clone())
        .send()
        .await
        .unwrap();
    let (status, body) = answer(cross).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "cross-site request refused");
    let cross_fetch = http
        .delete(app.url("/api/hidden"))
        .header("Sec-Fetch-Site", "cross-site")
        .header("Content-Type", "application/json")
        .body(entry.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(cross_fetch.status(), StatusCode::FORBIDDEN);
    let form = post(entry.clone(), "text/plain").await.unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    for (body, says) in [
        ("{}".to_owned(), "expected a JSON body"),
        ("".to_owned(), "expected a JSON body"),
        (json!({ "entry": 7 }).to_string(), "expected a JSON body"),
        (
            json!({ "entry": "x", "also": 1 }).to_string(),
            "expected a JSON body",
        ),
        (json!({ "entry": "  " }).to_string(), "entry: empty"),
        (json!({ "entry": "author:" }).to_string(), "entry: empty"),
        (
            json!({ "entry": "a\u{1b}[31m" }).to_string(),
            "entry: one line",
        ),
        (
            json!({ "entry": "x".repeat(201) }).to_string(),
            "entry: at most 200 characters",
        ),
    ] {
        let (status, answer) = answer(post(body.clone(), "application/json").await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.starts_with(says), "{body}: {error}");
        assert_eq!(answer["param"], Value::Null);
    }
    assert_eq!(
        app.get_json("/api/hidden").await,
        json!({ "words": [], "authors": [] }),
        "nothing refused was hidden"
    );

    // Up to 500 entries; the 501st is refused, saying why.
    for i in 0..500 {
        let resp = post(
            json!({ "entry": format!("w{i}") }).to_string(),
            "application/json",
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "entry {i}");
    }
    let (status, full) = answer(
        post(
            json!({ "entry": "one more" }).to_string(),
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(full["error"].as_str().unwrap().contains("full"), "{full}");
    let list = app.get_json("/api/hidden").await;
    assert_eq!(list["words"].as_array().unwrap().len(), 500);
    app.stop().await;
}

#[tokio::test]
async fn hiding_an_author_takes_their_comments_off_stream_and_keeps_them_off() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    say(&app, "t1", "Troll").await;
    say(&app, "f1", "Friend").await;
    for id in ["t1", "f1"] {
        let resp = app
            .post_json(
                "/api/featured",
                &json!({ "source": "youtube:hidden", "id": id }),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let mut client = app.connect(Some(i64::MAX)).await;
    let (status, _) = answer(
        app.post_json("/api/hidden", &json!({ "entry": "author:troll" }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Every socket hears the new list, and the queue without the troll.
    client
        .until(|f| f["type"] == "hidden" && f["authors"] == json!(["troll"]))
        .await;
    let queue = eventually("the troll off stream", PATIENCE, || async {
        let q = app.get_json("/api/featured").await;
        (q["comments"].as_array().unwrap().len() == 1).then_some(q)
    })
    .await;
    assert_eq!(queue["comments"][0]["id"], "f1");
    // A hidden comment cannot go on stream again.
    let resp = app
        .post_json(
            "/api/featured",
            &json!({ "source": "youtube:hidden", "id": "t1" }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn a_hide_through_one_instance_reaches_the_other_on_a_shared_log() {
    let Some(url) = helpers::postgres_db().await else {
        return;
    };
    let env = [("CW_DEMO_RATE", "0"), ("CW_BLOCK", "spam")];
    let a = helpers::spawn_app_with_db(&url, &env).await;
    let b = helpers::spawn_app_with_db(&url, &env).await;
    let mut on_b = b.connect(Some(i64::MAX)).await;
    let (status, _) = answer(
        a.post_json("/api/hidden", &json!({ "entry": "author:Troll" }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let frames = on_b
        .until(|f| f["type"] == "hidden" && f["authors"] == json!(["Troll"]))
        .await;
    assert_eq!(
        frames.last().unwrap()["words"],
        json!(["spam"]),
        "seeded once, by either"
    );
    assert_eq!(
        b.get_json("/api/hidden").await,
        json!({ "words": ["spam"], "authors": ["Troll"] })
    );
    // And back: unhidden through B, A shows it.
    let (status, _) = answer(
        call(
            &b,
            reqwest::Method::DELETE,
            "/api/hidden",
            &json!({ "entry": "author:troll" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    eventually("A to follow B's unhide", PATIENCE, || async {
        a.get_json("/api/hidden").await == json!({ "words": ["spam"], "authors": [] })
    })
    .await;
    a.stop().await;
    b.stop().await;
}
