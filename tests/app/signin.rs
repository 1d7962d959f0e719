//! Signing in and out as a person does, in headless Chromium: the form
//! posts the way the browser posts it (under `Referrer-Policy: no-referrer`
//! Chromium sends `Origin: null`), which an HTTP client never shows.

use fantoccini::Locator;

use crate::chrome::Browser;
use crate::helpers::{PATIENCE, spawn_app};

const TOKEN: &str = "correct-horse-battery";

/// Waits until the browser is at `path`, naming `what` if it never gets there.
async fn at(browser: &Browser, what: &str, path: &str) {
    browser
        .poll(what, PATIENCE, "return location.pathname;", |p: &String| {
            p == path
        })
        .await;
}

async fn type_token(browser: &Browser, token: &str) {
    let field = browser
        .check(
            browser.client.find(Locator::Css("#token")).await,
            "find the token field",
        )
        .await;
    browser
        .check(field.send_keys(token).await, "type the token")
        .await;
    let button = browser
        .check(
            browser
                .client
                .find(Locator::Css(".login-form button[type=submit]"))
                .await,
            "find the sign-in button",
        )
        .await;
    browser.check(button.click().await, "click Sign in").await;
}

#[tokio::test]
async fn a_person_signs_in_sees_comments_and_signs_out() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    browser.goto(&app.url("/")).await;
    at(&browser, "the sign-in page", "/login").await;

    // A wrong token: the error shows in the page, not as plain text.
    type_token(&browser, "not-the-token").await;
    let error: String = browser
        .poll(
            "the sign-in error in the page",
            PATIENCE,
            "const e = document.querySelector('.login-error'); return e ? e.textContent : '';",
            |t: &String| !t.is_empty(),
        )
        .await;
    assert!(error.contains("not the token"), "{error}");
    assert!(
        browser
            .eval::<bool>("return !!document.querySelector('form.login-form #token');")
            .await,
        "the form is there to try again"
    );

    // The right one: the live dashboard, with comments.
    type_token(&browser, TOKEN).await;
    at(&browser, "the dashboard", "/").await;
    browser
        .poll(
            "comments in the feed",
            PATIENCE,
            "return document.querySelectorAll('#feed > li.comment').length;",
            |n: &u64| *n >= 10,
        )
        .await;
    let cookies = browser
        .check(browser.client.get_all_cookies().await, "read the cookies")
        .await;
    let session = cookies
        .iter()
        .find(|c| c.name() == "cw_session")
        .expect("a session cookie")
        .value()
        .to_owned();
    assert_ne!(session, TOKEN);
    let http = reqwest::Client::new();
    let api = || {
        http.get(app.url("/api/comments"))
            .header("cookie", format!("cw_session={session}"))
            .send()
    };
    assert_eq!(api().await.unwrap().status(), 200);

    // The overlay URL the dashboard builds opens in a fresh profile.
    let overlay_url: String = browser
        .poll(
            "the overlay URL",
            PATIENCE,
            "return document.querySelector('#overlay-url').value;",
            |u: &String| u.contains("key="),
        )
        .await;
    let fresh = Browser::launch().await.expect("a second browser");
    fresh.goto(&overlay_url).await;
    fresh
        .poll(
            "the overlay page in a fresh profile",
            PATIENCE,
            "return !!document.querySelector('#stage');",
            |ok: &bool| *ok,
        )
        .await;
    fresh.close().await;

    // Sign out, visible on the dashboard: back to the sign-in page, and the
    // old cookie no longer opens the API.
    let sign_out = browser
        .check(
            browser.client.find(Locator::Css("#sign-out")).await,
            "find Sign out",
        )
        .await;
    browser
        .check(sign_out.click().await, "click Sign out")
        .await;
    at(&browser, "the sign-in page again", "/login").await;
    assert_eq!(api().await.unwrap().status(), 401);
    browser.goto(&app.url("/log")).await;
    at(&browser, "the log asking to sign in again", "/login").await;

    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_log_page_offers_sign_out() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    browser.goto(&app.url("/log")).await;
    at(&browser, "the sign-in page", "/login").await;
    type_token(&browser, TOKEN).await;
    at(&browser, "back on the log", "/log").await;
    let sign_out = browser
        .check(
            browser.client.find(Locator::Css("#sign-out")).await,
            "find Sign out on the log page",
        )
        .await;
    browser
        .check(sign_out.click().await, "click Sign out")
        .await;
    at(&browser, "signed out", "/login").await;
    browser.close().await;
    app.stop().await;
}
