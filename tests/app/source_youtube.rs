//! YouTube video comments and live chat against a mock Data API v3 on
//! loopback that serves the fixtures (the real response shapes, traps
//! included), plus the fault classes every source must survive.

use std::sync::Arc;
use std::time::Duration;

use commentwatch::config::Schedule;
use commentwatch::poller::{PollError, QuotaBook, SourceTask};
use commentwatch::protocol::SourceState;
use commentwatch::quota;
use commentwatch::source::http::Http;
use commentwatch::source::youtube::{LiveChat, VideoComments, YouTubeSettings};
use commentwatch::source::{PolledSource, Source, SourceError};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{fixture, pipeline, poll};

/// Every live chat event through the real app.
#[path = "source_youtube_events.rs"]
mod events;

const VIDEO: &str = "Xq3vLk9pT2w";
const KEY: &str = "test-key-123";
const THREAD_WITH_MORE_REPLIES: &str = "Ugyci7H3uuIQHZxzwLG4AaABAg";

fn settings(server: &MockServer) -> YouTubeSettings {
    YouTubeSettings {
        api_key: KEY.into(),
        api_base: server.uri(),
        daily_quota: 10_000,
        session_hours: 4.0,
    }
}

fn http() -> Http {
    Http::new(Duration::from_secs(5), 8 << 20)
}

fn video(server: &MockServer) -> VideoComments {
    VideoComments::new(VIDEO, settings(server), http())
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn page1_token() -> String {
    json_fixture("youtube_commentThreads_page1.json")["nextPageToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// All three replies of the thread whose inline replies are incomplete.
fn all_replies() -> Value {
    let page1 = json_fixture("youtube_commentThreads_page1.json");
    let thread = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == THREAD_WITH_MORE_REPLIES)
        .unwrap();
    let mut replies = thread["replies"]["comments"].as_array().unwrap().clone();
    replies.push(json!({
        "kind": "youtube#comment",
        "id": format!("{THREAD_WITH_MORE_REPLIES}.third"),
        "snippet": {
            "textDisplay": "third reply, not shown inline",
            "textOriginal": "third reply, not shown inline",
            "parentId": THREAD_WITH_MORE_REPLIES,
            "authorDisplayName": "@late_replier",
            "authorChannelId": {"value": "UClate"},
            "likeCount": 0,
            "publishedAt": "2026-03-14T19:06:45Z",
            "updatedAt": "2026-03-14T19:06:45Z"
        }
    }));
    json!({"kind": "youtube#commentListResponse", "items": replies})
}

/// The fixtures' video's title, as `videos.list?part=snippet` serves it.
const TITLE: &str = "Live Q&A — ask me anything";

/// Mounts `videos.list?part=snippet` answering with `title`.
async fn mount_title(server: &MockServer, title: &str) {
    Mock::given(method("GET"))
        .and(path("/youtube/v3/videos"))
        .and(query_param("id", VIDEO))
        .and(query_param("key", KEY))
        .and(query_param("part", "snippet"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "youtube#videoListResponse",
            "items": [{"kind": "youtube#video", "id": VIDEO,
                "snippet": {"title": title, "channelTitle": "A channel"}}]
        })))
        .mount(server)
        .await;
}

