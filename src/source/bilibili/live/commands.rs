//! The danmaku server's commands (the JSON inside op-5 packets) as what a
//! pushed batch carries: `DANMU_MSG` a comment, `SUPER_CHAT_MESSAGE` a paid
//! comment, `SEND_GIFT` and `GUARD_BUY` gifts and memberships, retractions,
//! mutes, the room going live or off air, and the notice that names are
//! masked. Pure computation on JSON: no I/O, nothing of the packets
//! (`packet`) or the connection (`conn`); text stays plain text.
//!
//! Every field is read defensively: a command that cannot be read is
//! skipped and counted, one the code does not know is counted by name.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::super::replies::https_avatar;
use crate::domain::{Event, EventType, Kind, RawAmount, RawComment, Role};
use crate::source::PushedBatch;

/// Commands the web client receives that carry nothing a comment monitor
/// shows; they are neither read nor counted as unknown.
const IGNORED: &[&str] = &[
    "WATCHED_CHANGE",
    "ONLINE_RANK_V2",
    "ONLINE_RANK_V3",
    "ONLINE_RANK_COUNT",
    "ONLINE_RANK_TOP3",
    "LIKE_INFO_V3_CLICK",
    "LIKE_INFO_V3_UPDATE",
    "INTERACT_WORD",
    "INTERACT_WORD_V2",
    "ENTRY_EFFECT",
    "ENTRY_EFFECT_MUST_RECEIVE",
    "NOTICE_MSG",
    "STOP_LIVE_ROOM_LIST",
    "ROOM_REAL_TIME_MESSAGE_UPDATE",
    "ROOM_CHANGE",
    "HOT_RANK_CHANGED",
    "HOT_RANK_CHANGED_V2",
    "WIDGET_BANNER",
    "COMBO_SEND",
    "SUPER_CHAT_MESSAGE_JPN",
    "USER_TOAST_MSG",
    "USER_TOAST_MSG_V2",
    "DANMU_AGGREGATION",
    "DANMU_MSG_MIRROR",
    "POPULARITY_RED_POCKET_NEW",
    "GUARD_HONOR_THOUSAND",
    "ROOM_SILENT_ON",
    "ROOM_SILENT_OFF",
    "WARNING",
    "CUT_OFF",
    "CUT_OFF_V2",
];

/// The guard (大航海) levels by number: 1 总督, 2 提督, 3 舰长.
pub(super) fn guard_name(level: i64) -> Option<&'static str> {
    match level {
        1 => Some("总督"),
        2 => Some("提督"),
        3 => Some("舰长"),
        _ => None,
    }
}

/// The Super Chat price steps (CNY) the web client colours differently:
/// tier 1 is the lowest, as YouTube's tiers.
const SUPER_CHAT_STEPS: [i64; 6] = [30, 50, 100, 500, 1000, 2000];

/// What the room is, for reading commands.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Room {
    /// The streamer's uid: their danmaku carry the `owner` role.
    pub owner_uid: u64,
}

/// What a frame's commands amount to.
#[derive(Debug, Default)]
pub(super) struct Reading {
    pub batch: PushedBatch,
    /// `Some(true)` after `LIVE`, `Some(false)` after `PREPARING`.
    pub live: Option<bool>,
    /// The server said names are masked, or a masked danmaku arrived.
    pub masked: bool,
}

