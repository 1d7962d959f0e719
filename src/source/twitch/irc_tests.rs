//! The IRC line parser against real Twitch lines (from twitch-irc-rs's
//! tests, see docs/SOURCES.md) and the edge cases of the tag escaping.

use super::*;

const PRIVMSG: &str = "@badge-info=subscriber/22;badges=moderator/1,subscriber/12;color=#19E6E6;display-name=randers;emotes=;flags=;id=d831d848-b7c7-4559-ae3a-2cb88f4dbfed;mod=1;room-id=11148817;subscriber=1;tmi-sent-ts=1594555275886;turbo=0;user-id=40286300;user-type=mod :randers!randers@randers.tmi.twitch.tv PRIVMSG #pajlada :\u{1}ACTION -tags\u{1}";

#[test]
fn a_privmsg_has_its_tags_prefix_command_channel_and_text() {
    let m = Message::parse(PRIVMSG).unwrap();
    assert_eq!(m.command, "PRIVMSG");
    assert_eq!(
        m.prefix.as_deref(),
        Some("randers!randers@randers.tmi.twitch.tv")
    );
    assert_eq!(m.nick(), Some("randers"));
    assert_eq!(m.params, ["#pajlada", "\u{1}ACTION -tags\u{1}"]);
    assert_eq!(m.channel().as_deref(), Some("pajlada"));
    assert_eq!(m.tag("display-name"), Some("randers"));
    assert_eq!(m.tag("color"), Some("#19E6E6"));
    assert_eq!(m.tag("tmi-sent-ts"), Some("1594555275886"));
    assert_eq!(m.tag("user-id"), Some("40286300"));
    assert_eq!(m.tag("id"), Some("d831d848-b7c7-4559-ae3a-2cb88f4dbfed"));
    assert_eq!(m.tag("emotes"), Some(""));
    assert_eq!(m.tag_nonempty("emotes"), None);
    assert_eq!(m.tag("nope"), None);
    assert_eq!(
        badges(m.tag("badges").unwrap()),
        [
            ("moderator".to_owned(), "1".to_owned()),
            ("subscriber".to_owned(), "12".to_owned())
        ]
    );
    assert_eq!(
        badges(m.tag("badge-info").unwrap()),
        [("subscriber".to_owned(), "22".to_owned())]
    );
}

