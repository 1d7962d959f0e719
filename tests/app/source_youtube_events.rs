//! Live chat events through the real app: a `youtube-live:` source against
//! the mock Data API serving one message of every type, seen as a dashboard
//! sees it (WebSocket frames, a replay with `since`, `/api/comments`,
//! `/metrics`). A part of `source_youtube`.

use serde_json::{Value, json};
use wiremock::MockServer;

use super::{KEY, VIDEO, json_fixture, mount_live};
use crate::helpers::spawn_app;

const TROLL: &str = "UCtrolltrolltrolltrolltr";

/// The frames of one poll of the events fixture, up to the last message.
async fn frames_of_the_events_page(client: &mut crate::helpers::Client) -> Vec<Value> {
    let mut last_seen = false;
    client
        .until(|f| {
            last_seen |= f["type"] == "comment" && f["comment"]["id"] == "LCC.ev-last";
            // The ban's deletions follow the last comment in the same batch.
            last_seen && f["type"] == "delete" && f["id"] == "LCC.ev-tr2"
        })
        .await
}

fn comment<'a>(frames: &'a [Value], id: &str) -> &'a Value {
    &frames
        .iter()
        .find(|f| f["type"] == "comment" && f["comment"]["id"] == id)
        .unwrap_or_else(|| panic!("no comment {id} in {frames:#?}"))["comment"]
}

