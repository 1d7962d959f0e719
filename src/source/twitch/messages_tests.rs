//! Each Twitch line kind read into a batch, on real lines (twitch-irc-rs's
//! test corpus, see docs/SOURCES.md) and edge cases.

use super::*;

fn chat() -> Chat {
    Chat {
        channel: "pajlada".into(),
        nick: "justinfan123".into(),
        emote_base: "https://static-cdn.jtvnw.net".into(),
    }
}

fn read(line: &str) -> (PushedBatch, Control) {
    let mut b = PushedBatch::default();
    let c = chat().read(line, &mut b);
    (b, c)
}

fn one(line: &str) -> RawComment {
    let (b, c) = read(line);
    assert_eq!(c, Control::Nothing);
    assert_eq!(b.comments.len(), 1, "{b:?}");
    b.comments.into_iter().next().unwrap()
}

#[test]
fn a_privmsg_is_a_comment_with_its_id_author_time_and_roles() {
    let c = one(
        "@badge-info=subscriber/22;badges=moderator/1,subscriber/12;color=#19E6E6;display-name=randers;emotes=;flags=;id=d831d848;mod=1;room-id=11148817;subscriber=1;tmi-sent-ts=1594555275886;turbo=0;user-id=40286300;user-type=mod :randers!randers@randers.tmi.twitch.tv PRIVMSG #pajlada :\u{1}ACTION -tags\u{1}",
    );
    assert_eq!(c.id, "d831d848");
    assert_eq!(c.author_name, "randers");
    assert_eq!(c.author_id, "40286300");
    assert_eq!(c.text, "-tags", "/me is unwrapped");
    assert_eq!(
        c.published_at.unwrap().timestamp_millis(),
        1_594_555_275_886
    );
    assert_eq!(c.roles, [Role::Moderator, Role::Member]);
    assert_eq!(c.member_level.as_deref(), Some("22 months"));
    assert_eq!(c.author_color.as_deref(), Some("#19E6E6"));
    assert_eq!(c.kind, Kind::Text);
    assert_eq!(c.event, None);
    assert_eq!(c.reply_to, None);
    assert!(c.emotes.is_empty());
}

#[test]
fn a_missing_display_name_falls_back_to_the_login_and_replies_point_at_their_parent() {
    let c = one(
        "@badge-info=;badges=;display-name=\\s;emotes=;first-msg=0;id=5b4f;reply-parent-msg-id=6b13;room-id=1;tmi-sent-ts=1673925983585;user-id=133651738 :leftswing!leftswing@leftswing.tmi.twitch.tv PRIVMSG #pajlada :@Retoon yes",
    );
    assert_eq!(c.author_name, "leftswing");
    assert_eq!(c.reply_to.as_deref(), Some("6b13"));
    assert_eq!(c.author_color, None, "no colour chosen");
    assert_eq!(c.event, None, "first-msg=0 is not a first message");
    let c = one("@id=x :someone!someone@someone.tmi.twitch.tv PRIVMSG #pajlada :hi");
    assert_eq!(
        (c.author_name.as_str(), c.author_id.as_str()),
        ("someone", "someone")
    );
    assert_eq!(c.published_at, None);
}

#[test]
fn badges_give_every_role_and_a_first_message_is_marked() {
    let c = one(
        "@badges=broadcaster/1,vip/1,partner/1,founder/0,glhf-pledge/1;badge-info=founder/3;first-msg=1;id=a;user-id=1 :u!u@u PRIVMSG #pajlada :hello",
    );
    assert_eq!(
        c.roles,
        [Role::Owner, Role::Vip, Role::Verified, Role::Member]
    );
    assert_eq!(c.member_level.as_deref(), Some("3 months"));
    assert_eq!(c.event, Some(Event::new(EventType::FirstMessage)));
    assert_eq!(c.kind, Kind::Text);
    // Months without a subscriber badge say nothing.
    let c = one("@badges=;badge-info=subscriber/5;id=b :u!u@u PRIVMSG #pajlada :x");
    assert_eq!((c.roles.len(), c.member_level), (0, None));
}

#[test]
fn emotes_become_images_on_the_emote_host_named_by_what_they_cover() {
    let c = one(
        "@emotes=25:2-6,19-23/emotesv2_abc:10-12;id=e :u!u@u PRIVMSG #pajlada :😀 Kappa 世界LUL 👍🏽 a Kappa",
    );
    assert_eq!(
        c.emotes,
        [
            (
                "Kappa".to_owned(),
                "https://static-cdn.jtvnw.net/emoticons/v2/25/default/dark/1.0".to_owned()
            ),
            (
                "LUL".to_owned(),
                "https://static-cdn.jtvnw.net/emoticons/v2/emotesv2%5Fabc/default/dark/1.0"
                    .to_owned()
            ),
        ]
    );
    // An id that would leave the path is encoded.
    let c = one("@emotes=..?x#y:0-0;id=e :u!u@u PRIVMSG #pajlada :a");
    assert!(
        c.emotes[0]
            .1
            .ends_with("/v2/%2E%2E%3Fx%23y/default/dark/1.0")
    );
}

