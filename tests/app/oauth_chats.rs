//! Whether the connected channel owns each monitored YouTube live chat, in
//! the account panel (Chromium): the video's channel (`videos.list`
//! `snippet.channelId`) equal to the connected channel is *owner*, another
//! is *may not moderate*, a video YouTube does not know is *unknown*; every
//! video is looked up in one call, once.

use fantoccini::Locator;
use serde_json::Value;

use crate::chrome::Browser;
use crate::helpers::{PATIENCE, spawn_app};
use crate::oauth::{connect_account, mock};

const TOKEN: &str = "oauth-chats-token-5151";
const SOURCES: &str = "youtube-live:OWNVIDEO001,youtube-live:OTHERVID002,youtube-live:GONEVIDEO03";

async fn chats(app: &crate::helpers::TestApp) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(app.url("/api/oauth/youtube/chats"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap(),
    )
}

/// The owner lookups the mock saw (not the sources' own polling).
fn lookups(google: &mock::Mock) -> Vec<String> {
    google
        .seen
        .lock()
        .unwrap()
        .calls
        .iter()
        .filter(|(m, p, q, _)| m == "GET" && p == "/youtube/v3/videos" && q.contains("channelId"))
        .map(|(_, _, q, _)| q.clone())
        .collect()
}

#[tokio::test]
async fn the_account_panel_says_which_live_chats_the_connected_channel_owns() {
    let google = mock::start().await;
    {
        let mut seen = google.seen.lock().unwrap();
        seen.owners
            .insert("OTHERVID002".into(), "UCsomeoneElse0000000000".into());
        seen.owners.insert("GONEVIDEO03".into(), String::new());
    }
    let mut env: Vec<(&str, String)> = google.env();
    env.extend([
        ("CW_TOKEN", TOKEN.into()),
        ("CW_SOURCES", SOURCES.into()),
        ("YOUTUBE_API_KEY", "test-key_123".into()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(&env).await;

    // Nothing to say, and nothing spent, before a channel is connected.
    let (status, body) = chats(&app).await;
    assert_eq!(status, 409, "{body}");
    assert!(lookups(&google).is_empty());

    connect_account(&format!("http://{}", app.addr), TOKEN).await;
    let (status, body) = chats(&app).await;
    assert_eq!(status, 200, "{body}");
    let roles: Vec<(String, String, Value)> = body["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["source"].as_str().unwrap().to_owned(),
                c["role"].as_str().unwrap().to_owned(),
                c["channel_id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            (
                "youtube-live:OWNVIDEO001".into(),
                "owner".into(),
                mock::CHANNEL_ID.into()
            ),
            (
                "youtube-live:OTHERVID002".into(),
                "may_not_moderate".into(),
                "UCsomeoneElse0000000000".into()
            ),
            (
                "youtube-live:GONEVIDEO03".into(),
                "unknown".into(),
                Value::Null
            ),
        ]
    );
    // One call for the three, 1 quota unit; asked again, none.
    let seen = lookups(&google);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("id=OWNVIDEO001%2COTHERVID002%2CGONEVIDEO03")
            && seen[0].contains("part=snippet"),
        "{seen:?}"
    );
    let (_, again) = chats(&app).await;
    assert_eq!(again, body);
    assert_eq!(lookups(&google).len(), 1);

    // The account panel shows it per source.
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser.goto(&app.url("/login")).await;
    let field = browser
        .check(browser.client.find(Locator::Css("#token")).await, "#token")
        .await;
    browser.check(field.send_keys(TOKEN).await, "type").await;
    let button = browser
        .check(
            browser
                .client
                .find(Locator::Css(".login-form button[type=submit]"))
                .await,
            "sign in",
        )
        .await;
    browser.check(button.click().await, "sign in").await;
    let shown: Vec<String> = browser
        .poll(
            "the live chats in the account panel",
            PATIENCE,
            "const l = document.getElementById('yt-chats'); \
             const b = document.getElementById('side-btn'); \
             if (b && b.offsetParent && b.getAttribute('aria-expanded') !== 'true') b.click(); \
             if (!l || l.hidden || l.offsetParent === null) return []; \
             l.scrollIntoView({block: 'center'}); \
             return [...l.querySelectorAll('li')].map((li) => li.dataset.role + ' | ' + li.textContent);",
            |l: &Vec<String>| l.len() == 3,
        )
        .await;
    assert_eq!(
        shown[0],
        "owner | youtube-live:OWNVIDEO001 — your channel's chat: you can moderate it"
    );
    assert!(
        shown[1].starts_with("may_not_moderate | youtube-live:OTHERVID002 — another channel's chat: you may not moderate it"),
        "{shown:?}"
    );
    assert!(
        shown[2].starts_with("unknown | youtube-live:GONEVIDEO03"),
        "{shown:?}"
    );
    browser.screenshot("account-chats").await;
    assert_eq!(lookups(&google).len(), 1);
    browser.close().await;
}