#[tokio::test]
async fn every_live_chat_event_reaches_the_dashboard_with_roles_kinds_and_retractions() {
    let server = MockServer::start().await;
    let mut page = json_fixture("youtube_liveChatEvents.json");
    // Poll rarely: one page is the whole test.
    page["pollingIntervalMillis"] = json!(600_000);
    mount_live(&server, page).await;
    let base = server.uri();
    let source = format!("youtube-live:{VIDEO}");
    let app = spawn_app(&[
        ("CW_SOURCES", source.as_str()),
        ("YOUTUBE_API_KEY", KEY),
        ("YOUTUBE_API_BASE", base.as_str()),
    ])
    .await;
    let mut client = app.connect(None).await;
    let frames = frames_of_the_events_page(&mut client).await;

    // Who is speaking.
    assert_eq!(
        comment(&frames, "LCC.ev-mod1")["author"]["roles"],
        json!(["moderator", "member"])
    );
    assert_eq!(
        comment(&frames, "LCC.ev-own1")["author"]["roles"],
        json!(["owner", "verified"])
    );
    assert_eq!(
        comment(&frames, "LCC.ev-ver1")["author"]["roles"],
        json!(["verified"])
    );
    let plain = comment(&frames, "LCC.ev-plain1");
    assert!(plain["author"].get("roles").is_none(), "{plain}");
    assert!(
        plain.get("kind").is_none() && plain.get("event").is_none(),
        "{plain}"
    );

    // What kind of message.
    let sc = comment(&frames, "LCC.ev-sc1");
    assert_eq!(sc["kind"], "superchat");
    assert_eq!(sc["amount"]["display"], "$20.00");
    assert_eq!(sc["event"], json!({"type": "superchat", "tier": 4}));
    let st = comment(&frames, "LCC.ev-st1");
    assert_eq!(st["kind"], "sticker");
    assert_eq!(
        st["event"],
        json!({"type": "sticker", "tier": 2, "alt": "Cat waving", "sticker_id": "cat_wave_1"})
    );
    let ns = comment(&frames, "LCC.ev-ns1");
    assert_eq!(ns["kind"], "membership");
    assert_eq!(ns["author"]["member_level"], "Gold");
    assert_eq!(
        ns["event"],
        json!({"type": "new_member", "level": "Gold", "upgrade": false})
    );
    let mm = comment(&frames, "LCC.ev-mm1");
    assert_eq!(mm["text"], "a whole year already!");
    assert_eq!(
        mm["event"],
        json!({"type": "milestone", "months": 12, "level": "Gold"})
    );
    assert_eq!(
        comment(&frames, "LCC.ev-mg1")["event"],
        json!({"type": "gift_memberships", "count": 5, "level": "Gold"})
    );
    let gr = comment(&frames, "LCC.ev-gr1");
    assert_eq!(gr["kind"], "gift");
    assert_eq!(gr["event"]["gifter"], "UCmembmembmembmembmembme");
    let gift = &comment(&frames, "LCC.ev-gf1")["event"];
    assert_eq!(gift["image"], "https://yt3.ggpht.com/gifts/rose.png");
    assert_eq!(
        (gift["name"].as_str(), gift["count"].as_u64()),
        (Some("Rose"), Some(3))
    );
    let foreign = &comment(&frames, "LCC.ev-gf2")["event"];
    assert!(
        foreign.get("image").is_none(),
        "an image off YouTube's hosts is dropped: {foreign}"
    );
    let poll = comment(&frames, "LCC.ev-po1");
    assert_eq!(poll["kind"], "event");
    assert_eq!(
        poll["event"]["options"][1],
        json!({"text": "Go", "votes": 30})
    );
    assert_eq!(
        comment(&frames, "LCC.ev-so1")["event"]["type"],
        "members_only_started"
    );
    // The unknown type is skipped; its neighbour is not.
    assert!(!frames.iter().any(|f| f["comment"]["id"] == "LCC.ev-uk1"));
    comment(&frames, "LCC.ev-after1");

    // Retractions: the tombstone, the retraction and the ban, each once.
    let deleted: Vec<&str> = frames
        .iter()
        .filter(|f| f["type"] == "delete")
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        deleted,
        ["LCC.ev-gone1", "LCC.ev-rt1", "LCC.ev-tr1", "LCC.ev-tr2"],
        "the banned author's messages in the order they were posted"
    );

    // The status says so.
    let banned = |f: &Value| {
        f["type"] == "status"
            && f["sources"][0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("@troll_4000 was banned from the chat for 300 s"))
    };
    if !frames.iter().any(banned) {
        client.until(banned).await;
    }

    // A dashboard that reconnects with `since` gets the same comments.
    let mut again = app.connect(Some(0)).await;
    let replay = frames_of_the_events_page(&mut again).await;
    for id in ["LCC.ev-mod1", "LCC.ev-sc1", "LCC.ev-mm1", "LCC.ev-gf1"] {
        assert_eq!(comment(&replay, id), comment(&frames, id), "{id}");
    }

    // The log API too, banned messages marked deleted.
    let api = app.get_json("/api/comments?limit=100").await;
    let listed = api["comments"].as_array().unwrap();
    let find = |id: &str| listed.iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(
        find("LCC.ev-mod1")["author"]["roles"],
        json!(["moderator", "member"])
    );
    assert_eq!(find("LCC.ev-mm1")["event"]["months"], 12);
    for c in listed.iter().filter(|c| c["author"]["id"] == TROLL) {
        assert_eq!(c["deleted"], true, "{c}");
    }

    // The unknown type is counted.
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("commentwatch_messages_unknown_total{")
                && l.contains("type=\"superFancyHologramEvent\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn chat_ended_keeps_the_last_messages_and_stops_the_source_cleanly() {
    use commentwatch::poller::PollError;
    use commentwatch::source::SourceError;
    use commentwatch::source::youtube::LiveChat;

    let server = MockServer::start().await;
    let mut page = json_fixture("youtube_liveChatEvents.json");
    let items = page["items"].as_array().unwrap();
    let last = items
        .iter()
        .find(|m| m["id"] == "LCC.ev-last")
        .unwrap()
        .clone();
    let mut end = last.clone();
    end["id"] = json!("LCC.ev-end");
    end["snippet"] = json!({"type": "chatEndedEvent", "hasDisplayContent": false,
        "publishedAt": "2026-03-14T21:00:00Z"});
    page["items"] = json!([last, end]);
    mount_live(&server, page).await;
    let pipeline = crate::helpers::pipeline();
    let source = LiveChat::new(VIDEO, super::settings(&server), super::http());
    assert_eq!(
        crate::helpers::poll(&source, &pipeline).await.unwrap().new,
        1
    );
    match crate::helpers::poll(&source, &pipeline).await {
        Err(PollError::Source(SourceError::Stopped { reason })) => {
            assert_eq!(reason, "the chat ended")
        }
        other => panic!("{other:?}"),
    }
    let chat_calls = super::requests_to(&server, "/youtube/v3/liveChat/messages").await;
    assert_eq!(chat_calls, 1, "no request after the chat ended");
}

/// Drops every `channelId` from `v` (the comments' own), so only the
/// video's, from `videos.list`, can tell who the owner is.
fn without_channel_ids(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("channelId");
            o.values_mut().for_each(without_channel_ids);
        }
        Value::Array(a) => a.iter_mut().for_each(without_channel_ids),
        _ => {}
    }
}

