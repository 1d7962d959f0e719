//! What each Twitch IRC line means for the log: `PRIVMSG` a comment (roles
//! from badges, emotes as images on the emote host, cheers as paid),
//! `USERNOTICE` a sub, resub, gift, raid or announcement, `CLEARMSG` and
//! `CLEARCHAT` retractions, `NOTICE` of a channel that cannot be read a stop,
//! and the few lines the connection itself must answer (`PING`,
//! `RECONNECT`, our own `JOIN`).
//!
//! Pure: no I/O, no clock. It must not build HTML (text stays plain, emotes
//! are `(name, image)` pairs, the sanitizer checks both), nor touch the log
//! or the web.

use chrono::{DateTime, Utc};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::irc::{self, Message};
use crate::domain::{Event, EventType, Kind, RawAmount, RawComment, Role};
use crate::source::PushedBatch;

/// What the connection must do after a line, besides what it added to the
/// batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Nothing,
    /// Answer `PONG :<this>`.
    Pong(String),
    /// The server confirmed our `JOIN` (or sent the room's state).
    Joined,
    /// The server is restarting: reconnect.
    Reconnect,
    /// The channel cannot be read (suspended, missing): stop with this.
    Stop(String),
}

/// `NOTICE` ids that mean the channel cannot be read at all.
const STOPPING_NOTICES: &[&str] = &["msg_channel_suspended", "msg_room_not_found"];

/// Commands that carry nothing for the log and are expected.
const QUIET: &[&str] = &[
    "CAP",
    "PONG",
    "PART",
    "ROOMSTATE",
    "USERSTATE",
    "GLOBALUSERSTATE",
    "HOSTTARGET",
    "WHISPER",
];

/// The chat one connection reads, and how to read it.
#[derive(Debug, Clone)]
pub struct Chat {
    /// The channel's login, lower-case, without `#`.
    pub channel: String,
    /// Our anonymous nick (`justinfan…`).
    pub nick: String,
    /// Scheme and host the emote images are on (`TWITCH_EMOTE_BASE`).
    pub emote_base: String,
}

impl Chat {
    /// Reads one raw line into `batch`; says what the connection must do.
    pub fn read(&self, line: &str, batch: &mut PushedBatch) -> Control {
        let Ok(m) = Message::parse(line) else {
            if !line.trim().is_empty() {
                batch.skipped += 1;
            }
            return Control::Nothing;
        };
        let ours = m.channel().as_deref() == Some(self.channel.as_str());
        match m.command.as_str() {
            "PING" => Control::Pong(m.param(0).unwrap_or("tmi.twitch.tv").to_owned()),
            "RECONNECT" => Control::Reconnect,
            "JOIN" if ours && m.nick().is_some_and(|n| n.eq_ignore_ascii_case(&self.nick)) => {
                Control::Joined
            }
            "ROOMSTATE" if ours => Control::Joined,
            "PRIVMSG" if ours => {
                match self.privmsg(&m) {
                    Some(c) => batch.comments.push(c),
                    None => batch.skipped += 1,
                }
                Control::Nothing
            }
            "USERNOTICE" if ours => {
                match self.usernotice(&m, batch) {
                    Some(c) => batch.comments.push(c),
                    None => batch.skipped += 1,
                }
                Control::Nothing
            }
            "CLEARMSG" if ours => {
                match m.tag_nonempty("target-msg-id") {
                    Some(id) => batch.deleted.push(id.to_owned()),
                    None => batch.skipped += 1,
                }
                Control::Nothing
            }
            "CLEARCHAT" if ours => {
                clearchat(&m, batch);
                Control::Nothing
            }
            "NOTICE" => {
                let id = m.tag("msg-id").unwrap_or("");
                let about_us = ours || m.param(0) == Some("*");
                if about_us && STOPPING_NOTICES.contains(&id) {
                    let text = m.params.last().map(String::as_str).unwrap_or("");
                    let text = if text.trim().is_empty() {
                        "the channel cannot be read"
                    } else {
                        text
                    };
                    return Control::Stop(format!("Twitch: #{}: {text} ({id})", self.channel));
                }
                Control::Nothing
            }
            "JOIN" | "PRIVMSG" | "USERNOTICE" | "CLEARMSG" | "CLEARCHAT" => Control::Nothing,
            c if QUIET.contains(&c) || c.bytes().all(|b| b.is_ascii_digit()) => Control::Nothing,
            other => {
                batch.unknown.push(other.to_owned());
                Control::Nothing
            }
        }
    }

