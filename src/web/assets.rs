//! The CSS and JavaScript the pages load, compiled into the binary so the one
//! file runs from any directory. Served from `/assets/{name}` because the CSP
//! forbids inline script and style.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `(name, content type, body)` of every asset.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "render.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/render.js"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/style.css"),
    ),
    (
        "overlay.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/overlay.js"),
    ),
    (
        "overlay.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/overlay.css"),
    ),
    (
        "log.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/log.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../assets/favicon.svg"),
    ),
];

pub async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                // Revalidate each load: a new binary must never run old JS.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}