#[tokio::test]
async fn a_video_comment_by_the_videos_channel_is_marked_owner_and_no_other() {
    use wiremock::matchers::{path, query_param, query_param_is_missing};
    use wiremock::{Mock, ResponseTemplate};

    const OWNER: &str = "UCq7N2mZpL4xT8vB1kR9sYwA";
    let server = MockServer::start().await;
    Mock::given(path("/youtube/v3/videos"))
        .and(query_param("id", VIDEO))
        .and(query_param("part", "snippet"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"id": VIDEO, "snippet": {"title": "A video", "channelId": OWNER}}]
        })))
        .mount(&server)
        .await;
    let mut page = json_fixture("youtube_commentThreads_page1.json");
    without_channel_ids(&mut page);
    page.as_object_mut().unwrap().remove("nextPageToken");
    Mock::given(path("/youtube/v3/commentThreads"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(&server)
        .await;
    Mock::given(path("/youtube/v3/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;
    let pipeline = crate::helpers::pipeline();
    let mut rx = pipeline.hub.subscribe();
    crate::helpers::poll(&super::video(&server), &pipeline)
        .await
        .unwrap();
    let comments: Vec<Value> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|f| serde_json::from_str::<Value>(f.json.as_str()).unwrap())
        .filter(|f| f["type"] == "comment")
        .map(|f| f["comment"].clone())
        .collect();
    assert!(comments.len() > 5, "{comments:#?}");
    for c in &comments {
        let expected = (c["author"]["id"] == OWNER).then(|| json!(["owner"]));
        assert_eq!(c["author"].get("roles").cloned(), expected, "{c}");
    }
    assert!(comments.iter().any(|c| c["author"]["id"] == OWNER));
}

#[tokio::test]
async fn a_gift_whose_combo_grows_under_the_same_id_becomes_one_update_with_the_latest_count() {
    use wiremock::matchers::{path, query_param, query_param_is_missing};
    use wiremock::{Mock, ResponseTemplate};

    let server = MockServer::start().await;
    let fixture = json_fixture("youtube_liveChatEvents.json");
    let rose = fixture["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "LCC.ev-gf1")
        .unwrap()
        .clone();
    let combo = |n: u32| {
        let mut m = rose.clone();
        m["snippet"]["giftDetails"]["comboCount"] = json!(n);
        m
    };
    Mock::given(path("/youtube/v3/videos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"id": VIDEO, "snippet": {"title": "live"},
                "liveStreamingDetails": {"activeLiveChatId": "chat-1"}}]
        })))
        .mount(&server)
        .await;
    Mock::given(path("/youtube/v3/liveChat/messages"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "nextPageToken": "T1", "pollingIntervalMillis": 1, "items": [combo(1)]
        })))
        .mount(&server)
        .await;
    Mock::given(path("/youtube/v3/liveChat/messages"))
        .and(query_param("pageToken", "T1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "nextPageToken": "T2", "pollingIntervalMillis": 1,
            "items": [combo(4), combo(7)]
        })))
        .mount(&server)
        .await;
    Mock::given(path("/youtube/v3/liveChat/messages"))
        .and(query_param("pageToken", "T2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "nextPageToken": "T3", "pollingIntervalMillis": 1, "items": [combo(7)]
        })))
        .mount(&server)
        .await;
    let pipeline = crate::helpers::pipeline();
    let mut rx = pipeline.hub.subscribe();
    let source = commentwatch::source::youtube::LiveChat::new(
        VIDEO,
        super::settings(&server),
        super::http(),
    );
    for _ in 0..3 {
        crate::helpers::poll(&source, &pipeline).await.unwrap();
    }
    let frames: Vec<Value> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|f| serde_json::from_str::<Value>(f.json.as_str()).unwrap())
        .filter(|f| f["type"] == "comment" || f["type"] == "update")
        .collect();
    let seen: Vec<(&str, u64)> = frames
        .iter()
        .map(|f| {
            (
                f["type"].as_str().unwrap(),
                f["comment"]["event"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("comment", 1), ("update", 7)],
        "the latest count of a page wins, and a repeat is no change"
    );
    assert!(frames.iter().all(|f| f["comment"]["id"] == "LCC.ev-gf1"));
}
