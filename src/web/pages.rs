//! Server-rendered pages (askama templates in `templates/`) and `/healthz`.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::error;

use super::Cockpit;
use super::auth::{self, Caller, Verdict};
use crate::featured::Featured;
use crate::hidden::Hidden;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::CommentLog;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    version: &'static str,
    /// Starting settings (`CW_HIGHLIGHT`, the hidden list, …) as JSON, read by
    /// `dashboard.js` from a `data-` attribute: no inline script.
    config: String,
    /// Shows *Sign out* (a token is set, so this browser signed in).
    signed_in: bool,
}

/// `/`: the live dashboard. Comments arrive over `/ws`; the page is a shell.
pub async fn dashboard(
    State(cockpit): State<Cockpit>,
    State(featured): State<Featured>,
    State(hidden): State<Hidden>,
    State(auth): State<super::Auth>,
) -> Response {
    super::render::page(
        StatusCode::OK,
        &Dashboard {
            version: env!("CARGO_PKG_VERSION"),
            config: cockpit.dashboard_json(featured.max(), &hidden.entries()),
            signed_in: auth.enabled(),
        },
    )
}

/// `/metrics`: Prometheus text (OpenMetrics), protected like the API.
pub async fn metrics(
    State(metrics): State<Metrics>,
    State(hub): State<Hub>,
    State(log): State<CommentLog>,
) -> Response {
    let quota: Vec<(String, i64)> = hub
        .statuses()
        .into_iter()
        .filter_map(|s| Some((s.source, s.quota_used?)))
        .collect();
    let body = metrics.render(hub.clients(), &quota, log.file_bytes());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `/healthz`: 200 while the log answers (503 when it does not), with each
/// source's state. A source in trouble is not a failed health check — the
/// process is doing what it should — but a stopped source, or one backing
/// off (or waiting for quota or a login) for more than three minutes, makes
/// the status `degraded` with a `reason` naming it: someone must look. With
/// `CW_TOKEN` set, a caller without it learns the status alone, not what is
/// monitored, nor why.
pub async fn healthz(
    State(state): State<super::AppState>,
    req: axum::extract::Request,
) -> Response {
    let caller = Caller::of(&state.hosts, &req);
    let full = match state.auth.check(req.headers(), caller, None).await {
        Verdict::Admitted(_) => true,
        Verdict::Locked(secs) => return auth::too_many(secs),
        Verdict::Anonymous | Verdict::Refused => false,
    };
    let (log, hub) = (&state.log, &state.hub);
    let answer = log.latest_seq().await;
    if let Err(e) = &answer {
        error!(error = %e, "health check: the comment log does not answer");
    }
    let statuses = hub.statuses();
    let now = chrono::Utc::now();
    let troubles: Vec<String> = statuses.iter().filter_map(|s| s.trouble(now)).collect();
    let status = if troubles.is_empty() {
        "ok"
    } else {
        "degraded"
    };
    if !full {
        return match answer {
            Ok(_) => Json(json!({ "status": status })).into_response(),
            Err(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "error" })),
            )
                .into_response(),
        };
    }
    let sources: Vec<_> = statuses
        .into_iter()
        .map(|s| json!({ "source": s.source, "state": s.state, "last_ok": s.last_ok.map(|t| crate::domain::rfc3339::format(&t)) }))
        .collect();
    // `database` names the backend; a PostgreSQL server that does not
    // answer fails the check, so a load balancer stops sending clients here.
    // The error itself goes to the server's log only.
    let database = log.backend();
    let mut resp = match answer {
        Ok(seq) => {
            let mut body = json!({
                "status": status, "log": "ok", "database": database,
                "latest_seq": seq, "sources": sources,
            });
            if !troubles.is_empty() {
                body["reason"] = troubles.join("; ").into();
            }
            Json(body).into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "error", "log": "the comment log does not answer",
                "database": database,
                "sources": sources,
            })),
        )
            .into_response(),
    };
    if state.auth.enabled() {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    resp
}
