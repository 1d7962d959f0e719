//! The whole connect flow as a streamer does it, in headless Chromium: the
//! dashboard's *Connect* → the mock consent page on another site
//! (`127.0.0.1`, while the dashboard is opened as `localhost`: Google's
//! redirect back is cross-site, so the `SameSite=Strict` session cookie is
//! not sent with it) → the callback page naming the channel → the
//! dashboard showing it → *Disconnect*, confirmed, revoking at the mock.

use fantoccini::Locator;

use super::mock;
use crate::chrome::Browser;
use crate::helpers::{PATIENCE, spawn_app};

const TOKEN: &str = "oauth-browser-token-42";

async fn click(browser: &Browser, css: &str) {
    // On a narrow window the panels are behind their button.
    let _: bool = browser
        .eval(&format!(
            "const b = document.getElementById('side-btn'); \
             const side = document.getElementById('side'); \
             const e = document.querySelector('{css}'); \
             if (b && b.offsetParent && side && side.contains(e) \
                 && b.getAttribute('aria-expanded') !== 'true') b.click(); \
             if (e) e.scrollIntoView({{block: 'center'}}); return true;"
        ))
        .await;
    let el = browser
        .check(browser.client.find(Locator::Css(css)).await, css)
        .await;
    browser.check(el.click().await, css).await;
}

async fn text(browser: &Browser, what: &str, css: &str, expected: &str) {
    let script = format!(
        "const e = document.querySelector('{css}'); \
         return e && !e.closest('[hidden]') ? e.textContent : '';"
    );
    browser
        .poll(what, PATIENCE, &script, |t: &String| t == expected)
        .await;
}

#[tokio::test]
async fn a_streamer_connects_from_the_dashboard_sees_the_channel_and_disconnects() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let google = mock::start().await;
    let mut env: Vec<(&str, String)> = google.env();
    env.extend([("CW_DEMO_RATE", "0".into()), ("CW_TOKEN", TOKEN.into())]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(&env).await;
    let base = format!("http://localhost:{}", app.addr.port());
    browser.goto(&format!("{base}/login")).await;
    let field = browser
        .check(browser.client.find(Locator::Css("#token")).await, "#token")
        .await;
    browser.check(field.send_keys(TOKEN).await, "type").await;
    click(&browser, ".login-form button[type=submit]").await;
    text(
        &browser,
        "the Connect button",
        "#yt-connect",
        "Connect YouTube account",
    )
    .await;
    click(&browser, "#yt-connect").await;

    // Google's page, on another site.
    let mock_host = google.base.trim_start_matches("http://").to_owned();
    browser
        .poll(
            "the consent page",
            PATIENCE,
            "return location.host;",
            |h: &String| *h == mock_host,
        )
        .await;
    click(&browser, "#allow").await;
    text(
        &browser,
        "the callback page naming the channel",
        "#oauth-channel",
        mock::CHANNEL_TITLE,
    )
    .await;
    let at: String = browser.eval("return location.origin;").await;
    assert_eq!(at, base);
    assert_eq!(google.seen.lock().unwrap().token.len(), 1);
    click(&browser, "#oauth-back").await;
    text(
        &browser,
        "the channel on the dashboard",
        "#yt-account-channel",
        mock::CHANNEL_TITLE,
    )
    .await;
    let html: String = browser
        .eval("return document.getElementById('yt-account').innerHTML;")
        .await;
    assert!(!html.contains("<b>"), "the channel name is text: {html}");
    browser.screenshot("oauth-connected").await;

    // Disconnect takes a second press.
    click(&browser, "#yt-disconnect").await;
    text(
        &browser,
        "the confirmation",
        "#yt-disconnect",
        "Press again to disconnect",
    )
    .await;
    assert!(google.seen.lock().unwrap().revoked.is_empty());
    click(&browser, "#yt-disconnect").await;
    text(
        &browser,
        "Connect again",
        "#yt-connect",
        "Connect YouTube account",
    )
    .await;
    let revoked = google.seen.lock().unwrap().revoked.clone();
    assert_eq!(revoked.len(), 1);
    assert!(revoked[0].starts_with(mock::REFRESH_PREFIX));
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
    browser.close().await;
}

#[tokio::test]
async fn without_an_oauth_client_the_dashboard_offers_no_connection() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    browser
        .poll(
            "the dashboard",
            PATIENCE,
            "return document.querySelectorAll('#feed').length;",
            |n: &u64| *n == 1,
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let hidden: bool = browser
        .eval("return document.getElementById('yt-account').hidden;")
        .await;
    assert!(hidden);
    browser.close().await;
}
