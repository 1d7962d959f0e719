//! `twitch:CHANNEL` in a real headless Chromium, fed by the mock IRC server:
//! the Twitch badge, the VIP role, a raid's line and emote images on the
//! dashboard; `CLEARMSG` and `CLEARCHAT` retracting on an open dashboard and
//! overlay within a second; and the attack corpus in display names, message
//! texts and tag values, inert on both pages.

use std::time::Duration;

use commentwatch::source::twitch::irc::escape;
use serde_json::Value;

use crate::chrome::Browser;
use crate::helpers::{PATIENCE, TestApp, spawn_app};
use crate::xss_proof::{READ, Report, assert_clean, corpus, launch};

use crate::source_twitch::mock::MockIrc;

const CHANNEL: &str = "browsertest";

async fn app_for(mock: &MockIrc) -> TestApp {
    spawn_app(&[
        ("CW_SOURCES", &format!("twitch:{CHANNEL}")),
        ("TWITCH_IRC_URL", &mock.url),
    ])
    .await
}

fn say(id: &str, user: &str, tags: &str, text: &str) -> String {
    format!(
        "@{tags}id={id};user-id={user};display-name={user} :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #{CHANNEL} :{text}"
    )
}

/// The retraction of `ids` reaches the page within a second of the line
/// leaving the server; `gone` says what retracted looks like there.
async fn retracted_within_a_second(
    browser: &Browser,
    mock: &MockIrc,
    line: String,
    ids: &[&str],
    gone: impl Fn(&str) -> String,
) {
    let script = format!(
        "return [{}].every((x) => x);",
        ids.iter().map(|id| gone(id)).collect::<Vec<_>>().join(", ")
    );
    browser
        .within_a_second(
            &format!("{ids:?} retracted"),
            || mock.send(&[line]),
            &script,
        )
        .await;
}

#[tokio::test]
async fn the_dashboard_shows_twitch_and_retractions_reach_dashboard_and_overlay_within_a_second() {
    let Some(browser) = Browser::launch_with(&["--window-size=1280,900"]).await else {
        return;
    };
    let mock = MockIrc::start(CHANNEL).await;
    let app = app_for(&mock).await;
    mock.logins(1).await;
    browser.goto(&app.url("/")).await;
    browser
        .until(
            "the dashboard to go live",
            PATIENCE,
            "return document.getElementById('conn').dataset.state === 'live';",
        )
        .await;

    mock.send(&[
        say("a1", "alice", "badges=vip/1;emotes=25:0-4;", "Kappa 你好 😀"),
        say("b1", "bob", "first-msg=1;", "first from bob"),
        say("b2", "bob", "", "second from bob"),
        say("c1", "carol", "", "carol stays"),
        format!(
            "@display-name=Raider;id=r1;login=raider;msg-id=raid;msg-param-displayName=Raider;msg-param-viewerCount=12;system-msg=12\\sraiders\\sfrom\\sRaider\\shave\\sjoined!;user-id=raider :tmi.twitch.tv USERNOTICE #{CHANNEL}"
        ),
    ]);
    let item = |id: &str| format!("document.querySelector('#feed li.comment[data-id=\"{id}\"]')");
    browser
        .until(
            "the messages drawn",
            PATIENCE,
            &format!("return !!{};", item("r1")),
        )
        .await;
    let drawn: Value = browser
        .eval(&format!(
            "const a = {a}; const r = {r};
             const img = a.querySelector('.body img.emote');
             return {{
               platform: a.querySelector('.source').dataset.platform,
               badge: getComputedStyle(a.querySelector('.source'), '::before').content,
               roles: [...a.querySelectorAll('.role')].map((x) => [x.dataset.role, x.textContent]),
               emote: img ? [img.alt, img.getAttribute('src')] : null,
               text: [...a.querySelector('.body').childNodes]
                 .map((n) => (n.nodeType === 3 ? n.nodeValue : '[' + n.alt + ']')).join(''),
               raid: r.querySelector('.event').textContent,
               first: {b}.querySelector('.event').textContent,
             }};",
            b = item("b1"),
            a = item("a1"),
            r = item("r1")
        ))
        .await;
    assert_eq!(drawn["platform"], "twitch");
    assert_eq!(drawn["badge"], "\"◉ ⓣ\"");
    assert_eq!(drawn["roles"], serde_json::json!([["vip", "VIP"]]));
    assert_eq!(
        drawn["emote"],
        serde_json::json!([
            "Kappa",
            "https://static-cdn.jtvnw.net/emoticons/v2/25/default/dark/1.0"
        ])
    );
    assert_eq!(
        drawn["text"], "[Kappa] 你好 😀",
        "the emote stands where its range was"
    );
    assert_eq!(drawn["raid"], "Raid from Raider · 12 viewers");
    assert_eq!(drawn["first"], "First message in this chat");
    browser.screenshot("twitch-dashboard").await;

    let deleted = |id: &str| {
        format!("!!document.querySelector('#feed li.comment.deleted[data-id=\"{id}\"]')")
    };
    retracted_within_a_second(
        &browser,
        &mock,
        format!("@login=alice;target-msg-id=a1 :tmi.twitch.tv CLEARMSG #{CHANNEL} :Kappa"),
        &["a1"],
        deleted,
    )
    .await;
    retracted_within_a_second(
        &browser,
        &mock,
        format!("@ban-duration=60;target-user-id=bob :tmi.twitch.tv CLEARCHAT #{CHANNEL} :bob"),
        &["b1", "b2"],
        deleted,
    )
    .await;
    let carol: bool = browser
        .eval("return !document.querySelector('#feed li.comment[data-id=\"c1\"]').classList.contains('deleted');")
        .await;
    assert!(carol, "only the named author's messages are retracted");

    // The overlay, open while new messages come and go.
    browser
        .goto(&app.url("/overlay?mode=latest&limit=20&fade=0"))
        .await;
    mock.send(&[
        say("d1", "dave", "", "dave says hi"),
        say("e1", "erin", "", "erin one"),
        say("e2", "erin", "", "erin two"),
        say("f1", "frank", "", "frank stays"),
    ]);
    let card = |id: &str| format!("document.querySelector('li.card[data-id=\"{id}\"]')");
    browser
        .until(
            "the overlay's cards",
            PATIENCE,
            &format!("return !!{};", card("f1")),
        )
        .await;
    let off = |id: &str| format!("!document.querySelector('li.card[data-id=\"{id}\"]')");
    retracted_within_a_second(
        &browser,
        &mock,
        format!("@login=dave;target-msg-id=d1 :tmi.twitch.tv CLEARMSG #{CHANNEL} :dave says hi"),
        &["d1"],
        off,
    )
    .await;
    retracted_within_a_second(
        &browser,
        &mock,
        format!("@target-user-id=erin :tmi.twitch.tv CLEARCHAT #{CHANNEL} :erin"),
        &["e1", "e2"],
        off,
    )
    .await;
    let frank: bool = browser.eval(&format!("return !!{};", card("f1"))).await;
    assert!(frank, "the overlay keeps the others");
    browser.close().await;
}

