//! A mock of Google on loopback for the OAuth tests: a consent page (an
//! *Allow* link back to the app with a code), the token endpoint (which
//! checks the client, the redirect address and the PKCE verifier, and
//! refreshes), the revocation endpoint, and `channels.list?mine=true`. It
//! records what it was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "123-mock.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-client-secret-MOCK";
/// Every refresh token the mock hands out starts with this.
pub const REFRESH_PREFIX: &str = "1//refresh-SECRET-";
/// Every access token the mock hands out starts with this.
pub const ACCESS_PREFIX: &str = "ya29.access-SECRET-";
pub const CHANNEL_ID: &str = "UCmockChannel0000000000";
pub const CHANNEL_TITLE: &str = "Mock <b>Channel</b> & co";
pub const SCOPE: &str = "https://www.googleapis.com/auth/youtube.force-ssl";

#[derive(Default)]
pub struct Seen {
    /// The consent page's query strings.
    pub auth: Vec<HashMap<String, String>>,
    /// Every token request's form.
    pub token: Vec<HashMap<String, String>>,
    /// Every revoked token.
    pub revoked: Vec<String>,
    /// Every channels.list query, with its bearer token.
    pub channels: Vec<(String, String)>,
    /// Every live chat call: method, path, query, body.
    pub calls: Vec<(String, String, String, String)>,
    /// The next live chat call is refused with this status and reason.
    pub refuse_next: Option<(u16, String)>,
    /// Each video's channel (`videos.list` `snippet.channelId`): the
    /// connected channel's when absent.
    pub owners: HashMap<String, String>,
    /// code -> (challenge, redirect_uri)
    codes: HashMap<String, (String, String)>,
    pub refresh: Vec<String>,
    access: Vec<String>,
    n: u32,
}

#[derive(Clone)]
pub struct Mock {
    pub base: String,
    pub seen: Arc<Mutex<Seen>>,
    /// The `expires_in` of every access token.
    pub expires_in: Arc<Mutex<u64>>,
}

impl Mock {
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("YOUTUBE_OAUTH_CLIENT_ID", CLIENT_ID.into()),
            ("YOUTUBE_OAUTH_CLIENT_SECRET", CLIENT_SECRET.into()),
            (
                "GOOGLE_OAUTH_AUTH_URL",
                format!("{}/o/oauth2/v2/auth", self.base),
            ),
            ("GOOGLE_OAUTH_TOKEN_URL", format!("{}/token", self.base)),
            ("GOOGLE_OAUTH_REVOKE_URL", format!("{}/revoke", self.base)),
            ("YOUTUBE_API_BASE", self.base.clone()),
        ]
    }

    /// Every token the mock handed out.
    pub fn secrets(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.refresh.iter().chain(&seen.access).cloned().collect()
    }
}

pub async fn start() -> Mock {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mock = Mock {
        base,
        seen: Arc::default(),
        expires_in: Arc::new(Mutex::new(3599)),
    };
    let app = Router::new()
        .route("/o/oauth2/v2/auth", get(consent))
        .route("/token", post(token))
        .route("/revoke", post(revoke))
        .route("/youtube/v3/channels", get(channels))
        .route("/youtube/v3/videos", get(live_api))
        .route(
            "/youtube/v3/liveChat/messages",
            axum::routing::delete(live_api),
        )
        .route("/youtube/v3/liveChat/bans", post(live_api).delete(live_api))
        .route("/youtube/v3/comments/setModerationStatus", post(live_api))
        .route("/youtube/v3/comments", post(live_api))
        .with_state(mock.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    mock
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn oauth_error(code: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"error":"{code}","error_description":"mock refused"}}"#),
    )
        .into_response()
}

/// The consent page: an *Allow* link back to `redirect_uri` with a code.
async fn consent(State(mock): State<Mock>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut seen = mock.seen.lock().unwrap();
    seen.auth.push(q.clone());
    seen.n += 1;
    let code = format!("4/mock-code-{}", seen.n);
    let (Some(redirect), Some(state), Some(challenge)) = (
        q.get("redirect_uri"),
        q.get("state"),
        q.get("code_challenge"),
    ) else {
        return (StatusCode::BAD_REQUEST, "incomplete").into_response();
    };
    seen.codes
        .insert(code.clone(), (challenge.clone(), redirect.clone()));
    let mut back = url::Url::parse(redirect).unwrap();
    back.query_pairs_mut()
        .append_pair("state", state)
        .append_pair("code", &code)
        .append_pair("scope", SCOPE);
    Html(format!(
        "<!doctype html><title>Mock Google</title><p>commentwatch wants to manage your \
         YouTube account.</p><a id=\"allow\" href=\"{}\">Allow</a>",
        back.as_str().replace('&', "&amp;")
    ))
    .into_response()
}

