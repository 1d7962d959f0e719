//! A streamed YouTube live chat in headless Chromium: a moderator's ban
//! (`userBannedEvent`) takes every message of the banned viewer off an open
//! dashboard and an open overlay within a second of YouTube pushing it, and
//! the others stay.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use crate::chrome::Browser;
use crate::helpers::{PATIENCE, spawn_app};
use crate::youtube_stream::mock::{self, Answer};

/// One pushed response holding one item, with its page token.
fn pushed(token: &str, item: String) -> String {
    format!(
        r#"{{"kind":"youtube#liveChatMessageListResponse","etag":"e","nextPageToken":"{token}","items":[{item}]}}"#
    )
}

fn said(id: &str, who: &str, text: &str) -> String {
    pushed(
        &format!("t-{id}"),
        format!(
            r#"{{"kind":"youtube#liveChatMessage","id":"{id}","snippet":{{"type":"textMessageEvent","liveChatId":"CHAT1","authorChannelId":"UC{who}","publishedAt":"2026-12-03T09:00:00Z","hasDisplayContent":true,"displayMessage":"{text}","textMessageDetails":{{"messageText":"{text}"}}}},"authorDetails":{{"channelId":"UC{who}","displayName":"@{who}","isVerified":false,"isChatOwner":false,"isChatSponsor":false,"isChatModerator":false}}}}"#
        ),
    )
}

fn banned(id: &str, who: &str) -> String {
    pushed(
        &format!("t-{id}"),
        format!(
            r#"{{"kind":"youtube#liveChatMessage","id":"{id}","snippet":{{"type":"userBannedEvent","liveChatId":"CHAT1","authorChannelId":"UCmod","publishedAt":"2026-12-03T09:01:00Z","hasDisplayContent":true,"displayMessage":"@{who} was hidden from the chat","userBannedDetails":{{"bannedUserDetails":{{"channelId":"UC{who}","displayName":"@{who}"}},"banType":"permanent"}}}},"authorDetails":{{"channelId":"UCmod","displayName":"@mod","isVerified":false,"isChatOwner":false,"isChatSponsor":false,"isChatModerator":true}}}}"#
        ),
    )
}

/// Pushes a ban of `who` and waits at most a second for `ids` to be gone.
async fn ban_within_a_second(
    browser: &Browser,
    chat: &UnboundedSender<String>,
    ban_id: &str,
    who: &str,
    ids: &[&str],
    gone: impl Fn(&str) -> String,
) {
    let script = format!(
        "return [{}].every((x) => x);",
        ids.iter().map(|id| gone(id)).collect::<Vec<_>>().join(", ")
    );
    browser
        .within_a_second(
            &format!("{who}'s messages {ids:?} taken off"),
            || chat.send(banned(ban_id, who)).unwrap(),
            &script,
        )
        .await;
}

#[tokio::test]
async fn a_ban_takes_the_viewers_messages_off_the_dashboard_and_the_overlay_within_a_second() {
    let Some(browser) = Browser::launch_with(&["--window-size=1280,900"]).await else {
        return;
    };
    let (chat, rx) = tokio::sync::mpsc::unbounded_channel();
    let server = mock::start(
        vec![Answer::Live(Arc::new(tokio::sync::Mutex::new(rx)))],
        None,
    )
    .await;
    let app = spawn_app(&[
        ("CW_SOURCES", "youtube-live:STREAMVID01"),
        ("YOUTUBE_API_KEY", "test-key_123"),
        ("YOUTUBE_API_BASE", server.base.as_str()),
    ])
    .await;
    browser.goto(&app.url("/")).await;
    browser
        .until(
            "the dashboard to go live",
            PATIENCE,
            "return document.getElementById('conn').dataset.state === 'live';",
        )
        .await;
    for (id, who, text) in [
        ("a1", "alice", "hello from alice"),
        ("t1", "troll", "first from the troll"),
        ("t2", "troll", "second from the troll"),
        ("c1", "carol", "carol stays"),
    ] {
        chat.send(said(id, who, text)).unwrap();
    }
    let item = |id: &str| format!("document.querySelector('#feed li.comment[data-id=\"{id}\"]')");
    browser
        .until(
            "the messages drawn",
            PATIENCE,
            &format!("return !!{};", item("c1")),
        )
        .await;
    let deleted = |id: &str| {
        format!("!!document.querySelector('#feed li.comment.deleted[data-id=\"{id}\"]')")
    };
    ban_within_a_second(&browser, &chat, "ban1", "troll", &["t1", "t2"], deleted).await;
    let others: bool = browser
        .eval(&format!(
            "return !{a}.classList.contains('deleted') && !{c}.classList.contains('deleted');",
            a = item("a1"),
            c = item("c1")
        ))
        .await;
    assert!(others, "only the banned viewer's messages are taken off");
    let status: String = browser
        .eval("return document.querySelector('#sources .source-status').title;")
        .await;
    assert!(status.contains("@troll"), "the ban is noted: {status}");

    // The overlay, open in OBS while the chat goes on.
    browser
        .goto(&app.url("/overlay?mode=latest&limit=20&fade=0"))
        .await;
    for (id, who, text) in [
        ("d1", "dave", "dave says hi"),
        ("s1", "spammer", "buy followers"),
        ("s2", "spammer", "buy more followers"),
        ("f1", "frank", "frank stays"),
    ] {
        chat.send(said(id, who, text)).unwrap();
    }
    let card = |id: &str| format!("document.querySelector('li.card[data-id=\"{id}\"]')");
    browser
        .until(
            "the overlay's cards",
            PATIENCE,
            &format!("return !!{};", card("f1")),
        )
        .await;
    let off = |id: &str| format!("!document.querySelector('li.card[data-id=\"{id}\"]')");
    ban_within_a_second(&browser, &chat, "ban2", "spammer", &["s1", "s2"], off).await;
    let kept: bool = browser
        .eval(&format!("return !!{} && !!{};", card("d1"), card("f1")))
        .await;
    assert!(kept, "the overlay keeps the others");
    browser.close().await;
    app.stop().await;
}
