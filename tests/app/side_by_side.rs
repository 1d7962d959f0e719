//! Several real-format sources on one dashboard: the app as a user runs it,
//! pointed by env vars at mock YouTube, Bilibili and JSON APIs on loopback,
//! with the demo beside them.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{fixture, spawn_app};

async fn mock_youtube() -> MockServer {
    let server = MockServer::start().await;
    // The last page of a video's threads: five threads, no next page.
    Mock::given(path("/youtube/v3/commentThreads"))
        .and(query_param("key", "side-by-side-key"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(fixture("youtube_commentThreads_page2.json")),
        )
        .mount(&server)
        .await;
    server
}

async fn mock_bilibili() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/x/web-interface/nav"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": -101, "message": "账号未登录", "ttl": 1,
            "data": {"isLogin": false, "wbi_img": {
                "img_url": "https://i0.hdslb.com/bfs/wbi/7cd084941338484aae1ad9425b84077c.png",
                "sub_url": "https://i0.hdslb.com/bfs/wbi/4932caff0ff746eab6f01bf08b70ac45.png"
            }}
        })))
        .mount(&server)
        .await;
    // The newest page; asked for the next one without a login, Bilibili
    // answers with the silent empty page.
    Mock::given(path("/x/v2/reply/wbi/main"))
        .and(query_param("pagination_str", r#"{"offset":""}"#))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("bilibili_reply_main_mode2.json")),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/x/v2/reply/wbi/main"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(fixture("bilibili_reply_main_unauth_page2_empty.json")),
        )
        .mount(&server)
        .await;
    server
}

async fn mock_json_api() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/api/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "result": {"list": [
                {"cid": 9007199254740993u64, "who": {"nick": "Kai"}, "msg": "hello from the shop", "ts": 1_773_514_000_000i64},
                {"cid": 42, "who": {"nick": "Ana"}, "msg": "<b>bold</b> claim", "ts": 1_773_513_000_000i64}
            ]}
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn youtube_bilibili_a_json_api_and_the_demo_run_side_by_side_on_one_feed() {
    let (youtube, bilibili, shop) = (
        mock_youtube().await,
        mock_bilibili().await,
        mock_json_api().await,
    );
    let shop_url = format!("{}/api/comments", shop.uri());
    let app = spawn_app(&[
        (
            "CW_SOURCES",
            "youtube:Xq3vLk9pT2w, bilibili:BV1FyKFeyECg, generic:shop, demo",
        ),
        ("CW_DEMO_RATE", "0"),
        ("CW_POLL", "1s"),
        ("YOUTUBE_API_KEY", "side-by-side-key"),
        ("YOUTUBE_API_BASE", &youtube.uri()),
        ("BILIBILI_API_BASE", &bilibili.uri()),
        ("BILIBILI_MIN_INTERVAL", "1s"),
        ("CW_GENERIC_SHOP_URL", &shop_url),
        ("CW_GENERIC_SHOP_ITEMS", "/result/list"),
        ("CW_GENERIC_SHOP_ID", "/cid"),
        ("CW_GENERIC_SHOP_AUTHOR", "/who/nick"),
        ("CW_GENERIC_SHOP_TEXT", "/msg"),
        ("CW_GENERIC_SHOP_TIME", "/ts"),
    ])
    .await;
    let mut client = app.connect(None).await;

    let expected: BTreeMap<&str, usize> = BTreeMap::from([
        ("youtube:Xq3vLk9pT2w", 5),
        ("bilibili:BV1FyKFeyECg", 7),
        ("generic:shop", 2),
        ("demo", 20),
    ]);
    let mut per_source: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    let mut states: BTreeMap<String, String> = BTreeMap::new();
    let mut last_seq = 0;
    client
        .until(|f: &Value| {
            match f["type"].as_str() {
                Some("comment") => {
                    let seq = f["seq"].as_i64().unwrap();
                    assert!(seq > last_seq, "seq order across sources");
                    last_seq = seq;
                    let c = &f["comment"];
                    let fresh = per_source
                        .entry(c["source"].as_str().unwrap().to_owned())
                        .or_default()
                        .insert(c["id"].as_str().unwrap().to_owned());
                    assert!(fresh, "a comment arrived twice: {f}");
                }
                Some("status") => {
                    for s in f["sources"].as_array().unwrap() {
                        states.insert(
                            s["source"].as_str().unwrap().to_owned(),
                            s["state"].as_str().unwrap().to_owned(),
                        );
                    }
                }
                _ => {}
            }
            let all_in = expected
                .iter()
                .all(|(s, n)| per_source.get(*s).map_or(0, HashSet::len) == *n);
            let settled = states.get("bilibili:BV1FyKFeyECg").map(String::as_str) == Some("login")
                && ["youtube:Xq3vLk9pT2w", "generic:shop", "demo"]
                    .iter()
                    .all(|s| states.get(*s).map(String::as_str) == Some("ok"));
            all_in && settled
        })
        .await;
    assert!(
        per_source["generic:shop"].contains("9007199254740993"),
        "ids keep every digit"
    );
    app.stop().await;
}
