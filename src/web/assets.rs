//! The CSS and JavaScript the pages load, compiled into the binary so the one
//! file runs from any directory. Served from `/assets/{name}` because the CSP
//! forbids inline script and style; a name not listed here is a 404.
//!
//! The pages' scripts are ES modules (`<script type="module">`): the dashboard
//! loads `dashboard.js`, the overlay `overlay.js`, and each imports its parts
//! by relative URL (`./feed.js` is `/assets/feed.js`), so every module must be
//! listed here. Browsers run a module only if it is served with a JavaScript
//! MIME type (and `nosniff`, set for every response in `web::router`, makes
//! them strict about it): hence `text/javascript` on each. Modules are
//! fetched in CORS mode, but these are same-origin, so they need no
//! `crossorigin` attribute and no CORS headers, and `script-src 'self'`
//! admits them and everything they import. `log.js` and `log-i18n.js` stay
//! classic scripts.
//!
//! Must not touch: the files' contents (they are served as written) or any
//! route but its own.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// `(name, content type, body)` of every asset.
const ASSETS: &[(&str, &str, &str)] = &[
    // Shared by the dashboard and the overlay.
    ("render.js", JS, include_str!("../../assets/render.js")),
    ("speaker.js", JS, include_str!("../../assets/speaker.js")),
    ("i18n.js", JS, include_str!("../../assets/i18n.js")),
    (
        "connection.js",
        JS,
        include_str!("../../assets/connection.js"),
    ),
    // The dashboard: `dashboard.js` and the modules it imports.
    (
        "dashboard.js",
        JS,
        include_str!("../../assets/dashboard.js"),
    ),
    ("settings.js", JS, include_str!("../../assets/settings.js")),
    ("model.js", JS, include_str!("../../assets/model.js")),
    ("feed.js", JS, include_str!("../../assets/feed.js")),
    ("scroll.js", JS, include_str!("../../assets/scroll.js")),
    ("reading.js", JS, include_str!("../../assets/reading.js")),
    ("featured.js", JS, include_str!("../../assets/featured.js")),
    ("hiding.js", JS, include_str!("../../assets/hiding.js")),
    ("filters.js", JS, include_str!("../../assets/filters.js")),
    ("theme.js", JS, include_str!("../../assets/theme.js")),
    ("status.js", JS, include_str!("../../assets/status.js")),
    ("alerts.js", JS, include_str!("../../assets/alerts.js")),
    (
        "overlay-url.js",
        JS,
        include_str!("../../assets/overlay-url.js"),
    ),
    ("toast.js", JS, include_str!("../../assets/toast.js")),
    ("account.js", JS, include_str!("../../assets/account.js")),
    ("moderate.js", JS, include_str!("../../assets/moderate.js")),
    ("keys.js", JS, include_str!("../../assets/keys.js")),
    ("frames.js", JS, include_str!("../../assets/frames.js")),
    ("style.css", CSS, include_str!("../../assets/style.css")),
    // The overlay.
    ("overlay.js", JS, include_str!("../../assets/overlay.js")),
    ("overlay.css", CSS, include_str!("../../assets/overlay.css")),
    // The log page.
    ("log.js", JS, include_str!("../../assets/log.js")),
    // Its words, and the sign-in pages': English and Chinese.
    ("log-i18n.js", JS, include_str!("../../assets/log-i18n.js")),
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

/// `GET /favicon.ico`: the SVG icon. Every page names it with
/// `<link rel="icon">`, but browsers, OBS and tools still ask for the
/// old path; an answer keeps a 404 out of every log and console.
pub async fn favicon() -> Response {
    serve(Path("favicon.svg".to_owned())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `./name.js` each `import … from "./name.js"` line of `body` names.
    fn imports(body: &str) -> Vec<&str> {
        body.lines()
            .filter(|l| l.starts_with("import "))
            .filter_map(|l| l.split("\"./").nth(1)?.split('"').next())
            .collect()
    }

    #[test]
    fn every_module_a_script_imports_is_served_as_javascript() {
        let mut imported = 0;
        for (name, _, body) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            for dep in imports(body) {
                imported += 1;
                let served = ASSETS.iter().find(|(n, _, _)| *n == dep);
                assert!(
                    served.is_some_and(|(_, kind, _)| kind.starts_with("text/javascript")),
                    "{name} imports ./{dep}, which is not served as JavaScript"
                );
            }
        }
        assert!(imported > 20, "the dashboard's modules import each other");
    }

    #[test]
    fn every_script_opens_with_what_it_is_and_stays_small() {
        for (name, _, body) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            assert!(body.starts_with("// commentwatch"), "{name} has no header");
            assert!(body.lines().count() <= 500, "{name} is over 500 lines");
        }
    }

    #[tokio::test]
    async fn a_module_is_javascript_and_an_unknown_name_is_not_found() {
        let found = serve(Path("feed.js".to_owned())).await;
        assert_eq!(found.status(), StatusCode::OK);
        assert_eq!(found.headers()[header::CONTENT_TYPE], JS);
        assert_eq!(found.headers()[header::CACHE_CONTROL], "no-cache");
        for name in ["nope.js", "feed", "../Cargo.toml", "FEED.JS"] {
            let missing = serve(Path(name.to_owned())).await;
            assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{name}");
        }
    }
}
