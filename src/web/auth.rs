//! `CW_TOKEN`: when set, every page, API call and WebSocket needs it.
//!
//! A browser brings it once as `?token=…`; the server answers with an
//! HttpOnly, SameSite=Strict cookie and a redirect to the same URL without
//! the token, so it does not linger in the address bar, history or a stream
//! capture. Tools may send `Authorization: Bearer …` instead.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

const COOKIE: &str = "cw_token";

/// The configured token, if any.
#[derive(Clone, Default)]
pub struct Auth(Option<Arc<str>>);

impl Auth {
    pub fn new(token: Option<String>) -> Auth {
        Auth(token.map(Into::into))
    }

    fn accepts(&self, given: &str) -> bool {
        match &self.0 {
            None => true,
            Some(expected) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        }
    }
}

/// Middleware: lets a request through only with the right token.
pub async fn require_token(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    if auth.0.is_none() {
        return next.run(req).await;
    }
    if let Some(token) = query_token(req.uri().query()) {
        if !auth.accepts(&token) {
            return unauthorized();
        }
        // Trade the token in the URL for a cookie, and drop it from the URL.
        let rest: Vec<&str> = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.starts_with("token="))
            .collect();
        let location = if rest.is_empty() {
            req.uri().path().to_owned()
        } else {
            format!("{}?{}", req.uri().path(), rest.join("&"))
        };
        if req.headers().contains_key(header::UPGRADE) {
            return next.run(req).await;
        }
        // Encoded, so any token is a valid cookie value.
        let value =
            percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC);
        let cookie = format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/");
        let mut resp = Redirect::to(&location).into_response();
        let v = HeaderValue::from_str(&cookie).expect("a percent-encoded cookie is a valid header");
        resp.headers_mut().insert(header::SET_COOKIE, v);
        return resp;
    }
    let presented = bearer(req.headers()).or_else(|| cookie(req.headers()));
    match presented {
        Some(t) if auth.accepts(&t) => next.run(req).await,
        _ => unauthorized(),
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "This commentwatch needs its token: open the dashboard as /?token=YOUR_TOKEN (the value of CW_TOKEN).\n",
    )
        .into_response()
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(decode)
}

/// Percent-decodes a query or cookie value (`+` is a space in queries).
fn decode(v: &str) -> String {
    let v = v.replace('+', " ");
    percent_encoding::percent_decode_str(&v)
        .decode_utf8_lossy()
        .into_owned()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("cw_token="))
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// Compares without returning early, so response time does not reveal how
/// much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
