//! Every reply of a Bilibili root, not only its previews: the reply pages of
//! `/x/v2/reply/reply` against a mock that lists a root's replies oldest
//! first by page number, as Bilibili does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request};

use crate::helpers;
use crate::source_bilibili::{
    AID, REPLIES, json_response, mock_bilibili, pagination, requests_to, serve_page, source,
};

const THREAD: &str = "/x/v2/reply/reply";
const ROOT: u64 = 900_000_000_000;
const PAGE_SIZE: usize = 20;

/// One reply under `ROOT`; rpids and times grow with `n`.
fn reply(n: u64) -> Value {
    let rpid = ROOT + n;
    json!({
        "rpid": rpid, "rpid_str": rpid.to_string(), "oid": AID.parse::<u64>().unwrap(), "type": 1,
        "mid": 7000 + n, "root": ROOT, "root_str": ROOT.to_string(),
        "parent": ROOT, "parent_str": ROOT.to_string(),
        "ctime": 1_773_000_000 + n as i64 * 60, "like": 0, "rcount": 0, "replies": null,
        "member": {"mid": (7000 + n).to_string(), "uname": format!("观众{n}"),
                   "avatar": "https://i0.hdslb.com/bfs/face/a.jpg"},
        "content": {"message": format!("回复 {n}")}
    })
}

/// A video whose one root has `replies` (oldest first), three of them
/// previewed on the reply list, every one on the reply pages.
struct Video {
    server: MockServer,
    replies: Arc<Mutex<Vec<Value>>>,
    /// `pn` values answered with a risk-control -412.
    blocked_pages: Arc<Mutex<Vec<u64>>>,
}

impl Video {
    async fn start(count: u64) -> Video {
        let server = mock_bilibili().await;
        let replies = Arc::new(Mutex::new((1..=count).map(reply).collect::<Vec<_>>()));
        let blocked_pages = Arc::new(Mutex::new(Vec::new()));
        let list = replies.clone();
        Mock::given(method("GET"))
            .and(path(REPLIES))
            .respond_with(move |req: &Request| {
                let pag = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "pagination_str")
                    .map(|(_, v)| v.into_owned());
                assert_eq!(
                    pag.as_deref(),
                    Some(pagination("").as_str()),
                    "one page only"
                );
                let all = list.lock().unwrap();
                let root = json!({
                    "rpid": ROOT, "rpid_str": ROOT.to_string(), "oid": AID.parse::<u64>().unwrap(),
                    "mid": 42, "root": 0, "parent": 0, "ctime": 1_772_999_000, "like": 3,
                    "rcount": all.len(), "count": all.len(),
                    "member": {"mid": "42", "uname": "楼主"},
                    "content": {"message": "一楼"},
                    "replies": all.iter().take(3).cloned().collect::<Vec<_>>()
                });
                let body = json!({"code": 0, "message": "0", "ttl": 1, "data": {
                    "cursor": {"is_end": true, "pagination_reply": {}},
                    "replies": [root], "top_replies": null}});
                json_response(200, &body.to_string())
            })
            .mount(&server)
            .await;
        let list = replies.clone();
        let blocked = blocked_pages.clone();
        Mock::given(method("GET"))
            .and(path(THREAD))
            .respond_with(move |req: &Request| {
                let q = |key: &str| {
                    req.url
                        .query_pairs()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                assert_eq!(q("type"), "1");
                assert_eq!(q("oid"), AID);
                assert_eq!(q("root"), ROOT.to_string());
                let pn: u64 = q("pn").parse().unwrap();
                let ps: usize = q("ps").parse().unwrap();
                if blocked.lock().unwrap().contains(&pn) {
                    return json_response(200, &helpers::fixture("bilibili_error_412.json"));
                }
                let all = list.lock().unwrap();
                let page: Vec<Value> = all
                    .iter()
                    .skip((pn as usize - 1) * ps)
                    .take(ps)
                    .cloned()
                    .collect();
                let body = json!({"code": 0, "message": "0", "ttl": 1, "data": {
                    "page": {"num": pn, "size": ps, "count": all.len()},
                    "replies": page, "root": {"rpid": ROOT}}});
                json_response(200, &body.to_string())
            })
            .mount(&server)
            .await;
        Video {
            server,
            replies,
            blocked_pages,
        }
    }

