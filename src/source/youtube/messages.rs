//! One `liveChatMessage` of `liveChatMessages.list` (and, later, of
//! `streamList`, which sends the same resource) read into what it means:
//! a comment with its author's roles and its kind and event details, a
//! retraction, a ban, the chat's end, or a type this build does not know.
//! Field names follow the Data API's discovery document (see
//! docs/SOURCES.md). Pure parsing: no I/O, nothing but the platform.

use serde_json::Value;

use super::{str_of, time_of};
use crate::domain::{Event, EventType, Kind, PollOption, RawAmount, RawComment, Role};

pub(super) enum Message {
    Comment(Box<RawComment>),
    /// The message with this id was retracted (`messageDeletedEvent`,
    /// `messageRetractedEvent`, or a `tombstone` in its place).
    Deleted(String),
    /// A moderator banned someone from the chat.
    Banned(Ban),
    /// `chatEndedEvent`.
    Ended,
    /// A type this build does not know (`snippet.type`).
    Unknown(String),
}

/// A `userBannedEvent`: who, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ban {
    pub channel_id: String,
    pub name: String,
    /// A temporary ban (`banType`), and its length when given.
    pub temporary: bool,
    pub seconds: Option<u64>,
}

impl Ban {
    /// A line for the source's status.
    pub(super) fn note(&self) -> String {
        let name = if self.name.is_empty() {
            self.channel_id.as_str()
        } else {
            self.name.as_str()
        };
        let how_long = match (self.temporary, self.seconds) {
            (true, Some(s)) => format!("for {s} s"),
            (true, None) => "for a while".into(),
            (false, _) => "permanently".into(),
        };
        format!("{name} was banned from the chat {how_long}; their messages are hidden")
    }
}

/// A number the API writes as a string of digits (or as a number).
fn uint(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        v => v.as_u64(),
    }
}

fn small(v: Option<&Value>) -> Option<u32> {
    uint(v).map(|n| n.min(u64::from(u32::MAX)) as u32)
}

fn text_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// A paid message's amount (`superChatDetails`, `superStickerDetails`,
/// `fanFundingEventDetails`).
fn amount(d: &Value) -> Option<RawAmount> {
    let micros = match d.get("amountMicros") {
        // Documented as a string of digits; accept a number too.
        Some(Value::String(s)) => s.parse::<i64>().ok()?,
        Some(v) => v.as_i64()?,
        None => 0,
    };
    Some(RawAmount {
        display: str_of(d.get("amountDisplayString")),
        micros,
        currency: str_of(d.get("currency")),
    })
}

/// The author's roles from `authorDetails`; empty for a plain viewer.
fn roles(a: Option<&Value>) -> Vec<Role> {
    let Some(a) = a else { return Vec::new() };
    let flag = |name: &str| a.get(name).and_then(Value::as_bool) == Some(true);
    [
        ("isChatOwner", Role::Owner),
        ("isChatModerator", Role::Moderator),
        ("isChatSponsor", Role::Member),
        ("isVerified", Role::Verified),
    ]
    .into_iter()
    .filter(|(name, _)| flag(name))
    .map(|(_, role)| role)
    .collect()
}

/// A `giftDuration`: a google-duration string (`"5s"`), or the HTML
/// reference's `{seconds, nanos}`.
fn duration(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => uint(o.get("seconds")).map(|s| format!("{s}s")),
        _ => None,
    }
}