/// Reads one command into `out`.
pub(super) fn read(body: &[u8], room: Room, out: &mut Reading) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        out.batch.skipped += 1;
        return;
    };
    let Some(cmd) = v.get("cmd").and_then(Value::as_str) else {
        out.batch.skipped += 1;
        return;
    };
    // A suffix after `:` (since 2019) is not part of the name.
    let cmd = cmd.split(':').next().unwrap_or(cmd);
    let b = &mut out.batch;
    match cmd {
        "DANMU_MSG" => match danmaku(&v, room) {
            Some((c, masked)) => {
                out.masked |= masked;
                b.comments.push(c);
            }
            None => b.skipped += 1,
        },
        "SUPER_CHAT_MESSAGE" => match super_chat(&v["data"], room) {
            Some(c) => b.comments.push(c),
            None => b.skipped += 1,
        },
        "SEND_GIFT" => match gift(&v["data"], room) {
            Some(c) => b.comments.push(c),
            None => b.skipped += 1,
        },
        // The protobuf form: each gift of its list, read as a `SEND_GIFT`.
        "SEND_GIFT_V2" => match super::gift_v2::gifts(&v["data"]) {
            Some(list) => {
                for data in list {
                    match gift(&data, room) {
                        Some(c) => b.comments.push(c),
                        None => b.skipped += 1,
                    }
                }
            }
            None => b.skipped += 1,
        },
        "GUARD_BUY" => match guard(&v["data"], room) {
            Some(c) => b.comments.push(c),
            None => b.skipped += 1,
        },
        "SUPER_CHAT_MESSAGE_DELETE" => {
            let ids = v.pointer("/data/ids").and_then(Value::as_array);
            for id in ids.into_iter().flatten().filter_map(number) {
                b.deleted.push(format!("sc-{id}"));
            }
        }
        // Whether `target_id` names a danmaku, and which of its ids, is not
        // documented: it is retracted as given, and matches only a comment
        // whose id it is.
        "RECALL_DANMU_MSG" => match v.pointer("/data/target_id").and_then(number) {
            Some(id) => b.deleted.push(id.to_string()),
            None => b.skipped += 1,
        },
        "ROOM_BLOCK_MSG" => {
            let uid = v
                .pointer("/data/uid")
                .or_else(|| v.get("uid"))
                .and_then(number)
                .filter(|u| *u > 0);
            let name = v
                .pointer("/data/uname")
                .or_else(|| v.get("uname"))
                .and_then(Value::as_str)
                .unwrap_or("a viewer");
            match uid {
                Some(uid) => {
                    b.banned_authors.push(uid.to_string());
                    b.notes.push(format!("{name} was muted in the room"));
                }
                None => b.skipped += 1,
            }
        }
        "LIVE" => out.live = Some(true),
        "PREPARING" => out.live = Some(false),
        "LOG_IN_NOTICE" => out.masked = true,
        known if IGNORED.contains(&known) => {}
        other => b.unknown.push(other.chars().take(64).collect()),
    }
}

