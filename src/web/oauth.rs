//! Connecting the streamer's YouTube account (`crate::oauth`): `POST
//! /api/oauth/youtube/start` (the dashboard session, from this site: the
//! address of Google's consent page), `GET /api/oauth/youtube` (which
//! channel, never a token), `POST /api/oauth/youtube/disconnect`, and `GET
//! /oauth/youtube/callback`, where Google sends the browser back. That
//! redirect comes from another site, so the `SameSite=Strict` session
//! cookie is not sent with it: the callback is open, and what guards it is
//! the single-use `state` of a flow a signed-in dashboard started and the
//! PKCE verifier only this server holds. It touches the account through
//! `YouTubeAccount` only.

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::auth::{Caller, session_hash};
use super::hosts::Hosts;
use super::{AppState, Error};
use crate::oauth::{OAuthError, YouTubeAccount};

/// The dashboard's routes, to merge inside the token-protected router.
pub fn api() -> Router<AppState> {
    Router::new()
        .route("/api/oauth/youtube", get(status))
        .route("/api/oauth/youtube/chats", get(chats))
        .route("/api/oauth/youtube/start", post(start))
        .route("/api/oauth/youtube/disconnect", post(disconnect))
}

/// Google's redirect back, outside the token check (see the module's notes).
pub fn callback() -> Router<AppState> {
    Router::new().route("/oauth/youtube/callback", get(finish))
}

/// An OAuth refusal as every `/api` refusal reads: `{"error", "param"}`.
fn refusal(e: OAuthError) -> Response {
    let status = match &e {
        OAuthError::NotConfigured | OAuthError::NotConnected => StatusCode::CONFLICT,
        OAuthError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        OAuthError::Log(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    };
    #[derive(Serialize)]
    struct Body {
        error: String,
        param: Option<()>,
    }
    let body = Body {
        error: e.to_string(),
        param: None,
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `GET /api/oauth/youtube`: `{configured, connected, channel_title, channel_id}`.
async fn status(State(account): State<YouTubeAccount>) -> Response {
    match account.status().await {
        Ok(s) => ([(header::CACHE_CONTROL, "no-store")], Json(s)).into_response(),
        Err(e) => refusal(e),
    }
}

/// `GET /api/oauth/youtube/chats`: `{"chats":[{source, channel_id, role}]}`,
/// whether the connected channel owns each monitored live chat.
async fn chats(State(account): State<YouTubeAccount>) -> Response {
    #[derive(Serialize)]
    struct Body {
        chats: Vec<crate::oauth::ChatRole>,
    }
    match account.chat_roles().await {
        Ok(chats) => ([(header::CACHE_CONTROL, "no-store")], Json(Body { chats })).into_response(),
        Err(e) => refusal(e),
    }
}

/// `POST /api/oauth/youtube/start`: `{url}`, Google's consent page for a
/// fresh flow bound to this session; the browser goes there.
async fn start(
    State(account): State<YouTubeAccount>,
    State(hosts): State<Hosts>,
    req: Request,
) -> Response {
    if !hosts.same_site(req.headers()) {
        return Error::CrossSite.into_response();
    }
    // The name the streamer opened the dashboard by (`check_host` let only
    // this server's own names through).
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
    else {
        return Error::BadBody("the request has no Host header").into_response();
    };
    let scheme = if Caller::of(&hosts, &req).https {
        "https"
    } else {
        "http"
    };
    let redirect_uri = format!("{scheme}://{host}/oauth/youtube/callback");
    match account.start(redirect_uri, session_hash(req.headers())) {
        Ok(url) => {
            #[derive(Serialize)]
            struct Started {
                url: String,
            }
            ([(header::CACHE_CONTROL, "no-store")], Json(Started { url })).into_response()
        }
        Err(e) => refusal(e),
    }
}

/// `POST /api/oauth/youtube/disconnect`: `{revoked}` (whether Google
/// confirmed); the account is forgotten either way.
async fn disconnect(
    State(account): State<YouTubeAccount>,
    State(hosts): State<Hosts>,
    req: Request,
) -> Response {
    if !hosts.same_site(req.headers()) {
        return Error::CrossSite.into_response();
    }
    match account.disconnect().await {
        Ok(revoked) => {
            #[derive(Serialize)]
            struct Done {
                revoked: bool,
            }
            Json(Done { revoked }).into_response()
        }
        Err(e) => refusal(e),
    }
}

#[derive(Deserialize)]
struct Back {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "oauth_done.html")]
struct Done {
    channel: Option<String>,
    error: String,
}

/// `GET /oauth/youtube/callback?code&state`: finishes the flow `state`
/// names, then shows the channel (or why not) with a link back.
async fn finish(
    State(account): State<YouTubeAccount>,
    query: Result<Query<Back>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let page = |status: StatusCode, channel: Option<String>, error: String| {
        super::render::private_page(status, &Done { channel, error })
    };
    let Ok(Query(back)) = query else {
        return page(
            StatusCode::BAD_REQUEST,
            None,
            "the answer was incomplete".into(),
        );
    };
    if let Some(e) = back.error {
        let e = crate::sanitize::clean_line(&e, 64);
        let why = if e == "access_denied" {
            "the permission was not given on Google's page".to_owned()
        } else {
            format!("Google answered {e}")
        };
        // The flow is over: forget its state.
        if let Some(state) = &back.state {
            account.abandon(state);
        }
        return page(StatusCode::BAD_REQUEST, None, why);
    }
    let (Some(code), Some(state)) = (back.code, back.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            None,
            "the answer was incomplete".into(),
        );
    };
    match account.finish(&state, &code).await {
        Ok(s) => page(StatusCode::OK, s.channel_title, String::new()),
        Err(e) => {
            warn!(error = %e, "connecting a YouTube account failed");
            let status = match e {
                OAuthError::UnknownState | OAuthError::Expired => StatusCode::BAD_REQUEST,
                _ => StatusCode::BAD_GATEWAY,
            };
            page(status, None, e.to_string())
        }
    }
}
