//! The Bilibili adapter against a mock that speaks the real format: WBI
//! signing as the server would check it, a full poll through sanitizer, log
//! and hub, and each error the body `code` can carry.

use std::time::Duration;

use commentwatch::poller::PollError;
use commentwatch::source::SourceError;
use commentwatch::source::bilibili::{Bilibili, BilibiliSettings};
use commentwatch::source::http::Http;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers;

/// The fixtures' `oid` 113998765432109 as a BV id.
const BVID: &str = "BV1FyKFeyECg";
pub(crate) const AID: &str = "113998765432109";
/// The WBI test vector's keys (docs/SOURCES.md, "WBI signing"), so the
/// expected mixin key is the documented one rather than one this test
/// computes itself.
const IMG_KEY: &str = "7cd084941338484aae1ad9425b84077c";
const SUB_KEY: &str = "4932caff0ff746eab6f01bf08b70ac45";
const MIXIN: &str = "ea1db124af3c7062474693fa704f4ff8";
pub(crate) const REPLIES: &str = "/x/v2/reply/wbi/main";
const NAV: &str = "/x/web-interface/nav";
const VIEW: &str = "/x/web-interface/view";
/// Every unique comment in the mode-2 fixture: five roots, one preview child
/// and the pinned comment (listed twice in the fixture).
const UNIQUE_IN_FIXTURE: i64 = 7;

/// What `/x/web-interface/nav` says to a visitor who is not logged in.
fn nav_body() -> Value {
    json!({
        "code": -101,
        "message": "账号未登录",
        "ttl": 1,
        "data": {
            "isLogin": false,
            "wbi_img": {
                "img_url": format!("https://i0.hdslb.com/bfs/wbi/{IMG_KEY}.png"),
                "sub_url": format!("https://i0.hdslb.com/bfs/wbi/{SUB_KEY}.png"),
            }
        }
    })
}

pub(crate) fn json_response(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// The video's title, as its view info gives it.
const TITLE: &str = "【直播回放】今晚一起玩";

/// A mock Bilibili that hands out the test vector's WBI keys and the video's
/// view info.
pub(crate) async fn mock_bilibili() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(NAV))
        .respond_with(json_response(200, &nav_body().to_string()))
        .mount(&server)
        .await;
    serve_title(&server, TITLE).await;
    server
}

/// Serves `/x/web-interface/view?bvid=` with `title`.
async fn serve_title(server: &MockServer, title: &str) {
    let body = json!({"code": 0, "message": "0", "ttl": 1,
        "data": {"bvid": BVID, "aid": AID.parse::<u64>().unwrap(), "title": title}});
    Mock::given(method("GET"))
        .and(path(VIEW))
        .and(query_param("bvid", BVID))
        .respond_with(json_response(200, &body.to_string()))
        .mount(server)
        .await;
}

/// `pagination_str` as the browser sends it for a given offset.
pub(crate) fn pagination(offset: &str) -> String {
    json!({ "offset": offset }).to_string()
}

/// The `next_offset` the mode-2 fixture hands out.
fn fixture_next_offset() -> String {
    let page: Value = serde_json::from_str(&helpers::fixture("bilibili_reply_main_mode2.json"))
        .expect("fixture parses");
    page["data"]["cursor"]["pagination_reply"]["next_offset"]
        .as_str()
        .expect("the fixture has a next_offset")
        .to_owned()
}

/// Serves `body` for the reply list's page that `offset` names.
pub(crate) async fn serve_page(server: &MockServer, offset: &str, status: u16, body: &str) {
    Mock::given(method("GET"))
        .and(path(REPLIES))
        .and(query_param("pagination_str", pagination(offset)))
        .respond_with(json_response(status, body))
        .mount(server)
        .await;
}

/// A genuine last page: no replies, `is_end` set.
fn end_page() -> String {
    json!({
        "code": 0, "message": "0", "ttl": 1,
        "data": {"cursor": {"is_end": true, "next": 0, "pagination_reply": {}}, "replies": []}
    })
    .to_string()
}

pub(crate) fn source(server: &MockServer, cookie: Option<&str>) -> Bilibili {
    let settings = BilibiliSettings {
        api_base: server.uri(),
        cookie: cookie.map(str::to_owned),
        min_interval: Duration::from_secs(10),
    };
    let http = Http::new(Duration::from_secs(5), 8 << 20);
    Bilibili::new(BVID, settings, http).expect("a valid BV id")
}

