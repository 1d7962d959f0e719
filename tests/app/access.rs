//! Who gets in, tried the way an attacker would: raw sockets with forged
//! `Host` and `Origin` headers (DNS rebinding), floods of wrong credentials,
//! exports that are never read, unfinished request heads, handshakes all at
//! once. Each test makes the attack for real against the real app.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use commentwatch::domain::RawComment;
use commentwatch::sanitize::sanitize;
use commentwatch::store::Batch;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{PATIENCE, TestApp, spawn_app};

const TOKEN: &str = "correct-horse-battery";

/// Sends `request` as is and reads the whole answer (the request asks the
/// server to close): the status and the raw text.
async fn raw(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn get(path: &str, host: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
}

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// `n` short comments from the demo source.
fn batch(prefix: &str, n: usize) -> Batch {
    let now = Utc::now();
    let comments = (0..n)
        .map(|i| {
            let raw = RawComment {
                id: format!("{prefix}-{i}"),
                author_name: format!("viewer {i}"),
                text: format!("comment {i} of a long stream, with some words to export"),
                ..RawComment::default()
            };
            sanitize("demo", raw, now).unwrap()
        })
        .collect();
    Batch {
        source: "demo".into(),
        comments,
        ..Batch::default()
    }
}

#[tokio::test]
async fn a_rebound_host_name_gets_nothing_and_changes_nothing() {
    // The default setup: no token.
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let port = app.addr.port();
    let evil = format!("evil.example:{port}");
    let origin = format!("Origin: http://evil.example:{port}\r\n");
    for path in [
        "/",
        "/api/comments",
        "/api/comments.csv",
        "/metrics",
        "/api/overlay",
        "/healthz",
    ] {
        let (status, text) = raw(app.addr, &get(path, &evil, &origin)).await;
        assert_eq!(status, 421, "{path}: {text}");
        assert!(!text.contains("\"comments\""), "{path} leaked: {text}");
        assert!(text.contains("content-security-policy"), "{path}: {text}");
    }
    for path in ["/ws", "/overlay/ws", "/overlay/ws?mode=featured"] {
        let extra = format!("{origin}{UPGRADE}");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {evil}\r\n{extra}\r\n");
        let (status, text) = raw(app.addr, &request).await;
        assert_eq!(status, 421, "{path}: {text}");
    }
    // Featuring or clearing what is on stream.
    let body = r#"{"source":"demo","id":"x"}"#;
    for method in ["POST", "DELETE"] {
        let request = format!(
            "{method} /api/featured HTTP/1.1\r\nHost: {evil}\r\n{origin}\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (status, _) = raw(app.addr, &request).await;
        assert_eq!(status, 421, "{method} /api/featured");
    }
    // A right Host with another site's Origin: the WebSocket is refused.
    let host = format!("127.0.0.1:{port}");
    let request = format!("GET /ws HTTP/1.1\r\nHost: {host}\r\n{origin}{UPGRADE}\r\n");
    let (status, _) = raw(app.addr, &request).await;
    assert_eq!(status, 403);
    // And the streamer's own names work.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, text) = raw(app.addr, &get("/api/comments", &host, "")).await;
        assert_eq!(status, 200, "{host}: {text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn cw_allowed_hosts_adds_a_proxy_name() {
    let app = spawn_app(&[
        ("CW_DEMO_RATE", "0"),
        ("CW_ALLOWED_HOSTS", "stream.example.com"),
    ])
    .await;
    let (status, _) = raw(app.addr, &get("/healthz", "stream.example.com", "")).await;
    assert_eq!(status, 200);
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: stream.example.com\r\nOrigin: https://stream.example.com\r\n{UPGRADE}\r\n"
    );
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(
        &head, b"HTTP/1.1 101",
        "the proxy's origin may open the feed"
    );
    app.stop().await;
}

#[tokio::test]
async fn wrong_overlay_keys_end_in_429_and_the_right_one_still_works() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let client = reqwest::Client::new();
    // 200 guesses on 20 keep-alive connections at once.
    let mut tasks = Vec::new();
    for t in 0..20 {
        let (client, url) = (client.clone(), app.url("/overlay"));
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..10 {
                let resp = client
                    .get(&url)
                    .bearer_auth(format!("guess-{t}-{i}"))
                    .send()
                    .await
                    .unwrap();
                statuses.push(resp.status());
            }
            statuses
        }));
    }
    let mut limited = 0;
    for task in tasks {
        limited += task
            .await
            .unwrap()
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
    }
    assert!(limited >= 180, "only {limited} of 200 guesses were limited");
    let key_guess = client
        .get(app.url("/overlay?key=0123456789abcdef0123"))
        .send()
        .await
        .unwrap();
    assert_eq!(key_guess.status(), StatusCode::TOO_MANY_REQUESTS);
    // The streamer is never locked out.
    let started = Instant::now();
    let api = client
        .get(app.url("/api/overlay"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    let key: serde_json::Value = serde_json::from_str(&api.text().await.unwrap()).unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    let overlay = client
        .get(app.url(&format!("/overlay?key={key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(overlay.status(), StatusCode::OK);
    let form = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/login"))
        .form(&[("token", TOKEN), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::SEE_OTHER);
    assert!(started.elapsed() < Duration::from_secs(1), "at once");
    app.stop().await;
}

#[tokio::test]
async fn after_twenty_wrong_guesses_the_right_token_signs_in_at_once() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut last = StatusCode::OK;
    for i in 0..20 {
        last = client
            .post(app.url("/login"))
            .form(&[("token", format!("wrong-guess-{i}")), ("next", "/".into())])
            .send()
            .await
            .unwrap()
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let started = Instant::now();
    let resp = client
        .post(app.url("/login"))
        .form(&[("token", TOKEN), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(started.elapsed() < Duration::from_secs(1));
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(
        cookie.contains("Path=/") && cookie.contains("Max-Age="),
        "{cookie}"
    );
    app.stop().await;
}

/// The resident set of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

async fn answers_within(app: &TestApp, path: &str, limit: Duration) {
    let started = Instant::now();
    let resp = tokio::time::timeout(limit, reqwest::get(app.url(path)))
        .await
        .unwrap_or_else(|_| panic!("{path} did not answer within {limit:?}"))
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    assert!(started.elapsed() < limit, "{path}");
}

#[tokio::test]
async fn stalled_export_readers_leave_the_api_answering() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    for round in 0..10 {
        app.feed
            .ingest(batch(&format!("r{round}"), 5_000))
            .await
            .unwrap();
    }
    let before = rss();
    let host = format!("127.0.0.1:{}", app.addr.port());
    let request = format!("GET /api/comments.csv HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut stalled = Vec::new();
    for _ in 0..300 {
        // A small receive window, so the server's writes stall at once.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        let _ = socket.set_recv_buffer_size(4096);
        let mut stream = socket.connect(app.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    answers_within(&app, "/healthz", Duration::from_secs(1)).await;
    answers_within(&app, "/api/comments", Duration::from_secs(1)).await;
    // A poll's write still goes through.
    let started = Instant::now();
    app.feed.ingest(batch("during", 50)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    let grown = rss().saturating_sub(before);
    eprintln!("stalled exports: RSS grew by {} MiB", grown >> 20);
    assert!(grown < 150 << 20, "RSS grew by {} MiB", grown >> 20);
    // Extra exports are refused plainly, not queued.
    let busy = reqwest::get(app.url("/api/comments.csv")).await.unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(busy.headers().contains_key("retry-after"));
    // A stalled reader is dropped after 30 s, freeing its slot.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resp = reqwest::get(app.url("/api/comments.jsonl")).await.unwrap();
        if resp.status() == StatusCode::OK {
            let body = resp.text().await.unwrap();
            // Everything: the demo's backlog too.
            assert!(body.lines().count() >= 50_050, "{}", body.lines().count());
            break;
        }
        assert!(Instant::now() < deadline, "no export slot came free");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(stalled);
    app.stop().await;
}

#[tokio::test]
async fn unfinished_request_heads_are_closed_and_do_not_keep_others_out() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let host = format!("127.0.0.1:{}", app.addr.port());
    let mut slow = Vec::new();
    for _ in 0..1_100 {
        let Ok(mut stream) = TcpStream::connect(app.addr).await else {
            break;
        };
        let partial = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: ");
        let _ = stream.write_all(partial.as_bytes()).await;
        slow.push(stream);
    }
    assert_eq!(slow.len(), 1_100);
    // The head timeout (10 s) closes them.
    tokio::time::sleep(Duration::from_secs(11)).await;
    answers_within(&app, "/healthz", Duration::from_secs(1)).await;
    let mut closed = 0;
    for stream in &mut slow {
        let mut buf = [0u8; 256];
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(20), stream.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= 1_000,
        "only {closed} of 1100 slow connections were closed"
    );
    // An idle keep-alive connection is closed the same way.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(15), idle.read(&mut buf))
        .await
        .expect("the idle connection is closed within 15 s")
        .unwrap_or(0);
    assert_eq!(end, 0);
    assert!(started.elapsed() >= Duration::from_secs(5));
    app.stop().await;
}

#[tokio::test]
async fn simultaneous_handshakes_never_exceed_the_cap_and_overlays_leave_room() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_MAX_CLIENTS", "50")]).await;
    let url = format!("ws://{}/ws", app.addr);
    let attempts: Vec<_> = (0..300)
        .map(|_| tokio::spawn(tokio_tungstenite::connect_async(url.clone())))
        .collect();
    let mut open = Vec::new();
    for a in attempts {
        if let Ok(Ok((ws, _))) = a.await {
            open.push(ws);
        }
    }
    assert!(
        open.len() <= 50,
        "{} admitted against a cap of 50",
        open.len()
    );
    assert!(open.len() >= 40, "only {} admitted", open.len());
    drop(open);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Overlays cannot take the slots kept for dashboards.
    let overlay = format!("ws://{}/overlay/ws?mode=featured", app.addr);
    let mut overlays = Vec::new();
    for _ in 0..60 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(overlay.clone()).await {
            overlays.push(ws);
        }
    }
    assert_eq!(overlays.len(), 40, "overlays get 4/5 of the slots");
    let dashboard = tokio_tungstenite::connect_async(url.clone()).await;
    assert!(dashboard.is_ok(), "a dashboard still gets in");
    app.stop().await;
}

#[tokio::test]
async fn error_pages_carry_the_security_headers_and_protected_answers_are_not_cached() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let host = format!("127.0.0.1:{}", app.addr.port());
    let long = format!("/{}", "a".repeat(9000));
    let big_header = format!("X-Big: {}\r\n", "b".repeat(40_000));
    for (what, request, status) in [
        ("404", get("/nowhere", &host, ""), 404),
        ("414", get(&long, &host, ""), 414),
        ("431", get("/healthz", &host, &big_header), 431),
        ("421", get("/healthz", "evil.example", ""), 421),
        ("401", get("/api/comments", &host, ""), 401),
    ] {
        let (got, text) = raw(app.addr, &request).await;
        assert_eq!(got, status, "{what}: {text}");
        let head = text.to_ascii_lowercase();
        for h in [
            "content-security-policy:",
            "x-content-type-options: nosniff",
            "referrer-policy: no-referrer",
        ] {
            assert!(head.contains(h), "{what} lacks {h}: {text}");
        }
    }
    let client = reqwest::Client::new();
    for path in ["/api/comments", "/metrics", "/api/overlay", "/"] {
        let resp = client
            .get(app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["cache-control"], "no-store", "{path}");
        let vary = resp.headers()["vary"].to_str().unwrap();
        assert!(
            vary.contains("Cookie") && vary.contains("Authorization"),
            "{path}"
        );
    }
    // Without the token, health says how it is and nothing of what it watches.
    let open: serde_json::Value = serde_json::from_str(
        &reqwest::get(app.url("/healthz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(open, serde_json::json!({ "status": "ok" }));
    let full = client
        .get(app.url("/healthz"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let full: serde_json::Value = serde_json::from_str(&full).unwrap();
    assert!(full["sources"].is_array(), "{full}");
    app.stop().await;
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with the token; the `cw_session=…` pair a browser would send.
async fn sign_in(app: &TestApp) -> String {
    let resp = no_redirects()
        .post(app.url("/login"))
        .form(&[("token", TOKEN), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let client = no_redirects();
    let pair = sign_in(&app).await;
    let api = |c: &reqwest::Client| {
        c.get(app.url("/api/comments"))
            .header("cookie", pair.clone())
    };
    assert_eq!(api(&client).send().await.unwrap().status(), 200);
    // Another site cannot sign the streamer out…
    let forged = client
        .post(app.url("/logout"))
        .header("cookie", &pair)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(api(&client).send().await.unwrap().status(), 200);
    // …the streamer can, and the cookie is dead afterwards even if kept.
    let out = client
        .post(app.url("/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(api(&client).send().await.unwrap().status(), 401);
    // GET /logout is a page with the button, not an error.
    let page = client.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("action=\"/logout\""));
    app.stop().await;
}

#[tokio::test]
async fn a_session_survives_a_restart_and_dies_when_the_token_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("comments.db");
    let app =
        crate::helpers::spawn_app_on(&db, &[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let client = no_redirects();
    let pair = sign_in(&app).await;
    app.stop().await;
    let app =
        crate::helpers::spawn_app_on(&db, &[("CW_DEMO_RATE", "0"), ("CW_TOKEN", TOKEN)]).await;
    let status = client
        .get(app.url("/api/comments"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "still signed in after a restart");
    app.stop().await;
    let app = crate::helpers::spawn_app_on(
        &db,
        &[("CW_DEMO_RATE", "0"), ("CW_TOKEN", "a-new-token-now")],
    )
    .await;
    let status = client
        .get(app.url("/api/comments"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "a new token ends every session");
    app.stop().await;
}
