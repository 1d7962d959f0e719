//! The one way a page is rendered: an askama template into HTML with a
//! status, or a plain 500 (logged) if the template fails. It renders and
//! touches nothing else.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use tracing::error;

/// `page` as HTML with `status`.
pub fn page(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            error!(error = %e, "a page template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// Like [`page`], kept out of every cache (a sign-in form, a URL with a key).
pub fn private_page(status: StatusCode, page: &impl Template) -> Response {
    let mut resp = self::page(status, page);
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}