    /// A chat message.
    fn privmsg(&self, m: &Message) -> Option<RawComment> {
        let raw = m.param(1).unwrap_or("");
        // `/me`: the text is wrapped in CTCP ACTION; emote ranges count in
        // the inner text.
        let text = raw
            .strip_prefix("\u{1}ACTION ")
            .map(|t| t.strip_suffix('\u{1}').unwrap_or(t))
            .unwrap_or(raw);
        let mut c = self.base(m, text)?;
        c.reply_to = m.tag_nonempty("reply-parent-msg-id").map(str::to_owned);
        let bits = m
            .tag("bits")
            .and_then(|b| b.parse::<i64>().ok())
            .filter(|b| *b > 0);
        if let Some(bits) = bits {
            c.amount = Some(RawAmount {
                display: format!("{bits} {}", if bits == 1 { "bit" } else { "bits" }),
                micros: bits.saturating_mul(1_000_000),
                currency: crate::sanitize::BITS.to_owned(),
            });
            c.kind = Kind::Superchat;
            c.event = Some(Event::new(EventType::Superchat));
        } else if m.tag("first-msg") == Some("1") {
            c.event = Some(Event::new(EventType::FirstMessage));
        }
        Some(c)
    }

    /// A sub, resub, gift, raid, announcement or other chat notice: the
    /// viewer's own words when they wrote some, else Twitch's system line.
    fn usernotice(&self, m: &Message, batch: &mut PushedBatch) -> Option<RawComment> {
        let said = m.param(1).unwrap_or("");
        let system = m.tag("system-msg").unwrap_or("");
        let text = if said.trim().is_empty() { system } else { said };
        let mut c = self.base(m, text)?;
        if said.trim().is_empty() {
            // Emote ranges are about the viewer's words, absent here.
            c.emotes.clear();
        }
        let plan = m.tag_nonempty("msg-param-sub-plan").map(plan_name);
        let number = |key: &str| m.tag(key).and_then(|v| v.parse::<u32>().ok());
        let msg_id = m.tag("msg-id").unwrap_or("");
        let (kind, event) = match msg_id {
            "sub" => {
                let mut e = Event::new(EventType::NewMember);
                e.level = plan;
                (Kind::Membership, Some(e))
            }
            "resub" => {
                let mut e = Event::new(EventType::Milestone);
                e.level = plan;
                e.months = number("msg-param-cumulative-months").or(number("msg-param-months"));
                (Kind::Membership, Some(e))
            }
            "subgift" | "anonsubgift" | "submysterygift" | "anonsubmysterygift" => {
                let mut e = Event::new(EventType::GiftMemberships);
                e.level = plan;
                e.count = number("msg-param-mass-gift-count").or(Some(1));
                (Kind::Gift, Some(e))
            }
            "giftpaidupgrade" | "anongiftpaidupgrade" | "primepaidupgrade" => {
                let mut e = Event::new(EventType::NewMember);
                e.level = plan;
                e.upgrade = Some(true);
                (Kind::Membership, Some(e))
            }
            "raid" => {
                let mut e = Event::new(EventType::Raid);
                e.count = number("msg-param-viewerCount");
                e.name = m
                    .tag_nonempty("msg-param-displayName")
                    .or(m.tag_nonempty("msg-param-login"))
                    .map(str::to_owned);
                (Kind::Event, Some(e))
            }
            "announcement" => (Kind::Event, Some(Event::new(EventType::Announcement))),
            "ritual" | "bitsbadgetier" | "unraid" | "viewermilestone" => (Kind::Event, None),
            other => {
                batch
                    .unknown
                    .push(format!("USERNOTICE/{}", clip(other, 40)));
                (Kind::Event, None)
            }
        };
        c.kind = kind;
        c.event = event;
        Some(c)
    }

