//! The streamer's side of the web layer beyond the feed: the OBS overlay
//! (`/overlay`, `/overlay/ws`), the "on stream" queue (`/api/featured`),
//! the overlay URL's key (`/api/overlay`) and the dashboard's day counter
//! (`/api/today`).
//!
//! **The overlay key.** OBS cannot sign in, and a browser-source URL is
//! visible to anyone who sees the streamer's OBS settings (or a screen
//! share of them), so the overlay never carries `CW_TOKEN`. With a token
//! set, `/overlay` and `/overlay/ws` accept instead a separate key
//! (`?key=`): `CW_OVERLAY_KEY`, or else an HMAC of the token, which stays
//! the same across restarts (the OBS URL keeps working) and changes with the
//! token (rotating the token revokes a leaked overlay URL). The key grants
//! these two read-only routes and nothing else: `/`, `/ws`, `/log` and every
//! `/api/*` route stay behind `auth::require_token`, which knows nothing of
//! it. A signed-in browser may open the overlay without the key (a preview).
//!
//! **Framing.** The overlay keeps the site-wide `frame-ancestors 'none'`:
//! OBS loads a browser source as a top-level page in its own embedded
//! Chromium, not in a frame, so no frame permission is needed, and refusing
//! frames keeps other sites from embedding the streamer's overlay.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::warn;

use super::hosts::Hosts;
use super::{AppState, Cockpit, Error, auth, render, ws};
use crate::domain::Comment;
use crate::featured::Featured;
use crate::hidden::Hidden;
use crate::params::ParamError;
use crate::store::{CommentLog, FeaturedOp};

/// The overlay's routes, which check the overlay key themselves: merge them
/// outside the token-protected router.
pub fn public() -> Router<AppState> {
    Router::new()
        .route("/overlay", get(page))
        .route("/overlay/ws", any(live))
}

/// The dashboard's API, to merge inside the token-protected router.
pub fn api() -> Router<AppState> {
    Router::new()
        .route("/api/featured", get(list).post(feature).delete(dismiss))
        .route("/api/overlay", get(overlay_settings))
        .route("/api/today", get(today))
}

#[derive(Template)]
#[template(path = "overlay.html")]
struct OverlayPage {
    version: &'static str,
    /// The hidden list as it is now, as JSON: the overlay hides those words
    /// and authors from the start (and follows `hidden` frames after).
    config: String,
}

#[derive(Debug, Deserialize)]
pub struct KeyParams {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    mode: Option<String>,
}

/// `GET /overlay?mode=featured|latest&limit=&fade=&font=&size=&theme=&pos=&lang=&key=`:
/// a shell; `overlay.js` reads the parameters and connects.
async fn page(
    State(state): State<AppState>,
    Query(params): Query<KeyParams>,
    req: Request,
) -> Response {
    let caller = auth::Caller::of(&state.hosts, &req);
    if let Some(refused) = check_key(&state, req.headers(), caller, params.key.as_deref()).await {
        return refused;
    }
    let page = OverlayPage {
        version: env!("CARGO_PKG_VERSION"),
        config: json!({ "block": state.hidden.entries() }).to_string(),
    };
    // The URL holds the key: keep the page out of every cache.
    render::private_page(StatusCode::OK, &page)
}

/// `GET /overlay/ws?key=&mode=&since=`: read-only. `mode=featured` gets only
/// `featured` frames (an overlay showing the queue need not parse thousands
/// of comments a minute); anything else gets the same feed as `/ws`.
async fn live(
    State(state): State<AppState>,
    Query(params): Query<KeyParams>,
    Query(since): Query<ws::LiveParams>,
    req: Request,
) -> Response {
    let caller = auth::Caller::of(&state.hosts, &req);
    if let Some(refused) = check_key(&state, req.headers(), caller, params.key.as_deref()).await {
        return refused;
    }
    let (mut parts, _) = req.into_parts();
    let upgrade = match super::socket::Upgrade::from_request_parts(&mut parts, &state).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    if params.mode.as_deref() == Some("featured") {
        ws::featured(upgrade, &parts.headers, state)
    } else {
        ws::open(upgrade, since, &parts.headers, state, ws::Reader::Overlay)
    }
}

/// Whether a request may see the overlay: no token set, the overlay key,
/// or a signed-in browser (a preview). Wrong keys count against the
/// address like any wrong credential.
async fn check_key(
    state: &AppState,
    headers: &HeaderMap,
    caller: auth::Caller,
    key: Option<&str>,
) -> Option<Response> {
    let expected = state.cockpit.overlay_key()?;
    let key = key.map(|given| (given, expected));
    match state.auth.check(headers, caller, key).await {
        auth::Verdict::Admitted(_) => None,
        auth::Verdict::Locked(secs) => Some(auth::too_many(secs)),
        _ => Some(needs_key()),
    }
}

fn needs_key() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "This overlay URL needs its key: copy the overlay URL again from the dashboard.\n",
    )
        .into_response()
}

/// The queue as the API returns it.
#[derive(Serialize)]
struct Queue {
    comments: Vec<Comment>,
    max: usize,
}