    fn add_reply(&self) {
        let mut all = self.replies.lock().unwrap();
        let n = all.len() as u64 + 1;
        all.push(reply(n));
    }

    /// The `pn` of every reply page asked for so far.
    async fn pages_asked(&self) -> Vec<u64> {
        requests_to(&self.server, THREAD)
            .await
            .iter()
            .map(|r| {
                r.url
                    .query_pairs()
                    .find(|(k, _)| k == "pn")
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap()
            })
            .collect()
    }
}

#[tokio::test]
async fn a_root_with_sixty_replies_arrives_complete_once_and_an_idle_poll_asks_for_no_reply_page() {
    let video = Video::start(60).await;
    let source = source(&video.server, None);
    let pipeline = helpers::pipeline();

    let first = helpers::poll(&source, &pipeline).await.expect("first poll");
    assert_eq!(first.new, 61, "the root and all 60 replies");
    assert_eq!(
        video.pages_asked().await,
        [3, 2, 1],
        "newest reply page first"
    );
    let stored = pipeline.log.recent(200).await.unwrap();
    assert_eq!(stored.len(), 61);
    for (_, c) in stored.iter().filter(|(_, c)| c.id != ROOT.to_string()) {
        assert_eq!(
            c.reply_to.as_deref(),
            Some(ROOT.to_string().as_str()),
            "{}",
            c.id
        );
    }
    // Stored in the order they were posted (`recent` lists newest first).
    let ids: Vec<u64> = stored.iter().map(|(_, c)| c.id.parse().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);

    let idle = helpers::poll(&source, &pipeline).await.expect("idle poll");
    assert_eq!(idle.new, 0);
    assert_eq!(
        video.pages_asked().await.len(),
        3,
        "no reply page on an idle poll"
    );
    assert_eq!(pipeline.log.count().await.unwrap(), 61);
}

#[tokio::test]
async fn a_new_reply_to_an_old_root_is_seen_on_the_next_poll() {
    let video = Video::start(60).await;
    let source = source(&video.server, None);
    let pipeline = helpers::pipeline();
    helpers::poll(&source, &pipeline).await.expect("first poll");

    video.add_reply();
    let next = helpers::poll(&source, &pipeline).await.expect("next poll");
    assert_eq!(next.new, 1);
    assert_eq!(
        video.pages_asked().await,
        [3, 2, 1, 4, 3],
        "the new last page, then the page with a reply already seen"
    );
    let stored = pipeline.log.recent(1).await.unwrap();
    assert_eq!(stored[0].1.id, (ROOT + 61).to_string());
    assert_eq!(
        stored[0].1.reply_to.as_deref(),
        Some(ROOT.to_string().as_str())
    );
}