/// A tag value may not hold a line break or NUL on the wire; the rest goes
/// escaped, as Twitch sends it.
fn wire(p: &str) -> String {
    p.replace(['\r', '\n', '\0'], " ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_in_twitch_names_texts_and_tag_values_is_inert() {
    let Some(browser) = launch().await else {
        return;
    };
    let corpus = corpus();
    assert!(corpus.len() >= 300, "a corpus of at least 300 attacks");
    let mock = MockIrc::start(CHANNEL).await;
    let app = app_for(&mock).await;
    let origin = app.url("");
    mock.logins(1).await;
    for (page, url, count) in [
        (
            "dashboard",
            "/",
            "return document.querySelectorAll('#feed li.comment').length;",
        ),
        (
            "overlay",
            "/overlay?mode=latest&limit=20&fade=0",
            "return document.querySelectorAll('li.card').length;",
        ),
    ] {
        browser.goto(&app.url(url)).await;
        let before = app.feed.log.count().await.unwrap();
        let mut lines = Vec::new();
        for (i, p) in corpus.iter().enumerate() {
            let tag = escape(&wire(p));
            let text = wire(p);
            // In the display name, the text and a tag the page shows (the
            // reply's parent), with an emote over the start of the text.
            lines.push(format!(
                "@badge-info=subscriber/{tag};badges=subscriber/{tag},vip/1;color={tag};display-name={tag};emotes=25:0-2/{tag}:3-4;id={page}-m{i};reply-parent-msg-id={tag};reply-parent-display-name={tag};tmi-sent-ts=1764000000000;user-id={tag} :u{i}!u{i}@u{i}.tmi.twitch.tv PRIVMSG #{CHANNEL} :{text}"
            ));
            // In Twitch's own system line and a raid's name.
            lines.push(format!(
                "@display-name={tag};id={page}-n{i};login=x;msg-id=raid;msg-param-displayName={tag};msg-param-viewerCount=3;system-msg={tag};user-id=x{i} :tmi.twitch.tv USERNOTICE #{CHANNEL}"
            ));
        }
        for chunk in lines.chunks(40) {
            mock.send(chunk);
        }
        let want = before + lines.len() as i64;
        let deadline = tokio::time::Instant::now() + PATIENCE * 2;
        while app.feed.log.count().await.unwrap() < want {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{page}: only {} of {want} stored",
                app.feed.log.count().await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _: Value = browser
            .poll(
                &format!("{page} to draw them"),
                PATIENCE,
                count,
                |v: &Value| v.as_u64().is_some_and(|n| n >= 10),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        browser.assert_no_dialog().await;
        let report: Report = browser.eval(READ).await;
        assert_clean(&format!("twitch {page}"), &origin, &report);
    }
    browser.close().await;
}
