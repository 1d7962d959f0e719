//! The sanitizer's rules for who wrote a comment: the author (name, id,
//! avatar, roles, level, the platform's badges and name colour) and the
//! owner's marks on the comment (pinned, liked) and the author's location.
//! Badges and the location are one clean line each; a colour is kept only
//! when it is exactly `#rrggbb`. Pure computation, like the rest of
//! `sanitize`; the log's reader calls the same rules again on what it reads.

use super::{MAX_NAME_CHARS, clean_id, clean_line, event, safe_avatar_url};
use crate::domain::{Author, RawComment};

/// Longest badge kept, in characters (`粉丝团名字 25` fits).
const MAX_BADGE_CHARS: usize = 32;
/// Most badges kept for one author.
const MAX_BADGES: usize = 8;
/// Longest location line kept, in characters.
const MAX_LOCATION_CHARS: usize = 64;

/// The author of `raw`, cleaned; takes the author's fields out of `raw`.
pub(super) fn author(raw: &mut RawComment) -> Author {
    Author {
        name: clean_line(&raw.author_name, MAX_NAME_CHARS),
        id: clean_id(&raw.author_id),
        avatar: raw.author_avatar.as_deref().and_then(safe_avatar_url),
        roles: event::clean_roles(std::mem::take(&mut raw.roles)),
        member_level: event::clean_label(raw.member_level.take()),
        badges: clean_badges(std::mem::take(&mut raw.badges)),
        color: raw.author_color.as_deref().and_then(clean_color),
    }
}

/// Badges as one clean line each, capped; empty ones and repeats dropped,
/// at most [`MAX_BADGES`], in the platform's order.
pub fn clean_badges(badges: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for b in badges {
        let b = clean_line(&b, MAX_BADGE_CHARS);
        if !b.is_empty() && !out.contains(&b) && out.len() < MAX_BADGES {
            out.push(b);
        }
    }
    out
}

/// A name colour: exactly `#` and six hex digits, lowered; anything else
/// (a name, `rgb()`, a short form, something with a `;`) is dropped.
pub fn clean_color(s: &str) -> Option<String> {
    let hex = s.strip_prefix('#')?;
    (hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("#{}", hex.to_ascii_lowercase()))
}

/// The location line: one clean line, capped; empty is none.
pub fn clean_location(s: Option<String>) -> Option<String> {
    s.map(|s| clean_line(&s, MAX_LOCATION_CHARS))
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_colour_is_kept_only_as_six_hex_digits() {
        assert_eq!(clean_color("#1E90FF").as_deref(), Some("#1e90ff"));
        for bad in [
            "1E90FF",
            "#1E90F",
            "#1E90FF0",
            "red",
            "#fff",
            "rgb(1,2,3)",
            "#1E90FF;background:url(x)",
            "#ＡＢＣＤＥＦ",
            "",
        ] {
            assert_eq!(clean_color(bad), None, "{bad}");
        }
    }

    #[test]
    fn badges_are_clean_lines_once_each_and_few() {
        let many: Vec<String> = (0..20).map(|i| format!("LV{i}")).collect();
        assert_eq!(clean_badges(many).len(), MAX_BADGES);
        assert_eq!(
            clean_badges(vec![
                "LV6".into(),
                " ".into(),
                "LV6".into(),
                "<b>\u{202E}x\n".into()
            ]),
            ["LV6", "<b>x"]
        );
        assert_eq!(
            clean_location(Some("IP属地：上海\u{200B}".into())).as_deref(),
            Some("IP属地：上海")
        );
        assert_eq!(clean_location(Some("\u{202E}".into())), None);
    }
}