#[tokio::test]
async fn risk_control_on_a_reply_page_backs_the_whole_source_off_and_keeps_what_was_read() {
    let video = Video::start(60).await;
    video.blocked_pages.lock().unwrap().push(2);
    let source = source(&video.server, None);
    let pipeline = helpers::pipeline();

    let report = helpers::poll(&source, &pipeline)
        .await
        .expect("the poll keeps what it read");
    assert!(
        report.wait_at_least >= Some(Duration::from_secs(60)),
        "{:?}",
        report.wait_at_least
    );
    // The root, its three previews and the newest reply page.
    assert_eq!(
        pipeline.log.count().await.unwrap(),
        1 + 3 + PAGE_SIZE as i64
    );
    assert_eq!(video.pages_asked().await, [3, 2]);

    // The whole source waits: no request of any kind until the backoff ends.
    let lists_before = requests_to(&video.server, REPLIES).await.len();
    let err = source.fetch_page(None).await.unwrap_err();
    assert!(
        matches!(
            err,
            commentwatch::source::SourceError::Transient {
                retry_after: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        requests_to(&video.server, REPLIES).await.len(),
        lists_before
    );
    assert_eq!(video.pages_asked().await.len(), 2);
}

#[tokio::test]
async fn a_restarted_source_over_the_same_log_resumes_without_duplicates() {
    let video = Video::start(30).await;
    let pipeline = helpers::pipeline();
    let before = source(&video.server, None);
    helpers::poll(&before, &pipeline).await.expect("first poll");
    assert_eq!(pipeline.log.count().await.unwrap(), 31);
    drop(before);

    video.add_reply();
    let after = source(&video.server, None);
    let report = helpers::poll(&after, &pipeline)
        .await
        .expect("after the restart");
    assert_eq!(report.new, 1, "only the reply posted meanwhile is new");
    assert_eq!(pipeline.log.count().await.unwrap(), 32);
    let idle = helpers::poll(&after, &pipeline).await.expect("idle");
    assert_eq!(idle.new, 0);
}

/// A root on the reply list, posted `minute` minutes into the test's day.
fn listed(rpid: u64, minute: i64) -> Value {
    json!({
        "rpid": rpid, "rpid_str": rpid.to_string(), "oid": AID.parse::<u64>().unwrap(),
        "mid": 1, "root": 0, "parent": 0, "ctime": 1_773_000_000 + minute * 60, "like": 0,
        "rcount": 0, "replies": null, "member": {"mid": "1", "uname": "观众"},
        "content": {"message": format!("评论 {rpid}")}
    })
}

#[tokio::test]
async fn a_pinned_comment_older_than_its_page_is_stored_in_its_time_order() {
    let server = mock_bilibili().await;
    let pinned = listed(5, 5);
    let page_one = json!({"code": 0, "message": "0", "ttl": 1, "data": {
        "cursor": {"is_end": false, "pagination_reply": {"next_offset": "p2"}},
        "replies": [listed(10, 10), listed(9, 9)],
        "top": {"upper": pinned}, "top_replies": [pinned]}});
    let page_two = json!({"code": 0, "message": "0", "ttl": 1, "data": {
        "cursor": {"is_end": true, "pagination_reply": {}},
        "replies": [listed(6, 6), listed(4, 4)]}});
    serve_page(&server, "", 200, &page_one.to_string()).await;
    serve_page(&server, "p2", 200, &page_two.to_string()).await;
    let source = source(&server, None);
    let pipeline = helpers::pipeline();

    let report = helpers::poll(&source, &pipeline).await.expect("backfill");
    assert_eq!(report.new, 5);
    let mut stored = pipeline.log.recent(10).await.unwrap();
    stored.reverse();
    let ids: Vec<&str> = stored.iter().map(|(_, c)| c.id.as_str()).collect();
    assert_eq!(
        ids,
        ["4", "5", "6", "9", "10"],
        "in the order they were posted"
    );

    let idle = helpers::poll(&source, &pipeline).await.expect("idle");
    assert_eq!(idle.new, 0, "the pinned comment is not delivered twice");
}

#[tokio::test]
async fn a_held_pinned_comment_is_kept_when_the_next_page_fails_and_that_page_is_asked_once() {
    let server = mock_bilibili().await;
    let pinned = listed(5, 5);
    let page_one = json!({"code": 0, "message": "0", "ttl": 1, "data": {
        "cursor": {"is_end": false, "pagination_reply": {"next_offset": "p2"}},
        "replies": [listed(10, 10), listed(9, 9)], "top": {"upper": pinned}}});
    serve_page(&server, "", 200, &page_one.to_string()).await;
    serve_page(
        &server,
        "p2",
        412,
        &helpers::fixture("bilibili_error_412.json"),
    )
    .await;
    let source = source(&server, None);
    let pipeline = helpers::pipeline();

    let err = helpers::poll(&source, &pipeline).await.unwrap_err();
    assert!(err.to_string().contains("-412"), "{err}");
    assert_eq!(
        pipeline.log.count().await.unwrap(),
        3,
        "both roots and the pinned one"
    );
    let page_two: Vec<_> = requests_to(&server, REPLIES)
        .await
        .into_iter()
        .filter(|r| {
            r.url
                .query_pairs()
                .any(|(k, v)| k == "pagination_str" && v == pagination("p2"))
        })
        .collect();
    assert_eq!(page_two.len(), 1, "the failed page is not asked twice");
}

#[tokio::test]
async fn one_poll_reads_at_most_ten_reply_pages_across_all_its_list_pages() {
    let server = mock_bilibili().await;
    let busy = |rpid: u64, minute: i64| {
        let mut root = listed(rpid, minute);
        root["rcount"] = json!(200);
        root
    };
    let page_one = json!({"code": 0, "message": "0", "ttl": 1, "data": {
        "cursor": {"is_end": false, "pagination_reply": {"next_offset": "p2"}},
        "replies": [busy(30, 30), busy(20, 20)]}});
    let page_two = json!({"code": 0, "message": "0", "ttl": 1, "data": {
        "cursor": {"is_end": true, "pagination_reply": {}}, "replies": [busy(10, 10)]}});
    serve_page(&server, "", 200, &page_one.to_string()).await;
    serve_page(&server, "p2", 200, &page_two.to_string()).await;
    Mock::given(method("GET"))
        .and(path(THREAD))
        .respond_with(|req: &Request| {
            let q = |key: &str| {
                req.url
                    .query_pairs()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.parse::<u64>().unwrap())
                    .unwrap()
            };
            let (root, pn) = (q("root"), q("pn"));
            let page: Vec<Value> = (0..20u64)
                .map(|i| {
                    let n = (pn - 1) * 20 + i + 1;
                    let mut r = reply(n);
                    let rpid = root * 1000 + n;
                    r["rpid"] = json!(rpid);
                    r["rpid_str"] = json!(rpid.to_string());
                    r["parent"] = json!(root);
                    r["parent_str"] = json!(root.to_string());
                    r
                })
                .collect();
            let body = json!({"code": 0, "message": "0", "ttl": 1, "data": {
                "page": {"num": pn, "size": 20, "count": 200}, "replies": page}});
            json_response(200, &body.to_string())
        })
        .mount(&server)
        .await;
    let source = source(&server, None);
    let pipeline = helpers::pipeline();

    helpers::poll(&source, &pipeline).await.expect("poll");
    let asked: Vec<(String, String)> = requests_to(&server, THREAD)
        .await
        .iter()
        .map(|r| {
            let q = |key: &str| {
                r.url
                    .query_pairs()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.into_owned())
                    .unwrap()
            };
            (q("root"), q("pn"))
        })
        .collect();
    let expected: Vec<(String, String)> = ["30", "20"]
        .iter()
        .flat_map(|root| {
            (6..=10)
                .rev()
                .map(move |pn| (root.to_string(), pn.to_string()))
        })
        .collect();
    assert_eq!(
        asked, expected,
        "the newest five pages of each first-seen root, and nothing past ten in one poll"
    );
    assert_eq!(pipeline.log.count().await.unwrap(), 3 + 200);
}

