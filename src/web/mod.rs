//! The web layer: the axum router, its middleware and shared state. It reads
//! from the comment log and the hub and never from a source.

mod api;
mod assets;
mod auth;
mod cockpit;
/// `/log`, the comment log review page, and its API and exports.
mod log;
mod overlay;
mod pages;
mod ws;

use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{any, get, post};
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use auth::Auth;
pub use cockpit::Cockpit;

use crate::featured::Featured;
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
    /// Dashboard and overlay settings (highlight, block, overlay key).
    pub cockpit: Cockpit,
    pub metrics: Metrics,
    pub limits: Limits,
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
/// plugins, images only from here and the platforms' avatar hosts.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' https://*.ggpht.com https://*.googleusercontent.com https://*.ytimg.com https://*.hdslb.com; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Every route, with no server attached, so tests can drive it directly.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/", get(pages::dashboard))
        .route("/ws", any(ws::live))
        .route("/metrics", get(pages::metrics))
        .merge(overlay::api())
        .merge(log::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            auth::require_token,
        ));
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    // Chained layers wrap outward: the trace layer sees every request first,
    // and the headers are added to every response, errors included.
    Router::new()
        .merge(protected)
        // The overlay checks its own read-only key (see `overlay`).
        .merge(overlay::public())
        .route("/healthz", get(pages::healthz))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/assets/{name}", get(assets::serve))
        .with_state(state)
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
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
