//! Acting on live chat messages with the connected account, against the
//! mock Google: each action sends exactly the documented request, is
//! recorded in the log, and on success retracts locally as YouTube's own
//! retraction would; a refusal (not a moderator, gone, quota) says why and
//! changes nothing; another site, the overlay key and non-live sources are
//! refused.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::oauth::{connect_account, mock};

const TOKEN: &str = "actions-test-token-0123";
const OVERLAY_KEY: &str = "actions-overlay-key-0123456789";
pub const CHAT: &str = "youtube-live:Vid1Vid1Vid";
pub const VIDEO: &str = "youtube:Vid1Vid1Vid";

fn raw(id: &str, author: &str, text: &str) -> commentwatch::domain::RawComment {
    commentwatch::domain::RawComment {
        id: id.into(),
        author_name: author.into(),
        author_id: format!("UC-{author}"),
        text: text.into(),
        published_at: Some(chrono::Utc::now()),
        ..Default::default()
    }
}

pub async fn seed(app: &TestApp) {
    let comments = [
        raw("m1", "Troll", "first troll line"),
        raw("m2", "Troll", "second troll line"),
        raw("m3", "Kind", "hello"),
        raw("m4", "Kind", "hello again"),
    ]
    .into_iter()
    .map(|r| commentwatch::sanitize::sanitize(CHAT, r, chrono::Utc::now()).unwrap())
    .collect();
    app.feed
        .ingest(commentwatch::store::Batch {
            source: CHAT.into(),
            comments,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut answer = raw("r1", "Other", "a reply under c2");
    answer.reply_to = Some("c2".into());
    let video = [
        raw("c1", "Viewer", "a video comment"),
        raw("c2", "Asker", "a question?"),
        answer,
    ]
    .into_iter()
    .map(|r| commentwatch::sanitize::sanitize(VIDEO, r, chrono::Utc::now()).unwrap())
    .collect();
    app.feed
        .ingest(commentwatch::store::Batch {
            source: VIDEO.into(),
            comments: video,
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn post(app: &TestApp, action: &str, body: Value) -> (u16, Value) {
    act(app, TOKEN, action, body).await
}

/// `POST /api/actions/youtube/{action}` with `body`, signed in with `token`:
/// the answer's status and JSON (null when it is not JSON).
pub(crate) async fn act(app: &TestApp, token: &str, action: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(app.url(&format!("/api/actions/youtube/{action}")))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Which of the chat's messages the log shows as retracted.
async fn deleted(app: &TestApp) -> Vec<String> {
    deleted_in(app, CHAT).await
}

/// Which of `source`'s comments the log shows as retracted.
async fn deleted_in(app: &TestApp, source: &str) -> Vec<String> {
    let page: Value = serde_json::from_str(
        &reqwest::Client::new()
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
            .unwrap(),
    )
    .unwrap();
    let mut ids: Vec<String> = page["comments"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .filter(|c| c["deleted"] == true)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn actions(app: &TestApp) -> Vec<(String, String, String, bool, String, Option<String>)> {
    let conn = rusqlite::Connection::open(&app.db).unwrap();
    let mut stmt = conn
        .prepare("SELECT session, action, comment_id, ok, answer, ban_id FROM actions ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[tokio::test]
async fn each_live_chat_action_sends_the_documented_request_and_mirrors_locally() {
    let google = mock::start().await;
    let mut env: Vec<(&str, String)> = google.env();
    env.extend([
        ("CW_DEMO_RATE", "0".into()),
        ("CW_TOKEN", TOKEN.into()),
        ("CW_OVERLAY_KEY", OVERLAY_KEY.into()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(&env).await;
    seed(&app).await;
    let m = |id: &str| json!({"source": CHAT, "id": id});

    // Before an account is connected: says so, calls nothing.
    let (status, body) = post(&app, "delete", m("m1")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["reason"], "not_connected");
    connect_account(&format!("http://{}", app.addr), TOKEN).await;
    let calls = || google.seen.lock().unwrap().calls.clone();
    assert!(calls().is_empty());

    // Delete: DELETE liveChat/messages?id=, then retracted here.
    let (status, body) = post(&app, "delete", m("m1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["quota"], 50);
    assert_eq!(
        calls()[0],
        (
            "DELETE".into(),
            "/youtube/v3/liveChat/messages".into(),
            "id=m1".into(),
            String::new()
        )
    );
    assert_eq!(deleted(&app).await, ["m1"]);

    // An overlay is open while the author is timed out.
    let (mut overlay_ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/overlay/ws?key={OVERLAY_KEY}", app.addr))
            .await
            .unwrap();

    // Timeout 5 min: the chat's id once, then a temporary ban of the author.
    let (status, body) = post(
        &app,
        "timeout",
        json!({"source": CHAT, "id": "m2", "duration": 300}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = calls();
    assert_eq!(c[1].0, "GET");
    assert_eq!(c[1].1, "/youtube/v3/videos");
    assert_eq!(c[1].2, "part=liveStreamingDetails&id=Vid1Vid1Vid");
    assert_eq!(
        (c[2].0.as_str(), c[2].1.as_str(), c[2].2.as_str()),
        ("POST", "/youtube/v3/liveChat/bans", "part=snippet")
    );
    let sent: Value = serde_json::from_str(&c[2].3).unwrap();
    assert_eq!(
        sent,
        json!({"snippet": {"liveChatId": "chat-Vid1Vid1Vid", "type": "temporary",
            "banDurationSeconds": "300", "bannedUserDetails": {"channelId": "UC-Troll"}}})
    );
    let ban_id = body["ban_id"].as_str().unwrap().to_owned();
    assert_eq!(
        deleted(&app).await,
        ["m1", "m2"],
        "every message of the author"
    );
    let retracted = async {
        use futures_util::StreamExt;
        while let Some(Ok(msg)) = overlay_ws.next().await {
            let frame: Value = serde_json::from_str(&msg.to_string()).unwrap_or(Value::Null);
            if frame["type"] == "delete" && frame["id"] == "m2" && frame["source"] == CHAT {
                return;
            }
        }
        panic!("the overlay's feed ended");
    };
    tokio::time::timeout(crate::helpers::PATIENCE, retracted)
        .await
        .expect("the overlay hears the timed-out author's message retracted");

    // Unban: the ban's id, no body.
    let (status, body) = post(&app, "unban", m("m2")).await;
    assert_eq!(status, 200, "{body}");
    let c = calls();
    assert_eq!(c.len(), 4);
    assert_eq!(
        (c[3].0.as_str(), c[3].1.as_str()),
        ("DELETE", "/youtube/v3/liveChat/bans")
    );
    assert_eq!(c[3].2, format!("id={ban_id}"));

    // A permanent ban: no duration, the chat id from before.
    let (status, _) = post(&app, "ban", m("m2")).await;
    assert_eq!(status, 200);
    let c = calls();
    assert_eq!(c.len(), 5);
    let sent: Value = serde_json::from_str(&c[4].3).unwrap();
    assert_eq!(sent["snippet"]["type"], "permanent");
    assert!(sent["snippet"].get("banDurationSeconds").is_none());

    // Refusals say why and change nothing here.
    for (code, reason, status, ours) in [
        (403, "forbidden", 403, "not_moderator"),
        (404, "liveChatMessageNotFound", 404, "gone"),
        (403, "quotaExceeded", 429, "quota"),
    ] {
        google.seen.lock().unwrap().refuse_next = Some((code, reason.into()));
        let (got, body) = post(&app, "delete", m("m3")).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["reason"], ours);
        assert!(
            body["error"].as_str().unwrap().contains(reason) || ours == "quota",
            "{body}"
        );
        assert_eq!(deleted(&app).await, ["m1", "m2"]);
    }

    // Not from here: refused before anything is sent.
    let n = calls().len();
    let (status, _) = post(
        &app,
        "delete",
        json!({"source": "youtube:Vid1Vid1Vid", "id": "c1"}),
    )
    .await;
    assert_eq!(status, 400, "video comments are not live chat");
    let (status, _) = post(
        &app,
        "timeout",
        json!({"source": CHAT, "id": "m3", "duration": 42}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post(&app, "delete", m("nope")).await;
    assert_eq!(status, 404);
    let cross = reqwest::Client::new()
        .post(app.url("/api/actions/youtube/delete"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(m("m3").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let overlay = reqwest::Client::new()
        .post(app.url(&format!("/api/actions/youtube/delete?key={OVERLAY_KEY}")))
        .header("content-type", "application/json")
        .body(m("m3").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(overlay.status(), 401, "the overlay key cannot act");
    assert_eq!(calls().len(), n);

    // Every attempt is in the log, with the session and the answer.
    let recorded = actions(&app);
    let kinds: Vec<(&str, &str, bool)> = recorded
        .iter()
        .map(|(_, a, id, ok, _, _)| (a.as_str(), id.as_str(), *ok))
        .collect();
    assert_eq!(
        kinds,
        [
            ("delete", "m1", false),
            ("delete", "m1", true),
            ("timeout", "m2", true),
            ("unban", "m2", true),
            ("ban", "m2", true),
            ("delete", "m3", false),
            ("delete", "m3", false),
            ("delete", "m3", false),
        ]
    );
    assert!(recorded.iter().all(|r| r.0 == "bearer"));
    assert!(
        recorded[0].4.starts_with("not_connected"),
        "{:?}",
        recorded[0]
    );
    assert_eq!(recorded[2].5.as_deref(), Some(ban_id.as_str()));
    assert!(
        recorded[5].4.starts_with("not_moderator"),
        "{:?}",
        recorded[5]
    );
    for secret in google.secrets() {
        assert!(!format!("{recorded:?}").contains(&secret));
    }

    // And as the API lists them: newest first.
    let listed: Value = serde_json::from_str(
        &reqwest::Client::new()
            .get(app.url("/api/actions?limit=3"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let listed = listed["actions"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0]["action"], "delete");
    assert_eq!(listed[0]["ok"], false);
    assert_eq!(listed[0]["session"], "bearer");
    assert!(
        listed[0]["answer"].as_str().unwrap().starts_with("quota"),
        "{listed:?}"
    );
    let export = reqwest::Client::new()
        .get(app.url("/api/actions.jsonl"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".jsonl")
    );
    let export = export.text().await.unwrap();
    let lines: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), recorded.len(), "{export}");
    assert_eq!(lines[1]["action"], "delete");
    assert_eq!(lines[1]["ok"], true);
    assert_eq!(lines[2]["duration"], 300);
    for secret in google.secrets() {
        assert!(!export.contains(&secret));
    }
    let overlay = reqwest::Client::new()
        .get(app.url(&format!("/api/actions?key={OVERLAY_KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(overlay.status(), 401);
}

#[tokio::test]
async fn video_comments_are_held_rejected_and_answered_with_the_documented_requests() {
    let google = mock::start().await;
    let mut env: Vec<(&str, String)> = google.env();
    env.extend([("CW_DEMO_RATE", "0".into()), ("CW_TOKEN", TOKEN.into())]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(&env).await;
    seed(&app).await;
    connect_account(&format!("http://{}", app.addr), TOKEN).await;
    let calls = || google.seen.lock().unwrap().calls.clone();

    let (status, body) = post(&app, "hold", json!({"source": VIDEO, "id": "c1"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["quota"], 50);
    assert_eq!(
        calls()[0],
        (
            "POST".into(),
            "/youtube/v3/comments/setModerationStatus".into(),
            "id=c1&moderationStatus=heldForReview".into(),
            String::new()
        )
    );
    assert_eq!(deleted_in(&app, VIDEO).await, ["c1"], "no longer public");

    let (status, _) = post(
        &app,
        "reject",
        json!({"source": VIDEO, "id": "c2", "ban_author": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        calls()[1].2,
        "id=c2&moderationStatus=rejected&banAuthor=true"
    );

    // A reply to a reply goes under its thread's top-level comment.
    let (status, body) = post(
        &app,
        "reply",
        json!({"source": VIDEO, "id": "r1", "text": "  Thanks <b>both</b>!  "}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = calls();
    assert_eq!(
        (c[2].0.as_str(), c[2].1.as_str(), c[2].2.as_str()),
        ("POST", "/youtube/v3/comments", "part=snippet")
    );
    let sent: Value = serde_json::from_str(&c[2].3).unwrap();
    assert_eq!(
        sent,
        json!({"snippet": {"parentId": "c2", "textOriginal": "Thanks <b>both</b>!"}})
    );
    assert_eq!(
        deleted_in(&app, VIDEO).await,
        ["c1", "c2"],
        "a reply retracts nothing"
    );

    // What does not fit is refused before anything is sent.
    let n = calls().len();
    for (action, body) in [
        ("reply", json!({"source": VIDEO, "id": "c1", "text": "   "})),
        ("reply", json!({"source": CHAT, "id": "m1", "text": "hi"})),
        (
            "hold",
            json!({"source": VIDEO, "id": "c1", "ban_author": true}),
        ),
        ("delete", json!({"source": VIDEO, "id": "c1"})),
        ("hold", json!({"source": VIDEO, "id": "c1", "text": "x"})),
    ] {
        let (status, body) = post(&app, action, body).await;
        assert_eq!(status, 400, "{action}: {body}");
    }
    assert_eq!(calls().len(), n);
}

#[tokio::test]
async fn a_connection_google_no_longer_accepts_asks_to_reconnect_and_changes_nothing() {
    let google = mock::start().await;
    // Access tokens that need refreshing after a second.
    *google.expires_in.lock().unwrap() = 121;
    let mut env: Vec<(&str, String)> = google.env();
    env.extend([("CW_DEMO_RATE", "0".into()), ("CW_TOKEN", TOKEN.into())]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(&env).await;
    seed(&app).await;
    connect_account(&format!("http://{}", app.addr), TOKEN).await;
    // The streamer removed the access in their Google account.
    let refresh = google.seen.lock().unwrap().refresh[0].clone();
    google.seen.lock().unwrap().revoked.push(refresh);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, body) = post(&app, "delete", json!({"source": CHAT, "id": "m1"})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["reason"], "reconnect");
    assert!(google.seen.lock().unwrap().calls.is_empty());
    assert!(deleted(&app).await.is_empty());
}
