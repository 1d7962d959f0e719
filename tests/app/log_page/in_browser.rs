//! The `/log` page in headless Chromium: what a person sees and downloads
//! there (the exports, times in their own time zone, replies, language).
//! HTTP-only behaviour of the page stays in `log_page.rs`.

use crate::chrome::Browser;
use crate::export::ingest;
use crate::helpers::{PATIENCE, spawn_app};
use crate::log_page::{YT, comment};

/// Fetches what the page's first export link (CSV) serves, from the page.
const FETCH_CSV: &str = "
    if (window.__csv === undefined) {
      window.__csv = null;
      fetch(document.querySelector('.log-exports a').href)
        .then(r => r.text()).then(t => { window.__csv = t; });
    }
    return window.__csv;";

// See: issue 15, "a CSV export of a Super Chat has its amount".
#[tokio::test]
async fn a_csv_export_of_a_super_chat_from_the_log_page_carries_its_amount() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    ingest(
        &app,
        vec![
            comment(YT, "free1", "viewer", "no money here", 1),
            crate::cli::super_chat(YT, "sc1", "patron", 2),
        ],
    )
    .await;
    browser
        .goto(&app.url(&format!("/log?source={YT}&paid=1")))
        .await;
    let shown: String = browser
        .eval("return document.querySelector('.log-amount').textContent")
        .await;
    assert_eq!(shown, "$4.99");
    let csv: Option<String> = browser
        .poll("the CSV export", PATIENCE, FETCH_CSV, Option::is_some)
        .await;
    let csv = csv.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers[11..], ["amount", "currency"], "{headers:?}");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "only the Super Chat: {csv}");
    assert_eq!(
        (&rows[0][2], &rows[0][11], &rows[0][12]),
        ("sc1", "4.99", "USD")
    );
    assert!(browser.console_errors().await.is_empty());
    browser.close().await;
}