/// Mounts the title, page 1, page 2 and the reply list.
async fn mount_video(server: &MockServer) {
    mount_title(server, TITLE).await;
    Mock::given(method("GET"))
        .and(path("/youtube/v3/commentThreads"))
        .and(query_param("videoId", VIDEO))
        .and(query_param("key", KEY))
        .and(query_param("part", "snippet,replies"))
        .and(query_param("order", "time"))
        .and(query_param("maxResults", "100"))
        .and(query_param("textFormat", "html"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(fixture("youtube_commentThreads_page1.json")),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/youtube/v3/commentThreads"))
        .and(query_param("pageToken", page1_token()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(fixture("youtube_commentThreads_page2.json")),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/youtube/v3/comments"))
        .and(query_param("parentId", THREAD_WITH_MORE_REPLIES))
        .and(query_param("key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(all_replies()))
        .mount(server)
        .await;
}

async fn requests_to(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

#[tokio::test]
async fn two_pages_of_threads_store_every_unique_comment_once_with_all_replies() {
    let server = MockServer::start().await;
    mount_video(&server).await;
    let pipeline = pipeline();
    let source = video(&server);

    let report = poll(&source, &pipeline).await.unwrap();
    // 11 thread items with one repeated across the pages, and 3 replies of
    // which only 2 were inline: 10 + 3 comments.
    assert_eq!(report.new, 13, "{report:?}");
    assert_eq!(
        report.quota_units, 4,
        "the title, two pages and one reply list"
    );
    assert_eq!(requests_to(&server, "/youtube/v3/comments").await, 1);

    let stored = pipeline.log.recent(100).await.unwrap();
    let mut oldest_first = stored.clone();
    oldest_first.reverse();
    let tops: Vec<_> = oldest_first
        .iter()
        .filter(|(_, c)| c.reply_to.is_none())
        .collect();
    assert!(
        tops.windows(2)
            .all(|w| w[0].1.published_at <= w[1].1.published_at),
        "threads are numbered oldest first"
    );
    let parent_seq = stored
        .iter()
        .find(|(_, c)| c.id == THREAD_WITH_MORE_REPLIES)
        .map(|(s, _)| *s)
        .unwrap();
    let replies: Vec<_> = stored
        .iter()
        .filter(|(_, c)| c.reply_to.as_deref() == Some(THREAD_WITH_MORE_REPLIES))
        .collect();
    assert_eq!(replies.len(), 3);
    assert!(
        replies.iter().all(|(s, _)| *s > parent_seq),
        "a reply follows its thread"
    );
    let script = stored
        .iter()
        .find(|(_, c)| c.id == "UgywcU79b0AS0xX57Xd4AaABAg")
        .unwrap();
    assert_eq!(
        script.1.text,
        "<script>alert(document.cookie)</script> first!!"
    );
    assert!(!script.1.html.as_str().contains("<script"));
    let amp = stored.iter().find(|(_, c)| c.text.contains("&amp;"));
    assert!(
        amp.is_some(),
        "a typed &amp; stays &amp; (decoded exactly once)"
    );
}

#[tokio::test]
async fn a_second_poll_with_nothing_new_makes_one_request_and_publishes_nothing() {
    let server = MockServer::start().await;
    mount_video(&server).await;
    let pipeline = pipeline();
    let source = video(&server);
    poll(&source, &pipeline).await.unwrap();
    let before = server.received_requests().await.unwrap().len();
    let mut rx = pipeline.hub.subscribe();

    let report = poll(&source, &pipeline).await.unwrap();
    assert_eq!((report.new, report.updated, report.pages), (0, 0, 1));
    assert_eq!(server.received_requests().await.unwrap().len(), before + 1);
    assert!(rx.try_recv().is_err(), "nothing published");
}

#[tokio::test]
async fn an_edited_comment_becomes_one_update_not_a_new_comment() {
    let server = MockServer::start().await;
    mount_video(&server).await;
    let pipeline = pipeline();
    let source = video(&server);
    poll(&source, &pipeline).await.unwrap();
    let count = pipeline.log.count().await.unwrap();

    let mut edited = json_fixture("youtube_commentThreads_page1.json");
    let top = &mut edited["items"][2]["snippet"]["topLevelComment"];
    let id = top["id"].as_str().unwrap().to_owned();
    top["snippet"]["textOriginal"] = json!("fixed my typo");
    top["snippet"]["textDisplay"] = json!("fixed my typo");
    top["snippet"]["updatedAt"] = json!("2026-03-14T19:30:00Z");
    server.reset().await;
    Mock::given(path("/youtube/v3/commentThreads"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&edited))
        .mount(&server)
        .await;
    let mut rx = pipeline.hub.subscribe();

    let report = poll(&source, &pipeline).await.unwrap();
    assert_eq!((report.new, report.updated), (0, 1));
    assert_eq!(pipeline.log.count().await.unwrap(), count);
    let frame: Value = serde_json::from_str(rx.try_recv().unwrap().json.as_str()).unwrap();
    assert_eq!(frame["type"], "update");
    assert_eq!(frame["comment"]["id"], id.as_str());
    assert_eq!(frame["comment"]["text"], "fixed my typo");
    assert_eq!(frame["comment"]["edited"], true);
    assert!(rx.try_recv().is_err(), "exactly one frame");
}

async fn mount_live(server: &MockServer, messages: Value) {
    Mock::given(path("/youtube/v3/videos"))
        .and(query_param("id", VIDEO))
        .and(query_param("part", "snippet,liveStreamingDetails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"id": VIDEO, "snippet": {"title": TITLE},
                "liveStreamingDetails": {"activeLiveChatId": "chat-1"}}]
        })))
        .mount(server)
        .await;
    Mock::given(path("/youtube/v3/liveChat/messages"))
        .and(query_param("liveChatId", "chat-1"))
        .and(query_param("part", "snippet,authorDetails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(messages))
        .mount(server)
        .await;
}

#[tokio::test]
async fn live_chat_arrives_in_order_with_super_chats_and_retracts_deleted_messages() {
    let server = MockServer::start().await;
    mount_live(&server, json_fixture("youtube_liveChatMessages.json")).await;
    let pipeline = pipeline();
    let source = LiveChat::new(VIDEO, settings(&server), http());
    let mut rx = pipeline.hub.subscribe();

    let report = poll(&source, &pipeline).await.unwrap();
    assert_eq!((report.new, report.deleted), (3, 1));
    assert_eq!(report.wait_at_least, Some(Duration::from_millis(4137)));
    let frames: Vec<Value> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|f| serde_json::from_str(f.json.as_str()).unwrap())
        .collect();
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["comment", "comment", "comment", "delete"]);
    assert_eq!(frames[1]["comment"]["amount"]["display"], "¥1,000");
    assert_eq!(frames[1]["comment"]["amount"]["micros"], 1_000_000_000i64);
    assert_eq!(frames[3]["id"], frames[2]["comment"]["id"]);
    assert_eq!(
        frames[0]["comment"]["html"],
        "&lt;img src=x onerror=alert(1)&gt; hi chat"
    );

    // The next poll continues from the page token, and the chat id is cached.
    poll(&source, &pipeline).await.unwrap();
    let token = json_fixture("youtube_liveChatMessages.json")["nextPageToken"].clone();
    let reqs = server.received_requests().await.unwrap();
    let chat_reqs: Vec<_> = reqs
        .iter()
        .filter(|r| r.url.path().ends_with("/messages"))
        .collect();
    assert_eq!(chat_reqs.len(), 2);
    assert!(
        chat_reqs[1]
            .url
            .query()
            .unwrap()
            .contains(&format!("pageToken={}", token.as_str().unwrap()))
    );
    assert_eq!(
        reqs.iter()
            .filter(|r| r.url.path().ends_with("/videos"))
            .count(),
        1
    );
    assert_eq!(
        source.title().as_deref(),
        Some(TITLE),
        "read with the chat id"
    );
}

#[tokio::test]
async fn live_chat_waits_at_least_the_polling_interval_the_api_asks_for() {
    let server = MockServer::start().await;
    mount_live(&server, json_fixture("youtube_liveChatMessages.json")).await;
    let pipeline = pipeline();
    let source = LiveChat::new(VIDEO, settings(&server), http());
    let task = SourceTask::new(
        source,
        Schedule::Every(Duration::from_secs(1)),
        pipeline.clone(),
        5,
        Duration::from_secs(10),
        None,
    );
    task.tick().await;
    task.tick().await; // within pollingIntervalMillis (4.1 s): skipped
    let chat_calls = requests_to(&server, "/youtube/v3/liveChat/messages").await;
    assert_eq!(chat_calls, 1);
}

#[tokio::test]
async fn a_live_chat_that_went_offline_stops_the_source_after_its_last_messages() {
    let server = MockServer::start().await;
    let mut last = json_fixture("youtube_liveChatMessages.json");
    last["offlineAt"] = json!("2026-03-14T21:00:00Z");
    mount_live(&server, last).await;
    let pipeline = pipeline();
    let source = LiveChat::new(VIDEO, settings(&server), http());
    assert_eq!(poll(&source, &pipeline).await.unwrap().new, 3);
    match poll(&source, &pipeline).await {
        Err(PollError::Source(SourceError::Stopped { reason })) => {
            assert!(reason.contains("ended"))
        }
        other => panic!("{other:?}"),
    }
}

/// Runs one scheduled poll and returns the source's reported state.
async fn state_after(
    task: &SourceTask,
    pipeline: &commentwatch::poller::Pipeline,
) -> (SourceState, Value) {
    task.poll_now().await;
    let status = pipeline
        .hub
        .statuses()
        .into_iter()
        .find(|s| s.source == task.name())
        .unwrap();
    (status.state, serde_json::to_value(&status).unwrap())
}

fn task(
    source: impl PolledSource + 'static,
    pipeline: &commentwatch::poller::Pipeline,
) -> SourceTask {
    SourceTask::new(
        source,
        Schedule::Every(Duration::from_secs(10)),
        pipeline.clone(),
        5,
        Duration::from_secs(10),
        None,
    )
}

#[tokio::test]
async fn every_fault_class_backs_off_and_the_source_recovers_without_loss_or_doubles() {
    let server = MockServer::start().await;
    let pipeline = pipeline();
    let t = task(video(&server), &pipeline);
    let faults: Vec<(&str, ResponseTemplate)> = vec![
        (
            "HTTP 500",
            ResponseTemplate::new(500).set_body_string("oops"),
        ),
        (
            "HTTP 429",
            ResponseTemplate::new(429).insert_header("retry-after", "7"),
        ),
        (
            "malformed JSON",
            ResponseTemplate::new(200).set_body_string("{\"items\": ["),
        ),
        (
            "an HTML page",
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<!DOCTYPE html><h1>502 Bad Gateway</h1>"),
        ),
        (
            "over the",
            ResponseTemplate::new(200).set_body_string(" ".repeat(9 << 20)),
        ),
        (
            "timed out",
            ResponseTemplate::new(200).set_delay(Duration::from_secs(8)),
        ),
    ];
    for (expected, response) in faults {
        server.reset().await;
        Mock::given(path("/youtube/v3/commentThreads"))
            .respond_with(response)
            .mount(&server)
            .await;
        let (state, status) = state_after(&t, &pipeline).await;
        assert_eq!(state, SourceState::Backoff, "{expected}: {status}");
        let error = status["last_error"].as_str().unwrap();
        assert!(error.contains(expected), "{expected} not in {error:?}");
        assert!(!error.contains(KEY), "the API key leaked into {error:?}");
        assert!(status["next_poll"].is_string());
    }
    // The API recovers: everything arrives, once.
    server.reset().await;
    mount_video(&server).await;
    let (state, _) = state_after(&t, &pipeline).await;
    assert_eq!(state, SourceState::Ok);
    assert_eq!(pipeline.log.count().await.unwrap(), 13);
    let (state, _) = state_after(&t, &pipeline).await;
    assert_eq!(state, SourceState::Ok);
    assert_eq!(pipeline.log.count().await.unwrap(), 13);
}

#[tokio::test]
async fn a_failure_on_page_two_is_filled_in_by_a_later_poll() {
    let server = MockServer::start().await;
    let pipeline = pipeline();
    let source = video(&server);
    // The first poll is a backfill; a gap only matters once a source is known.
    Mock::given(path("/youtube/v3/commentThreads"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            json_fixture("youtube_commentThreads_page2.json")["items"][4].clone()
        ]})))
        .mount(&server)
        .await;
    poll(&source, &pipeline).await.unwrap();

    server.reset().await;
    Mock::given(path("/youtube/v3/commentThreads"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(fixture("youtube_commentThreads_page1.json")),
        )
        .mount(&server)
        .await;
    Mock::given(path("/youtube/v3/commentThreads"))
        .and(query_param("pageToken", page1_token()))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(path("/youtube/v3/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(all_replies()))
        .mount(&server)
        .await;
    assert!(matches!(
        poll(&source, &pipeline).await,
        Err(PollError::Source(SourceError::Transient { .. }))
    ));
    let after_failure = pipeline.log.count().await.unwrap();
    assert_eq!(after_failure, 1 + 6 + 3, "page 1 and its replies are kept");

    server.reset().await;
    mount_video(&server).await;
    let report = poll(&source, &pipeline).await.unwrap();
    // Page 2 repeats page 1's last thread and ends with the one seeded first.
    assert_eq!(report.new, 3, "page 2's three unseen threads: {report:?}");
    assert_eq!(pipeline.log.count().await.unwrap(), 13);
    let again = poll(&source, &pipeline).await.unwrap();
    assert_eq!((again.new, again.pages), (0, 1), "the gap is closed");
}

#[tokio::test]
async fn quota_exceeded_pauses_youtube_until_midnight_pacific() {
    let server = MockServer::start().await;
    mount_title(&server, TITLE).await;
    Mock::given(path("/youtube/v3/commentThreads"))
        .respond_with(
            ResponseTemplate::new(403).set_body_string(fixture("youtube_error_quotaExceeded.json")),
        )
        .mount(&server)
        .await;
    let pipeline = pipeline();
    match poll(&video(&server), &pipeline).await {
        Err(PollError::Source(SourceError::Quota { until, reason })) => {
            assert_eq!(until, quota::next_reset(chrono::Utc::now()));
            assert!(!reason.contains("<a"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let t = task(video(&server), &pipeline);
    let (state, status) = state_after(&t, &pipeline).await;
    assert_eq!(state, SourceState::Quota, "{status}");
    let next: chrono::DateTime<chrono::Utc> =
        status["next_poll"].as_str().unwrap().parse().unwrap();
    assert!(next >= quota::next_reset(chrono::Utc::now()) - chrono::Duration::seconds(1));
    // Every request counts against the quota, failed ones included: the
    // title and the refused page, for each of the two sources.
    assert_eq!(
        pipeline
            .log
            .quota_used(quota::quota_day(chrono::Utc::now()))
            .await
            .unwrap(),
        4
    );
}

#[tokio::test]
async fn comments_disabled_stops_the_source_for_good() {
    let server = MockServer::start().await;
    mount_title(&server, TITLE).await;
    Mock::given(path("/youtube/v3/commentThreads"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_string(fixture("youtube_error_commentsDisabled.json")),
        )
        .mount(&server)
        .await;
    let pipeline = pipeline();
    let t = task(video(&server), &pipeline);
    let (state, status) = state_after(&t, &pipeline).await;
    assert_eq!(state, SourceState::Stopped, "{status}");
    assert!(status["detail"].as_str().unwrap().contains("disabled"));
    assert!(status["next_poll"].is_null());
    t.poll_now().await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "never polled again"
    );
}

#[tokio::test]
async fn the_quota_planner_slows_a_fast_poll_and_reports_units_used() {
    let server = MockServer::start().await;
    mount_video(&server).await;
    let pipeline = pipeline();
    // 100 units a day over 4 hours: one poll every ~150 s at most.
    let book = Arc::new(QuotaBook {
        daily: 100,
        session: Duration::from_secs(4 * 3600),
        sources: 1,
        started: std::time::Instant::now(),
    });
    let t = SourceTask::new(
        video(&server),
        Schedule::Every(Duration::from_secs(1)),
        pipeline.clone(),
        5,
        Duration::from_secs(10),
        Some(book),
    );
    t.tick().await;
    t.tick().await;
    assert_eq!(
        requests_to(&server, "/youtube/v3/commentThreads").await,
        2,
        "one poll of two pages"
    );
    let status = pipeline.hub.statuses().pop().unwrap();
    assert_eq!(status.state, SourceState::Ok);
    assert_eq!(
        status.quota_used,
        Some(4),
        "the title, two pages, the replies"
    );
    assert!(
        status.detail.unwrap().contains("quota"),
        "the clamp is shown"
    );
}

/// YouTube's answer for a video it does not show (private, unlisted, a
/// premiere not yet public).
fn video_not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "error": {"code": 404, "message": "The video identified by the <code>videoId</code> parameter could not be found.",
            "errors": [{"reason": "videoNotFound", "domain": "youtube.commentThread", "location": "videoId"}]}
    }))
}

#[tokio::test]
async fn a_video_not_found_is_checked_again_every_five_minutes_until_it_appears() {
    let server = MockServer::start().await;
    Mock::given(path("/youtube/v3/commentThreads"))
        .respond_with(video_not_found())
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_video(&server).await;
    let pipeline = pipeline();
    let t = task(video(&server), &pipeline);
    for _ in 0..2 {
        let (state, status) = state_after(&t, &pipeline).await;
        assert_eq!(state, SourceState::Backoff, "not stopped: {status}");
        let detail = status["detail"].as_str().unwrap();
        assert!(detail.contains("video not found"), "{detail}");
        assert!(detail.contains("every 5 min"), "{detail}");
        let next: chrono::DateTime<chrono::Utc> =
            status["next_poll"].as_str().unwrap().parse().unwrap();
        let wait = next - chrono::Utc::now();
        assert!(
            wait > chrono::Duration::minutes(4) && wait <= chrono::Duration::minutes(5),
            "the next look is in five minutes, not a growing backoff: {status}"
        );
        // A scheduled tick waits for it.
        t.tick().await;
    }
    assert_eq!(requests_to(&server, "/youtube/v3/commentThreads").await, 2);
    // The video turns public: the next look reads it as usual.
    let (state, status) = state_after(&t, &pipeline).await;
    assert_eq!(state, SourceState::Ok, "{status}");
    assert!(
        pipeline.log.latest_seq().await.unwrap() > 0,
        "comments stored"
    );
}

#[tokio::test]
async fn a_video_that_videos_list_does_not_show_is_looked_for_again_until_it_appears() {
    let server = MockServer::start().await;
    // Private, or a premiere not yet public: `videos.list` lists no item.
    Mock::given(path("/youtube/v3/videos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "youtube#videoListResponse", "items": [],
            "pageInfo": {"totalResults": 0, "resultsPerPage": 0}
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_video(&server).await;
    let pipeline = pipeline();
    let t = task(video(&server), &pipeline);
    let (state, status) = state_after(&t, &pipeline).await;
    assert_eq!(state, SourceState::Backoff, "{status}");
    assert!(
        status["detail"]
            .as_str()
            .unwrap()
            .contains("video not found"),
        "{status}"
    );
    assert!(status.get("title").is_none(), "no title yet: {status}");
    assert_eq!(requests_to(&server, "/youtube/v3/commentThreads").await, 0);
    let (state, status) = state_after(&t, &pipeline).await;
    assert_eq!(state, SourceState::Ok, "{status}");
    assert_eq!(status["title"], TITLE);
}

#[tokio::test]
async fn the_title_is_asked_for_once_and_a_long_one_is_cut() {
    let server = MockServer::start().await;
    let long = "配信".repeat(100);
    mount_title(&server, &long).await;
    mount_video(&server).await;
    let pipeline = pipeline();
    let t = task(video(&server), &pipeline);
    let (_, status) = state_after(&t, &pipeline).await;
    let title = status["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 120, "{title}");
    let cut = title.strip_suffix('…').expect("a cut title says so");
    assert!(long.starts_with(cut));
    t.poll_now().await;
    assert_eq!(requests_to(&server, "/youtube/v3/videos").await, 1);
}

#[tokio::test]
async fn a_hostile_title_reaches_the_status_frame_as_plain_text() {
    let server = MockServer::start().await;
    mount_title(
        &server,
        "<script>alert(1)</script>\u{202E}Stream\u{200B} <b>night</b>\u{0007}",
    )
    .await;
    mount_video(&server).await;
    let base = server.uri();
    let app = crate::helpers::spawn_app(&[
        ("CW_SOURCES", &format!("youtube:{VIDEO}")),
        ("YOUTUBE_API_KEY", KEY),
        ("YOUTUBE_API_BASE", &base),
    ])
    .await;
    let mut client = app.connect(None).await;
    let frames = client
        .until(|f| f["type"] == "status" && f["sources"][0]["title"].is_string())
        .await;
    let status = &frames.last().unwrap()["sources"][0];
    assert_eq!(status["source"], format!("youtube:{VIDEO}"));
    // The markup is text (a page sets it with textContent); the hidden
    // characters are gone.
    assert_eq!(
        status["title"],
        "<script>alert(1)</script>Stream <b>night</b>"
    );
}