async fn token(State(mock): State<Mock>, body: String) -> Response {
    let f = form(&body);
    let mut seen = mock.seen.lock().unwrap();
    seen.token.push(f.clone());
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error("invalid_client");
    }
    seen.n += 1;
    let n = seen.n;
    let access = format!("{ACCESS_PREFIX}{n}");
    let expires_in = *mock.expires_in.lock().unwrap();
    let answer = match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some((challenge, redirect)) = f.get("code").and_then(|c| seen.codes.remove(c))
            else {
                return oauth_error("invalid_grant");
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            let hashed = Sha256::digest(verifier.as_bytes());
            if base64url(&hashed) != challenge || f.get("redirect_uri") != Some(&redirect) {
                return oauth_error("invalid_grant");
            }
            let refresh = format!("{REFRESH_PREFIX}{n}");
            seen.refresh.push(refresh.clone());
            serde_json::json!({"access_token": access, "expires_in": expires_in,
                "refresh_token": refresh, "scope": SCOPE, "token_type": "Bearer"})
        }
        Some("refresh_token") => {
            let known = f
                .get("refresh_token")
                .is_some_and(|r| seen.refresh.contains(r) && !seen.revoked.contains(r));
            if !known {
                return oauth_error("invalid_grant");
            }
            serde_json::json!({"access_token": access, "expires_in": expires_in,
                "scope": SCOPE, "token_type": "Bearer"})
        }
        _ => return oauth_error("unsupported_grant_type"),
    };
    seen.access.push(access);
    (
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}

async fn revoke(State(mock): State<Mock>, body: String) -> Response {
    let f = form(&body);
    let Some(t) = f.get("token") else {
        return oauth_error("invalid_request");
    };
    mock.seen.lock().unwrap().revoked.push(t.clone());
    StatusCode::OK.into_response()
}

async fn channels(
    State(mock): State<Mock>,
    headers: HeaderMap,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let mut seen = mock.seen.lock().unwrap();
    seen.channels.push((q.unwrap_or_default(), bearer.clone()));
    if !seen.access.contains(&bearer) {
        return (StatusCode::UNAUTHORIZED, r#"{"error":{"code":401}}"#).into_response();
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"items": [{"id": CHANNEL_ID, "snippet": {"title": CHANNEL_TITLE}}]})
            .to_string(),
    )
        .into_response()
}

/// The live chat calls: checks the bearer token, records the call, and
/// answers as YouTube does (or refuses, once, as told).
async fn live_api(
    State(mock): State<Mock>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let mut seen = mock.seen.lock().unwrap();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    seen.calls.push((
        method.to_string(),
        path.clone(),
        query.clone(),
        body.clone(),
    ));
    if !seen.access.contains(&bearer) {
        return (StatusCode::UNAUTHORIZED, r#"{"error":{"code":401}}"#).into_response();
    }
    if let Some((status, reason)) = seen.refuse_next.take() {
        let body = serde_json::json!({"error": {"code": status, "message": "mock refusal",
            "errors": [{"message": "mock refusal", "domain": "youtube.liveChat", "reason": reason}]}});
        return (
            StatusCode::from_u16(status).unwrap(),
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    let json = |v: serde_json::Value| {
        ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
    };
    match (method.as_str(), path.as_str()) {
        ("GET", "/youtube/v3/videos") => {
            let q = form(&query);
            let items: Vec<serde_json::Value> = q["id"]
                .split(',')
                .filter(|id| seen.owners.get(*id).is_none_or(|c| !c.is_empty()))
                .map(|id| {
                    let channel = seen.owners.get(id).map_or(CHANNEL_ID, String::as_str);
                    serde_json::json!({"id": id, "snippet": {"channelId": channel},
                        "liveStreamingDetails": {"activeLiveChatId": format!("chat-{id}")}})
                })
                .collect();
            json(serde_json::json!({ "items": items }))
        }
        ("POST", "/youtube/v3/liveChat/bans") => {
            let mut ban: serde_json::Value = serde_json::from_str(&body).unwrap();
            seen.n += 1;
            ban["id"] = format!("ban-{}", seen.n).into();
            ban["kind"] = "youtube#liveChatBan".into();
            json(ban)
        }
        ("POST", "/youtube/v3/comments") => {
            let mut reply: serde_json::Value = serde_json::from_str(&body).unwrap();
            seen.n += 1;
            reply["id"] = format!("reply-{}", seen.n).into();
            reply["kind"] = "youtube#comment".into();
            json(reply)
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