// A root seen for the first time has its newest CW_BACKFILL_PAGES reply
// pages read (at most a poll's ten), then counts as read.
#[tokio::test]
async fn a_first_seen_root_reads_as_many_reply_pages_as_cw_backfill_pages_says() {
    for (pages, asked, stored) in [
        (2, vec![10, 9], 1 + 3 + 40),
        (50, (1..=10).rev().collect::<Vec<u64>>(), 1 + 200),
    ] {
        let video = Video::start(200).await;
        let source = source(&video.server, None).with_backfill_pages(pages);
        let pipeline = helpers::pipeline();
        helpers::poll(&source, &pipeline).await.expect("first poll");
        assert_eq!(
            video.pages_asked().await,
            asked,
            "CW_BACKFILL_PAGES={pages}"
        );
        assert_eq!(pipeline.log.count().await.unwrap(), stored);
        helpers::poll(&source, &pipeline).await.expect("idle poll");
        assert_eq!(
            video.pages_asked().await.len(),
            asked.len(),
            "read to its cap, the root asks for nothing more"
        );
    }
}

#[tokio::test]
async fn cw_backfill_pages_reaches_a_bilibili_source_of_the_app() {
    let video = Video::start(200).await;
    let app = helpers::spawn_app(&[
        ("CW_SOURCES", "bilibili:BV1FyKFeyECg"),
        ("CW_DEMO_RATE", "0"),
        ("CW_POLL", "1s"),
        ("CW_BACKFILL_PAGES", "3"),
        ("BILIBILI_API_BASE", &video.server.uri()),
        ("BILIBILI_MIN_INTERVAL", "1s"),
    ])
    .await;
    let deadline = std::time::Instant::now() + helpers::PATIENCE;
    while app.feed.log.count().await.unwrap() < 1 + 3 + 60 {
        assert!(std::time::Instant::now() < deadline, "the backfill arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two more polls: nothing more is asked or stored.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(video.pages_asked().await, [10, 9, 8]);
    assert_eq!(app.feed.log.count().await.unwrap(), 1 + 3 + 60);
}
