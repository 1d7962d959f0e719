//! `CW_TOKEN`: when set, every page, API route and WebSocket needs it.
//!
//! People sign in once through the form at `/login`, which trades the token
//! for a **session**: a random 256-bit id in an `HttpOnly; SameSite=Strict`
//! cookie (`Secure` behind an https proxy), kept server-side in the log (as
//! a hash) so that a restart keeps the streamer signed in and instances
//! sharing a log share it. A session lasts 30 days from its last use,
//! ends at sign-out, and every session ends when the token changes. Tools
//! send `Authorization: Bearer <token>` instead.
//!
//! Every credential — the sign-in form, a bearer token on any route, the
//! overlay key, a session cookie — goes through [`Auth::check`]: a correct
//! one always gets in (compared in constant time, before any lock-out), a
//! wrong one feeds the one [`Limiter`], which answers `429` once an address
//! has guessed too often. `/healthz` (status only), `/login` and the static
//! assets stay open. It decides who gets in; what they may do is the
//! handlers' business.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use axum::Form;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tracing::{error, info, warn};

use super::AppState;
use super::hosts::Hosts;
use super::limiter::Limiter;
use crate::store::CommentLog;

const COOKIE: &str = "cw_session";
/// How long a session lasts after its last use.
const SESSION_LIFE: i64 = 30 * 24 * 3600;
/// A session's expiry moves forward at most this often.
const SLIDE_EVERY: i64 = 3600;
/// How long a checked session is believed without asking the log again
/// (what another instance's sign-out may take to reach this one).
const CACHE_FOR: Duration = Duration::from_secs(5);
/// How long a refused guess from a locked-out address waits for its answer:
/// a guesser on one connection gets a few tries a second, not thousands.
const TARPIT: Duration = Duration::from_millis(250);

/// Who is asking, as the connection and a trusted proxy say.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub ip: IpAddr,
    pub https: bool,
}

impl Caller {
    pub fn of(hosts: &Hosts, req: &Request) -> Caller {
        let peer = super::serve::peer(req.extensions());
        Caller {
            ip: hosts.client_ip(peer, req.headers()),
            https: hosts.https(peer, req.headers()),
        }
    }
}

/// What a credential check found.
#[derive(Debug)]
pub enum Verdict {
    /// In; `Some(cookie)` when the session's expiry moved and the browser's
    /// cookie should follow.
    Admitted(Option<HeaderValue>),
    /// No credential at all.
    Anonymous,
    /// A wrong credential.
    Refused,
    /// A wrong credential from an address that has guessed too often:
    /// answer `429` with `Retry-After` of this many seconds.
    Locked(u64),
}

/// The configured token, if any, with its sessions and rate limiter.
#[derive(Clone, Default)]
pub struct Auth(Option<Arc<Inner>>);

struct Inner {
    token: String,
    /// Names the token in the log without revealing it: sessions opened
    /// with another token are void.
    token_tag: String,
    log: CommentLog,
    limiter: Limiter,
    /// Session hashes recently found valid, with their expiry.
    cache: Mutex<HashMap<String, (i64, Instant)>>,
}

