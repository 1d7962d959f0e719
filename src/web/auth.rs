//! `CW_TOKEN`: when set, every page, API route and the WebSocket need it.
//!
//! People sign in once through a form at `/login`, which trades the token for
//! an `HttpOnly; SameSite=Strict` session cookie. The cookie holds an HMAC of
//! the token, not the token: it survives restarts, dies when the token
//! changes, and the token itself never sits in a URL, the history, a log
//! line or a cookie jar. Tools send `Authorization: Bearer <token>` instead.
//! Every comparison is constant-time, and wrong guesses are rate-limited per
//! client address. `/healthz`, `/login` and the static assets stay open.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tracing::{error, warn};

const COOKIE: &str = "cw_session";
/// Wrong guesses allowed per client address and window.
const MAX_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(60);

/// The configured token, if any, and the state of its rate limiter.
#[derive(Clone, Default)]
pub struct Auth(Option<Arc<Inner>>);

struct Inner {
    token: String,
    /// The cookie value a signed-in browser holds.
    session: String,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Auth {
    pub fn new(token: Option<String>) -> Auth {
        Auth(token.map(|token| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
            mac.update(b"commentwatch session v1");
            let session = hex(&mac.finalize().into_bytes());
            Arc::new(Inner {
                token,
                session,
                failures: Mutex::new(HashMap::new()),
            })
        }))
    }

    /// Whether a token is configured at all.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Whether the request carries the session cookie or the bearer token.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(inner) = &self.0 else {
            return true;
        };
        let by_cookie = cookie(headers, COOKIE)
            .is_some_and(|c| constant_time_eq(c.as_bytes(), inner.session.as_bytes()));
        let by_bearer =
            bearer(headers).is_some_and(|t| constant_time_eq(t.as_bytes(), inner.token.as_bytes()));
        by_cookie || by_bearer
    }

    /// Seconds left in a lockout for `ip`, if it has guessed wrong too often.
    fn locked_out(&self, ip: IpAddr) -> Option<u64> {
        let inner = self.0.as_ref()?;
        let failures = inner.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (count, since) = failures.get(&ip)?;
        let left = WINDOW.checked_sub(since.elapsed())?;
        (*count >= MAX_FAILURES).then_some(left.as_secs().max(1))
    }

    fn record_failure(&self, ip: IpAddr) {
        let Some(inner) = &self.0 else { return };
        let mut failures = inner.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > 10_000 {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        let entry = failures.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        if entry.0 == MAX_FAILURES {
            warn!(client.ip = %ip, "too many wrong tokens; refusing this client for a minute");
        }
    }

    fn check_token(&self, given: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|inner| constant_time_eq(given.as_bytes(), inner.token.as_bytes()))
    }
}

/// The client's address, when the server was started with connect info.
fn client_ip(req_extensions: &axum::http::Extensions) -> IpAddr {
    req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Middleware: lets a request through only when it is signed in.
pub async fn require_token(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    if auth.admits(req.headers()) {
        return next.run(req).await;
    }
    let ip = client_ip(req.extensions());
    if let Some(secs) = auth.locked_out(ip) {
        return too_many(secs);
    }
    if bearer(req.headers()).is_some() {
        // A wrong bearer token is a guess like a wrong password.
        auth.record_failure(ip);
        return unauthorized();
    }
    let wants_page = req.method() == Method::GET
        && !req.headers().contains_key(header::UPGRADE)
        && !req.uri().path().starts_with("/api/")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_page {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let target = format!(
            "/login?next={}",
            percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
        );
        return Redirect::to(&target).into_response();
    }
    unauthorized()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "This commentwatch needs its token: sign in at /login, or send Authorization: Bearer <CW_TOKEN>.\n",
    )
        .into_response()
}

fn too_many(secs: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, secs.to_string())],
        format!("Too many wrong tokens from this address; try again in {secs} s.\n"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

/// `GET /login`: the sign-in form (or straight on, if no token is set or the
/// browser is signed in already).
pub async fn login_page(
    State(auth): State<Auth>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = local_path(&q.next);
    if !auth.enabled() || auth.admits(&headers) {
        return Redirect::to(next).into_response();
    }
    render_login(StatusCode::OK, next, None)
}

/// `POST /login`: checks the token and sets the session cookie.
pub async fn login(
    State(auth): State<Auth>,
    headers: HeaderMap,
    req_ext: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = local_path(&form.next);
    let Some(inner) = &auth.0 else {
        return Redirect::to(next).into_response();
    };
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-site sign-in refused\n").into_response();
    }
    let ip = client_ip(&req_ext);
    if let Some(secs) = auth.locked_out(ip) {
        return too_many(secs);
    }
    if !auth.check_token(form.token.trim()) {
        auth.record_failure(ip);
        return render_login(
            StatusCode::UNAUTHORIZED,
            next,
            Some("That is not the token this commentwatch was started with."),
        );
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        inner.session
    );
    let mut resp = Redirect::to(next).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a hex cookie is a valid header"),
    );
    resp
}

/// `POST /logout`: forgets the session cookie. Another site may not sign
/// the streamer out.
pub async fn logout(headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-site sign-out refused\n").into_response();
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("cw_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    resp
}

fn render_login(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    match (LoginPage { next, error }).render() {
        Ok(html) => (
            status,
            // The form page must not be cached with a typed token in it.
            [(header::CACHE_CONTROL, "no-store")],
            Html(html),
        )
            .into_response(),
        Err(e) => {
            error!(error = %e, "the login page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// A redirect target that stays on this site: a path, never `//host` or a
/// scheme (an open redirect would let a link send people elsewhere).
fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if ok { next } else { "/" }
}

/// Browsers send `Origin` on POST; it must name the host that served the form.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without returning early, so response time does not reveal how
/// much of a guess was right.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_after_sign_in_stay_on_this_site() {
        assert_eq!(local_path("/log?q=a"), "/log?q=a");
        for bad in [
            "//evil.invalid/",
            "https://evil.invalid",
            "/\\evil",
            "",
            "javascript:x",
        ] {
            assert_eq!(local_path(bad), "/", "{bad}");
        }
    }

    #[test]
    fn the_session_cookie_is_not_the_token() {
        let auth = Auth::new(Some("correct-horse".into()));
        let inner = auth.0.as_ref().unwrap();
        assert_ne!(inner.session, inner.token);
        assert_eq!(inner.session.len(), 64);
    }

    #[test]
    fn five_wrong_guesses_lock_a_client_out_for_a_minute() {
        let auth = Auth::new(Some("correct-horse".into()));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..4 {
            auth.record_failure(ip);
            assert_eq!(auth.locked_out(ip), None);
        }
        auth.record_failure(ip);
        assert!(auth.locked_out(ip).is_some_and(|s| s <= 60));
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(auth.locked_out(other), None);
    }
}
