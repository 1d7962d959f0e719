//! `generic:NAME` against a wiremock server on loopback: the settings come
//! from a map standing in for the env vars, and polls run through the real
//! sanitizer, log and hub.

use std::collections::HashMap;
use std::time::Duration;

use commentwatch::source::SourceError;
use commentwatch::source::generic::{Generic, GenericSettings};
use commentwatch::source::http::Http;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers;

/// A `generic:shop` source whose `CW_GENERIC_SHOP_URL` is `server` + `url_path`
/// and whose other variables are `vars` (suffixes after the prefix).
fn shop(server: &MockServer, url_path: &str, vars: &[(&str, &str)]) -> Generic {
    let settings = settings(server, url_path, vars).expect("valid settings");
    Generic::new("shop", settings, Http::new(Duration::from_secs(5), 8 << 20))
}

fn settings(
    server: &MockServer,
    url_path: &str,
    vars: &[(&str, &str)],
) -> Result<GenericSettings, commentwatch::config::ConfigError> {
    let mut map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (format!("CW_GENERIC_SHOP_{k}"), v.to_string()))
        .collect();
    map.insert(
        "CW_GENERIC_SHOP_URL".into(),
        format!("{}{url_path}", server.uri()),
    );
    GenericSettings::from_lookup("shop", &|k| map.get(k).cloned())
}

