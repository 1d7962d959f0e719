//! Reading a reply-list response into a `Page`: roots, their preview
//! children and, on the first page, pinned comments, one reply at a time
//! (a malformed reply is skipped, never its neighbours), with who wrote each:
//! the UP主 (`owner`), level, fan medal, 大会员, verification, name colour,
//! pinned, liked by the UP主 and the IP location line. No HTML: the text
//! stays plain text for the sanitizer, which also cleans every marker.

use std::collections::HashSet;

use chrono::DateTime;
use reqwest::StatusCode;
use serde_json::Value;

use super::super::http::JsonResponse;
use super::super::{Page, SourceError};
use super::threads::RootCount;
use super::*;
use crate::domain::{RawComment, Role};

/// Turns a reply-list response into a page. `later_page` is true when the
/// request carried a cursor (page 2 and on).
/// Also returns each root's reply count and previews, for `threads`.
pub(super) fn read_page(
    resp: &JsonResponse,
    later_page: bool,
) -> Result<(Page, Vec<RootCount>), SourceError> {
    let body = &resp.body;
    let Some(code) = body_code(body) else {
        if resp.status == StatusCode::PRECONDITION_FAILED {
            return Err(risk_control("HTTP 412"));
        }
        return Err(SourceError::transient(format!(
            "the reply list came without a Bilibili code (HTTP {})",
            resp.status.as_u16()
        )));
    };
    if code != 0 {
        return Err(code_error(code, body["message"].as_str()));
    }
    let data = &body["data"];
    if !data.is_object() {
        return Err(SourceError::transient(
            "the reply list said code 0 but had no data",
        ));
    }
    if data.get("v_voucher").is_some() {
        // Still a captcha after re-signing with fresh keys.
        return Err(risk_control("a captcha (v_voucher) instead of replies"));
    }
    let roots: &[Value] = match &data["replies"] {
        Value::Null => &[],
        Value::Array(items) => items,
        _ => {
            return Err(SourceError::transient(
                "the reply list's replies field is not a list",
            ));
        }
    };
    let cursor = &data["cursor"];
    let is_end = cursor["is_end"].as_bool().unwrap_or(false);
    if later_page && roots.is_empty() && !is_end {
        // Logged out, Bilibili answers page 2 with code 0, no replies and a
        // zeroed cursor. Reading that as "nothing older" would silently lose
        // every comment past the first page.
        return Err(SourceError::Login {
            reason: "Bilibili serves only the newest page without a login: set BILIBILI_COOKIE"
                .into(),
        });
    }

    // Roots with their preview children, then (first page only) the pinned
    // comments, which Bilibili lists outside `replies`.
    let mut items: Vec<&Value> = Vec::new();
    fn with_children<'a>(items: &mut Vec<&'a Value>, reply: &'a Value) {
        items.push(reply);
        // `replies` is null when a root has no children; anything else that is
        // not a list is treated the same way.
        if let Some(children) = reply.get("replies").and_then(Value::as_array) {
            items.extend(children);
        }
    }
    for reply in roots {
        with_children(&mut items, reply);
    }
    if !later_page {
        for pinned in [&data["top"]["upper"], &data["top"]["admin"]] {
            if pinned.is_object() {
                with_children(&mut items, pinned);
            }
        }
        if let Some(top) = data["top_replies"].as_array() {
            for pinned in top {
                with_children(&mut items, pinned);
            }
        }
    }

    // Roots (pinned ones included) whose replies may go past the previews.
    let mut counts = Vec::new();
    let pinned: Vec<&Value> = if later_page {
        Vec::new()
    } else {
        [&data["top"]["upper"], &data["top"]["admin"]]
            .into_iter()
            .chain(data["top_replies"].as_array().into_iter().flatten())
            .collect()
    };
    let listed = roots.len();
    for (i, root) in roots.iter().chain(pinned.iter().copied()).enumerate() {
        if let Some(rpid) = id_field(root, "rpid") {
            let previews = root
                .get("replies")
                .and_then(Value::as_array)
                .map_or(0, Vec::len) as u64;
            let rcount = root["rcount"].as_u64().unwrap_or(0);
            counts.push(RootCount {
                rpid,
                rcount,
                previews,
                pinned: i >= listed,
            });
        }
    }

    let upper = upper_mid(data);
    let pinned_ids: HashSet<u64> = pinned.iter().filter_map(|p| id_field(p, "rpid")).collect();
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(items.len());
    let mut skipped = 0;
    for item in items {
        match read_reply(item, upper) {
            Some(mut reply) => {
                if pinned_ids.contains(&reply.rpid) {
                    reply.comment.pinned = true;
                }
                // The pinned comment is listed twice (`top.upper` and
                // `top_replies`) and may also sit in `replies`.
                if seen.insert(reply.rpid) {
                    parsed.push(reply);
                }
            }
            None => skipped += 1,
        }
    }
    // Newest first, as `Paging::NewestFirst` promises: children and pinned
    // comments are interleaved by their own time, not their position.
    parsed.sort_by_key(|r| std::cmp::Reverse((r.ctime, r.rpid)));

    let next = if is_end {
        None
    } else {
        cursor["pagination_reply"]["next_offset"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // Pinned comments and reply previews come back on every poll; only the
    // roots, in time order, tell whether the poll has caught up.
    let timeline = roots
        .iter()
        .filter_map(|r| id_field(r, "rpid"))
        .map(|rpid| rpid.to_string())
        .collect();
    Ok((
        Page {
            comments: parsed.into_iter().map(|r| r.comment).collect(),
            next,
            skipped,
            timeline: Some(timeline),
            ..Page::default()
        },
        counts,
    ))
}

/// A reply with the keys it is ordered and deduplicated by.
pub(super) struct Reply {
    pub(super) comment: RawComment,
    pub(super) rpid: u64,
    pub(super) ctime: i64,
}

/// A numeric id from its `*_str` twin or the number itself. Never through
/// f64: mids and rpids reach 16 digits.
pub(super) fn id_field(v: &Value, key: &str) -> Option<u64> {
    let from_str = |s: &Value| s.as_str().and_then(|s| s.trim().parse::<u64>().ok());
    from_str(&v[format!("{key}_str").as_str()])
        .or_else(|| v[key].as_u64())
        .or_else(|| from_str(&v[key]))
}

/// The UP主's mid: `data.upper.mid` of a reply list or a reply page.
pub(super) fn upper_mid(data: &Value) -> Option<u64> {
    id_field(&data["upper"], "mid").filter(|mid| *mid > 0)
}

/// One reply object, or `None` if it lacks what a comment needs (an id, a
/// time, a text). Optional fields of the wrong type are treated as absent.
/// `upper` is the UP主's mid, whose own replies are marked `owner`.
pub(super) fn read_reply(v: &Value, upper: Option<u64>) -> Option<Reply> {
    let rpid = id_field(v, "rpid").filter(|id| *id > 0)?;
    let ctime = v["ctime"].as_i64()?;
    let published_at = DateTime::from_timestamp(ctime, 0)?;
    let text = v["content"]["message"].as_str()?.to_owned();
    let member = &v["member"];
    let mid = id_field(v, "mid").or_else(|| id_field(member, "mid"));
    let author_id = mid.map(|mid| mid.to_string()).unwrap_or_default();
    let mut roles = Vec::new();
    if mid.is_some() && mid == upper {
        roles.push(Role::Owner);
    }
    if verified(member).is_some() {
        roles.push(Role::Verified);
    }
    let author_avatar = member["avatar"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .map(https_avatar);
    let reply_to = id_field(v, "parent")
        .filter(|p| *p != 0)
        .map(|p| p.to_string());
    Some(Reply {
        comment: RawComment {
            id: rpid.to_string(),
            author_name: member["uname"].as_str().unwrap_or_default().to_owned(),
            author_id,
            author_avatar,
            // Plain text with `[emote]` tokens left as typed; their images go
            // alongside, for the dashboard to draw (the sanitizer checks them).
            emotes: v["content"]["emote"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(token, e)| {
                            Some((token.clone(), https_avatar(e["url"].as_str()?)))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            text,
            html: None,
            published_at: Some(published_at),
            updated_at: None,
            likes: v["like"].as_i64().unwrap_or(0),
            reply_to,
            amount: None,
            roles,
            badges: badges(member),
            author_color: member["vip"]["nickname_color"]
                .as_str()
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            pinned: v["reply_control"]["is_up_top"].as_bool() == Some(true),
            liked_by_owner: v["up_action"]["like"].as_bool() == Some(true),
            location: v["reply_control"]["location"].as_str().map(str::to_owned),
            ..RawComment::default()
        },
        rpid,
        ctime,
    })
}

/// The verification's text when the author is verified
/// (`official_verify.type` 0, a person, or 1, an organisation); `认证` when
/// Bilibili gives no text.
fn verified(member: &Value) -> Option<String> {
    let v = &member["official_verify"];
    if !matches!(v["type"].as_i64(), Some(0 | 1)) {
        return None;
    }
    let desc = v["desc"].as_str().map(str::trim).unwrap_or_default();
    Some(if desc.is_empty() { "认证" } else { desc }.to_owned())
}

/// Bilibili's own markers for an author, in the order its page shows them:
/// level (`LV6`), fan medal (`name 12`), 大会员 (its label, e.g.
/// `年度大会员`), verification text. The sanitizer cleans and caps them.
fn badges(member: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(level) = member["level_info"]["current_level"].as_u64() {
        out.push(format!("LV{level}"));
    }
    let medal = &member["fans_detail"];
    if let Some(name) = medal["medal_name"]
        .as_str()
        .filter(|n| !n.trim().is_empty())
    {
        out.push(match medal["level"].as_u64() {
            Some(level) => format!("{name} {level}"),
            None => name.to_owned(),
        });
    }
    let vip = &member["vip"];
    if vip["vipStatus"].as_i64() == Some(1) {
        let label = vip["label"]["text"]
            .as_str()
            .map(str::trim)
            .unwrap_or_default();
        out.push(if label.is_empty() { "大会员" } else { label }.to_owned());
    }
    out.extend(verified(member));
    out
}

/// Bilibili still serves some avatars as `http://` or protocol-relative
/// URLs; the same path works over https, which is all the sanitizer keeps.
pub(super) fn https_avatar(url: &str) -> String {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("http://") {
        format!("https://{rest}")
    } else if url.starts_with("//") {
        format!("https:{url}")
    } else {
        url.to_owned()
    }
}
