//! Server-rendered pages (askama templates in `templates/`) and `/healthz`.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use tracing::error;

use crate::store::CommentLog;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    version: &'static str,
}

/// `/`: the live dashboard. Comments arrive over `/ws`; the page is a shell.
pub async fn dashboard() -> Response {
    render(&Dashboard {
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `/healthz`: 200 while the log answers, 503 when it does not.
pub async fn healthz(State(log): State<CommentLog>) -> Response {
    match log.latest_seq().await {
        Ok(seq) => Json(json!({ "status": "ok", "latest_seq": seq })).into_response(),
        Err(e) => {
            error!(error = %e, "health check: the comment log does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "error", "detail": "the comment log does not answer" })),
            )
                .into_response()
        }
    }
}

fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            error!(error = %e, "a page template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}
