//! Pages, assets, headers and the token, over real HTTP.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};

use crate::helpers::spawn_app;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_dashboard_is_served_with_a_strict_policy_and_no_inline_code() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let resp = client().get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    let csp = h[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let body = resp.text().await.unwrap();
    for script in body.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(
            tag.contains("src=\"/assets/"),
            "inline script: <script{tag}>"
        );
        assert!(
            script.split('>').nth(1).unwrap().starts_with("</script"),
            "script body"
        );
    }
    assert!(
        !body.contains("<style") && !body.contains(" style="),
        "no inline style"
    );

    for (asset, kind) in [
        ("dashboard.js", "text/javascript"),
        ("render.js", "text/javascript"),
        ("style.css", "text/css"),
    ] {
        let resp = client()
            .get(app.url(&format!("/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    }
    let missing = client()
        .get(app.url("/assets/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn healthz_answers_with_the_latest_seq() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let resp = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], "ok");
    assert!(body["latest_seq"].is_i64());
}

#[tokio::test]
async fn a_websocket_from_another_site_is_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let mut req = format!("ws://{}/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("origin", "http://evil.invalid".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("expected a 403, got {other}"),
    }
    // The same-origin page is let in.
    let mut req = format!("ws://{}/ws", app.addr)
        .into_client_request()
        .unwrap();
    let origin = format!("http://{}", app.addr);
    req.headers_mut().insert("origin", origin.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
}

#[tokio::test]
async fn api_today_names_a_bad_since_in_json_and_counts_from_a_good_one() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    for query in ["", "?since=yesterday"] {
        let resp = client()
            .get(app.url(&format!("/api/today{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(body["param"], "since", "{query}: {body}");
    }
    let resp = client()
        .get(app.url("/api/today?since=2000-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(
        body["comments"].is_i64() && body["latest_seq"].is_i64(),
        "{body}"
    );
}

#[tokio::test]
async fn another_site_cannot_sign_the_streamer_out() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", "correct-horse-battery")]).await;
    let resp = client()
        .post(app.url("/logout"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().get("set-cookie").is_none());
    let resp = client().post(app.url("/logout")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}

/// A YouTube mock that refuses the key (HTTP 400 keyInvalid), as Google does.
async fn youtube_refusing_the_key() -> wiremock::MockServer {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                "errors": [{"reason": "keyInvalid", "domain": "global"}]}
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn healthz_says_degraded_and_why_when_a_source_is_stopped_by_a_bad_key() {
    let server = youtube_refusing_the_key().await;
    let base = server.uri();
    let app = spawn_app(&[
        ("CW_SOURCES", "youtube:AAAAAAAAAAA,demo"),
        ("CW_DEMO_RATE", "0"),
        ("YOUTUBE_API_KEY", "not-a-valid-key-9f3a"),
        ("YOUTUBE_API_BASE", &base),
    ])
    .await;
    let body = crate::helpers::eventually(
        "/healthz says degraded",
        crate::helpers::PATIENCE,
        || async {
            let resp = client().get(app.url("/healthz")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "degraded is still 200");
            let body: serde_json::Value =
                serde_json::from_str(&resp.text().await.unwrap()).unwrap();
            (body["status"] == "degraded").then_some(body)
        },
    )
    .await;
    let reason = body["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("youtube:AAAAAAAAAAA is stopped"),
        "{reason}"
    );
    assert!(
        reason.contains("YOUTUBE_API_KEY"),
        "says what to check: {reason}"
    );
    assert!(
        !reason.contains("not-a-valid-key"),
        "never the key: {reason}"
    );
    assert!(
        !reason.contains("demo"),
        "names only the source in trouble: {reason}"
    );
    let youtube = body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "youtube:AAAAAAAAAAA")
        .expect("listed");
    assert_eq!(youtube["state"], "stopped");
}

#[tokio::test]
async fn healthz_without_the_token_says_degraded_but_not_why() {
    const TOKEN: &str = "a-long-enough-token-for-this-test-31";
    let server = youtube_refusing_the_key().await;
    let base = server.uri();
    let app = spawn_app(&[
        ("CW_SOURCES", "youtube:AAAAAAAAAAA"),
        ("CW_TOKEN", TOKEN),
        ("YOUTUBE_API_KEY", "not-a-valid-key-9f3a"),
        ("YOUTUBE_API_BASE", &base),
    ])
    .await;
    let short = crate::helpers::eventually(
        "/healthz says degraded",
        crate::helpers::PATIENCE,
        || async {
            let resp = client().get(app.url("/healthz")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let body: serde_json::Value =
                serde_json::from_str(&resp.text().await.unwrap()).unwrap();
            (body["status"] == "degraded").then_some(body)
        },
    )
    .await;
    assert_eq!(
        short,
        serde_json::json!({"status": "degraded"}),
        "nothing but the status"
    );
    let full = client()
        .get(app.url("/healthz"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let full: serde_json::Value = serde_json::from_str(&full).unwrap();
    assert_eq!(full["status"], "degraded");
    assert!(
        full["reason"]
            .as_str()
            .unwrap()
            .contains("youtube:AAAAAAAAAAA")
    );
}

#[tokio::test]
async fn a_listen_address_given_as_localhost_is_served_on_loopback() {
    let app = spawn_app(&[("CW_LISTEN", "localhost:0"), ("CW_DEMO_RATE", "0")]).await;
    assert!(app.addr.ip().is_loopback(), "{}", app.addr);
    let resp = client()
        .get(format!("http://localhost:{}/healthz", app.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "localhost is an allowed Host"
    );
}
