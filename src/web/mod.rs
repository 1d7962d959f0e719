//! The web layer: the axum router, its middleware and shared state. It reads
//! from the comment log and the hub and never from a source.

/// `/api/actions/youtube/…`: acting on a live chat message where it was posted.
mod actions;
mod api;
mod assets;
mod auth;
mod cockpit;
mod error;
/// `/api/hidden`: the hidden words and authors.
mod hidden;
mod hosts;
mod limiter;
/// `/log`, the comment log review page, and its API and exports.
mod log;
/// `/api/oauth/youtube/…` and the OAuth callback: connecting the streamer's
/// YouTube account.
mod oauth;
mod overlay;
mod pages;
mod render;
pub mod serve;
mod socket;
mod ws;

use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use api::Exports;
pub use auth::Auth;
pub use cockpit::Cockpit;
pub use error::Error;
pub use hosts::Hosts;

use crate::featured::Featured;
use crate::hidden::Hidden;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::CommentLog;

/// What handlers may touch; each takes only the parts it needs (`FromRef`).
#[derive(Clone, FromRef)]
pub struct AppState {
    pub log: CommentLog,
    pub hub: Hub,
    pub auth: Auth,
    /// Cancelled at shutdown: every WebSocket closes with 1001.
    pub shutdown: CancellationToken,
    /// The "on stream" queue the overlay shows.
    pub featured: Featured,
    /// The hidden words and authors, which every page applies.
    pub hidden: Hidden,
    /// Dashboard and overlay settings (highlight, quota, overlay key).
    pub cockpit: Cockpit,
    pub metrics: Metrics,
    pub limits: Limits,
    /// The `Host` names this server answers to, and trusted proxies.
    pub hosts: Hosts,
    /// The few exports allowed to run at once.
    pub exports: Exports,
    /// The streamer's connected YouTube account, if any.
    pub youtube_account: crate::oauth::YouTubeAccount,
    /// What an action's local mirror goes through (a deletion or a ban
    /// retracts as the platform's own would): the log, then the hub.
    pub pipeline: crate::poller::Pipeline,
}

/// Caps that keep one busy or hostile client from hurting the rest.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Concurrent WebSocket connections (`CW_MAX_CLIENTS`).
    pub max_clients: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_clients: 10_000,
        }
    }
}

/// Largest request body any route accepts (sign-in forms, featuring a
/// comment): nothing here needs more.
const MAX_REQUEST_BODY: usize = 64 * 1024;
/// Longest any request may take to produce its response head. Streaming
/// exports are not cut: the limit ends when their body starts.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The Content-Security-Policy of every page: no inline script or style, no
/// plugins, images only from here and the platforms' avatar and emote hosts.
/// [`csp`] adds the hosts the settings name.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' https://*.ggpht.com https://*.googleusercontent.com https://*.ytimg.com https://*.hdslb.com https://*.jtvnw.net; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// [`CSP`] with the image hosts the settings added (`TWITCH_EMOTE_BASE`'s),
/// each exactly, in `img-src`.
pub fn csp() -> HeaderValue {
    let extra: String = crate::domain::extra_image_hosts()
        .iter()
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
        .map(|h| format!(" https://{h}"))
        .collect();
    let policy = CSP.replacen("; connect-src", &format!("{extra}; connect-src"), 1);
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static(CSP))
}

/// Longest request target accepted (`414` beyond): no route needs more.
const MAX_URI: usize = 8 * 1024;
/// Largest request header section accepted (`431` beyond).
const MAX_HEADERS: usize = 32 * 1024;

/// Every route, with no server attached, so tests can drive it directly.
pub fn router(state: AppState) -> Router {
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    let protected = Router::new()
        .route("/", get(pages::dashboard))
        .route("/ws", any(ws::live))
        .route("/metrics", get(pages::metrics))
        .merge(overlay::api())
        .merge(hidden::api())
        .merge(log::routes())
        .merge(oauth::api())
        .merge(actions::api())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        // What needs the token is nobody else's to keep: not a shared
        // cache's, not the browser's back-forward cache's.
        .route_layer(header(header::CACHE_CONTROL, "no-store"))
        .route_layer(SetResponseHeaderLayer::appending(
            header::VARY,
            HeaderValue::from_static("Cookie, Authorization"),
        ));
    // Chained layers wrap outward: the trace layer sees every request first,
    // and the headers are added to every response, errors included.
    Router::new()
        .merge(protected)
        // The overlay checks its own read-only key (see `overlay`).
        .merge(overlay::public())
        // Google's redirect is cross-site: no session cookie comes with it,
        // so the callback checks its `state` and PKCE verifier instead.
        .merge(oauth::callback())
        .route("/healthz", get(pages::healthz))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", get(auth::logout_page).post(auth::logout))
        .route("/assets/{name}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .with_state(state.clone())
        // Before any handler or token check: only this server's own names
        // (DNS rebinding), and request heads of a sane size.
        .layer(axum::middleware::from_fn_with_state(
            state.hosts.clone(),
            hosts::check_host,
        ))
        .layer(axum::middleware::from_fn(check_size))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Outside the rest, so every response carries them: errors, the
        // `421` above and timeouts included.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp(),
        ))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
}

/// Refuses request targets and header sections too large for any route,
/// inside the router so that the refusal carries the security headers.
async fn check_size(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI {
        return (StatusCode::URI_TOO_LONG, "request target too long\n").into_response();
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if headers > MAX_HEADERS {
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request headers too large\n",
        )
            .into_response();
    }
    next.run(req).await
}

/// The request span: method and route pattern only. The raw URI is left out
/// on purpose — query strings can carry search terms and keys that have no
/// business in a log.
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str())
        .unwrap_or("(no route)");
    tracing::info_span!("http", http.method = %req.method(), http.route = route)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_policy_allows_every_image_host_the_sanitizer_keeps() {
        for host in crate::domain::image_hosts() {
            assert!(
                super::CSP.contains(&format!(" https://*.{host}")),
                "the CSP's img-src does not name {host}"
            );
        }
    }

    #[test]
    fn a_host_the_settings_add_is_named_exactly_in_img_src() {
        crate::domain::allow_image_host("emotes.csp.test");
        let policy = super::csp();
        let policy = policy.to_str().unwrap();
        let img_src = policy
            .split("; ")
            .find(|d| d.starts_with("img-src"))
            .unwrap();
        assert!(img_src.ends_with(" https://emotes.csp.test"), "{img_src}");
        assert!(policy.contains("; connect-src 'self';"), "{policy}");
    }
}