impl Auth {
    pub fn new(token: Option<String>, log: CommentLog) -> Auth {
        Auth(token.map(|token| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
            mac.update(b"commentwatch session token tag v2");
            let token_tag = hex(&mac.finalize().into_bytes()[..16]);
            Arc::new(Inner {
                token,
                token_tag,
                log,
                limiter: Limiter::default(),
                cache: Mutex::new(HashMap::new()),
            })
        }))
    }

    /// Whether a token is configured at all.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// At start: forgets expired sessions and those of an earlier token.
    pub async fn forget_stale_sessions(&self) {
        let Some(inner) = &self.0 else { return };
        match inner
            .log
            .prune_sessions(inner.token_tag.clone(), now())
            .await
        {
            Ok(0) => {}
            Ok(n) => info!(sessions = n, "ended {n} expired or earlier-token sessions"),
            Err(e) => warn!(error = %e, "could not prune old sign-in sessions"),
        }
    }

    /// The one credential check. `key` is an extra credential the route
    /// accepts (the overlay key: what was given, what is expected).
    pub async fn check(
        &self,
        headers: &HeaderMap,
        caller: Caller,
        key: Option<(&str, &str)>,
    ) -> Verdict {
        let Some(inner) = &self.0 else {
            return Verdict::Admitted(None);
        };
        let bearer = bearer(headers);
        let session = cookie(headers, COOKIE);
        // Correct credentials first, so a lock-out never keeps them out.
        let right_key = key.is_some_and(|(given, expected)| eq(given, expected));
        let right_bearer = bearer.as_deref().is_some_and(|t| eq(t, &inner.token));
        if right_key || right_bearer {
            return Verdict::Admitted(None);
        }
        if let Some(id) = &session
            && let Some(refresh) = self.session(id, caller.https).await
        {
            return Verdict::Admitted(refresh);
        }
        if bearer.is_none() && session.is_none() && key.is_none() {
            return Verdict::Anonymous;
        }
        self.wrong(caller.ip).await
    }

    /// Records a wrong credential and says how to answer it.
    async fn wrong(&self, ip: IpAddr) -> Verdict {
        let Some(inner) = &self.0 else {
            return Verdict::Refused;
        };
        if let Some(secs) = inner.limiter.locked(ip) {
            tokio::time::sleep(TARPIT).await;
            return Verdict::Locked(secs);
        }
        inner.limiter.failed(ip);
        Verdict::Refused
    }

    /// Whether the session `id` is open; `Some(Some(cookie))` when its
    /// expiry moved.
    async fn session(&self, id: &str, https: bool) -> Option<Option<HeaderValue>> {
        let inner = self.0.as_ref()?;
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let hash = hash_id(id);
        let now = now();
        let cached = {
            let cache = inner.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .get(&hash)
                .filter(|(expires, at)| *expires > now && at.elapsed() < CACHE_FOR)
                .map(|(expires, _)| *expires)
        };
        let expires = match cached {
            Some(e) => e,
            None => {
                let found = inner
                    .log
                    .session_expiry(hash.clone(), inner.token_tag.clone(), now)
                    .await;
                let expires = match found {
                    Ok(Some(e)) => e,
                    Ok(None) => return None,
                    Err(e) => {
                        error!(error = %e, "sign-in sessions: the comment log does not answer");
                        return None;
                    }
                };
                let mut cache = inner.cache.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(hash.clone(), (expires, Instant::now()));
                expires
            }
        };
        if expires - now > SESSION_LIFE - SLIDE_EVERY {
            return Some(None);
        }
        let later = now + SESSION_LIFE;
        if let Err(e) = inner.log.extend_session(hash.clone(), later).await {
            warn!(error = %e, "could not extend a sign-in session");
            return Some(None);
        }
        inner
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash, (later, Instant::now()));
        Some(Some(session_cookie(id, https)))
    }

    /// Opens a session; returns its cookie.
    async fn open_session(&self, https: bool) -> Option<HeaderValue> {
        let inner = self.0.as_ref()?;
        let id = hex(&rand::random::<[u8; 32]>());
        let result = inner
            .log
            .create_session(hash_id(&id), inner.token_tag.clone(), now() + SESSION_LIFE)
            .await;
        match result {
            Ok(()) => Some(session_cookie(&id, https)),
            Err(e) => {
                error!(error = %e, "could not store a sign-in session");
                None
            }
        }
    }

    /// Ends the session the request carries, if any.
    async fn end_session(&self, headers: &HeaderMap) {
        let (Some(inner), Some(id)) = (&self.0, cookie(headers, COOKIE)) else {
            return;
        };
        let hash = hash_id(&id);
        inner
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&hash);
        if let Err(e) = inner.log.end_session(hash).await {
            error!(error = %e, "could not end a sign-in session");
        }
    }

    fn token_is(&self, given: &str) -> bool {
        self.0.as_ref().is_some_and(|inner| eq(given, &inner.token))
    }
}

/// Middleware: lets a request through only when it is signed in.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (auth, hosts) = (&state.auth, &state.hosts);
    let caller = Caller::of(hosts, &req);
    match auth.check(req.headers(), caller, None).await {
        Verdict::Admitted(refresh) => {
            let mut resp = next.run(req).await;
            if let Some(cookie) = refresh {
                resp.headers_mut().append(header::SET_COOKIE, cookie);
            }
            resp
        }
        Verdict::Locked(secs) => too_many(secs),
        verdict => {
            let wants_page = req.method() == Method::GET
                && !req.headers().contains_key(header::UPGRADE)
                && !req.uri().path().starts_with("/api/")
                && req
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|a| a.to_str().ok())
                    .is_some_and(|a| a.contains("text/html"));
            if !wants_page {
                return unauthorized();
            }
            let next = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let target = format!(
                "/login?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            );
            let mut resp = Redirect::to(&target).into_response();
            if matches!(verdict, Verdict::Refused) {
                // A cookie of an ended session: forget it.
                resp.headers_mut()
                    .insert(header::SET_COOKIE, clear_cookie());
            }
            resp
        }
    }
}

pub fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "This commentwatch needs its token: sign in at /login, or send Authorization: Bearer <CW_TOKEN>.\n",
    )
        .into_response()
}

pub fn too_many(secs: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, secs.to_string())],
        format!("Too many wrong credentials from this address; try again in {secs} s.\n"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage;

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
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
    req: Request,
) -> Response {
    let (auth, hosts) = (&state.auth, &state.hosts);
    let next = local_path(&q.next);
    let https = Caller::of(hosts, &req).https;
    let signed_in = match cookie(req.headers(), COOKIE) {
        Some(id) => auth.session(&id, https).await.is_some(),
        None => false,
    };
    if !auth.enabled() || signed_in {
        return Redirect::to(next).into_response();
    }
    render_login(StatusCode::OK, next, None)
}