#[test]
fn cheers_are_paid_in_bits() {
    let c = one("@bits=100;id=c;first-msg=1 :u!u@u PRIVMSG #pajlada :Cheer100 go");
    let a = c.amount.unwrap();
    assert_eq!(
        (a.display.as_str(), a.micros, a.currency.as_str()),
        ("100 bits", 100_000_000, "bits")
    );
    assert_eq!(c.kind, Kind::Superchat);
    assert_eq!(c.event, Some(Event::new(EventType::Superchat)));
    let c = one("@bits=1;id=c :u!u@u PRIVMSG #pajlada :Cheer1");
    assert_eq!(c.amount.unwrap().display, "1 bit");
    let c = one("@bits=0;id=c :u!u@u PRIVMSG #pajlada :x");
    assert_eq!(c.amount, None);
}

#[test]
fn subs_resubs_gifts_raids_and_announcements_are_their_kinds() {
    let resub = one(
        "@badge-info=subscriber/2;badges=subscriber/0,battlerite_1/1;color=#0000FF;display-name=Gutrin;emotes=1035663:0-3;flags=;id=e0975c76;login=gutrin;mod=0;msg-id=resub;msg-param-cumulative-months=2;msg-param-months=0;msg-param-should-share-streak=1;msg-param-streak-months=2;msg-param-sub-plan-name=Channel\\sSubscription\\s(xqcow);msg-param-sub-plan=1000;room-id=71092938;subscriber=1;system-msg=Gutrin\\ssubscribed\\sat\\sTier\\s1.\\sThey've\\ssubscribed\\sfor\\s2\\smonths,\\scurrently\\son\\sa\\s2\\smonth\\sstreak!;tmi-sent-ts=1581713640019;user-id=21156217;user-type= :tmi.twitch.tv USERNOTICE #pajlada :xqcL",
    );
    assert_eq!(resub.text, "xqcL");
    assert_eq!(resub.author_name, "Gutrin");
    assert_eq!(resub.author_color.as_deref(), Some("#0000FF"));
    assert_eq!(resub.kind, Kind::Membership);
    let e = resub.event.unwrap();
    assert_eq!(
        (e.kind, e.months, e.level.as_deref()),
        (EventType::Milestone, Some(2), Some("Tier 1"))
    );
    assert_eq!(resub.emotes.len(), 1);

    let sub = one(
        "@display-name=A;id=s1;login=a;msg-id=sub;msg-param-sub-plan=Prime;system-msg=A\\ssubscribed\\swith\\sPrime.;user-id=5 :tmi.twitch.tv USERNOTICE #pajlada",
    );
    assert_eq!(sub.text, "A subscribed with Prime.");
    assert_eq!(sub.kind, Kind::Membership);
    let e = sub.event.unwrap();
    assert_eq!(
        (e.kind, e.level.as_deref()),
        (EventType::NewMember, Some("Prime"))
    );

    let gift = one(
        "@badge-info=;badges=sub-gifter/50;color=;display-name=AdamAtReflectStudios;emotes=;flags=;id=e21409b1;login=adamatreflectstudios;mod=0;msg-id=subgift;msg-param-gift-months=1;msg-param-months=2;msg-param-recipient-display-name=qatarking24xd;msg-param-recipient-id=236653628;msg-param-recipient-user-name=qatarking24xd;msg-param-sender-count=0;msg-param-sub-plan-name=Channel\\sSubscription\\s(xqcow);msg-param-sub-plan=1000;room-id=71092938;subscriber=0;system-msg=AdamAtReflectStudios\\sgifted\\sa\\sTier\\s1\\ssub\\sto\\sqatarking24xd!;tmi-sent-ts=1594583782376;user-id=211711554;user-type= :tmi.twitch.tv USERNOTICE #pajlada",
    );
    assert_eq!(
        gift.text,
        "AdamAtReflectStudios gifted a Tier 1 sub to qatarking24xd!"
    );
    assert_eq!(gift.kind, Kind::Gift);
    let e = gift.event.unwrap();
    assert_eq!(
        (e.kind, e.count, e.level.as_deref()),
        (EventType::GiftMemberships, Some(1), Some("Tier 1"))
    );
    let mystery = one(
        "@id=m;login=g;msg-id=submysterygift;msg-param-mass-gift-count=5;msg-param-sub-plan=2000;system-msg=g\\sis\\sgifting\\s5 :tmi.twitch.tv USERNOTICE #pajlada",
    );
    assert_eq!(mystery.event.unwrap().count, Some(5));

    let raid = one(
        "@badge-info=;badges=glhf-pledge/1;color=#FF69B4;display-name=iamelisabete;emotes=;flags=;id=bb99dda7;login=iamelisabete;mod=0;msg-id=raid;msg-param-displayName=iamelisabete;msg-param-login=iamelisabete;msg-param-viewerCount=430;room-id=71092938;subscriber=0;system-msg=430\\sraiders\\sfrom\\siamelisabete\\shave\\sjoined!;tmi-sent-ts=1594517796120;user-id=155874595;user-type= :tmi.twitch.tv USERNOTICE #pajlada",
    );
    assert_eq!(raid.text, "430 raiders from iamelisabete have joined!");
    assert_eq!(raid.kind, Kind::Event);
    let e = raid.event.unwrap();
    assert_eq!(
        (e.kind, e.count, e.name.as_deref()),
        (EventType::Raid, Some(430), Some("iamelisabete"))
    );

    let ann = one(
        "@badges=broadcaster/1;display-name=Streamer;id=an;login=streamer;msg-id=announcement;msg-param-color=PRIMARY;system-msg=;user-id=9 :tmi.twitch.tv USERNOTICE #pajlada :Stream starts soon",
    );
    assert_eq!(ann.text, "Stream starts soon");
    assert_eq!(ann.roles, [Role::Owner]);
    assert_eq!(ann.event.unwrap().kind, EventType::Announcement);

    let (b, _) = read(
        "@id=n;login=x;msg-id=brandnewthing;system-msg=Something\\shappened :tmi.twitch.tv USERNOTICE #pajlada",
    );
    assert_eq!(b.comments[0].text, "Something happened");
    assert_eq!(b.comments[0].kind, Kind::Event);
    assert_eq!(b.unknown, ["USERNOTICE/brandnewthing"]);
}

