//! Who wrote each Bilibili reply, from a page built from a real captured
//! reply list (`bilibili_reply_main_who.json`) through the whole app: the
//! UP主 marked `owner`, pinned and liked by the UP主; levels, a fan medal,
//! 大会员 and a verification as badges; the IP location line; the UP主's
//! name colour where it reads well. Seen in headless Chromium on the
//! dashboard, the overlay and `/log` (where `role=owner` finds the UP主).

use serde::Deserialize;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::chrome::Browser;
use crate::helpers::{self, PATIENCE, TestApp, spawn_app};
use crate::seeing::WINDOW;
use crate::source_bilibili::{json_response, mock_bilibili, serve_page};

const SOURCE: &str = "bilibili:BV1FyKFeyECg";
/// The UP主's pinned comment, liked by the UP主.
const UP: &str = "262810004500";
/// 路过的网友: level 5, the UP主's fan medal, 大会员.
const MEDAL: &str = "262810018364";
/// 夜空のメロディ: verified.
const VERIFIED: &str = "262810021830";

/// A mock Bilibili serving the page, an end after it, and empty reply pages.
async fn mock() -> MockServer {
    let server = mock_bilibili().await;
    let page = helpers::fixture("bilibili_reply_main_who.json");
    let next: Value = serde_json::from_str(&page).unwrap();
    let next = next["data"]["cursor"]["pagination_reply"]["next_offset"]
        .as_str()
        .unwrap()
        .to_owned();
    serve_page(&server, "", 200, &page).await;
    let end = json!({"code": 0, "message": "0", "ttl": 1,
        "data": {"cursor": {"is_end": true, "next": 0, "pagination_reply": {}}, "replies": []}});
    serve_page(&server, &next, 200, &end.to_string()).await;
    let no_replies = json!({"code": 0, "message": "0", "ttl": 1,
        "data": {"page": {"num": 1, "size": 20, "count": 0}, "replies": [], "upper": {"mid": 1987654321}}});
    Mock::given(method("GET"))
        .and(path("/x/v2/reply/reply"))
        .respond_with(json_response(200, &no_replies.to_string()))
        .mount(&server)
        .await;
    server
}

async fn app(server: &MockServer) -> TestApp {
    spawn_app(&[
        ("CW_SOURCES", SOURCE),
        ("CW_DEMO_RATE", "0"),
        ("CW_POLL", "1s"),
        ("BILIBILI_API_BASE", &server.uri()),
        ("BILIBILI_MIN_INTERVAL", "1s"),
        ("BILIBILI_COOKIE", "SESSDATA=test-session"),
    ])
    .await
}

#[derive(Debug, Deserialize)]
struct Who {
    roles: Vec<String>,
    badges: Vec<String>,
    marks: Vec<String>,
    location: Vec<String>,
    color: Option<String>,
}

/// What item `id` in `selector`'s list shows of who wrote it.
fn who_of(selector: &str, id: &str) -> String {
    format!(
        r#"const li = document.querySelector('{selector}[data-id="{id}"]');
           if (!li) return null;
           const all = (s) => [...li.querySelectorAll('.roles ' + s)];
           return {{
             roles: all('.role').map((r) => r.dataset.role),
             badges: all('.badge').map((b) => b.textContent),
             marks: all('.mark').map((m) => m.classList.contains('pinned') ? 'pinned' : 'liked'),
             location: all('.where').map((w) => w.textContent),
             color: li.querySelector('.author').dataset.color || null,
           }};"#
    )
}

