//! Connecting the streamer's YouTube account against a mock Google: the
//! whole flow over HTTP on the real binary at `RUST_LOG=trace` (the callback
//! without the session cookie, as Google's cross-site redirect arrives),
//! single-use state, PKCE, refresh before expiry, Disconnect revoking, and
//! no token in a frame, a log line, an export, `/metrics` or `/healthz`.
//! The dashboard's side, in Chromium, is in `oauth_browser`.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;

use crate::helpers::Binary;

/// The connect flow from the dashboard, in Chromium.
mod browser;
/// The mock Google.
pub mod mock;
/// The account in the log, and the schema upgrades that add it.
mod store;

const TOKEN: &str = "oauth-test-token-0123456789";
const OVERLAY_KEY: &str = "overlay-key-0123456789abcdef";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the form; the session cookie (`name=value`).
pub async fn sign_in(base: &str) -> String {
    let resp = http()
        .post(format!("{base}/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()[SET_COOKIE].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The mock consent page's *Allow* link.
async fn allow_link(consent_url: &str) -> String {
    let page = http()
        .get(consent_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("href=\"").unwrap() + 6;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].replace("&amp;", "&")
}

/// Connects the mock's channel to the app at `base` as a tool with the
/// token would (`Authorization: Bearer`).
pub async fn connect_account(base: &str, token: &str) {
    let started = http()
        .post(format!("{base}/api/oauth/youtube/start"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let started: Value = serde_json::from_str(&started).unwrap();
    let back = allow_link(started["url"].as_str().unwrap()).await;
    let done = http().get(&back).send().await.unwrap();
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
}

/// The frames a signed-in dashboard receives in its first half second.
async fn first_frames(addr: &str, cookie: &str) -> Vec<String> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut frames = Vec::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(500), ws.next()).await
    {
        frames.push(msg.to_string());
    }
    assert!(!frames.is_empty(), "the dashboard's hello");
    frames
}

#[tokio::test]
async fn a_streamer_connects_a_channel_and_no_token_leaks_anywhere() {
    let google = mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db = db.to_str().unwrap();
    let mut env: Vec<(&str, String)> = google.env();
    env.extend([
        ("CW_LISTEN", "127.0.0.1:0".into()),
        ("CW_DB", db.into()),
        ("CW_TOKEN", TOKEN.into()),
        ("CW_OVERLAY_KEY", OVERLAY_KEY.into()),
        ("CW_DEMO_RATE", "0".into()),
        ("RUST_LOG", "trace".into()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = Binary::start(dir.path(), &env, "");
    let base = format!("http://{}", app.addr);
    let c = http();
    let cookie = sign_in(&base).await;

    // Who may start: the signed-in dashboard, from this site.
    let start = |headers: Vec<(&'static str, String)>| {
        let mut req = c.post(format!("{base}/api/oauth/youtube/start"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    assert_eq!(start(vec![]).await.unwrap().status(), 401);
    let overlay = c
        .post(format!("{base}/api/oauth/youtube/start?key={OVERLAY_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(overlay.status(), 401, "the overlay key cannot connect");
    let cross = start(vec![
        ("cookie", cookie.clone()),
        ("origin", "http://evil.example".into()),
        ("sec-fetch-site", "cross-site".into()),
    ])
    .await
    .unwrap();
    assert_eq!(cross.status(), 403);
    assert!(google.seen.lock().unwrap().auth.is_empty());

    let status: Value = c
        .get(format!("{base}/api/oauth/youtube"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    assert_eq!(status["configured"], true);
    assert_eq!(status["connected"], false);

    let started: Value = start(vec![("cookie", cookie.clone())])
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    let url = started["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{}/o/oauth2/v2/auth?", google.base)),
        "{url}"
    );
    let q = query(&url);
    assert_eq!(q["client_id"], mock::CLIENT_ID);
    assert_eq!(q["scope"], mock::SCOPE, "the one scope the actions need");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["redirect_uri"], format!("{base}/oauth/youtube/callback"));
    assert_eq!(q["state"].len(), 64);
    assert!(!url.contains(mock::CLIENT_SECRET), "no secret in a URL");

    // A forged state is refused before any token request.
    let forged = c
        .get(format!(
            "{base}/oauth/youtube/callback?state=forged&code=4/x"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    assert!(google.seen.lock().unwrap().token.is_empty());

    // Google sends the browser back from another site: no cookie.
    let back = allow_link(&url).await;
    assert!(
        back.starts_with(&format!("{base}/oauth/youtube/callback?")),
        "{back}"
    );
    let done = c.get(&back).send().await.unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(done.headers()["cache-control"], "no-store");
    let page = done.text().await.unwrap();
    assert!(
        page.contains("Mock &lt;b&gt;Channel&lt;/b&gt; &amp; co")
            || page.contains("Mock &#60;b&#62;Channel&#60;/b&#62; &#38; co"),
        "{page}"
    );
    {
        let seen = google.seen.lock().unwrap();
        let exchange = &seen.token[0];
        assert_eq!(exchange["grant_type"], "authorization_code");
        assert_eq!(
            exchange["redirect_uri"],
            format!("{base}/oauth/youtube/callback")
        );
        assert_eq!(exchange["code_verifier"].len(), 43);
        assert_eq!(seen.channels.len(), 1);
        assert_eq!(seen.channels[0].0, "mine=true&part=snippet");
        assert!(seen.channels[0].1.starts_with(mock::ACCESS_PREFIX));
    }
    // The state was single use.
    let again = c.get(&back).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(google.seen.lock().unwrap().token.len(), 1);

    let status = c
        .get(format!("{base}/api/oauth/youtube"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let json: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(json["connected"], true);
    assert_eq!(json["channel_id"], mock::CHANNEL_ID);
    assert_eq!(json["channel_title"], mock::CHANNEL_TITLE);

    // Nothing a person or a tool can read holds a token.
    let mut readable = vec![status];
    for path in [
        "/metrics",
        "/healthz",
        "/api/comments.jsonl",
        "/api/comments.csv",
        "/",
    ] {
        let body = c
            .get(format!("{base}{path}"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        readable.push(body);
    }
    readable.extend(first_frames(&app.addr, &cookie).await);

    // Disconnect: not from another site; then revoked at Google, forgotten.
    let cross = c
        .post(format!("{base}/api/oauth/youtube/disconnect"))
        .header(COOKIE, &cookie)
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    assert!(google.seen.lock().unwrap().revoked.is_empty());
    let gone: Value = c
        .post(format!("{base}/api/oauth/youtube/disconnect"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    assert_eq!(gone["revoked"], true);
    let refresh = format!("{}{}", mock::REFRESH_PREFIX, "");
    assert!(google.seen.lock().unwrap().revoked[0].starts_with(&refresh));
    let status: Value = c
        .get(format!("{base}/api/oauth/youtube"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    assert_eq!(status["connected"], false);
    assert_eq!(status["channel_title"], Value::Null);

    app.signal("TERM");
    let (_, stderr) = app.wait(Duration::from_secs(20));
    assert!(
        stderr.contains("a YouTube account was connected"),
        "{stderr}"
    );
    readable.push(stderr);
    let secrets = google.secrets();
    assert!(secrets.len() >= 2);
    for text in &readable {
        for secret in secrets
            .iter()
            .map(String::as_str)
            .chain([mock::CLIENT_SECRET])
        {
            assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
        }
        assert!(!text.contains(q["code_challenge"].as_str()));
    }
}

#[tokio::test]
async fn the_access_token_is_refreshed_before_it_expires_and_a_revoked_one_says_so() {
    use commentwatch::oauth::{OAuthSettings, YouTubeAccount};
    let google = mock::start().await;
    // 121 s: two minutes early means "refresh after one second".
    *google.expires_in.lock().unwrap() = 121;
    let log = commentwatch::store::CommentLog::open_in_memory().unwrap();
    let settings = OAuthSettings {
        client_id: mock::CLIENT_ID.into(),
        client_secret: commentwatch::config::Secret::new(mock::CLIENT_SECRET),
        auth_url: format!("{}/o/oauth2/v2/auth", google.base),
        token_url: format!("{}/token", google.base),
        revoke_url: format!("{}/revoke", google.base),
        api_base: google.base.clone(),
        daily_quota: 10_000,
        action_reserve: 300,
    };
    let account = YouTubeAccount::new(Some(settings), log.clone());
    let url = account
        .start("http://127.0.0.1:9/oauth/youtube/callback".into(), None)
        .unwrap();
    let back = query(&allow_link(&url).await);
    account.finish(&back["state"], &back["code"]).await.unwrap();
    assert_eq!(
        log.quota_used(commentwatch::quota::quota_day(chrono::Utc::now()))
            .await
            .unwrap(),
        1
    );
    let first = account.access_token().await.unwrap();
    assert!(first.expose().starts_with(mock::ACCESS_PREFIX));
    assert_eq!(google.seen.lock().unwrap().token.len(), 1, "still fresh");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = account.access_token().await.unwrap();
    assert_ne!(first, second, "refreshed before Google's expiry");
    {
        let seen = google.seen.lock().unwrap();
        assert_eq!(seen.token.len(), 2);
        assert_eq!(seen.token[1]["grant_type"], "refresh_token");
        assert!(seen.token[1]["refresh_token"].starts_with(mock::REFRESH_PREFIX));
    }
    // Revoked elsewhere (the streamer removed the access in their Google
    // account): the refresh says so, with Google's code and no token.
    let refresh = google.seen.lock().unwrap().refresh[0].clone();
    google.seen.lock().unwrap().revoked.push(refresh.clone());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let e = account.access_token().await.unwrap_err().to_string();
    assert!(e.contains("invalid_grant") && !e.contains(&refresh), "{e}");
}
