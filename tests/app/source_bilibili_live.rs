//! `bilibili-live:ROOM_ID` against a mock that speaks the danmaku server's
//! binary protocol (header fields, auth reply, heartbeat replies,
//! brotli-packed batches) and the live API's HTTP side: danmaku, a Super
//! Chat and a gift arrive in order; missed heartbeat replies and a server
//! close lead to a reconnect, marked as a gap; a masked anonymous session
//! says so; a malformed packet loses none of its neighbours; the dashboard
//! shows all three kinds.

use std::time::Duration;

use commentwatch::domain::Kind;
use commentwatch::poller::PushTask;
use commentwatch::source::PushedSource;
use commentwatch::source::bilibili::BilibiliSettings;
use commentwatch::source::bilibili::live::{BilibiliLive, LiveSettings};
use commentwatch::source::http::Http;
use commentwatch::status::SourceState;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::pipeline;

mod mock;
use mock::{LiveMock, OWNER_UID, REAL_ID, Script, brotli_frame, command};

const NAME: &str = "bilibili-live:1017";

/// A `DANMU_MSG` in the web client's shape.
fn danmu(uid: u64, name: &str, text: &str, id_str: &str, ms: i64) -> String {
    let extra = json!({
        "send_from_me": false, "mode": 0, "color": 16777215, "dm_type": 0, "font_size": 25,
        "player_mode": 1, "show_player_type": 0, "content": text, "user_hash": "2350939498",
        "emoticon_unique": "", "direction": 0, "pk_direction": 0, "quartet_direction": 0,
        "emots": null, "is_audited": false, "id_str": id_str, "icon": null, "show_reply": true,
        "reply_mid": 0, "reply_uname": "", "hit_combo": 0
    });
    json!({
        "cmd": "DANMU_MSG", "dm_v2": "",
        "info": [
            [0, 1, 25, 16777215, ms, -1163416282, 0, "8c3be2e6", 0, 0, 0, "", 0, "{}", "{}",
             {"extra": extra.to_string(), "mode": 0, "show_player_type": 0,
              "user": {"uid": uid, "base": {"name": name, "face": "https://i1.hdslb.com/bfs/face/member.jpg", "name_color": 0, "is_mystery": false}}},
             {"activity_identity": "", "activity_source": 0, "not_show": 0}, 0],
            text,
            [uid, name, 0, 0, 0, 10000, 1, ""],
            [12, "小狗牌", "主播", REAL_ID, 1725515, "", 0, 6809855, 398668, 6850801, 0, 1, OWNER_UID],
            [18, 0, 6406234, ">50000", 0],
            ["", ""], 0, 0, null, {"ts": ms / 1000, "ct": "AFFF4206"}, 0, 0, null, null, 0, 105, [14], null
        ]
    })
    .to_string()
}

fn super_chat(id: u64, price: u32, text: &str) -> String {
    json!({"cmd": "SUPER_CHAT_MESSAGE", "roomid": REAL_ID, "data": {
        "background_bottom_color": "#2A60B2", "background_color": "#EDF5FF", "end_time": 1733203060,
        "gift": {"gift_id": 12000, "gift_name": "醒目留言", "num": 1}, "id": id,
        "medal_info": {"anchor_roomid": REAL_ID, "anchor_uname": "主播", "guard_level": 0, "medal_level": 15, "medal_name": "小狗牌", "target_id": OWNER_UID},
        "message": text, "message_trans": "", "price": price, "rate": 1000, "start_time": 1733203000,
        "time": 60, "token": "D4C7D0F8", "ts": 1733203000, "uid": 37903025,
        "user_info": {"face": "http://i2.hdslb.com/bfs/face/sc.jpg", "guard_level": 0, "manager": 0, "uname": "醒目的人", "user_level": 20}
    }})
    .to_string()
}

fn gift(tid: &str) -> String {
    json!({"cmd": "SEND_GIFT", "data": {
        "action": "投喂", "batch_combo_id": "", "coin_type": "gold", "face": "http://i2.hdslb.com/bfs/face/g.jpg",
        "giftId": 31036, "giftName": "小花花", "giftType": 0, "guard_level": 0,
        "gift_info": {"img_basic": "https://s1.hdslb.com/bfs/live/flower.png"},
        "medal_info": {"medal_level": 3, "medal_name": "小狗牌", "target_id": OWNER_UID},
        "num": 5, "price": 100, "rnd": "1733203001", "tid": tid, "timestamp": 1733203001,
        "total_coin": 500, "uid": 52, "uname": "送花的人"
    }})
    .to_string()
}

