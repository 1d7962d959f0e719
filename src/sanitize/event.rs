//! The sanitizer's rules for who is speaking and for a message's event
//! details (`crate::domain::event`): roles deduplicated and ordered, names
//! and texts as one clean line, images only on the platforms' image hosts.
//! Pure computation, like the rest of `sanitize`.

use super::{clean_id, clean_line, safe_avatar_url};
use crate::domain::{Event, PollOption, Role};

/// Longest membership level, gift name or alt text kept, in characters.
const MAX_LABEL_CHARS: usize = 100;
/// Longest poll question or option kept, in characters.
const MAX_POLL_CHARS: usize = 300;
/// Most poll options kept.
const MAX_POLL_OPTIONS: usize = 10;

/// Roles once each, in a fixed order.
pub(super) fn clean_roles(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort();
    roles.dedup();
    roles
}

/// A label (membership level, gift name): one line, capped; empty is none.
pub(super) fn clean_label(s: Option<String>) -> Option<String> {
    s.map(|s| clean_line(&s, MAX_LABEL_CHARS))
        .filter(|s| !s.is_empty())
}

/// An event's details with every string cleaned and its image kept only
/// as an `https` URL on a platform image host.
pub(super) fn clean_event(e: Event) -> Event {
    let line =
        |s: Option<String>, max: usize| s.map(|s| clean_line(&s, max)).filter(|s| !s.is_empty());
    Event {
        kind: e.kind,
        tier: e.tier,
        months: e.months,
        level: clean_label(e.level),
        count: e.count,
        upgrade: e.upgrade,
        name: clean_label(e.name),
        alt: clean_label(e.alt),
        sticker_id: e.sticker_id.map(|s| clean_id(&s)).filter(|s| !s.is_empty()),
        image: e.image.as_deref().and_then(safe_avatar_url),
        gifter: e.gifter.map(|s| clean_id(&s)).filter(|s| !s.is_empty()),
        jewels: e.jewels,
        duration: line(e.duration, 32),
        effect: e.effect,
        question: line(e.question, MAX_POLL_CHARS),
        options: e
            .options
            .into_iter()
            .take(MAX_POLL_OPTIONS)
            .map(|o| PollOption {
                text: clean_line(&o.text, MAX_POLL_CHARS),
                votes: o.votes.max(0),
            })
            .collect(),
        status: line(e.status, 16),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventType;

    #[test]
    fn event_images_stay_on_platform_hosts_and_strings_are_one_clean_line() {
        let mut e = Event::new(EventType::Gift);
        e.image = Some("https://evil.example/x.png".into());
        e.name = Some("Rose\n<b>\u{202E}x".into());
        e.level = Some("   ".into());
        let c = clean_event(e);
        assert_eq!(c.image, None);
        assert_eq!(c.name.as_deref(), Some("Rose <b>x"));
        assert_eq!(c.level, None);
        let mut e = Event::new(EventType::Sticker);
        e.image = Some("https://yt3.ggpht.com/sticker.png".into());
        assert_eq!(
            clean_event(e).image.as_deref(),
            Some("https://yt3.ggpht.com/sticker.png")
        );
    }

    #[test]
    fn roles_come_once_each_in_order() {
        assert_eq!(
            clean_roles(vec![Role::Member, Role::Owner, Role::Member]),
            vec![Role::Owner, Role::Member]
        );
    }
}