async fn who(browser: &Browser, selector: &str, id: &str) -> Who {
    browser
        .poll(
            &format!("comment {id}"),
            PATIENCE * 2,
            &who_of(selector, id),
            |w: &Option<Who>| w.is_some(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn who_wrote_each_reply_shows_on_the_dashboard_the_overlay_and_the_log() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let server = mock().await;
    let app = app(&server).await;
    browser.goto(&app.url("/")).await;
    let item = "#feed li.comment";
    let up = who(&browser, item, UP).await;
    assert_eq!(up.roles, ["owner"]);
    assert_eq!(up.badges, ["LV5", "大会员"]);
    assert_eq!(up.marks, ["pinned", "liked"]);
    assert_eq!(up.location, ["IP属地：上海"]);
    assert_eq!(
        up.color, None,
        "Bilibili's pink (#fb7299) is too pale to read on the light dashboard"
    );
    let medal = who(&browser, item, MEDAL).await;
    assert!(
        medal.roles.is_empty() && medal.marks.is_empty(),
        "{medal:?}"
    );
    assert_eq!(medal.badges, ["LV5", "主播团 12", "大会员"]);
    let verified = who(&browser, item, VERIFIED).await;
    assert_eq!(verified.roles, ["verified"]);
    assert_eq!(verified.badges, ["LV5", "bilibili 知名音乐UP主"]);
    assert_eq!(verified.location, ["IP属地：日本"]);
    browser.screenshot("bilibili-who-dashboard").await;

    // Switched to the dark theme, the same pink reads well and the name
    // wears it at once; back in the light theme it does not.
    let name_colour = format!(
        "return getComputedStyle(document.querySelector('{item}[data-id=\"{UP}\"] .author')).color;"
    );
    let theme = |want: &'static str| {
        format!(
            "const root = document.documentElement;
             if ((root.dataset.theme || 'auto') !== '{want}') document.getElementById('theme-btn').click();
             return root.dataset.theme || 'auto';"
        )
    };
    let _: String = browser
        .poll("the dark theme", PATIENCE, &theme("dark"), |t: &String| {
            t == "dark"
        })
        .await;
    let shown: String = browser.eval(&name_colour).await;
    assert_eq!(shown, "rgb(251, 114, 153)");
    assert_eq!(
        who(&browser, item, UP).await.color.as_deref(),
        Some("#fb7299")
    );
    browser.screenshot("bilibili-who-dashboard-dark").await;
    let _: String = browser
        .poll(
            "the light theme",
            PATIENCE,
            &theme("light"),
            |t: &String| t == "light",
        )
        .await;
    assert_eq!(who(&browser, item, UP).await.color, None);

    // A dark system theme with the page on "auto" colours it from the start.
    let _: String = browser
        .poll("the auto theme", PATIENCE, &theme("auto"), |t: &String| {
            t == "auto"
        })
        .await;
    let _: Value = browser
        .cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
        )
        .await;
    browser.goto(&app.url("/")).await;
    let up = who(&browser, item, UP).await;
    assert_eq!(up.color.as_deref(), Some("#fb7299"));

    // The overlay: who and the owner's marks, not where they posted from.
    browser
        .goto(&app.url("/overlay?mode=latest&limit=20"))
        .await;
    let up = who(&browser, "li.card", UP).await;
    assert_eq!(up.roles, ["owner"]);
    assert_eq!(up.badges, ["LV5", "大会员"]);
    assert_eq!(up.marks, ["pinned", "liked"]);
    assert!(up.location.is_empty(), "{up:?}");
    browser.screenshot("bilibili-who-overlay").await;

    // The log: the same badges, and role=owner finds the UP主 alone.
    browser
        .goto(&app.url(&format!("/log?source={SOURCE}&role=owner")))
        .await;
    #[derive(Debug, Deserialize)]
    struct Row {
        roles: Vec<String>,
        badges: Vec<String>,
        marks: Vec<String>,
        location: Vec<String>,
    }
    let rows: Vec<Row> = browser
        .eval(
            "return [...document.querySelectorAll('.log-item')].map((li) => ({
               roles: [...li.querySelectorAll('.log-role')].map((r) => r.dataset.role),
               badges: [...li.querySelectorAll('.log-badge')].map((b) => b.textContent),
               marks: [...li.querySelectorAll('.log-mark')].map((m) => m.dataset.mark),
               location: [...li.querySelectorAll('.log-where')].map((w) => w.textContent),
             }));",
        )
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].roles, ["owner"]);
    assert_eq!(rows[0].badges, ["LV5", "大会员"]);
    assert_eq!(rows[0].marks, ["pinned", "liked"]);
    assert_eq!(rows[0].location, ["IP属地：上海"]);
    browser.screenshot("bilibili-who-log").await;
    assert!(browser.console_errors().await.is_empty());
    browser.close().await;
}

/// A root on the reply list, posted `minute` minutes into the test's day.
fn listed(rpid: u64, minute: i64) -> Value {
    json!({
        "rpid": rpid, "rpid_str": rpid.to_string(), "oid": 113998765432109u64,
        "mid": 1, "root": 0, "parent": 0, "ctime": 1_773_000_000 + minute * 60, "like": 0,
        "rcount": 0, "replies": null, "member": {"mid": "1", "uname": "观众"},
        "content": {"message": format!("评论 {rpid}")}
    })
}

// A pinned comment that a later page also lists (without Bilibili's own
// mark there) stays pinned: no update takes the mark off and puts it back.
#[tokio::test]
async fn a_pinned_comment_listed_again_on_a_later_page_stays_pinned_without_updates() {
    let server = mock_bilibili().await;
    let pinned = listed(5, 5);
    let page_one = json!({"code": 0, "message": "0", "ttl": 1, "data": {
        "cursor": {"is_end": false, "pagination_reply": {"next_offset": "p2"}},
        "replies": [listed(10, 10), listed(9, 9)],
        "top": {"upper": pinned}, "top_replies": [pinned]}});
    let page_two = json!({"code": 0, "message": "0", "ttl": 1, "data": {
        "cursor": {"is_end": true, "pagination_reply": {}},
        "replies": [listed(6, 6), listed(5, 5), listed(4, 4)]}});
    serve_page(&server, "", 200, &page_one.to_string()).await;
    serve_page(&server, "p2", 200, &page_two.to_string()).await;
    let source = crate::source_bilibili::source(&server, None);
    let pipeline = helpers::pipeline();
    for poll in ["backfill", "idle"] {
        let report = helpers::poll(&source, &pipeline).await.expect(poll);
        assert_eq!(report.updated, 0, "{poll}");
        let stored = pipeline.log.comment(SOURCE.into(), "5".into()).await;
        assert!(stored.unwrap().unwrap().pinned, "{poll}");
    }
    assert_eq!(pipeline.log.count().await.unwrap(), 5);
}