fn queue(featured: &Featured) -> Json<Queue> {
    Json(Queue {
        comments: featured.comments(),
        max: featured.max(),
    })
}

/// A comment, by the key the log knows it by.
#[derive(Debug, Deserialize)]
struct Target {
    source: String,
    id: String,
}

/// `GET /api/featured`: `{"comments":[COMMENT…],"max":N}`, oldest first.
async fn list(State(featured): State<Featured>) -> Json<Queue> {
    queue(&featured)
}

/// `POST /api/featured` with `{"source":…,"id":…}`: puts that comment (as
/// the log has it) on stream, unless it was deleted or is hidden (409).
async fn feature(
    State(featured): State<Featured>,
    State(hidden): State<Hidden>,
    State(log): State<CommentLog>,
    State(hosts): State<Hosts>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = match target(&hosts, &headers, &body) {
        Ok(Some(t)) => t,
        Ok(None) => return Error::BadBody(EXPECTED_BODY).into_response(),
        Err(refused) => return refused.into_response(),
    };
    match log.comment(target.source, target.id).await {
        Ok(Some(c)) if c.deleted => {
            Error::Conflict("that comment was deleted on its platform").into_response()
        }
        // Hidden from every page, so never put on stream either.
        Ok(Some(c)) if hidden.matches(&c) => {
            Error::Conflict("that comment is hidden: unhide its word or author first")
                .into_response()
        }
        Ok(Some(c)) => {
            // The log remembers it, for `/log?featured=1` after the stream.
            if let Err(e) = log.mark_featured(c.source.clone(), c.id.clone()).await {
                warn!(error = %e, "could not record a featured comment in the log");
            }
            let op = FeaturedOp::Add {
                source: c.source.clone(),
                id: c.id.clone(),
                max: featured.max(),
            };
            featured.feature(c);
            crate::featured::record(&log, op).await;
            queue(&featured).into_response()
        }
        Ok(None) => Error::NotFound("no such comment in the log").into_response(),
        Err(e) => Error::Unavailable(e).into_response(),
    }
}

/// `DELETE /api/featured` with `{"source":…,"id":…}` takes one comment off
/// stream; with no body, all of them.
async fn dismiss(
    State(featured): State<Featured>,
    State(log): State<CommentLog>,
    State(hosts): State<Hosts>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = match target(&hosts, &headers, &body) {
        Ok(Some(t)) => {
            featured.dismiss(&t.source, &t.id);
            FeaturedOp::Remove {
                source: t.source,
                id: t.id,
            }
        }
        Ok(None) => {
            featured.clear();
            FeaturedOp::Clear
        }
        Err(refused) => return refused.into_response(),
    };
    crate::featured::record(&log, op).await;
    queue(&featured).into_response()
}

/// What a change of the queue must carry.
const EXPECTED_BODY: &str = "expected a JSON body {\"source\":…,\"id\":…}";

/// Reads a request that changes the queue (see [`json_body`]).
fn target(hosts: &Hosts, headers: &HeaderMap, body: &[u8]) -> Result<Option<Target>, Error> {
    json_body(hosts, headers, body, EXPECTED_BODY)
}

/// Reads a request that changes the streamer's state (the queue, the
/// hidden list): `None` for an empty body. The session cookie is
/// `SameSite=Strict` already; on top of that a change must come from this
/// site (`Origin` among this server's own, `Sec-Fetch-Site`) and, if it has
/// a body, as JSON, which a cross-site form cannot send without a CORS
/// preflight that never passes. A body that is not `T` is `expected`.
pub(super) fn json_body<T: serde::de::DeserializeOwned>(
    hosts: &Hosts,
    headers: &HeaderMap,
    body: &[u8],
    expected: &'static str,
) -> Result<Option<T>, Error> {
    if !hosts.same_site(headers) {
        return Err(Error::CrossSite);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !json {
        return Err(Error::NotJson);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|_| Error::BadBody(expected))
}

/// `GET /api/overlay`: what the dashboard needs to build the overlay URL.
async fn overlay_settings(
    State(cockpit): State<Cockpit>,
    State(featured): State<Featured>,
) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "key": cockpit.overlay_key(), "featured_max": featured.max() })),
    )
        .into_response()
}

/// `GET /api/today?since=RFC3339`: `{"comments":N,"latest_seq":S}`, the
/// comments fetched since then (the dashboard asks for its local midnight)
/// counted together with the `seq` they reach.
async fn today(
    State(log): State<CommentLog>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    // A missing or bad `since` is a 400 naming it, as on every `/api` route.
    let since = pairs
        .iter()
        .find(|(k, _)| k == "since")
        .ok_or_else(|| ParamError::new("since", "required: the moment to count from (RFC 3339)"))
        .and_then(|(_, v)| crate::params::parse_time("since", v, Utc::now()));
    let since = match since {
        Ok(t) => t,
        Err(e) => return Error::BadParam(e).into_response(),
    };
    match log.count_fetched_since(since).await {
        Ok((comments, latest_seq)) => {
            Json(json!({ "comments": comments, "latest_seq": latest_seq })).into_response()
        }
        Err(e) => Error::Unavailable(e).into_response(),
    }
}
