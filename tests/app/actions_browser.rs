//! Acting on live chat messages from the dashboard, in Chromium: the ⚑
//! button only on `youtube-live:` messages once an account is connected,
//! its menu with each action's quota cost, a second press to confirm, the
//! message retracted in the feed, and a refusal's reason shown with nothing
//! changed.

use fantoccini::Locator;

use crate::actions::{CHAT, seed};
use crate::chrome::Browser;
use crate::helpers::{PATIENCE, spawn_app};
use crate::oauth::{connect_account, mock};

const TOKEN: &str = "actions-browser-token-77";

fn li(id: &str) -> String {
    format!("li.comment[data-source='{CHAT}'][data-id='{id}']")
}

/// Opens the ⚑ menu of message `id`.
async fn open_menu(browser: &Browser, id: &str) {
    let script = format!(
        "const b = document.querySelector(\"{} button.act.mod\"); \
         if (!b || getComputedStyle(b).display === 'none') return false; \
         b.click(); return !document.getElementById('mod-menu').hidden;",
        li(id)
    );
    browser
        .poll("the ⚑ menu", PATIENCE, &script, |open: &bool| *open)
        .await;
}

/// Presses the menu's item whose text holds `what`; its text after.
async fn press(browser: &Browser, what: &str) -> String {
    let script = format!(
        "const b = [...document.querySelectorAll('#mod-menu-items button')] \
           .find((b) => b.textContent.includes('{what}')); \
         b.click(); \
         const again = [...document.querySelectorAll('#mod-menu-items button')] \
           .find((b) => b.textContent.includes('{what}')); \
         return again.textContent;"
    );
    browser.eval(&script).await
}

async fn status(browser: &Browser, what: &str, expected: &str) -> String {
    let expected = expected.to_owned();
    browser
        .poll(
            what,
            PATIENCE,
            "return document.getElementById('mod-menu-status').textContent;",
            move |t: &String| t.contains(&expected),
        )
        .await
}