fn json_response(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// The nested shape of the first test: `{"result":{"list":[…]}}`.
fn nested_item(id: u64, name: &str, text: &str, ms: i64) -> Value {
    json!({
        "cid": id,
        "who": {"profile": {"name": name}, "uid": 1000 + (id % 1000)},
        "content": {"plain": text},
        "created_ms": ms,
        "stats": {"up": "3"}
    })
}

const NESTED: &[(&str, &str)] = &[
    ("ITEMS", "/result/list"),
    ("ID", "/cid"),
    ("AUTHOR", "/who/profile/name"),
    ("AUTHOR_ID", "/who/uid"),
    ("TEXT", "/content/plain"),
    ("TIME", "/created_ms"),
    ("LIKES", "/stats/up"),
    ("CURSOR", "page:pg"),
];

/// Ids in the log, oldest `seq` first.
async fn stored_ids(pipeline: &commentwatch::poller::Pipeline) -> Vec<String> {
    let mut rows = pipeline.log.recent(100).await.expect("read the log");
    rows.sort_by_key(|(seq, _)| *seq);
    rows.into_iter().map(|(_, c)| c.id).collect()
}

#[tokio::test]
async fn page_numbered_polls_read_older_pages_until_a_known_comment_and_store_each_comment_once() {
    let server = MockServer::start().await;
    let base: i64 = 1_709_294_400_000;
    // Page 1 is the newest; ids are too big for an f64 to keep exact.
    let page1 = vec![
        nested_item(12345678901234569, "Cy", "third", base + 3_000),
        nested_item(12345678901234568, "Bo", "second", base + 2_000),
    ];
    let page2 = vec![nested_item(12345678901234567, "Al", "first", base + 1_000)];
    Mock::given(method("GET"))
        .and(path("/v1/comments"))
        .and(query_param("pg", "1"))
        .and(query_param("video", "9"))
        .respond_with(json_response(json!({"result": {"list": page1}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/comments"))
        .and(query_param("pg", "2"))
        .respond_with(json_response(json!({"result": {"list": page2}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/comments"))
        .and(query_param("pg", "3"))
        .respond_with(json_response(json!({"result": {"list": []}})))
        .mount(&server)
        .await;
    let source = shop(&server, "/v1/comments?video=9", NESTED);
    let pipeline = helpers::pipeline();

    let report = helpers::poll(&source, &pipeline).await.expect("first poll");
    assert_eq!(report.pages, 3, "pages 1, 2 and the empty page 3");
    assert_eq!(report.new, 3);
    assert_eq!(
        stored_ids(&pipeline).await,
        [
            "12345678901234567",
            "12345678901234568",
            "12345678901234569"
        ],
        "every comment once, numbered in posting order, ids exact"
    );
    let rows = pipeline.log.recent(10).await.unwrap();
    let first = rows
        .iter()
        .map(|(_, c)| c)
        .find(|c| c.id == "12345678901234567")
        .unwrap();
    assert_eq!(first.author.name, "Al");
    assert_eq!(first.author.id, "1567");
    assert_eq!(first.text, "first");
    assert_eq!(first.likes, 3);
    assert_eq!(first.published_at.timestamp_millis(), base + 1_000);
    assert_eq!(first.source, "generic:shop");

    // Nothing new: page 1 holds known comments, so the poll stops there.
    let mut frames = pipeline.hub.subscribe();
    let report = helpers::poll(&source, &pipeline)
        .await
        .expect("second poll");
    assert_eq!(report.pages, 1, "the known-comment rule stops at page 1");
    assert_eq!(report.new, 0);
    assert!(
        frames.try_recv().is_err(),
        "the second poll published nothing"
    );
    assert_eq!(pipeline.log.count().await.unwrap(), 3);

    let pages: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "pg")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(pages, ["1", "2", "3", "1"]);
}

#[tokio::test]
async fn a_token_cursor_sends_the_token_from_one_page_as_the_query_parameter_of_the_next() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .and(query_param_is_missing("cursor"))
        .respond_with(json_response(json!({
            "items": [{"id": "b", "text": "newer"}],
            "meta": {"next": "tok/2+=="}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .and(query_param("cursor", "tok/2+=="))
        .and(query_param("sort", "new"))
        .respond_with(json_response(json!({
            "items": [{"id": "a", "text": "older"}],
            "meta": {"next": null}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let source = shop(
        &server,
        "/feed?sort=new",
        &[
            ("ITEMS", "/items"),
            ("ID", "/id"),
            ("TEXT", "/text"),
            ("CURSOR", "token:/meta/next:cursor"),
        ],
    );
    let pipeline = helpers::pipeline();
    let report = helpers::poll(&source, &pipeline).await.expect("poll");
    assert_eq!(report.pages, 2);
    assert_eq!(stored_ids(&pipeline).await, ["a", "b"]);
}

#[tokio::test]
async fn headers_from_the_headers_variable_are_sent_with_every_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/c"))
        .and(header("authorization", "Bearer abc"))
        .and(header("x-client", "cw"))
        .respond_with(json_response(json!([{"id": 1, "text": "hello"}])))
        .expect(1)
        .mount(&server)
        .await;
    let source = shop(
        &server,
        "/c",
        &[
            ("ITEMS", ""),
            ("ID", "/id"),
            ("TEXT", "/text"),
            ("HEADERS", "Authorization: Bearer abc; X-Client: cw"),
        ],
    );
    let pipeline = helpers::pipeline();
    helpers::poll(&source, &pipeline).await.expect("poll");
    assert_eq!(stored_ids(&pipeline).await, ["1"]);
}

#[tokio::test]
async fn refused_credentials_stop_the_source_without_revealing_the_token() {
    for (status, body) in [
        (401, ResponseTemplate::new(401)),
        (
            403,
            ResponseTemplate::new(403).set_body_json(json!({"error": "forbidden"})),
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(body)
            .mount(&server)
            .await;
        let source = shop(
            &server,
            "/c?key=SECRETKEY",
            &[
                ("ITEMS", ""),
                ("ID", "/id"),
                ("TEXT", "/text"),
                ("HEADERS", "Authorization: Bearer SECRETTOKEN"),
            ],
        );
        match source.fetch_page(None).await.unwrap_err() {
            SourceError::Stopped { reason } => {
                assert!(reason.contains("refused the credentials"), "{reason}");
                assert!(reason.contains(&format!("HTTP {status}")), "{reason}");
                assert!(reason.contains("CW_GENERIC_SHOP_HEADERS"), "{reason}");
                assert!(
                    !reason.contains("SECRET"),
                    "no token or key in errors: {reason}"
                );
            }
            other => panic!("HTTP {status}: expected Stopped, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn another_error_status_is_transient_and_names_the_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "no such video"})))
        .mount(&server)
        .await;
    let source = shop(
        &server,
        "/c",
        &[("ITEMS", "/items"), ("ID", "/id"), ("TEXT", "/text")],
    );
    match source.fetch_page(None).await.unwrap_err() {
        SourceError::Transient { reason, .. } => assert!(reason.contains("HTTP 404"), "{reason}"),
        other => panic!("expected Transient, got {other:?}"),
    }
}

#[tokio::test]
async fn an_items_pointer_that_matches_nothing_is_an_error_naming_the_variable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(
            json!({"status": "busy, try later", "data": {}}),
        ))
        .mount(&server)
        .await;
    let source = shop(
        &server,
        "/c",
        &[("ITEMS", "/data/list"), ("ID", "/id"), ("TEXT", "/text")],
    );
    let pipeline = helpers::pipeline();
    let err = helpers::poll(&source, &pipeline).await.unwrap_err();
    match err {
        commentwatch::poller::PollError::Source(SourceError::Settings { reason }) => {
            assert_eq!(
                reason,
                "CW_GENERIC_SHOP_ITEMS \"/data/list\" matches nothing in the response"
            );
        }
        other => panic!("expected an error naming the setting, got {other:?}"),
    }
    assert_eq!(pipeline.log.count().await.unwrap(), 0);
}

#[tokio::test]
async fn an_item_missing_its_id_is_skipped_while_its_neighbours_are_stored() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(json!({"items": [
            {"id": 3, "text": "after"},
            {"text": "I have no id"},
            {"id": 1, "text": "before"}
        ]})))
        .mount(&server)
        .await;
    let source = shop(
        &server,
        "/c",
        &[("ITEMS", "/items"), ("ID", "/id"), ("TEXT", "/text")],
    );
    let page = source.fetch_page(None).await.expect("a page");
    assert_eq!(page.skipped, 1);
    let pipeline = helpers::pipeline();
    let report = helpers::poll(&source, &pipeline).await.expect("poll");
    assert_eq!(report.new, 2);
    assert_eq!(stored_ids(&pipeline).await, ["1", "3"]);
}

#[tokio::test]
async fn hostile_html_text_is_stored_inert() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(json!({"items": [{
            "id": "x1",
            "html": "<b>nice</b> stream<img src=x onerror=\"alert(document.cookie)\"><script>alert(1)</script>"
        }]})))
        .mount(&server)
        .await;
    let source = shop(
        &server,
        "/c",
        &[
            ("ITEMS", "/items"),
            ("ID", "/id"),
            ("TEXT", "/html"),
            ("TEXT_FORMAT", "html"),
        ],
    );
    let pipeline = helpers::pipeline();
    helpers::poll(&source, &pipeline).await.expect("poll");
    let rows = pipeline.log.recent(10).await.unwrap();
    let (_, comment) = rows.first().expect("one stored comment");
    let html = comment.html.as_str();
    assert!(html.contains("<b>nice</b>"), "{html}");
    for bad in ["<img", "onerror", "<script", "alert"] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    assert_eq!(comment.text, "nice stream");
}

#[tokio::test]
async fn the_start_check_passes_a_good_configuration_and_names_a_pointer_that_finds_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(json!({"items": [
            {"id": 1, "text": "hi", "user": {"name": "Ann"}}
        ]})))
        .mount(&server)
        .await;
    let good = shop(
        &server,
        "/c",
        &[
            ("ITEMS", "/items"),
            ("ID", "/id"),
            ("TEXT", "/text"),
            ("AUTHOR", "/user/name"),
        ],
    );
    good.check().await.expect("a good configuration passes");
    let bad = shop(
        &server,
        "/c",
        &[
            ("ITEMS", "/items"),
            ("ID", "/id"),
            ("TEXT", "/text"),
            ("AUTHOR", "/author/name"),
        ],
    );
    let e = bad.check().await.unwrap_err().to_string();
    assert!(
        e.starts_with("CW_GENERIC_SHOP_AUTHOR \"/author/name\""),
        "{e}"
    );
}

#[tokio::test]
async fn a_pointer_that_matches_nothing_is_named_in_the_sources_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(json!({"data": {"items": []}})))
        .mount(&server)
        .await;
    let url = format!("{}/c", server.uri());
    let app = helpers::spawn_app(&[
        ("CW_SOURCES", "generic:shop"),
        ("CW_GENERIC_SHOP_URL", &url),
        ("CW_GENERIC_SHOP_ITEMS", "/data/list"),
        ("CW_GENERIC_SHOP_ID", "/id"),
        ("CW_GENERIC_SHOP_TEXT", "/text"),
    ])
    .await;
    let mut client = app.connect(None).await;
    let frames = client
        .until(|f| {
            f["type"] == "status"
                && f["sources"][0]["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("CW_GENERIC_SHOP_ITEMS"))
        })
        .await;
    let status = &frames.last().unwrap()["sources"][0];
    assert_eq!(status["state"], "backoff");
    let detail = status["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("CW_GENERIC_SHOP_ITEMS \"/data/list\" matches nothing in the response"),
        "{detail}"
    );
    assert!(!detail.contains(&url), "never the URL: {detail}");
}

#[tokio::test]
async fn a_page_whose_items_all_lack_the_id_or_text_names_both_variables() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(json!({"items": [
            {"cid": 1, "body": "a"}, {"cid": 2, "body": "b"}
        ]})))
        .mount(&server)
        .await;
    let source = shop(
        &server,
        "/c",
        &[("ITEMS", "/items"), ("ID", "/id"), ("TEXT", "/text")],
    );
    let pipeline = helpers::pipeline();
    match helpers::poll(&source, &pipeline).await.unwrap_err() {
        commentwatch::poller::PollError::Source(SourceError::Settings { reason }) => {
            assert!(reason.contains("CW_GENERIC_SHOP_ID \"/id\""), "{reason}");
            assert!(
                reason.contains("CW_GENERIC_SHOP_TEXT \"/text\""),
                "{reason}"
            );
            assert!(!reason.contains("body"), "never the data: {reason}");
        }
        other => panic!("expected an error naming the settings, got {other:?}"),
    }
}
