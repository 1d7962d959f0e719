//! Who is speaking and what kind of message it is: the optional COMMENT
//! fields `author.roles`, `author.member_level`, `kind` and `event` of
//! docs/PROTOCOL.md. Shapes only, shared by every platform: a source fills
//! them, the sanitizer cleans them, the log stores them.
//!
//! Like the rest of `domain`, no I/O and nothing else of the crate.

use serde::{Deserialize, Serialize};

/// What the author is in the chat or on the channel. Serialized lowercase:
/// `owner`, `moderator`, `vip`, `member`, `verified`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The channel's owner (the streamer).
    Owner,
    /// A moderator of the chat.
    Moderator,
    /// Someone the channel marked as a VIP (Twitch).
    Vip,
    /// A paying member (YouTube's "sponsor").
    Member,
    /// A channel the platform verified.
    Verified,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Moderator => "moderator",
            Role::Vip => "vip",
            Role::Member => "member",
            Role::Verified => "verified",
        }
    }

    /// Every role, in their order.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Moderator,
        Role::Vip,
        Role::Member,
        Role::Verified,
    ];

    /// The role named `s` (as serialized), if any.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a message is. `text` (an ordinary message) is the default and is
/// left out of the JSON, so older clients see what they always saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Text,
    /// A paid message (YouTube Super Chat).
    Superchat,
    /// A paid sticker (YouTube Super Sticker).
    Sticker,
    /// A new member or a membership milestone.
    Membership,
    /// Gifted memberships, a redeemed gift membership, a virtual gift.
    Gift,
    /// Anything else the chat announces (polls, members-only mode).
    Event,
}

impl Kind {
    pub fn is_text(&self) -> bool {
        *self == Kind::Text
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Superchat => "superchat",
            Kind::Sticker => "sticker",
            Kind::Membership => "membership",
            Kind::Gift => "gift",
            Kind::Event => "event",
        }
    }

    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Text,
        Kind::Superchat,
        Kind::Sticker,
        Kind::Membership,
        Kind::Gift,
        Kind::Event,
    ];

    /// The kind named `s` (as serialized), if any.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Which event a non-text message is, the `type` of COMMENT's `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A Super Chat (`tier`).
    Superchat,
    /// A Super Sticker (`tier`, `alt`, `sticker_id`, `image` when given).
    Sticker,
    /// Someone became a member, or upgraded (`level`, `upgrade`).
    NewMember,
    /// A member's anniversary (`months`, `level`); `text` is their message.
    Milestone,
    /// Someone gave memberships to others (`count`, `level`).
    GiftMemberships,
    /// Someone received a gifted membership (`level`, `gifter`).
    GiftReceived,
    /// A virtual gift (`name`, `alt`, `image`, `count`, `jewels`,
    /// `duration`, `effect`).
    Gift,
    /// A poll (`question`, `options`, `status`).
    Poll,
    /// The chat became members-only.
    MembersOnlyStarted,
    /// The chat is open to everyone again.
    MembersOnlyEnded,
    /// Another channel brought its viewers (`count`, `name` of the raider).
    Raid,
    /// A message the channel's staff highlighted (Twitch `/announce`).
    Announcement,
    /// The author's first message in this chat; an ordinary `text` message
    /// otherwise.
    FirstMessage,
}

/// The details of a non-text message: COMMENT's optional `event`. Every
/// field but `type` is optional and left out when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The platform's tier of a paid message (YouTube: 1 is the lowest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<u32>,
    /// Months of membership (a milestone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<u32>,
    /// The membership level's name, as the channel named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// How many: memberships gifted, or a gift's combo count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// A new membership that is an upgrade of an existing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<bool>,
    /// A gift's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A sticker's or gift's alternative text, to show when there is no image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// The platform's id of a sticker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticker_id: Option<String>,
    /// A sticker's or gift's image: `https`, on the platform's image host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The channel id of whoever gifted a received membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gifter: Option<String>,
    /// A gift's price in the platform's own currency (YouTube jewels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jewels: Option<u32>,
    /// How long a gift shows, as the platform wrote it (e.g. `5s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Whether a gift has a visual effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<bool>,
    /// A poll's question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// A poll's options and their votes so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<PollOption>,
    /// A poll's state: `active`, `closed` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Event {
    /// An event of type `kind` with no details yet.
    pub fn new(kind: EventType) -> Event {
        Event {
            kind,
            tier: None,
            months: None,
            level: None,
            count: None,
            upgrade: None,
            name: None,
            alt: None,
            sticker_id: None,
            image: None,
            gifter: None,
            jewels: None,
            duration: None,
            effect: None,
            question: None,
            options: Vec::new(),
            status: None,
        }
    }
}

/// One answer of a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollOption {
    pub text: String,
    pub votes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_serializes_only_what_it_has() {
        let mut e = Event::new(EventType::Milestone);
        e.months = Some(12);
        e.level = Some("Gold".into());
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"milestone","months":12,"level":"Gold"}"#
        );
        let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in [
            "text",
            "superchat",
            "sticker",
            "membership",
            "gift",
            "event",
        ] {
            assert_eq!(Kind::parse(k).unwrap().as_str(), k);
        }
        assert_eq!(Kind::parse("nope"), None);
        for r in ["owner", "moderator", "vip", "member", "verified"] {
            assert_eq!(Role::parse(r).unwrap().as_str(), r);
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
