//! `CW_TOKEN`: who gets in. Real HTTP against the real app, and the real
//! binary for what reaches its log output.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use reqwest::header::{LOCATION, RETRY_AFTER, SET_COOKIE};

use crate::helpers::spawn_app;

const TOKEN: &str = "correct-horse-battery";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in(app: &crate::helpers::TestApp, token: &str) -> reqwest::Response {
    client()
        .post(app.url("/login"))
        .form(&[("token", token), ("next", "/")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn with_a_token_every_route_but_health_sign_in_and_assets_needs_it() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let c = client();
    let page = c
        .get(app.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::SEE_OTHER,
        "a browser is sent to sign in"
    );
    assert_eq!(page.headers()[LOCATION], "/login?next=%2F");
    for path in ["/", "/ws"] {
        let resp = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    for path in ["/healthz", "/login", "/assets/style.css"] {
        let resp = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
    let form = c.get(app.url("/login")).send().await.unwrap();
    assert_eq!(form.headers()["cache-control"], "no-store");
    let ws = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr)).await;
    assert!(ws.is_err(), "the WebSocket needs the session too");
}

#[tokio::test]
async fn signing_in_sets_an_httponly_strict_session_cookie_that_is_not_the_token() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let resp = sign_in(&app, TOKEN).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/");
    let cookie = resp.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie must not hold the token: {cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();

    let c = client();
    let page = c
        .get(app.url("/"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let bearer = c.get(app.url("/")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK, "tools use a bearer token");
    let forged = c
        .get(app.url("/"))
        .header("cookie", format!("cw_session={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);

    // The WebSocket accepts the session cookie from the same origin.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("cookie", pair.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
}

#[tokio::test]
async fn a_token_with_symbols_signs_in() {
    let token = "p@ss;w0rd,=%!&next=//evil";
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", token)]).await;
    let resp = sign_in(&app, token).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/");
}

#[tokio::test]
async fn wrong_tokens_are_refused_and_then_rate_limited_but_never_the_right_one() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    for _ in 0..10 {
        let resp = sign_in(&app, "wrong-horse-battery").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.text().await.unwrap().contains("not the token"));
    }
    let resp = sign_in(&app, "wrong-horse-battery").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        resp.headers()[RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            <= 60
    );
    let bearer = client()
        .get(app.url("/"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::TOO_MANY_REQUESTS);
    // A lock-out slows guessing; it never keeps the streamer out.
    let started = std::time::Instant::now();
    let resp = sign_in(&app, TOKEN).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let bearer = client()
        .get(app.url("/"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let resp = client()
        .post(app.url("/login"))
        .header("origin", "http://evil.invalid")
        .form(&[("token", TOKEN), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sign_in_never_redirects_off_site() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let resp = client()
        .post(app.url("/login"))
        .form(&[("token", TOKEN), ("next", "//evil.invalid/phish")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[LOCATION], "/");
}

/// Runs the binary with the most verbose logging until `f` is done with its
/// address; returns everything it wrote to stderr.
async fn run_binary_logging(env: &[(&str, &str)], f: impl AsyncFnOnce(String)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_commentwatch"));
    cmd.env_clear()
        .current_dir(dir.path())
        .env("CW_DB", dir.path().join("c.db"))
        .env("RUST_LOG", "trace")
        .env("CW_DEMO_RATE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    f(url).await;
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap()
}

#[tokio::test]
async fn the_token_never_reaches_the_log_even_at_trace_level() {
    let stderr = run_binary_logging(
        &[("CW_LISTEN", "127.0.0.1:0"), ("CW_TOKEN", TOKEN)],
        async |base| {
            let c = client();
            let _ = c
                .post(format!("{base}/login"))
                .form(&[("token", TOKEN)])
                .send()
                .await
                .unwrap();
            let _ = c
                .get(format!("{base}/"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            let _ = c
                .get(format!("{base}/healthz?token={TOKEN}"))
                .send()
                .await
                .unwrap();
        },
    )
    .await;
    assert!(stderr.contains("http"), "trace logging was on: {stderr}");
    assert!(
        !stderr.contains(TOKEN),
        "the token leaked into the log:\n{stderr}"
    );
}

#[tokio::test]
async fn listening_beyond_loopback_without_a_token_warns_at_start() {
    let stderr = run_binary_logging(&[("CW_LISTEN", "0.0.0.0:0")], async |_| {}).await;
    let warning = stderr
        .lines()
        .find(|l| l.contains("warning"))
        .unwrap_or_else(|| panic!("no warning in: {stderr}"));
    assert!(warning.contains("CW_TOKEN"), "{warning}");
}

#[tokio::test]
async fn every_protected_route_refuses_a_stranger() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let c = client();
    for path in [
        "/",
        "/ws",
        "/log",
        "/metrics",
        "/api/comments",
        "/api/comments.csv",
        "/api/comments.jsonl",
        "/api/stats",
        "/api/featured",
        "/api/overlay",
        "/api/today",
    ] {
        let resp = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
        let page = c
            .get(app.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert!(
            page.status() == StatusCode::SEE_OTHER || page.status() == StatusCode::UNAUTHORIZED,
            "{path}: {}",
            page.status()
        );
    }
    let feature = c
        .post(app.url("/api/featured"))
        .header("content-type", "application/json")
        .body(r#"{"source":"demo","id":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(feature.status(), StatusCode::UNAUTHORIZED);
    // The overlay wants its own key, not nothing.
    let overlay = c.get(app.url("/overlay")).send().await.unwrap();
    assert!(overlay.status().is_client_error(), "{}", overlay.status());
}
