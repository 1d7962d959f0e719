//! `twitch:CHANNEL` against a mock IRC-over-WebSocket server speaking the
//! formats of docs/SOURCES.md: the anonymous login, a thousand messages with
//! every tag, emotes around emoji and CJK, subs, gifts, raids and cheers,
//! retractions, RECONNECT, a dropped socket and a channel that is gone.

use std::time::Duration;

use commentwatch::status::{SourceState, SourceStatus};
use serde_json::Value;

use crate::helpers::{PATIENCE, TestApp, eventually, spawn_app};

#[path = "source_twitch/mock.rs"]
pub(crate) mod mock;

use mock::MockIrc;

const CHANNEL: &str = "streamer_1";

async fn app_for(mock: &MockIrc, extra: &[(&str, &str)]) -> TestApp {
    let source = format!("twitch:{}", CHANNEL.to_uppercase());
    let mut env = vec![
        ("CW_SOURCES", source.as_str()),
        ("TWITCH_IRC_URL", mock.url.as_str()),
    ];
    env.extend_from_slice(extra);
    spawn_app(&env).await
}

/// The source's status, once it has one.
fn status(app: &TestApp) -> Option<SourceStatus> {
    app.feed
        .hub
        .statuses()
        .into_iter()
        .find(|s| s.source == format!("twitch:{CHANNEL}"))
}

