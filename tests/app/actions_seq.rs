//! The action routes name a comment by its `seq` (as the dashboard has it)
//! as well as by `source` and `id`: the same request reaches YouTube, an
//! unknown `seq` is 404 and one that names another comment than `source`
//! and `id` is refused, with nothing sent to YouTube.

use serde_json::{Value, json};

use crate::actions::{CHAT, VIDEO, seed};
use crate::helpers::{TestApp, spawn_app};
use crate::oauth::{connect_account, mock};

const TOKEN: &str = "actions-seq-token-9090";

async fn post(app: &TestApp, action: &str, body: Value) -> (u16, Value) {
    crate::actions::act(app, TOKEN, action, body).await
}

/// The `seq` of each of `source`'s comments, by id.
async fn seqs(app: &TestApp, source: &str) -> Vec<(String, i64)> {
    let page: Value = reqwest::Client::new()
        .get(app.url(&format!(
            "/api/comments?source={}&limit=50",
            source.replace(':', "%3A")
        )))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    page["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["seq"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn actions_take_a_comments_seq_as_well_as_its_source_and_id() {
    let google = mock::start().await;
    let mut env: Vec<(&str, String)> = google.env();
    env.extend([("CW_DEMO_RATE", "0".into()), ("CW_TOKEN", TOKEN.into())]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(&env).await;
    seed(&app).await;
    connect_account(&format!("http://{}", app.addr), TOKEN).await;
    let chat = seqs(&app, CHAT).await;
    let seq = |id: &str| chat.iter().find(|(i, _)| i == id).unwrap().1;
    let calls = || google.seen.lock().unwrap().calls.clone();

    // By seq alone: the same request as by source and id.
    let (status, body) = post(&app, "delete", json!({"seq": seq("m1")})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["source"].as_str(), body["id"].as_str()),
        (Some(CHAT), Some("m1"))
    );
    let last = calls().last().unwrap().clone();
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.2.as_str()),
        ("DELETE", "/youtube/v3/liveChat/messages", "id=m1")
    );

    // All three, agreeing.
    let (status, body) = post(
        &app,
        "timeout",
        json!({"seq": seq("m2"), "source": CHAT, "id": "m2", "duration": 10}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ban: Value = serde_json::from_str(&calls().last().unwrap().3).unwrap();
    assert_eq!(ban["snippet"]["bannedUserDetails"]["channelId"], "UC-Troll");
    let sent = calls().len();

    // Disagreeing, unknown, or a video comment's seq on a live chat action:
    // refused, and nothing reaches YouTube.
    let (status, body) = post(
        &app,
        "delete",
        json!({"seq": seq("m3"), "source": CHAT, "id": "m4"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("seq"), "{body}");
    let (status, body) = post(&app, "delete", json!({"seq": 999_999})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = post(&app, "delete", json!({"id": "m3"})).await;
    assert_eq!(status, 400, "{body}");
    let video = seqs(&app, VIDEO).await;
    let (status, body) = post(&app, "delete", json!({"seq": video[0].1})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(calls().len(), sent);

    // And the log records it under the comment's source and id.
    let listed: Value = reqwest::Client::new()
        .get(app.url("/api/actions"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let first = &listed["actions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (first["source"].as_str(), first["id"].as_str()),
        (Some(CHAT), Some("m1"))
    );
}