#[tokio::test]
async fn a_streamer_deletes_times_out_and_reads_a_refusal_from_the_feed() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let google = mock::start().await;
    let mut env: Vec<(&str, String)> = google.env();
    env.extend([("CW_DEMO_RATE", "0".into()), ("CW_TOKEN", TOKEN.into())]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(&env).await;
    seed(&app).await;
    connect_account(&format!("http://{}", app.addr), TOKEN).await;
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

    open_menu(&browser, "m1").await;
    // Another platform's comments (the demo's here) offer none of it.
    let others: u64 = browser
        .eval(
            "return [...document.querySelectorAll(\"li.comment[data-source='demo'] button.act.mod\")] \
               .filter((b) => getComputedStyle(b).display !== 'none').length;",
        )
        .await;
    let demo: u64 = browser
        .eval("return document.querySelectorAll(\"li.comment[data-source='demo']\").length;")
        .await;
    assert!(demo > 0);
    assert_eq!(others, 0);
    let items: Vec<String> = browser
        .eval("return [...document.querySelectorAll('#mod-menu-items button')].map((b) => b.textContent);")
        .await;
    assert_eq!(items.len(), 7, "{items:?}");
    assert!(
        items.iter().all(|i| i.ends_with("50 quota units")),
        "{items:?}"
    );
    assert!(
        items.iter().any(|i| i.starts_with("Time out 24 h")),
        "{items:?}"
    );

    // One press only arms it.
    let armed = press(&browser, "Delete message").await;
    assert!(armed.starts_with("Press again to confirm"), "{armed}");
    assert!(google.seen.lock().unwrap().calls.is_empty());
    press(&browser, "Delete message").await;
    status(&browser, "the deletion done", "Done: Delete message").await;
    browser
        .poll(
            "m1 retracted in the feed",
            PATIENCE,
            &format!("return !!document.querySelector(\"{}.deleted\");", li("m1")),
            |d: &bool| *d,
        )
        .await;
    assert_eq!(google.seen.lock().unwrap().calls.len(), 1);

    // A refusal: its reason, and nothing retracted.
    google.seen.lock().unwrap().refuse_next = Some((403, "forbidden".into()));
    open_menu(&browser, "m3").await;
    press(&browser, "Delete message").await;
    press(&browser, "Delete message").await;
    status(&browser, "the refusal", "not a moderator").await;
    let m3_deleted: bool = browser
        .eval(&format!(
            "return !!document.querySelector(\"{}.deleted\");",
            li("m3")
        ))
        .await;
    assert!(!m3_deleted);

    // A 5-minute timeout retracts every message of its author.
    open_menu(&browser, "m2").await;
    press(&browser, "Time out 5 min").await;
    press(&browser, "Time out 5 min").await;
    status(&browser, "the timeout done", "Done: Time out 5 min").await;
    browser
        .poll(
            "m2 retracted in the feed",
            PATIENCE,
            &format!("return !!document.querySelector(\"{}.deleted\");", li("m2")),
            |d: &bool| *d,
        )
        .await;
    let calls = google.seen.lock().unwrap().calls.clone();
    let ban: serde_json::Value = serde_json::from_str(&calls.last().unwrap().3).unwrap();
    assert_eq!(ban["snippet"]["banDurationSeconds"], "300");
    browser.screenshot("actions-menu").await;

    // A video comment: hold, reject, reply — a reply from the text box.
    let video = |id: &str| {
        format!(
            "li.comment[data-source='{}'][data-id='{id}']",
            crate::actions::VIDEO
        )
    };
    let script = format!(
        "const b = document.querySelector(\"{} button.act.mod\"); b.click(); \
         return [...document.querySelectorAll('#mod-menu-items button')].map((b) => b.textContent);",
        video("c2")
    );
    let items: Vec<String> = browser.eval(&script).await;
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(
        items[0].starts_with("Hold for review · 50 quota units"),
        "{items:?}"
    );
    assert!(
        items[2].starts_with("Reject and ban the author"),
        "{items:?}"
    );
    let _: bool = browser
        .eval("document.getElementById('mod-reply').value = 'Thanks, <i>good</i> question'; return true;")
        .await;
    press(&browser, "Reply").await;
    press(&browser, "Reply").await;
    status(&browser, "the reply posted", "Done: Reply").await;
    let calls = google.seen.lock().unwrap().calls.clone();
    let reply: serde_json::Value = serde_json::from_str(&calls.last().unwrap().3).unwrap();
    assert_eq!(
        reply,
        serde_json::json!({"snippet": {"parentId": "c2", "textOriginal": "Thanks, <i>good</i> question"}})
    );

    // The account panel lists what was done, newest first.
    let done: Vec<String> = browser
        .poll(
            "the actions listed in the account panel",
            PATIENCE,
            "return [...document.querySelectorAll('#yt-actions li')].map((l) => l.textContent);",
            |l: &Vec<String>| l.len() == 4,
        )
        .await;
    assert!(
        done[0].contains("reply · youtube:") && done[0].ends_with("✓"),
        "{done:?}"
    );
    assert!(done[1].contains("timeout 300 s"), "{done:?}");
    assert!(done[2].contains("✗ not_moderator"), "{done:?}");

    // From the keyboard: select a message, Y opens its menu, Esc closes it.
    let script = format!(
        "document.dispatchEvent(new KeyboardEvent('keydown', {{key: 'Escape', bubbles: true}})); \
         document.querySelector(\"{} .body\").click(); \
         document.dispatchEvent(new KeyboardEvent('keydown', {{key: 'y', bubbles: true}})); \
         const m = document.getElementById('mod-menu'); \
         return m.hidden ? '' : document.getElementById('mod-menu-who').textContent \
           + ' ' + document.querySelectorAll('#mod-menu-items button').length;",
        li("m4")
    );
    let opened: String = browser.eval(&script).await;
    assert_eq!(opened, "On YouTube, for Kind 7");

    let errors = browser.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("/api/actions/")),
        "{errors:?}"
    );
    browser.close().await;
}