#[test]
fn clearmsg_deletes_one_message_and_clearchat_retracts_an_author_or_notes_a_clear() {
    let (b, _) = read(
        "@login=alazymeme;room-id=;target-msg-id=3c92014f;tmi-sent-ts=1594561955611 :tmi.twitch.tv CLEARMSG #pajlada :bad words",
    );
    assert_eq!(b.deleted, ["3c92014f"]);
    let (b, _) = read(
        "@ban-duration=600;room-id=11148817;target-user-id=148973258;tmi-sent-ts=1594553828245 :tmi.twitch.tv CLEARCHAT #pajlada :fabzeef",
    );
    assert_eq!(b.banned_authors, ["148973258"]);
    assert_eq!(b.notes, ["fabzeef timed out 600 s"]);
    let (b, _) = read(
        "@room-id=11148817;target-user-id=70948394;tmi-sent-ts=1594561360331 :tmi.twitch.tv CLEARCHAT #pajlada :weeb123",
    );
    assert_eq!(b.banned_authors, ["70948394"]);
    assert_eq!(b.notes, ["weeb123 banned"]);
    let (b, _) = read("@room-id=1;tmi-sent-ts=1594561392337 :tmi.twitch.tv CLEARCHAT #pajlada");
    assert!(b.banned_authors.is_empty() && b.deleted.is_empty());
    assert_eq!(
        b.notes,
        ["a moderator cleared the chat on Twitch (the log keeps every message)"]
    );
}

#[test]
fn the_connection_lines_say_what_to_do() {
    assert_eq!(
        read("PING :tmi.twitch.tv").1,
        Control::Pong("tmi.twitch.tv".into())
    );
    assert_eq!(read(":tmi.twitch.tv RECONNECT").1, Control::Reconnect);
    assert_eq!(
        read(":justinfan123!justinfan123@justinfan123.tmi.twitch.tv JOIN #pajlada").1,
        Control::Joined
    );
    assert_eq!(
        read(":other!other@other.tmi.twitch.tv JOIN #pajlada").1,
        Control::Nothing
    );
    assert_eq!(
        read("@emote-only=0;room-id=1 :tmi.twitch.tv ROOMSTATE #pajlada").1,
        Control::Joined
    );
    let stop = read(
        "@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #pajlada :This channel does not exist or has been suspended.",
    )
    .1;
    assert_eq!(
        stop,
        Control::Stop(
            "Twitch: #pajlada: This channel does not exist or has been suspended. \
             (msg_channel_suspended)"
                .into()
        )
    );
    assert!(matches!(
        read("@msg-id=msg_room_not_found :tmi.twitch.tv NOTICE #pajlada :gone").1,
        Control::Stop(_)
    ));
    assert_eq!(
        read("@msg-id=msg_banned :tmi.twitch.tv NOTICE #pajlada :banned").1,
        Control::Nothing
    );
}

#[test]
fn other_channels_welcome_lines_and_garbage_add_nothing() {
    for line in [
        "@id=x :u!u@u PRIVMSG #elsewhere :hi",
        ":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!",
        ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands",
        "@badges=;color= :tmi.twitch.tv USERSTATE #pajlada",
        "",
    ] {
        let (b, c) = read(line);
        assert_eq!(c, Control::Nothing, "{line}");
        assert!(
            b.comments.is_empty() && b.unknown.is_empty() && b.skipped == 0,
            "{line}: {b:?}"
        );
    }
    let (b, _) = read("@id=x :u!u@u BOGUS-CMD #pajlada");
    assert_eq!(b.skipped, 1, "an unparsable line is counted");
    let (b, _) = read(":tmi.twitch.tv SOMETHINGNEW #pajlada");
    assert_eq!(b.unknown, ["SOMETHINGNEW"]);
    let (b, _) = read("@display-name=NoId :u!u@u PRIVMSG #pajlada :x");
    assert_eq!((b.comments.len(), b.skipped), (0, 1), "no id, no comment");
}