/// One `liveChatMessage`; `None` when it cannot be read at all. Live chat
/// text is plain text, not HTML.
pub(super) fn parse_message(m: &Value) -> Option<Message> {
    let s = m.get("snippet")?;
    let kind = s.get("type")?.as_str()?;
    let display = text_of(s.get("displayMessage"));
    let mut raw = RawComment::default();
    match kind {
        "textMessageEvent" => {
            raw.text = text_of(s.pointer("/textMessageDetails/messageText"))
                .or(display)
                .unwrap_or_default();
        }
        "superChatEvent" | "fanFundingEvent" => {
            let d = s
                .get("superChatDetails")
                .or_else(|| s.get("fanFundingEventDetails"))?;
            raw.text = text_of(d.get("userComment")).unwrap_or_default();
            raw.amount = Some(amount(d)?);
            raw.kind = Kind::Superchat;
            let mut e = Event::new(EventType::Superchat);
            e.tier = small(d.get("tier"));
            raw.event = Some(e);
        }
        "superStickerEvent" => {
            let d = s.get("superStickerDetails")?;
            let meta = d.get("superStickerMetadata");
            let alt = text_of(meta.and_then(|m| m.get("altText")));
            raw.text = display.or_else(|| alt.clone()).unwrap_or_default();
            raw.amount = Some(amount(d)?);
            raw.kind = Kind::Sticker;
            let mut e = Event::new(EventType::Sticker);
            e.tier = small(d.get("tier"));
            e.alt = alt;
            e.sticker_id = text_of(meta.and_then(|m| m.get("stickerId")));
            // The API gives no image today; one it gives is kept if it is on
            // YouTube's image hosts (the sanitizer checks).
            e.image = text_of(meta.and_then(|m| m.get("imageUrl").or_else(|| m.get("image"))));
            raw.event = Some(e);
        }
        "newSponsorEvent" => {
            let d = s.get("newSponsorDetails");
            let level = text_of(d.and_then(|d| d.get("memberLevelName")));
            raw.text = display.unwrap_or_default();
            raw.kind = Kind::Membership;
            raw.member_level = level.clone();
            let mut e = Event::new(EventType::NewMember);
            e.level = level;
            e.upgrade = d.and_then(|d| d.get("isUpgrade")).and_then(Value::as_bool);
            raw.event = Some(e);
        }
        "memberMilestoneChatEvent" => {
            let d = s.get("memberMilestoneChatDetails");
            let level = text_of(d.and_then(|d| d.get("memberLevelName")));
            raw.text = text_of(d.and_then(|d| d.get("userComment")))
                .or(display)
                .unwrap_or_default();
            raw.kind = Kind::Membership;
            raw.member_level = level.clone();
            let mut e = Event::new(EventType::Milestone);
            e.level = level;
            e.months = small(d.and_then(|d| d.get("memberMonth")));
            raw.event = Some(e);
        }
        "membershipGiftingEvent" => {
            let d = s.get("membershipGiftingDetails");
            raw.text = display.unwrap_or_default();
            raw.kind = Kind::Gift;
            let mut e = Event::new(EventType::GiftMemberships);
            e.count = small(d.and_then(|d| d.get("giftMembershipsCount")));
            e.level = text_of(d.and_then(|d| d.get("giftMembershipsLevelName")));
            raw.event = Some(e);
        }
        "giftMembershipReceivedEvent" => {
            let d = s.get("giftMembershipReceivedDetails");
            let level = text_of(d.and_then(|d| d.get("memberLevelName")));
            raw.text = display.unwrap_or_default();
            raw.kind = Kind::Gift;
            raw.member_level = level.clone();
            let mut e = Event::new(EventType::GiftReceived);
            e.level = level;
            e.gifter = text_of(d.and_then(|d| d.get("gifterChannelId")));
            raw.event = Some(e);
        }
        "giftEvent" => {
            // Discovery and proto: flat `giftDetails`; the HTML reference
            // reportedly `giftEventDetails.giftMetadata`. Both are read.
            let d = s
                .get("giftDetails")
                .or_else(|| s.pointer("/giftEventDetails/giftMetadata"))
                .or_else(|| s.get("giftEventDetails"))?;
            let mut e = Event::new(EventType::Gift);
            e.name = text_of(d.get("giftName"));
            e.alt = text_of(d.get("altText"));
            e.image = text_of(d.get("giftUrl"));
            e.count = small(d.get("comboCount"));
            e.jewels = small(d.get("jewelsAmount"));
            e.duration = duration(d.get("giftDuration"));
            e.effect = d.get("hasVisualEffect").and_then(Value::as_bool);
            raw.text = display
                .or_else(|| e.name.clone())
                .or_else(|| e.alt.clone())
                .unwrap_or_default();
            raw.kind = Kind::Gift;
            raw.event = Some(e);
        }
        "pollEvent" => {
            let d = s.get("pollDetails");
            let meta = d.and_then(|d| d.get("metadata"));
            let mut e = Event::new(EventType::Poll);
            e.question = text_of(meta.and_then(|m| m.get("questionText")));
            e.options = meta
                .and_then(|m| m.get("options"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|o| PollOption {
                    text: str_of(o.get("optionText")),
                    votes: uint(o.get("tally")).unwrap_or(0).min(i64::MAX as u64) as i64,
                })
                .collect();
            e.status = text_of(d.and_then(|d| d.get("status")));
            raw.text = e.question.clone().or(display).unwrap_or_default();
            raw.kind = Kind::Event;
            raw.event = Some(e);
        }
        "sponsorOnlyModeStartedEvent" | "sponsorOnlyModeEndedEvent" => {
            let (kind, line) = if kind == "sponsorOnlyModeStartedEvent" {
                (
                    EventType::MembersOnlyStarted,
                    "The chat is now members-only",
                )
            } else {
                (
                    EventType::MembersOnlyEnded,
                    "The chat is open to everyone again",
                )
            };
            raw.text = display.unwrap_or_else(|| line.into());
            raw.kind = Kind::Event;
            raw.event = Some(Event::new(kind));
        }
        "messageDeletedEvent" => {
            let id = s.pointer("/messageDeletedDetails/deletedMessageId")?;
            return Some(Message::Deleted(id.as_str()?.to_owned()));
        }
        "messageRetractedEvent" => {
            let id = s.pointer("/messageRetractedDetails/retractedMessageId")?;
            return Some(Message::Deleted(id.as_str()?.to_owned()));
        }
        // What stands where a message was: that message is gone.
        "tombstone" => return Some(Message::Deleted(m.get("id")?.as_str()?.to_owned())),
        "userBannedEvent" => {
            let d = s.get("userBannedDetails")?;
            let who = d.get("bannedUserDetails")?;
            let temporary = d.get("banType").and_then(Value::as_str) == Some("temporary");
            return Some(Message::Banned(Ban {
                channel_id: who.get("channelId")?.as_str()?.to_owned(),
                name: str_of(who.get("displayName")),
                temporary,
                seconds: temporary
                    .then(|| uint(d.get("banDurationSeconds")))
                    .flatten(),
            }));
        }
        "chatEndedEvent" => return Some(Message::Ended),
        other => return Some(Message::Unknown(other.to_owned())),
    }
    let a = m.get("authorDetails");
    raw.id = m.get("id")?.as_str()?.to_owned();
    raw.author_name = str_of(a.and_then(|a| a.get("displayName")));
    raw.author_id = a
        .and_then(|a| a.get("channelId"))
        .or_else(|| s.get("authorChannelId"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    raw.author_avatar = a
        .and_then(|a| a.get("profileImageUrl"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    raw.roles = roles(a);
    raw.published_at = time_of(s.get("publishedAt"));
    Some(Message::Comment(Box::new(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events() -> Vec<Value> {
        let path = format!(
            "{}/tests/data/fixtures/youtube_liveChatEvents.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let body: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        body["items"].as_array().unwrap().clone()
    }

    fn by_id(id: &str) -> Message {
        let items = events();
        let item = items.iter().find(|m| m["id"] == id).unwrap();
        parse_message(item).unwrap()
    }

    fn comment(id: &str) -> RawComment {
        match by_id(id) {
            Message::Comment(c) => *c,
            _ => panic!("{id} is a comment"),
        }
    }

    #[test]
    fn roles_come_from_author_details_and_are_absent_for_a_viewer() {
        assert_eq!(
            comment("LCC.ev-mod1").roles,
            [Role::Moderator, Role::Member]
        );
        assert_eq!(comment("LCC.ev-own1").roles, [Role::Owner, Role::Verified]);
        assert_eq!(comment("LCC.ev-ver1").roles, [Role::Verified]);
        assert!(comment("LCC.ev-plain1").roles.is_empty());
        assert_eq!(comment("LCC.ev-plain1").kind, Kind::Text);
        assert_eq!(comment("LCC.ev-plain1").event, None);
    }

    #[test]
    fn paid_messages_keep_their_amount_and_youtube_tier() {
        let sc = comment("LCC.ev-sc1");
        assert_eq!(sc.kind, Kind::Superchat);
        assert_eq!(sc.amount.as_ref().unwrap().micros, 20_000_000);
        assert_eq!(sc.event.as_ref().unwrap().tier, Some(4));
        assert_eq!(sc.text, "keep going!");
        let st = comment("LCC.ev-st1");
        assert_eq!(st.kind, Kind::Sticker);
        let e = st.event.unwrap();
        assert_eq!(
            (e.kind, e.tier, e.alt.as_deref(), e.sticker_id.as_deref()),
            (
                EventType::Sticker,
                Some(2),
                Some("Cat waving"),
                Some("cat_wave_1")
            )
        );
        assert_eq!(st.amount.unwrap().display, "$2.00");
    }

    #[test]
    fn memberships_and_gifts_carry_their_details() {
        let ns = comment("LCC.ev-ns1");
        let e = ns.event.unwrap();
        assert_eq!((ns.kind, e.kind), (Kind::Membership, EventType::NewMember));
        assert_eq!((e.level.as_deref(), e.upgrade), (Some("Gold"), Some(false)));
        assert_eq!(ns.member_level.as_deref(), Some("Gold"));
        assert_eq!(ns.text, "Welcome to Gold!");
        let mm = comment("LCC.ev-mm1");
        let e = mm.event.unwrap();
        assert_eq!((e.kind, e.months), (EventType::Milestone, Some(12)));
        assert_eq!(mm.text, "a whole year already!", "the member's own message");
        let mg = comment("LCC.ev-mg1");
        let e = mg.event.unwrap();
        assert_eq!(
            (mg.kind, e.kind, e.count),
            (Kind::Gift, EventType::GiftMemberships, Some(5))
        );
        let gr = comment("LCC.ev-gr1").event.unwrap();
        assert_eq!(gr.kind, EventType::GiftReceived);
        assert_eq!(gr.gifter.as_deref(), Some("UCmembmembmembmembmembme"));
        let gf = comment("LCC.ev-gf1").event.unwrap();
        assert_eq!(
            (
                gf.name.as_deref(),
                gf.count,
                gf.jewels,
                gf.duration.as_deref(),
                gf.effect
            ),
            (Some("Rose"), Some(3), Some(50), Some("5s"), Some(true))
        );
        assert_eq!(
            gf.image.as_deref(),
            Some("https://yt3.ggpht.com/gifts/rose.png")
        );
        // The HTML reference's shape is read too.
        let gf2 = comment("LCC.ev-gf2");
        let e = gf2.event.unwrap();
        assert_eq!(
            (e.name.as_deref(), e.duration.as_deref()),
            (Some("Star"), Some("10s"))
        );
        assert_eq!(gf2.text, "Star");
    }

    #[test]
    fn polls_and_members_only_mode_are_events() {
        let po = comment("LCC.ev-po1");
        let e = po.event.unwrap();
        assert_eq!((po.kind, e.kind), (Kind::Event, EventType::Poll));
        assert_eq!(e.options.len(), 2);
        assert_eq!((e.options[1].text.as_str(), e.options[1].votes), ("Go", 30));
        assert_eq!(e.status.as_deref(), Some("active"));
        let so = comment("LCC.ev-so1");
        assert_eq!(so.event.unwrap().kind, EventType::MembersOnlyStarted);
        assert_eq!(so.text, "The chat is now members-only");
    }

    #[test]
    fn retractions_bans_and_unknown_types_are_told_apart() {
        let items = events();
        let parsed: Vec<_> = items.iter().map(|m| parse_message(m).unwrap()).collect();
        let deleted: Vec<&str> = parsed
            .iter()
            .filter_map(|m| match m {
                Message::Deleted(id) => Some(id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, ["LCC.ev-gone1", "LCC.ev-rt1"]);
        let Message::Banned(ban) = by_id("LCC.ev-ub1") else {
            panic!("a ban")
        };
        assert_eq!(ban.channel_id, "UCtrolltrolltrolltrolltr");
        assert_eq!(ban.seconds, Some(300));
        assert!(
            ban.note()
                .contains("@troll_4000 was banned from the chat for 300 s")
        );
        assert!(
            matches!(by_id("LCC.ev-uk1"), Message::Unknown(t) if t == "superFancyHologramEvent")
        );
        let ended = serde_json::json!({"id": "x", "snippet": {"type": "chatEndedEvent"}});
        assert!(matches!(parse_message(&ended), Some(Message::Ended)));
    }
}
