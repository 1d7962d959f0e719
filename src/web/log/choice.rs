//! The *Source*, *Who* and *Kind* menus of the `/log` filter form: the
//! sources the log holds, one option per role and per kind, the current one selected, and a selection the menu
//! cannot name (several roles from a link, `role=owner,moderator`) kept as
//! an option of its own so searching again does not drop it. Values only;
//! the page (askama) escapes them, and `params` decides what they mean.

use crate::domain::{Kind, Role};
use crate::params::AsParam;
use crate::store::SourceFilter;

/// One option of a menu.
pub(super) struct Choice {
    /// The parameter's value.
    pub value: String,
    /// What the option says (English; `i18n` names its translation).
    pub label: String,
    /// The key in `assets/log-i18n.js`, or empty for a value shown as is.
    pub i18n: &'static str,
    pub selected: bool,
}

fn role_label(r: Role) -> (&'static str, &'static str) {
    match r {
        Role::Owner => ("owner", "roleOwner"),
        Role::Moderator => ("moderators", "roleModerator"),
        Role::Member => ("members", "roleMember"),
        Role::Verified => ("verified", "roleVerified"),
        Role::Vip => ("VIPs", "roleVip"),
    }
}

fn kind_label(k: Kind) -> (&'static str, &'static str) {
    match k {
        Kind::Text => ("ordinary comments", "kindText"),
        Kind::Superchat => ("Super Chats", "kindSuperchat"),
        Kind::Sticker => ("stickers", "kindSticker"),
        Kind::Membership => ("memberships", "kindMembership"),
        Kind::Gift => ("gifts", "kindGift"),
        Kind::Event => ("other events", "kindEvent"),
    }
}

/// The options for `values` given the current parameter value (a comma
/// list, canonical, or empty for any).
fn menu<T: Copy>(
    values: &[T],
    name: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> (&'static str, &'static str),
    current: &str,
) -> Vec<Choice> {
    let mut out: Vec<Choice> = values
        .iter()
        .map(|v| {
            let (text, key) = label(*v);
            Choice {
                value: name(*v).to_owned(),
                label: text.to_owned(),
                i18n: key,
                selected: name(*v) == current,
            }
        })
        .collect();
    if !current.is_empty() && !out.iter().any(|c| c.selected) {
        out.push(Choice {
            value: current.to_owned(),
            label: current.replace(',', ", "),
            i18n: "",
            selected: true,
        });
    }
    out
}

/// The *Who* menu.
pub(super) fn roles(current: &str) -> Vec<Choice> {
    menu(&Role::ALL, Role::as_str, role_label, current)
}

/// The *Kind* menu.
pub(super) fn kinds(current: &str) -> Vec<Choice> {
    menu(&Kind::ALL, Kind::as_str, kind_label, current)
}

/// Platforms with more than one source, then every source; the current
/// filter is kept even when the log holds nothing from it.
pub(super) fn source_menu(sources: Vec<String>, current: Option<&SourceFilter>) -> Vec<String> {
    let mut menu: Vec<String> = Vec::new();
    for p in crate::domain::platform::PLATFORM_NAMES {
        let prefix = format!("{p}:");
        if sources.iter().filter(|s| s.starts_with(&prefix)).count() > 1 {
            menu.push((*p).to_owned());
        }
    }
    menu.extend(sources);
    if let Some(c) = current
        && !menu.iter().any(|m| m == c.as_param())
    {
        menu.push(c.as_param().to_owned());
    }
    menu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_value_is_selected_and_a_list_is_kept_as_its_own_option() {
        let one = roles("moderator");
        assert_eq!(one.len(), Role::ALL.len());
        assert!(one.iter().all(|c| c.selected == (c.value == "moderator")));
        let none = kinds("");
        assert!(none.iter().all(|c| !c.selected));
        let several = roles("owner,moderator");
        let last = several.last().unwrap();
        assert_eq!(
            (last.value.as_str(), last.label.as_str(), last.selected),
            ("owner,moderator", "owner, moderator", true)
        );
        assert_eq!(several.iter().filter(|c| c.selected).count(), 1);
    }
}