/// A JSON number, or a number written as a string.
fn number(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn text_of(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn at_seconds(s: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(s, 0).single().filter(|_| s > 0)
}

/// A stable id for a message the protocol gives none: the same message
/// read twice (a repeated frame) hashes the same.
fn hashed_id(prefix: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

/// Who wrote it: roles and the level line from the guard level, the fan
/// medal (only the room's own counts as membership), the user level and
/// whether they moderate the room.
struct Who {
    uid: u64,
    guard: i64,
    medal: Option<(String, i64)>,
    user_level: Option<i64>,
    admin: bool,
}

impl Who {
    fn roles(&self, room: Room) -> Vec<Role> {
        let mut roles = Vec::new();
        if self.uid != 0 && self.uid == room.owner_uid {
            roles.push(Role::Owner);
        }
        if self.admin {
            roles.push(Role::Moderator);
        }
        if guard_name(self.guard).is_some() {
            roles.push(Role::Member);
        }
        roles
    }

    /// `舰长 · 粉丝牌 Lv21 · UL 12`, whatever of it is known.
    fn level_line(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        if let Some(g) = guard_name(self.guard) {
            parts.push(g.to_owned());
        }
        if let Some((name, level)) = &self.medal {
            parts.push(format!("{name} Lv{level}"));
        }
        if let Some(ul) = self.user_level.filter(|l| *l > 0) {
            parts.push(format!("UL {ul}"));
        }
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}

fn uid_string(uid: u64) -> String {
    if uid == 0 {
        // Masked viewers all have uid 0: attributing to it would lump
        // every anonymous viewer into one author.
        String::new()
    } else {
        uid.to_string()
    }
}

/// `DANMU_MSG`: the comment, and whether its author was masked.
fn danmaku(v: &Value, room: Room) -> Option<(RawComment, bool)> {
    let info = v.get("info")?.as_array()?;
    let meta = info.first()?.as_array()?;
    let text = text_of(info.get(1)?)?;
    let user = info.get(2)?.as_array()?;
    let uid = user.first().and_then(number).unwrap_or(0);
    let name = user.get(1).and_then(Value::as_str).unwrap_or("").to_owned();
    let sent_ms = meta.get(4).and_then(Value::as_i64);
    let published_at = sent_ms
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .or_else(|| {
            info.get(9)
                .and_then(|t| t.get("ts"))
                .and_then(Value::as_i64)
                .and_then(at_seconds)
        });
    let mode = meta.get(15);
    let extra: Value = mode
        .and_then(|m| m.get("extra"))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let id = extra
        .get("id_str")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let ms = sent_ms.unwrap_or_default().to_string();
            hashed_id("h", &[&uid.to_string(), &ms, &text])
        });
    let avatar = mode
        .and_then(|m| m.pointer("/user/base/face"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(https_avatar);
    let mut emotes = Vec::new();
    if let Some(emots) = extra.get("emots").and_then(Value::as_object) {
        for (token, e) in emots {
            if let Some(url) = e.get("url").and_then(Value::as_str) {
                emotes.push((token.clone(), https_avatar(url)));
            }
        }
    }
    // A danmaku that is one big emoticon (dm_type 1).
    if meta.get(12).and_then(Value::as_i64) == Some(1) {
        let options = match meta.get(13) {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            Some(other) => other.clone(),
            None => Value::Null,
        };
        if let Some(url) = options.get("url").and_then(Value::as_str) {
            emotes.push((text.clone(), https_avatar(url)));
        }
    }
    let medal = info.get(3).and_then(Value::as_array).and_then(|m| {
        let level = m.first()?.as_i64()?;
        let name = m.get(1)?.as_str()?.to_owned();
        (!name.is_empty()).then_some((name, level))
    });
    let who = Who {
        uid,
        guard: info.get(7).and_then(Value::as_i64).unwrap_or(0),
        medal,
        user_level: info.get(4).and_then(|l| l.get(0)).and_then(Value::as_i64),
        admin: user.get(2).and_then(Value::as_i64) == Some(1),
    };
    let masked = uid == 0 && name.contains('*');
    let comment = RawComment {
        id,
        author_name: name,
        author_id: uid_string(uid),
        author_avatar: avatar,
        text,
        published_at,
        emotes,
        roles: who.roles(room),
        member_level: who.level_line(),
        ..RawComment::default()
    };
    Some((comment, masked))
}

/// `CN¥30` for 30 yuan.
fn yuan(micros: i64) -> RawAmount {
    let whole = micros / 1_000_000;
    let cents = (micros % 1_000_000) / 10_000;
    let display = if cents == 0 {
        format!("CN¥{whole}")
    } else {
        format!("CN¥{whole}.{cents:02}")
    };
    RawAmount {
        display,
        micros,
        currency: "CNY".into(),
    }
}

/// The author of a `data` object that names them by `uid`, `uname` (or
/// `user_info.uname`) and `face`.
fn medal_of(data: &Value) -> Option<(String, i64)> {
    let m = data.get("medal_info")?;
    let name = m.get("medal_name")?.as_str()?.to_owned();
    let level = m.get("medal_level")?.as_i64()?;
    (!name.is_empty()).then_some((name, level))
}

/// `SUPER_CHAT_MESSAGE`: a paid comment, its price in yuan.
fn super_chat(data: &Value, room: Room) -> Option<RawComment> {
    let id = number(data.get("id")?)?;
    let price = data.get("price").and_then(Value::as_f64)?;
    let uid = data.get("uid").and_then(number).unwrap_or(0);
    let user = &data["user_info"];
    let who = Who {
        uid,
        guard: user
            .get("guard_level")
            .and_then(Value::as_i64)
            .or_else(|| {
                data.pointer("/medal_info/guard_level")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(0),
        medal: medal_of(data),
        user_level: user.get("user_level").and_then(Value::as_i64),
        admin: user.get("manager").and_then(Value::as_i64) == Some(1),
    };
    let yuan_whole = price.round() as i64;
    let mut event = Event::new(EventType::Superchat);
    event.tier = Some(
        SUPER_CHAT_STEPS
            .iter()
            .filter(|step| yuan_whole >= **step)
            .count()
            .max(1) as u32,
    );
    Some(RawComment {
        id: format!("sc-{id}"),
        author_name: text_of(&user["uname"]).unwrap_or_default(),
        author_id: uid_string(uid),
        author_avatar: user
            .get("face")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(https_avatar),
        text: text_of(&data["message"]).unwrap_or_default(),
        published_at: data
            .get("start_time")
            .and_then(Value::as_i64)
            .and_then(at_seconds),
        amount: Some(yuan((price * 1_000_000.0).round() as i64)),
        roles: who.roles(room),
        member_level: who.level_line(),
        kind: Kind::Superchat,
        event: Some(event),
        ..RawComment::default()
    })
}

/// `SEND_GIFT`: a gift, its value in yuan when paid for with gold.
fn gift(data: &Value, room: Room) -> Option<RawComment> {
    let name = data.get("giftName").and_then(Value::as_str)?.to_owned();
    let uid = data.get("uid").and_then(number).unwrap_or(0);
    let num = data.get("num").and_then(Value::as_u64).unwrap_or(1);
    let timestamp = data.get("timestamp").and_then(Value::as_i64);
    let id = match data.get("tid").and_then(|t| {
        t.as_str()
            .map(str::to_owned)
            .or_else(|| t.as_u64().map(|n| n.to_string()))
    }) {
        Some(tid) if !tid.is_empty() && tid != "0" => format!("gift-{tid}"),
        _ => hashed_id(
            "gift-",
            &[
                &uid.to_string(),
                &timestamp.unwrap_or_default().to_string(),
                &name,
                &num.to_string(),
            ],
        ),
    };
    let action = data
        .get("action")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .unwrap_or("投喂");
    let paid = data.get("coin_type").and_then(Value::as_str) == Some("gold");
    let total_gold = data.get("total_coin").and_then(Value::as_i64).unwrap_or(0);
    let mut event = Event::new(EventType::Gift);
    event.name = Some(name.clone());
    event.count = u32::try_from(num).ok();
    event.image = data
        .pointer("/gift_info/img_basic")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(https_avatar);
    let who = Who {
        uid,
        guard: data.get("guard_level").and_then(Value::as_i64).unwrap_or(0),
        medal: medal_of(data),
        user_level: None,
        admin: false,
    };
    Some(RawComment {
        id,
        author_name: text_of(&data["uname"]).unwrap_or_default(),
        author_id: uid_string(uid),
        author_avatar: data
            .get("face")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(https_avatar),
        text: format!("{action} {name} ×{num}"),
        published_at: timestamp.and_then(at_seconds),
        // 1,000 gold is one yuan.
        amount: (paid && total_gold > 0).then(|| yuan(total_gold * 1_000)),
        roles: who.roles(room),
        member_level: who.level_line(),
        kind: Kind::Gift,
        event: Some(event),
        ..RawComment::default()
    })
}

/// `GUARD_BUY`: someone became 舰长, 提督 or 总督.
fn guard(data: &Value, room: Room) -> Option<RawComment> {
    let uid = data.get("uid").and_then(number)?;
    let level = data.get("guard_level").and_then(Value::as_i64)?;
    let level_name = guard_name(level)?;
    let num = data.get("num").and_then(Value::as_u64).unwrap_or(1);
    let start = data.get("start_time").and_then(Value::as_i64);
    let gold = data.get("price").and_then(Value::as_i64).unwrap_or(0);
    let mut event = Event::new(EventType::NewMember);
    event.level = Some(level_name.to_owned());
    event.count = u32::try_from(num).ok();
    let who = Who {
        uid,
        guard: level,
        medal: None,
        user_level: None,
        admin: false,
    };
    let gift_name = data
        .get("gift_name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(level_name);
    Some(RawComment {
        id: hashed_id(
            "guard-",
            &[
                &uid.to_string(),
                &start.unwrap_or_default().to_string(),
                &level.to_string(),
            ],
        ),
        author_name: text_of(&data["username"]).unwrap_or_default(),
        author_id: uid_string(uid),
        text: format!("开通了{gift_name} ×{num}"),
        published_at: start.and_then(at_seconds),
        amount: (gold > 0).then(|| yuan(gold * 1_000)),
        roles: who.roles(room),
        member_level: who.level_line(),
        kind: Kind::Membership,
        event: Some(event),
        ..RawComment::default()
    })
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;