pub(crate) async fn requests_to(server: &MockServer, to: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("the mock records requests")
        .into_iter()
        .filter(|r| r.url.path() == to)
        .collect()
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_reply_request_carries_a_wbi_signature_that_verifies_for_the_served_keys() {
    let server = mock_bilibili().await;
    serve_page(
        &server,
        "",
        200,
        &helpers::fixture("bilibili_reply_main_mode2.json"),
    )
    .await;
    let before = chrono::Utc::now().timestamp();

    source(&server, None)
        .fetch_page(None)
        .await
        .expect("page 1");

    let requests = requests_to(&server, REPLIES).await;
    assert_eq!(requests.len(), 1);
    let query = requests[0].url.query().expect("a query string");
    // The server recomputes w_rid over everything before it, as sent.
    let (signed, w_rid) = query.split_once("&w_rid=").expect("w_rid comes last");
    let expected = format!("{:x}", Md5::digest(format!("{signed}{MIXIN}").as_bytes()));
    assert_eq!(w_rid, expected, "w_rid = md5(query + mixin key)");

    let names: Vec<&str> = signed
        .split('&')
        .map(|pair| pair.split_once('=').expect("name=value").0)
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "signed parameters are sorted by name");

    let params: std::collections::HashMap<String, String> =
        requests[0].url.query_pairs().into_owned().collect();
    let wts: i64 = params["wts"].parse().expect("wts is unix seconds");
    assert!(
        (before - 5..=before + 60).contains(&wts),
        "wts is now: {wts}"
    );
    assert_eq!(params["oid"], AID, "the BV id was converted locally");
    assert_eq!(params["type"], "1");
    assert_eq!(params["mode"], "2", "newest first");
    assert_eq!(params["pagination_str"], r#"{"offset":""}"#);
    assert_eq!(params["plat"], "1");
    assert_eq!(params["web_location"], "1315875");
}

#[tokio::test]
async fn a_poll_stores_every_unique_reply_once_and_an_identical_poll_publishes_nothing() {
    let server = mock_bilibili().await;
    serve_page(
        &server,
        "",
        200,
        &helpers::fixture("bilibili_reply_main_mode2.json"),
    )
    .await;
    serve_page(&server, &fixture_next_offset(), 200, &end_page()).await;
    let source = source(&server, None);
    let pipeline = helpers::pipeline();

    let first = helpers::poll(&source, &pipeline).await.expect("first poll");
    assert_eq!(first.pages, 2, "page 1, then the end page its cursor names");
    assert_eq!(first.new as i64, UNIQUE_IN_FIXTURE);
    assert_eq!(pipeline.log.count().await.unwrap(), UNIQUE_IN_FIXTURE);

    let second = helpers::poll(&source, &pipeline)
        .await
        .expect("second poll");
    assert_eq!(second.new, 0);
    assert_eq!(
        second.pages, 1,
        "page 1 holds known comments, so paging stops"
    );
    assert_eq!(pipeline.log.count().await.unwrap(), UNIQUE_IN_FIXTURE);
    assert_eq!(
        requests_to(&server, NAV).await.len(),
        1,
        "the WBI keys are fetched once and cached"
    );

    // Emote tokens keep their text and carry their image on Bilibili's host.
    let stored = pipeline.log.recent(100).await.unwrap();
    let (_, with_doge) = stored
        .iter()
        .find(|(_, c)| c.text.contains("[doge]"))
        .expect("a comment with [doge]");
    let url = with_doge.emotes.get("[doge]").expect("the emote's image");
    assert!(
        url.starts_with("https://") && url.contains(".hdslb.com/"),
        "{url}"
    );
}

#[tokio::test]
async fn an_empty_page_two_without_a_login_fails_the_poll_but_keeps_page_one() {
    let server = mock_bilibili().await;
    serve_page(
        &server,
        "",
        200,
        &helpers::fixture("bilibili_reply_main_mode2.json"),
    )
    .await;
    serve_page(
        &server,
        &fixture_next_offset(),
        200,
        &helpers::fixture("bilibili_reply_main_unauth_page2_empty.json"),
    )
    .await;
    let pipeline = helpers::pipeline();

    let result = helpers::poll(&source(&server, None), &pipeline).await;

    match result {
        Err(PollError::Source(SourceError::Login { reason })) => {
            assert!(reason.contains("BILIBILI_COOKIE"), "{reason}");
        }
        other => panic!("expected a login error, got {other:?}"),
    }
    assert_eq!(pipeline.log.count().await.unwrap(), UNIQUE_IN_FIXTURE);
}

#[tokio::test]
async fn risk_control_backs_off_for_at_least_a_minute() {
    let server = mock_bilibili().await;
    serve_page(
        &server,
        "",
        412,
        &helpers::fixture("bilibili_error_412.json"),
    )
    .await;

    let err = source(&server, None).fetch_page(None).await.unwrap_err();

    match err {
        SourceError::Transient {
            reason,
            retry_after: Some(wait),
        } => {
            assert!(wait >= Duration::from_secs(60), "{wait:?}");
            assert!(reason.contains("-412"), "{reason}");
        }
        other => panic!("expected a transient error with a wait, got {other:?}"),
    }
}

#[tokio::test]
async fn an_html_block_page_backs_off_like_risk_control() {
    let server = mock_bilibili().await;
    Mock::given(method("GET"))
        .and(path(REPLIES))
        .respond_with(
            ResponseTemplate::new(412)
                .set_body_raw(b"<html><body>blocked</body></html>".to_vec(), "text/html"),
        )
        .mount(&server)
        .await;

    let err = source(&server, None).fetch_page(None).await.unwrap_err();

    assert!(
        matches!(err, SourceError::Transient { retry_after: Some(w), .. } if w >= Duration::from_secs(60)),
        "{err:?}"
    );
}

#[tokio::test]
async fn closed_comments_stop_the_source() {
    let server = mock_bilibili().await;
    let closed = json!({"code": 12002, "message": "评论区已关闭", "ttl": 1, "data": null});
    serve_page(&server, "", 200, &closed.to_string()).await;

    let err = source(&server, None).fetch_page(None).await.unwrap_err();

    assert_eq!(
        err,
        SourceError::Stopped {
            reason: "comments are closed on this video (12002)".into()
        }
    );
}

#[tokio::test]
async fn the_cookie_is_sent_with_browser_headers_and_never_appears_in_errors() {
    let server = mock_bilibili().await;
    serve_page(
        &server,
        "",
        200,
        &helpers::fixture("bilibili_error_412.json"),
    )
    .await;
    let cookie = "SESSDATA=s3cr3t-session-value; buvid3=B-U-V-I-D";

    let err = source(&server, Some(cookie))
        .fetch_page(None)
        .await
        .unwrap_err();

    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert!(!err.to_string().contains("127.0.0.1"), "no URL in: {err}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3, "the view info, nav, then the reply list");
    for request in &requests {
        assert_eq!(header(request, "cookie"), Some(cookie));
        assert_eq!(
            header(request, "referer"),
            Some("https://www.bilibili.com/video/BV1FyKFeyECg")
        );
        let ua = header(request, "user-agent").unwrap_or_default();
        assert!(
            ua.starts_with("Mozilla/5.0") && !ua.contains("commentwatch"),
            "{ua}"
        );
    }
}

#[tokio::test]
async fn without_a_cookie_setting_no_cookie_header_is_sent() {
    let server = mock_bilibili().await;
    serve_page(
        &server,
        "",
        200,
        &helpers::fixture("bilibili_reply_main_mode2.json"),
    )
    .await;

    source(&server, None)
        .fetch_page(None)
        .await
        .expect("page 1");

    for request in server.received_requests().await.unwrap() {
        assert_eq!(header(&request, "cookie"), None);
    }
}

#[tokio::test]
async fn a_malformed_reply_is_skipped_and_the_rest_are_stored() {
    let server = mock_bilibili().await;
    let mut body: Value =
        serde_json::from_str(&helpers::fixture("bilibili_reply_main_mode2.json")).unwrap();
    let replies = body["data"]["replies"].as_array_mut().unwrap();
    replies.insert(1, json!({"rpid": {"not": "an id"}, "ctime": "yesterday"}));
    replies.push(json!({"rpid": 262810000001u64, "ctime": 1773514000, "content": null}));
    serve_page(&server, "", 200, &body.to_string()).await;
    serve_page(&server, &fixture_next_offset(), 200, &end_page()).await;
    let source = source(&server, None);

    let page = source.fetch_page(None).await.expect("the page survives");
    assert_eq!(page.skipped, 2);
    assert_eq!(
        page.comments.len() as i64,
        UNIQUE_IN_FIXTURE - 1,
        "the pinned comment, older than the page, is held for a later page"
    );

    let pipeline = helpers::pipeline();
    helpers::poll(&source, &pipeline).await.expect("poll");
    assert_eq!(pipeline.log.count().await.unwrap(), UNIQUE_IN_FIXTURE);
}

#[tokio::test]
async fn a_stale_signature_is_retried_once_with_fresh_keys() {
    let server = mock_bilibili().await;
    let stale = json!({"code": -352, "message": "-352", "ttl": 1, "data": {"v_voucher": "v"}});
    // Mounted first, so it answers the first request; then the fixture does.
    Mock::given(method("GET"))
        .and(path(REPLIES))
        .respond_with(json_response(200, &stale.to_string()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    serve_page(
        &server,
        "",
        200,
        &helpers::fixture("bilibili_reply_main_mode2.json"),
    )
    .await;

    let page = source(&server, None)
        .fetch_page(None)
        .await
        .expect("retried");

    assert_eq!(
        page.comments.len() as i64,
        UNIQUE_IN_FIXTURE - 1,
        "the pinned comment, older than the page, is held for a later page"
    );
    assert_eq!(requests_to(&server, NAV).await.len(), 2, "keys re-fetched");
    assert_eq!(requests_to(&server, REPLIES).await.len(), 2, "one retry");
}

#[tokio::test]
async fn a_signature_still_refused_after_the_retry_backs_off() {
    let server = mock_bilibili().await;
    let stale = json!({"code": -352, "message": "-352", "ttl": 1, "data": null});
    serve_page(&server, "", 200, &stale.to_string()).await;

    let err = source(&server, None).fetch_page(None).await.unwrap_err();

    assert!(
        matches!(err, SourceError::Transient { retry_after: Some(w), .. } if w >= Duration::from_secs(60)),
        "{err:?}"
    );
    assert_eq!(
        requests_to(&server, REPLIES).await.len(),
        2,
        "retried once, not more"
    );
}

#[tokio::test]
async fn the_title_comes_from_the_view_info_once_and_reaches_the_status_as_text() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(NAV))
        .respond_with(json_response(200, &nav_body().to_string()))
        .mount(&server)
        .await;
    serve_title(
        &server,
        "<img src=x onerror=alert(1)>\u{202E}今晚\u{200B}直播",
    )
    .await;
    serve_page(
        &server,
        "",
        200,
        &helpers::fixture("bilibili_reply_main_mode2.json"),
    )
    .await;
    let pipeline = helpers::pipeline();
    let task = commentwatch::poller::SourceTask::new(
        source(&server, None),
        commentwatch::config::Schedule::Every(Duration::from_secs(10)),
        pipeline.clone(),
        1,
        Duration::from_secs(10),
        None,
    );
    task.poll_now().await;
    let status = pipeline.hub.statuses().pop().expect("a status");
    assert_eq!(status.source, format!("bilibili:{BVID}"));
    assert_eq!(
        status.title.as_deref(),
        Some("<img src=x onerror=alert(1)>今晚直播"),
        "plain text, hidden characters removed"
    );
    task.poll_now().await;
    assert_eq!(requests_to(&server, VIEW).await.len(), 1, "asked for once");
}

#[tokio::test]
async fn a_view_info_that_fails_leaves_no_title_and_the_replies_still_come() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(NAV))
        .respond_with(json_response(200, &nav_body().to_string()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(VIEW))
        .respond_with(json_response(
            200,
            r#"{"code":-404,"message":"啥都木有","ttl":1}"#,
        ))
        .mount(&server)
        .await;
    serve_page(
        &server,
        "",
        200,
        &helpers::fixture("bilibili_reply_main_mode2.json"),
    )
    .await;
    let bili = source(&server, None);
    let page = bili.fetch_page(None).await.expect("the replies are read");
    assert!(!page.comments.is_empty());
    use commentwatch::source::Source;
    assert_eq!(bili.title(), None);
    for _ in 0..4 {
        bili.fetch_page(None).await.expect("the replies are read");
    }
    assert_eq!(
        requests_to(&server, VIEW).await.len(),
        3,
        "tried a few times, then not"
    );
}