fn settings(mock: &LiveMock, cookie: Option<&str>) -> BilibiliLive {
    BilibiliLive::new(
        "1017",
        BilibiliSettings {
            api_base: mock.http.uri(),
            cookie: cookie.map(str::to_owned),
            min_interval: Duration::from_secs(10),
        },
        LiveSettings {
            api_base: mock.http.uri(),
            ws: Some(mock.ws.clone()),
        },
        Http::new(Duration::from_secs(5), 1 << 20),
    )
    .unwrap()
}

async fn wait_for_ids(log: &commentwatch::store::CommentLog, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let changes = log.changes_since(0, 1000).await.unwrap();
        if changes.len() >= n {
            return changes.iter().map(|c| c.comment.id.clone()).collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} arrived",
            changes.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status_with(
    pipeline: &commentwatch::poller::Pipeline,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = pipeline
            .hub
            .statuses()
            .into_iter()
            .find(|s| s.source == NAME)
            .unwrap();
        let detail = status.detail.clone().unwrap_or_default();
        if status.state == SourceState::Ok && done(&detail) {
            return detail;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn danmaku_a_super_chat_and_a_gift_arrive_in_order_with_who_sent_them() {
    let t = 1733203000000;
    let mock = mock::start(vec![Script {
        frames: vec![
            brotli_frame(&[
                command(&danmu(1001, "观众甲", "第一条", "id-one", t)),
                command(&danmu(OWNER_UID, "主播", "欢迎", "id-two", t + 500)),
                command(&super_chat(3897503, 50, "主播晚上好")),
            ]),
            brotli_frame(&[
                command(&gift("1733203001000000001")),
                command(r#"{"cmd":"ONLINE_RANK_COUNT","data":{"count":12}}"#),
                command(&danmu(1002, "观众乙", "最后", "id-three", t + 2000)),
            ]),
        ],
        ..Script::default()
    }])
    .await;
    let pipeline = pipeline();
    let source = settings(
        &mock,
        Some("SESSDATA=secret-sess; DedeUserID=42; buvid3=COOKIE-BUVID"),
    );
    let task = PushTask::new(Box::new(source), pipeline.clone());
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());

    let ids = wait_for_ids(&pipeline.log, 5).await;
    assert_eq!(
        ids,
        [
            "id-one",
            "id-two",
            "sc-3897503",
            "gift-1733203001000000001",
            "id-three"
        ],
        "in the order the server sent them"
    );
    let changes = pipeline.log.changes_since(0, 100).await.unwrap();
    let c = |i: usize| &changes[i].comment;
    assert_eq!(c(0).text, "第一条");
    assert_eq!(
        (c(0).author.name.as_str(), c(0).author.id.as_str()),
        ("观众甲", "1001")
    );
    assert_eq!(
        c(0).author.member_level.as_deref(),
        Some("小狗牌 Lv12 · UL 18")
    );
    assert_eq!(c(0).source, NAME);
    assert!(c(1).author.roles.iter().any(|r| r.as_str() == "owner"));
    assert_eq!(c(2).kind, Kind::Superchat);
    assert_eq!(c(2).amount.as_ref().unwrap().display, "CN¥50");
    assert_eq!(c(2).amount.as_ref().unwrap().currency, "CNY");
    assert_eq!(
        c(2).author.avatar.as_deref(),
        Some("https://i2.hdslb.com/bfs/face/sc.jpg")
    );
    assert_eq!(c(3).kind, Kind::Gift);
    assert_eq!(c(3).text, "投喂 小花花 ×5");
    assert_eq!(c(3).amount.as_ref().unwrap().display, "CN¥0.50");

    // The login: the cookie's uid and buvid3, the real room, the token.
    {
        let seen = mock.seen.lock().unwrap();
        assert_eq!(seen.auth_headers[0], (true, 16, 1, 7, 1));
        let auth = &seen.auths[0];
        assert_eq!(auth["uid"], 42);
        assert_eq!(auth["roomid"], REAL_ID);
        assert_eq!(auth["buvid"], "COOKIE-BUVID");
        assert!(seen.user_agents[0].starts_with("Mozilla/5.0"));
    }
    // getDanmuInfo was WBI-signed for the real room, with the cookie.
    let requests = mock.http.received_requests().await.unwrap();
    let info = requests
        .iter()
        .find(|r| r.url.path().ends_with("getDanmuInfo"))
        .expect("getDanmuInfo was asked");
    let query = info.url.query().unwrap();
    assert!(
        query.contains("w_rid=") && query.contains("wts="),
        "{query}"
    );
    assert!(query.contains(&format!("id={REAL_ID}")), "{query}");
    // Signed with the mixin key of the nav's keys (SOURCE-APIS' vector).
    let pairs: Vec<(String, String)> = info
        .url
        .query_pairs()
        .filter(|(k, _)| k != "w_rid" && k != "wts")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let wts: i64 = info
        .url
        .query_pairs()
        .find(|(k, _)| k == "wts")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let params: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        query,
        commentwatch::source::bilibili::sign_query(
            &params,
            "ea1db124af3c7062474693fa704f4ff8",
            wts
        ),
        "the signature matches the query"
    );
    assert!(
        info.headers
            .get("cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("buvid3=COOKIE-BUVID")
    );
    assert!(
        !requests.iter().any(|r| r.url.path() == "/"),
        "the cookie's buvid3 is used"
    );

    let status = pipeline.hub.statuses().pop().unwrap();
    assert_eq!(status.state, SourceState::Ok);
    assert_eq!(status.title.as_deref(), Some("晚间杂谈 evening chat"));
    assert!(!format!("{status:?}").contains("secret-sess"));
    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn missed_heartbeat_replies_and_a_server_close_reconnect_and_mark_the_gap() {
    let t = 1733203000000;
    let mock = mock::start(vec![
        // Heartbeats go unanswered: the client gives up and reconnects.
        Script {
            frames: vec![brotli_frame(&[command(&danmu(1, "a", "one", "g1", t))])],
            silent: true,
            ..Script::default()
        },
        // The server closes after one frame (repeating a danmaku).
        Script {
            frames: vec![brotli_frame(&[
                command(&danmu(1, "a", "one", "g1", t)),
                command(&danmu(2, "b", "two", "g2", t + 1)),
            ])],
            close: true,
            ..Script::default()
        },
        Script {
            frames: vec![brotli_frame(&[command(&danmu(
                3,
                "c",
                "three",
                "g3",
                t + 2,
            ))])],
            ..Script::default()
        },
    ])
    .await;
    let pipeline = pipeline();
    let source = settings(&mock, None).with_heartbeat(Duration::from_millis(200));
    let task = PushTask::new(Box::new(source), pipeline.clone());
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());

    let ids = wait_for_ids(&pipeline.log, 3).await;
    assert_eq!(ids, ["g1", "g2", "g3"], "each once, though g1 came twice");
    let detail = status_with(&pipeline, "the gap is marked", |d| {
        d.contains("reconnected at")
    })
    .await;
    assert!(detail.contains("may be missing"), "{detail}");
    {
        let seen = mock.seen.lock().unwrap();
        assert_eq!(seen.auths.len(), 3, "two reconnects");
        assert!(
            seen.heartbeats >= 2,
            "the silent server was sent heartbeats"
        );
        // Anonymous: uid 0 and the buvid3 the front page set.
        assert_eq!(seen.auths[0]["uid"], 0);
        assert_eq!(seen.auths[0]["buvid"], "MOCK-BUVID-0001infoc");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pipeline.log.count().await.unwrap(), 3);
    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_refused_login_is_an_error_and_the_source_logs_in_again() {
    let mock = mock::start(vec![
        Script {
            refuse: true,
            ..Script::default()
        },
        Script {
            frames: vec![brotli_frame(&[command(&danmu(
                1,
                "a",
                "in",
                "r1",
                1733203000000,
            ))])],
            ..Script::default()
        },
    ])
    .await;
    let pipeline = pipeline();
    let mut statuses = pipeline.hub.subscribe();
    let task = PushTask::new(Box::new(settings(&mock, None)), pipeline.clone());
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());
    assert_eq!(wait_for_ids(&pipeline.log, 1).await, ["r1"]);
    let mut refused = None;
    while let Ok(frame) = statuses.try_recv() {
        let text = frame.json.to_string();
        if text.contains("refused the login") {
            refused = Some(text);
        }
    }
    let refused = refused.expect("the refusal was reported");
    assert!(refused.contains("-101"), "{refused}");
    assert_eq!(mock.seen.lock().unwrap().auths.len(), 2);
    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_masked_anonymous_session_is_reported_in_the_status() {
    let notice = r#"{"cmd":"LOG_IN_NOTICE","data":{"notice_msg":"为保护用户隐私，未登录无法查看他人昵称","image_web":"http://i0.hdslb.com/bfs/dm/75e7c16b99208df259fe0a93354fd3440cbab412.png","image_app":""}}"#;
    let mock = mock::start(vec![Script {
        frames: vec![
            brotli_frame(&[command(notice)]),
            brotli_frame(&[command(&danmu(0, "观***", "你好", "m1", 1733203000000))]),
        ],
        ..Script::default()
    }])
    .await;
    let pipeline = pipeline();
    let source = settings(&mock, None);
    assert_eq!(source.detail(), None);
    let task = PushTask::new(Box::new(source), pipeline.clone());
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());
    wait_for_ids(&pipeline.log, 1).await;
    let detail = status_with(&pipeline, "the masking is said", |d| {
        d.contains("anonymously")
    })
    .await;
    assert!(detail.contains("BILIBILI_COOKIE"), "{detail}");
    let c = pipeline
        .log
        .changes_since(0, 10)
        .await
        .unwrap()
        .remove(0)
        .comment;
    assert_eq!(
        (c.author.name.as_str(), c.author.id.as_str()),
        ("观***", "")
    );
    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_malformed_packet_does_not_lose_its_neighbours() {
    let t = 1733203000000;
    let bad_brotli = mock::packet(5, 3, b"this is not brotli");
    let mut truncated = command(&danmu(9, "z", "cut", "never", t));
    truncated.truncate(40);
    let mock = mock::start(vec![Script {
        frames: vec![
            // A bad packet between two good ones, in one frame.
            [
                command(&danmu(1, "a", "before", "n1", t)),
                bad_brotli,
                command(&danmu(2, "b", "after", "n2", t + 1)),
            ]
            .concat(),
            // Inside a brotli batch: a command that is not JSON.
            brotli_frame(&[
                command("{not json"),
                command(&danmu(3, "c", "inside", "n3", t + 2)),
            ]),
            // A frame cut short, then a good frame.
            truncated,
            brotli_frame(&[command(&danmu(4, "d", "last", "n4", t + 3))]),
        ],
        ..Script::default()
    }])
    .await;
    let pipeline = pipeline();
    let task = PushTask::new(Box::new(settings(&mock, None)), pipeline.clone());
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());
    let ids = wait_for_ids(&pipeline.log, 4).await;
    assert_eq!(ids, ["n1", "n2", "n3", "n4"]);
    assert_eq!(
        mock.seen.lock().unwrap().auths.len(),
        1,
        "no reconnect for bad packets"
    );
    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn the_dashboard_shows_a_danmaku_a_super_chat_and_a_gift() {
    let Some(browser) = crate::chrome::Browser::launch().await else {
        return;
    };
    let mock = mock::start(vec![Script {
        frames: vec![brotli_frame(&[
            command(&danmu(1001, "观众甲", "弹幕来了", "dash-1", 1733203000000)),
            command(&super_chat(77, 30, "醒目留言内容")),
            command(&gift("dash-gift")),
        ])],
        ..Script::default()
    }])
    .await;
    let base = mock.http.uri();
    let app = crate::helpers::spawn_app(&[
        ("CW_SOURCES", "bilibili-live:1017"),
        ("BILIBILI_API_BASE", &base),
        ("BILIBILI_LIVE_API_BASE", &base),
        ("BILIBILI_LIVE_WS", &mock.ws),
    ])
    .await;
    browser.goto(&app.url("/")).await;
    let cards: Vec<String> = browser
        .poll(
            "the three messages to show",
            Duration::from_secs(20),
            "return [...document.querySelectorAll('#feed li.comment')].map((li) => li.dataset.id + '|' + (li.dataset.kind || '') + '|' + li.textContent.replace(/\\s+/g, ' '));",
            |cards: &Vec<String>| cards.len() >= 3,
        )
        .await;
    let find = |id: &str| {
        cards
            .iter()
            .find(|c| c.starts_with(&format!("{id}|")))
            .unwrap_or_else(|| panic!("{id} in {cards:?}"))
            .clone()
    };
    let danmaku = find("dash-1");
    assert!(
        danmaku.contains("弹幕来了") && danmaku.contains("观众甲"),
        "{danmaku}"
    );
    let sc = find("sc-77");
    assert!(sc.contains("醒目留言内容") && sc.contains("CN¥30"), "{sc}");
    let gift = find("gift-dash-gift");
    assert!(gift.contains("小花花"), "{gift}");
    browser.screenshot("bilibili-live-dashboard").await;
    browser.close().await;
    app.stop().await;
}