/// `POST /login`: checks the token and opens a session.
pub async fn login(State(state): State<AppState>, req: Request) -> Response {
    let (auth, hosts) = (&state.auth, &state.hosts);
    let caller = Caller::of(hosts, &req);
    let same_site = hosts.same_site(req.headers());
    let form = match Form::<LoginForm>::from_request(req, &()).await {
        Ok(Form(form)) => form,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return rejection.into_response();
        }
        Err(_) => {
            return render_login(
                StatusCode::BAD_REQUEST,
                "/",
                Some("The sign-in form was incomplete."),
            );
        }
    };
    let next = local_path(&form.next);
    if !auth.enabled() {
        return Redirect::to(next).into_response();
    }
    if !same_site {
        return render_login(
            StatusCode::FORBIDDEN,
            next,
            Some("This sign-in came from another site and was refused. Sign in on this page."),
        );
    }
    if !auth.token_is(form.token.trim()) {
        return match auth.wrong(caller.ip).await {
            Verdict::Locked(secs) => {
                let mut resp = render_login(
                    StatusCode::TOO_MANY_REQUESTS,
                    next,
                    Some("Too many wrong tokens from this address. Wait a minute, then try again."),
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                resp
            }
            _ => render_login(
                StatusCode::UNAUTHORIZED,
                next,
                Some("That is not the token this commentwatch was started with."),
            ),
        };
    }
    let Some(cookie) = auth.open_session(caller.https).await else {
        return render_login(
            StatusCode::SERVICE_UNAVAILABLE,
            next,
            Some("The comment log does not answer, so no session could be opened. Try again."),
        );
    };
    let mut resp = Redirect::to(next).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    resp
}

/// `GET /logout`: a page with the sign-out button (signing out changes
/// state, so it takes a POST from this site).
pub async fn logout_page() -> Response {
    render(StatusCode::OK, &LogoutPage)
}

/// `POST /logout`: ends the session on the server and forgets the cookie.
/// Another site may not sign the streamer out.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (auth, hosts) = (&state.auth, &state.hosts);
    if !hosts.same_site(&headers) {
        return (StatusCode::FORBIDDEN, "cross-site sign-out refused\n").into_response();
    }
    auth.end_session(&headers).await;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    resp
}

fn render_login(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    render(status, &LoginPage { next, error })
}

fn render(status: StatusCode, page: &impl Template) -> Response {
    // A sign-in page must not be cached with a typed token in it.
    super::render::private_page(status, page)
}

fn session_cookie(id: &str, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_LIFE}{secure}"
    ))
    .expect("a hex cookie is a valid header")
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("cw_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
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
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// The SHA-256 of the session the request's cookie names, if any: how the
/// log names a dashboard session without holding its id.
pub fn session_hash(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE).map(|id| hash_id(&id))
}

fn hash_id(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without returning early, so response time does not reveal how
/// much of a guess was right.
fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
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

    fn caller() -> Caller {
        Caller {
            ip: "192.0.2.7".parse().unwrap(),
            https: false,
        }
    }

    fn with_bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn the_right_token_gets_in_even_while_wrong_ones_are_locked_out() {
        let auth = Auth::new(
            Some("correct-horse".into()),
            CommentLog::open_in_memory().unwrap(),
        );
        let mut locked = false;
        for _ in 0..20 {
            locked |= matches!(
                auth.check(&with_bearer("wrong"), caller(), None).await,
                Verdict::Locked(_)
            );
        }
        assert!(locked, "twenty wrong guesses end in a lock-out");
        assert!(matches!(
            auth.check(&with_bearer("correct-horse"), caller(), None)
                .await,
            Verdict::Admitted(_)
        ));
        assert!(matches!(
            auth.check(&HeaderMap::new(), caller(), None).await,
            Verdict::Anonymous
        ));
    }

    #[tokio::test]
    async fn sessions_are_random_kept_as_hashes_and_end_at_sign_out() {
        let log = CommentLog::open_in_memory().unwrap();
        let auth = Auth::new(Some("correct-horse".into()), log.clone());
        let a = auth.open_session(false).await.unwrap();
        let b = auth.open_session(true).await.unwrap();
        assert_ne!(a, b, "a fresh id at every sign-in");
        assert!(b.to_str().unwrap().ends_with("; Secure"));
        let pair = a.to_str().unwrap().split(';').next().unwrap().to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, pair.parse().unwrap());
        assert!(matches!(
            auth.check(&headers, caller(), None).await,
            Verdict::Admitted(_)
        ));
        auth.end_session(&headers).await;
        assert!(matches!(
            auth.check(&headers, caller(), None).await,
            Verdict::Refused
        ));
        // Another token voids the sessions of this one.
        let other = Auth::new(Some("another-token".into()), log);
        let c = auth.open_session(false).await.unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            c.to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .parse()
                .unwrap(),
        );
        assert!(matches!(
            other.check(&headers, caller(), None).await,
            Verdict::Refused
        ));
    }
}