async fn status_until(app: &TestApp, what: &str, check: impl Fn(&SourceStatus) -> bool) {
    eventually(what, PATIENCE, || async {
        match status(app) {
            Some(s) if check(&s) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// A PRIVMSG of message `i`, with every tag Twitch sends, varied by `i`.
fn privmsg(i: usize) -> String {
    let badges = [
        "",
        "broadcaster/1",
        "moderator/1,subscriber/12",
        "vip/1",
        "partner/1,subscriber/3000",
        "glhf-pledge/1",
    ][i % 6];
    let badge_info = if badges.contains("subscriber") {
        "subscriber/14"
    } else {
        ""
    };
    let bits = if i % 50 == 7 { "bits=250;" } else { "" };
    let reply = if i % 10 == 3 {
        format!(
            "reply-parent-display-name=Par\\sent;reply-parent-msg-body=earlier\\:\\sone;reply-parent-msg-id=m{:04};reply-parent-user-id=9;reply-parent-user-login=parent;",
            i - 1
        )
    } else {
        String::new()
    };
    format!(
        "@badge-info={badge_info};badges={badges};{bits}client-nonce=n{i};color=#1E90FF;display-name=Viewer\\s{i}\\:\\\\x;emotes=25:0-4;first-msg={first};flags=;id=m{i:04};mod=0;{reply}returning-chatter=0;room-id=11;subscriber=0;tmi-sent-ts={ts};turbo=0;user-id=u{user};user-type= :viewer{user}!viewer{user}@viewer{user}.tmi.twitch.tv PRIVMSG #{CHANNEL} :Kappa message {i} 世界 😀",
        first = u8::from(i.is_multiple_of(100)),
        ts = 1_764_000_000_000u64 + i as u64 * 1000,
        user = i % 37,
    )
}

#[tokio::test]
async fn a_thousand_messages_with_every_tag_arrive_in_order_once() {
    let mock = MockIrc::start(CHANNEL).await;
    let app = app_for(&mock, &[]).await;
    let mut client = app.connect(None).await;
    let logins = mock.logins(1).await;
    assert_eq!(
        logins[0].joined, CHANNEL,
        "the channel is joined lower-cased"
    );
    status_until(&app, "the source streams", |s| s.state == SourceState::Ok).await;

    // Frames of 1 to 37 lines; every tenth frame ends in the middle of a
    // line that the next one finishes.
    let lines: Vec<String> = (0..1000).map(privmsg).collect();
    let mut sent = 0;
    let mut frame_no = 0;
    let mut carry = String::new();
    while sent < lines.len() {
        let n = (frame_no * 7 % 37 + 1).min(lines.len() - sent);
        let mut text = std::mem::take(&mut carry);
        for l in &lines[sent..sent + n] {
            text.push_str(l);
            text.push_str("\r\n");
        }
        sent += n;
        if frame_no % 10 == 9 && sent < lines.len() {
            let next = &lines[sent];
            let cut = next.char_indices().nth(next.chars().count() - 5).unwrap().0;
            text.push_str(&next[..cut]);
            carry = format!("{}\r\n", &next[cut..]);
            sent += 1;
        }
        mock.send_raw(&text);
        frame_no += 1;
    }
    if !carry.is_empty() {
        mock.send_raw(&carry);
    }

    let comments = client.comments_within(1000, Duration::from_secs(60)).await;
    let ids: Vec<&str> = comments
        .iter()
        .map(|f| f["comment"]["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..1000).map(|i| format!("m{i:04}")).collect();
    assert_eq!(ids, expected, "every message once, in order");
    assert!(
        client
            .next_frame_within(Duration::from_millis(500))
            .await
            .map_or(true, |f| f.is_none_or(|f| f["type"] != "comment")),
        "no message twice"
    );
    let c = |i: usize| &comments[i]["comment"];
    assert_eq!(c(0)["author"]["name"], "Viewer 0;\\x");
    assert_eq!(c(0)["author"]["id"], "u0");
    assert_eq!(c(0)["text"], "Kappa message 0 世界 😀");
    assert_eq!(c(0)["published_at"], "2025-11-24T16:00:00Z");
    assert_eq!(c(0)["event"]["type"], "first_message");
    assert_eq!(c(1)["author"]["roles"], serde_json::json!(["owner"]));
    assert_eq!(
        c(2)["author"]["roles"],
        serde_json::json!(["moderator", "member"])
    );
    assert_eq!(c(2)["author"]["member_level"], "14 months");
    assert_eq!(c(3)["author"]["roles"], serde_json::json!(["vip"]));
    assert_eq!(c(3)["reply_to"], "m0002");
    assert_eq!(
        c(4)["author"]["roles"],
        serde_json::json!(["member", "verified"])
    );
    assert!(c(5)["author"].get("roles").is_none());
    assert_eq!(c(7)["kind"], "superchat");
    assert_eq!(
        c(7)["amount"],
        serde_json::json!({"display":"250 bits","micros":250_000_000,"currency":"bits"})
    );
    assert_eq!(
        c(8)["emotes"]["Kappa"],
        "https://static-cdn.jtvnw.net/emoticons/v2/25/default/dark/1.0"
    );
    let stats = app.get_json("/api/stats").await;
    assert_eq!(stats["total"], 1000);
}

#[tokio::test]
async fn emote_ranges_around_emoji_and_cjk_give_the_right_images_on_the_configured_host() {
    let mock = MockIrc::start(CHANNEL).await;
    let app = app_for(
        &mock,
        &[("TWITCH_EMOTE_BASE", "https://emotes.twitch.test/")],
    )
    .await;
    let mut client = app.connect(None).await;
    mock.logins(1).await;
    // 👨‍👩‍👧 is 5 code points (8 UTF-16 units), 😀 one (2 units).
    let text = "👨‍👩‍👧 こんにちは LUL 你好 Kappa😀PogChamp";
    let chars: Vec<char> = text.chars().collect();
    let find = |word: &str| {
        let w: Vec<char> = word.chars().collect();
        let start = chars
            .windows(w.len())
            .position(|x| x == w.as_slice())
            .unwrap();
        format!("{start}-{}", start + w.len() - 1)
    };
    let tag = format!(
        "425618:{}/25:{}/88:{}",
        find("LUL"),
        find("Kappa"),
        find("PogChamp")
    );
    assert_eq!(tag, "425618:12-14/25:19-23/88:25-32");
    mock.send(&[format!(
        "@emotes={tag};id=e1;display-name=E :e!e@e PRIVMSG #{CHANNEL} :{text}"
    )]);
    let c = &client.comments(1).await[0]["comment"];
    assert_eq!(c["text"], text);
    let base = "https://emotes.twitch.test/emoticons/v2";
    assert_eq!(
        c["emotes"],
        serde_json::json!({
            "LUL": format!("{base}/425618/default/dark/1.0"),
            "Kappa": format!("{base}/25/default/dark/1.0"),
            "PogChamp": format!("{base}/88/default/dark/1.0"),
        })
    );
    let page = app.get("/").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    let img_src = csp.split("; ").find(|d| d.starts_with("img-src")).unwrap();
    assert!(img_src.contains(" https://emotes.twitch.test"), "{img_src}");
    assert!(img_src.contains(" https://*.jtvnw.net"), "{img_src}");
}

fn usernotice(tags: &str, text: &str) -> String {
    let trailing = if text.is_empty() {
        String::new()
    } else {
        format!(" :{text}")
    };
    format!("@{tags} :tmi.twitch.tv USERNOTICE #{CHANNEL}{trailing}")
}

#[tokio::test]
async fn subs_resubs_gift_subs_raids_and_cheers_are_comments_of_their_kind() {
    let mock = MockIrc::start(CHANNEL).await;
    let app = app_for(&mock, &[]).await;
    let mut client = app.connect(None).await;
    mock.logins(1).await;
    mock.send(&[
        usernotice(
            "badge-info=subscriber/1;badges=subscriber/0;display-name=Newbie;id=n1;login=newbie;msg-id=sub;msg-param-sub-plan=1000;system-msg=Newbie\\ssubscribed\\sat\\sTier\\s1.;tmi-sent-ts=1764000000000;user-id=1",
            "",
        ),
        usernotice(
            "badge-info=subscriber/2;badges=subscriber/0;display-name=Gutrin;emotes=1035663:0-3;id=n2;login=gutrin;msg-id=resub;msg-param-cumulative-months=2;msg-param-sub-plan=1000;system-msg=Gutrin\\ssubscribed\\sat\\sTier\\s1.\\sThey've\\ssubscribed\\sfor\\s2\\smonths!;tmi-sent-ts=1764000001000;user-id=2",
            "xqcL love this stream",
        ),
        usernotice(
            "badges=sub-gifter/50;display-name=Adam;id=n3;login=adam;msg-id=subgift;msg-param-recipient-display-name=qatarking24xd;msg-param-sub-plan=2000;system-msg=Adam\\sgifted\\sa\\sTier\\s2\\ssub\\sto\\sqatarking24xd!;tmi-sent-ts=1764000002000;user-id=3",
            "",
        ),
        usernotice(
            "display-name=Raider;id=n4;login=raider;msg-id=raid;msg-param-displayName=Raider;msg-param-login=raider;msg-param-viewerCount=430;system-msg=430\\sraiders\\sfrom\\sRaider\\shave\\sjoined!;tmi-sent-ts=1764000003000;user-id=4",
            "",
        ),
        format!(
            "@bits=1000;display-name=Cheerer;id=n5;tmi-sent-ts=1764000004000;user-id=5 :cheerer!cheerer@cheerer.tmi.twitch.tv PRIVMSG #{CHANNEL} :Cheer1000 great play"
        ),
        usernotice(
            "badges=broadcaster/1;display-name=Streamer;id=n6;login=streamer_1;msg-id=announcement;msg-param-color=PRIMARY;system-msg=;tmi-sent-ts=1764000005000;user-id=6",
            "Giveaway at 9",
        ),
    ]);
    let frames = client.comments(6).await;
    let c: Vec<&Value> = frames.iter().map(|f| &f["comment"]).collect();
    assert_eq!(c[0]["text"], "Newbie subscribed at Tier 1.");
    assert_eq!(c[0]["kind"], "membership");
    assert_eq!(
        c[0]["event"],
        serde_json::json!({"type":"new_member","level":"Tier 1"})
    );
    assert_eq!(c[1]["text"], "xqcL love this stream");
    assert_eq!(c[1]["kind"], "membership");
    assert_eq!(
        c[1]["event"],
        serde_json::json!({"type":"milestone","months":2,"level":"Tier 1"})
    );
    assert_eq!(c[2]["text"], "Adam gifted a Tier 2 sub to qatarking24xd!");
    assert_eq!(c[2]["kind"], "gift");
    assert_eq!(
        c[2]["event"],
        serde_json::json!({"type":"gift_memberships","count":1,"level":"Tier 2"})
    );
    assert_eq!(c[3]["text"], "430 raiders from Raider have joined!");
    assert_eq!(c[3]["kind"], "event");
    assert_eq!(
        c[3]["event"],
        serde_json::json!({"type":"raid","count":430,"name":"Raider"})
    );
    assert_eq!(c[4]["kind"], "superchat");
    assert_eq!(c[4]["amount"]["display"], "1000 bits");
    assert_eq!(c[4]["amount"]["currency"], "bits");
    assert_eq!(c[5]["text"], "Giveaway at 9");
    assert_eq!(c[5]["event"]["type"], "announcement");
    assert_eq!(c[5]["author"]["roles"], serde_json::json!(["owner"]));
}

#[tokio::test]
async fn clearmsg_and_clearchat_retract_and_say_so_in_the_status() {
    let mock = MockIrc::start(CHANNEL).await;
    let app = app_for(&mock, &[]).await;
    let mut client = app.connect(None).await;
    mock.logins(1).await;
    let say = |id: &str, user: &str| {
        format!(
            "@id={id};user-id={user};display-name={user} :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #{CHANNEL} :hi from {user}"
        )
    };
    mock.send(&[
        say("a1", "alice"),
        say("b1", "bob"),
        say("b2", "bob"),
        say("c1", "carol"),
    ]);
    client.comments(4).await;
    mock.send(&[format!(
        "@login=alice;room-id=;target-msg-id=a1;tmi-sent-ts=1764000000000 :tmi.twitch.tv CLEARMSG #{CHANNEL} :hi from alice"
    )]);
    let frames = client.until(|f| f["type"] == "delete").await;
    assert_eq!(frames.last().unwrap()["id"], "a1");
    mock.send(&[format!(
        "@ban-duration=600;room-id=1;target-user-id=bob;tmi-sent-ts=1764000001000 :tmi.twitch.tv CLEARCHAT #{CHANNEL} :bob"
    )]);
    let mut deleted = Vec::new();
    client
        .until(|f| {
            if f["type"] == "delete" {
                deleted.push(f["id"].as_str().unwrap().to_owned());
            }
            deleted.len() == 2
        })
        .await;
    deleted.sort();
    assert_eq!(deleted, ["b1", "b2"]);
    status_until(&app, "the timeout is noted", |s| {
        s.detail
            .as_deref()
            .is_some_and(|d| d.ends_with("bob timed out 600 s"))
    })
    .await;
    mock.send(&[format!(
        "@room-id=1;tmi-sent-ts=1764000002000 :tmi.twitch.tv CLEARCHAT #{CHANNEL}"
    )]);
    status_until(&app, "the clear is noted", |s| {
        s.detail
            .as_deref()
            .is_some_and(|d| d.contains("cleared the chat"))
    })
    .await;
    let log = app.get_json("/api/comments?limit=10").await;
    let kept: Vec<(&str, bool)> = log["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["deleted"].as_bool().unwrap()))
        .collect();
    assert!(kept.contains(&("c1", false)), "{kept:?}");
    assert!(
        kept.contains(&("a1", true)),
        "the log keeps retracted messages: {kept:?}"
    );
}

#[tokio::test]
async fn pings_are_answered_and_reconnect_or_a_dropped_socket_reconnects_and_marks_the_gap() {
    let mock = MockIrc::start(CHANNEL).await;
    let app = app_for(&mock, &[]).await;
    let mut client = app.connect(None).await;
    mock.logins(1).await;
    mock.send(&["PING :tmi.twitch.tv".to_owned()]);
    eventually("the PING is answered", PATIENCE, || async {
        mock.pongs() == 1
    })
    .await;

    mock.reconnect();
    let logins = mock.logins(2).await;
    assert_ne!(logins[0].nick, logins[1].nick, "a fresh anonymous nick");
    status_until(&app, "the gap is noted", |s| {
        s.state == SourceState::Ok
            && s.detail.as_deref().is_some_and(|d| {
                d.contains("reconnected after") && d.contains("Twitch replays nothing")
            })
    })
    .await;
    mock.send(&[format!("@id=after1 :u!u@u PRIVMSG #{CHANNEL} :back")]);
    assert_eq!(client.comments(1).await[0]["comment"]["id"], "after1");

    mock.drop_socket();
    status_until(&app, "the drop is seen", |s| {
        s.state == SourceState::Backoff
    })
    .await;
    mock.logins(3).await;
    status_until(&app, "the second gap is noted", |s| {
        s.state == SourceState::Ok
            && s.detail
                .as_deref()
                .is_some_and(|d| d.contains("reconnected after"))
    })
    .await;
    mock.send(&[format!("@id=after2 :u!u@u PRIVMSG #{CHANNEL} :again")]);
    assert_eq!(client.comments(1).await[0]["comment"]["id"], "after2");
}

#[tokio::test]
async fn a_suspended_channel_stops_the_source_with_twitchs_reason() {
    let mock = MockIrc::start(CHANNEL).await;
    mock.on_join(&[&format!(
        "@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #{CHANNEL} :This channel does not exist or has been suspended."
    )]);
    let app = app_for(&mock, &[]).await;
    status_until(&app, "the source stops", |s| {
        s.state == SourceState::Stopped
            && s.detail
                .as_deref()
                .is_some_and(|d| d.contains("has been suspended") && d.contains(CHANNEL))
    })
    .await;
}

#[test]
fn bad_twitch_settings_name_their_variable() {
    for (var, value) in [
        ("TWITCH_IRC_URL", "https://irc-ws.chat.twitch.tv"),
        ("TWITCH_IRC_URL", "not a url"),
        ("TWITCH_EMOTE_BASE", "http://static-cdn.jtvnw.net"),
        ("TWITCH_EMOTE_BASE", "https://static-cdn.jtvnw.net:8443"),
        (
            "TWITCH_EMOTE_BASE",
            "https://static-cdn.jtvnw.net/emoticons",
        ),
        ("TWITCH_EMOTE_BASE", "https://user:pw@static-cdn.jtvnw.net"),
    ] {
        let e = commentwatch::Config::from_lookup(["commentwatch"], |k| {
            (k == var).then(|| value.to_owned())
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains(var), "{var}={value}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let e = commentwatch::Config::from_lookup(["commentwatch"], |k| {
        (k == "CW_SOURCES").then(|| "twitch:bad-name".to_owned())
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("CW_SOURCES") && e.contains("login name"), "{e}");
    let ok = commentwatch::Config::from_lookup(["commentwatch"], |k| {
        (k == "CW_SOURCES").then(|| "twitch:SomeOne".to_owned())
    })
    .unwrap();
    assert_eq!(ok.sources[0].to_string(), "twitch:someone");
    assert_eq!(ok.twitch.irc_url, "wss://irc-ws.chat.twitch.tv:443");
    assert_eq!(ok.twitch.emote_base, "https://static-cdn.jtvnw.net");
}

#[tokio::test]
async fn a_quiet_connection_is_pinged_and_one_that_stops_answering_is_replaced() {
    use commentwatch::poller::PushTask;
    use commentwatch::source::twitch::{TwitchChat, TwitchSettings};
    use tokio_util::sync::CancellationToken;

    let mock = MockIrc::start(CHANNEL).await;
    let settings = TwitchSettings {
        irc_url: mock.url.clone(),
        quiet: Duration::from_millis(300),
        pong_wait: Duration::from_millis(300),
        ..TwitchSettings::default()
    };
    let pipeline = crate::helpers::pipeline();
    let task = PushTask::new(
        Box::new(TwitchChat::new(CHANNEL, settings)),
        pipeline.clone(),
    );
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());
    mock.logins(1).await;
    // Answered PINGs keep the one connection open.
    eventually("three PINGs sent on a quiet line", PATIENCE, || async {
        mock.pings() >= 3
    })
    .await;
    assert_eq!(mock.logins(1).await.len(), 1, "no reconnect while answered");
    // Unanswered, the connection is given up and a new one opened.
    mock.go_silent(true);
    let status = |pipeline: &commentwatch::poller::Pipeline| {
        pipeline
            .hub
            .statuses()
            .into_iter()
            .find(|s| s.source == format!("twitch:{CHANNEL}"))
    };
    eventually("the silence is seen", PATIENCE, || async {
        status(&pipeline).is_some_and(|s| {
            s.state == SourceState::Backoff
                && s.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("no answer to a PING"))
        })
    })
    .await;
    mock.go_silent(false);
    assert_eq!(mock.logins(2).await.len(), 2);
    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn several_channels_share_one_connection_each_with_its_own_messages() {
    let mock = MockIrc::start_for(&[CHANNEL, "other_chan"]).await;
    let app = spawn_app(&[
        ("CW_SOURCES", &format!("twitch:{CHANNEL},twitch:Other_Chan")),
        ("TWITCH_IRC_URL", &mock.url),
    ])
    .await;
    let mut client = app.connect(None).await;
    eventually("both channels joined", PATIENCE, || async {
        let mut joins = mock.joins();
        joins.sort();
        joins == ["other_chan", CHANNEL]
    })
    .await;
    assert_eq!(mock.logins(1).await.len(), 1, "one connection for both");
    mock.send(&[
        format!("@id=x1 :u!u@u PRIVMSG #{CHANNEL} :for the first"),
        "@id=y1 :u!u@u PRIVMSG #other_chan :for the second".to_owned(),
        "@id=z1 :u!u@u PRIVMSG #not_joined :for nobody".to_owned(),
    ]);
    let frames = client.comments(2).await;
    let mut got: Vec<(&str, &str)> = frames
        .iter()
        .map(|f| {
            (
                f["comment"]["source"].as_str().unwrap(),
                f["comment"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    // Each source's own order holds; the two interleave as their runners go.
    got.sort();
    assert_eq!(
        got,
        [("twitch:other_chan", "y1"), ("twitch:streamer_1", "x1")]
    );

    // A channel Twitch suspends stops alone and is parted; the other goes on.
    mock.send(&["@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #other_chan :This channel does not exist or has been suspended.".to_owned()]);
    eventually(
        "the suspended channel stops and is parted",
        PATIENCE,
        || async {
            let stopped = app
                .feed
                .hub
                .statuses()
                .iter()
                .any(|s| s.source == "twitch:other_chan" && s.state == SourceState::Stopped);
            stopped && mock.parts() == ["other_chan"]
        },
    )
    .await;
    mock.send(&[format!("@id=x2 :u!u@u PRIVMSG #{CHANNEL} :still here")]);
    assert_eq!(client.comments(1).await[0]["comment"]["id"], "x2");

    // RECONNECT: the remaining channel joins the next connection.
    mock.reconnect();
    mock.logins(2).await;
    status_until(&app, "back after RECONNECT", |s| {
        s.detail
            .as_deref()
            .is_some_and(|d| d.contains("reconnected after"))
    })
    .await;
    mock.send(&[format!("@id=x3 :u!u@u PRIVMSG #{CHANNEL} :on the new one")]);
    assert_eq!(client.comments(1).await[0]["comment"]["id"], "x3");
    assert_eq!(mock.logins(2).await.len(), 2);
    assert_eq!(mock.joins().len(), 3, "{:?}", mock.joins());
}