#[test]
fn lines_without_tags_or_prefix_and_numerics_parse() {
    let ping = Message::parse("PING :tmi.twitch.tv").unwrap();
    assert_eq!(ping.command, "PING");
    assert_eq!(ping.params, ["tmi.twitch.tv"]);
    assert!(ping.tags.is_empty() && ping.prefix.is_none());

    let welcome = Message::parse(":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!\r\n").unwrap();
    assert_eq!(welcome.command, "001");
    assert_eq!(welcome.params, ["justinfan123", "Welcome, GLHF!"]);
    assert_eq!(welcome.nick(), None, "a server prefix has no nick");

    let reconnect = Message::parse(":tmi.twitch.tv RECONNECT").unwrap();
    assert_eq!(reconnect.command, "RECONNECT");
    assert!(reconnect.params.is_empty());

    let cap =
        Message::parse(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands").unwrap();
    assert_eq!(
        cap.params,
        ["*", "ACK", "twitch.tv/tags twitch.tv/commands"]
    );

    let join =
        Message::parse(":justinfan1!justinfan1@justinfan1.tmi.twitch.tv JOIN #Chan").unwrap();
    assert_eq!(join.channel().as_deref(), Some("chan"));
    assert_eq!(join.nick(), Some("justinfan1"));

    let lower = Message::parse("privmsg #a :hi").unwrap();
    assert_eq!(lower.command, "PRIVMSG");
    let empty_trailing = Message::parse("PRIVMSG #a :").unwrap();
    assert_eq!(empty_trailing.params, ["#a", ""]);
    let colon_inside = Message::parse("PRIVMSG #a ::) a :b").unwrap();
    assert_eq!(colon_inside.params, ["#a", ":) a :b"]);
}

#[test]
fn lines_that_are_no_message_are_refused() {
    assert_eq!(Message::parse(""), Err(ParseError::Empty));
    assert_eq!(Message::parse("  \r\n"), Err(ParseError::Empty));
    assert_eq!(Message::parse("@a=b"), Err(ParseError::NoCommand));
    assert_eq!(Message::parse(":prefix-only"), Err(ParseError::NoCommand));
    assert_eq!(Message::parse("@a=b :p "), Err(ParseError::NoCommand));
    assert_eq!(
        Message::parse("PRIV-MSG #a :x"),
        Err(ParseError::BadCommand)
    );
    assert_eq!(Message::parse("12 #a"), Err(ParseError::BadCommand));
}

#[test]
fn tag_values_unescape_exactly() {
    for (raw, value) in [
        (
            "Gutrin\\ssubscribed\\sat\\sTier\\s1.",
            "Gutrin subscribed at Tier 1.",
        ),
        ("a\\:b", "a;b"),
        ("back\\\\slash", "back\\slash"),
        ("cr\\rlf\\n", "cr\rlf\n"),
        ("a\\bc", "abc"),
        ("trailing\\", "trailing"),
        ("\\\\\\", "\\"),
        ("\\\\s", "\\s"),
        ("", ""),
        ("héllo\\s世界\\s😀", "héllo 世界 😀"),
        ("a=b=c", "a=b=c"),
    ] {
        assert_eq!(unescape(raw), value, "{raw}");
    }
    for value in ["a; b\\c\r\nd", "", "\\", "😀;😀", "x\\s"] {
        assert_eq!(unescape(&escape(value)), value, "{value:?} round-trips");
    }
    let m = Message::parse("@system-msg=a\\sb\\:c;k=v\\ :tmi.twitch.tv USERNOTICE #x").unwrap();
    assert_eq!(m.tag("system-msg"), Some("a b;c"));
    assert_eq!(m.tag("k"), Some("v"));
}

#[test]
fn a_malformed_tag_is_dropped_and_the_message_kept() {
    let m = Message::parse(
        "@id=1;=orphan;;b@d=y;+client-nonce=n;example.com/vendor=v;/x=1;display-name=Ok :u!u@u PRIVMSG #c :still here",
    )
    .unwrap();
    assert_eq!(m.param(1), Some("still here"));
    assert_eq!(m.tag("id"), Some("1"));
    assert_eq!(m.tag("display-name"), Some("Ok"));
    assert_eq!(m.tag("+client-nonce"), Some("n"));
    assert_eq!(m.tag("example.com/vendor"), Some("v"));
    assert_eq!(m.tag(""), None);
    assert_eq!(m.tag("b@d"), None);
    assert_eq!(m.tag("/x"), None);
    assert_eq!(m.tags.len(), 4, "{:?}", m.tags);
    // A tag without `=` is there, empty; a repeated key keeps its last value.
    let m = Message::parse("@flag;k=1;k=2 PRIVMSG #c :x").unwrap();
    assert_eq!(m.tag("flag"), Some(""));
    assert_eq!(m.tag("k"), Some("2"));
}

#[test]
fn every_tag_twitch_sends_reads_as_sent() {
    let line = "@badge-info=subscriber/5;badges=broadcaster/1,vip/1,partner/1;bits=100;client-nonce=abc;color=#FF0000;display-name=Dïsplay\\sName;emotes=25:0-4;first-msg=1;flags=;id=m-1;mod=0;reply-parent-display-name=Par\\sent;reply-parent-msg-body=hello\\sthere;reply-parent-msg-id=p-1;reply-parent-user-id=7;reply-parent-user-login=parent;returning-chatter=0;room-id=11;subscriber=1;tmi-sent-ts=1594555275886;turbo=0;user-id=42;user-type=;vip=1;msg-id=resub;msg-param-cumulative-months=5;system-msg=X\\ssubscribed.;login=someone;target-msg-id=t-1;target-user-id=9;ban-duration=600 :u!u@u.tmi.twitch.tv PRIVMSG #chan :Kappa hi";
    let m = Message::parse(line).unwrap();
    for (k, v) in [
        ("badge-info", "subscriber/5"),
        ("badges", "broadcaster/1,vip/1,partner/1"),
        ("bits", "100"),
        ("client-nonce", "abc"),
        ("color", "#FF0000"),
        ("display-name", "Dïsplay Name"),
        ("emotes", "25:0-4"),
        ("first-msg", "1"),
        ("flags", ""),
        ("id", "m-1"),
        ("mod", "0"),
        ("reply-parent-display-name", "Par ent"),
        ("reply-parent-msg-body", "hello there"),
        ("reply-parent-msg-id", "p-1"),
        ("reply-parent-user-id", "7"),
        ("reply-parent-user-login", "parent"),
        ("returning-chatter", "0"),
        ("room-id", "11"),
        ("subscriber", "1"),
        ("tmi-sent-ts", "1594555275886"),
        ("turbo", "0"),
        ("user-id", "42"),
        ("user-type", ""),
        ("vip", "1"),
        ("msg-id", "resub"),
        ("msg-param-cumulative-months", "5"),
        ("system-msg", "X subscribed."),
        ("login", "someone"),
        ("target-msg-id", "t-1"),
        ("target-user-id", "9"),
        ("ban-duration", "600"),
    ] {
        assert_eq!(m.tag(k), Some(v), "{k}");
    }
    assert_eq!(m.tags.len(), 31);
}

#[test]
fn badges_read_names_and_versions() {
    assert_eq!(badges(""), []);
    assert_eq!(
        badges("subscriber/3012,bits/1000,noversion"),
        [
            ("subscriber".to_owned(), "3012".to_owned()),
            ("bits".to_owned(), "1000".to_owned()),
            ("noversion".to_owned(), String::new())
        ]
    );
    // badge-info's values may carry escaped text (predictions).
    let m = Message::parse("@badge-info=predictions/Yes\\,\\sof\\scourse PING").unwrap();
    assert_eq!(m.tag("badge-info"), Some("predictions/Yes, of course"));
}

fn names(list: &[Emote]) -> Vec<(&str, usize, usize, &str)> {
    list.iter()
        .map(|e| (e.id.as_str(), e.start, e.end, e.name.as_str()))
        .collect()
}

#[test]
fn emote_ranges_count_code_points_not_bytes_or_utf16_units() {
    // "😀" is 4 bytes and 2 UTF-16 units but one code point.
    let text = "😀 Kappa 世界 Kappa 👍🏽 PogChamp";
    let list = emotes("25:2-6,11-15/88:20-27", text);
    assert_eq!(
        names(&list),
        [
            ("25", 2, 7, "Kappa"),
            ("25", 11, 16, "Kappa"),
            ("88", 20, 28, "PogChamp")
        ]
    );
    // CJK before and after, and a family emoji (a ZWJ sequence of 5 code
    // points) before.
    let text = "👨‍👩‍👧 こんにちは LUL 你好";
    assert_eq!(text.chars().count(), 18);
    let list = emotes("425618:12-14", text);
    assert_eq!(names(&list), [("425618", 12, 15, "LUL")]);
    // Emoji-only text with an emote at the very start and end.
    let list = emotes("1:0-1/2:5-6", "<3🎉🎉🎉:)");
    assert_eq!(names(&list), [("1", 0, 2, "<3"), ("2", 5, 7, ":)")]);
}

#[test]
fn emote_ranges_out_of_the_text_are_clamped_or_skipped() {
    // Past the end: clamped (a Twitch bug sends such ranges).
    assert_eq!(names(&emotes("1:0-10", "Kappa")), [("1", 0, 5, "Kappa")]);
    // Starting past the end, reversed, malformed: skipped, others kept.
    let list = emotes("1:9-12,3-1,x-2,0-1/:0-1/2/3:2-3", "abcd");
    assert_eq!(names(&list), [("1", 0, 2, "ab"), ("3", 2, 4, "cd")]);
    assert_eq!(emotes("", "abc"), []);
    // Emotes come out in text order whatever order the tag lists them.
    let list = emotes("b:4-4/a:0-0", "x y z");
    assert_eq!(names(&list), [("a", 0, 1, "x"), ("b", 4, 5, "z")]);
}