    /// What every message has: its id, author (with the name's colour the
    /// viewer chose, checked by the sanitizer), roles, time and emotes.
    fn base(&self, m: &Message, text: &str) -> Option<RawComment> {
        let id = m.tag_nonempty("id")?.to_owned();
        let login = m.tag_nonempty("login").or(m.nick()).unwrap_or("");
        let author_name = m
            .tag("display-name")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(login)
            .to_owned();
        let author_id = m.tag_nonempty("user-id").unwrap_or(login).to_owned();
        let (roles, member_level) = roles(m);
        Some(RawComment {
            id,
            author_name,
            author_id,
            text: text.to_owned(),
            published_at: m.tag("tmi-sent-ts").and_then(millis),
            emotes: self.emotes(m, text),
            roles,
            member_level,
            author_color: m.tag_nonempty("color").map(str::to_owned),
            ..RawComment::default()
        })
    }

    /// The `emotes` tag as `(name, image)`, one per name.
    fn emotes(&self, m: &Message, text: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for e in irc::emotes(m.tag("emotes").unwrap_or(""), text) {
            if out.iter().any(|(name, _)| *name == e.name) {
                continue;
            }
            let id = utf8_percent_encode(&e.id, NON_ALPHANUMERIC);
            let url = format!("{}/emoticons/v2/{id}/default/dark/1.0", self.emote_base);
            out.push((e.name, url));
        }
        out
    }
}

/// `CLEARCHAT`: a user's timeout or ban retracts their messages; without a
/// user, the whole chat was cleared (the log keeps everything).
fn clearchat(m: &Message, batch: &mut PushedBatch) {
    let login = m.param(1).filter(|l| !l.trim().is_empty());
    let Some(login) = login else {
        batch
            .notes
            .push("a moderator cleared the chat on Twitch (the log keeps every message)".into());
        return;
    };
    let who = m.tag_nonempty("target-user-id").unwrap_or(login);
    batch.banned_authors.push(who.to_owned());
    let login = clip(login, 40);
    match m.tag("ban-duration").and_then(|d| d.parse::<u64>().ok()) {
        Some(secs) => batch.notes.push(format!("{login} timed out {secs} s")),
        None => batch.notes.push(format!("{login} banned")),
    }
}

/// Roles from `badges`, and a subscriber's months from `badge-info`.
fn roles(m: &Message) -> (Vec<Role>, Option<String>) {
    let mut roles = Vec::new();
    for (badge, _) in irc::badges(m.tag("badges").unwrap_or("")) {
        let role = match badge.as_str() {
            "broadcaster" => Role::Owner,
            "moderator" => Role::Moderator,
            "vip" => Role::Vip,
            "subscriber" | "founder" => Role::Member,
            "partner" => Role::Verified,
            _ => continue,
        };
        roles.push(role);
    }
    if m.tag("mod") == Some("1") && !roles.contains(&Role::Moderator) {
        roles.push(Role::Moderator);
    }
    let months = irc::badges(m.tag("badge-info").unwrap_or(""))
        .into_iter()
        .find(|(name, _)| name == "subscriber" || name == "founder")
        .and_then(|(_, v)| v.parse::<u32>().ok())
        .filter(|_| roles.contains(&Role::Member));
    let level = months.map(|n| format!("{n} {}", if n == 1 { "month" } else { "months" }));
    (roles, level)
}

/// `Prime`, `1000`, `2000`, `3000` as people say them.
fn plan_name(plan: &str) -> String {
    match plan {
        "Prime" => "Prime".into(),
        "1000" => "Tier 1".into(),
        "2000" => "Tier 2".into(),
        "3000" => "Tier 3".into(),
        other => clip(other, 40),
    }
}

/// `tmi-sent-ts` (milliseconds since the epoch) as a time.
fn millis(ts: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ts.parse().ok()?)
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
