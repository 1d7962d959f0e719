//! Who wrote a comment, as a `/log` row shows it: role badges (owner,
//! moderator, member, verified, vip), the platform's own badges (a level,
//! a fan medal, 大会员), the channel owner's marks (pinned, liked) and the
//! location line — like the dashboard's. Plain values for askama to escape;
//! it reads nothing and writes nothing.

use crate::domain::{Comment, Role};

/// A role badge: the role's name (`data-role`) and what it says.
pub(super) struct RoleBadge {
    pub role: &'static str,
    pub label: &'static str,
    /// The key in `assets/log-i18n.js`.
    pub i18n: &'static str,
}

/// Everything a row says about who wrote it.
pub(super) struct Who {
    pub roles: Vec<RoleBadge>,
    /// The member's level name, shown on the member badge when given.
    pub member_level: Option<String>,
    pub badges: Vec<String>,
    pub pinned: bool,
    pub liked_by_owner: bool,
    pub location: Option<String>,
}

impl Who {
    pub(super) fn of(c: &Comment) -> Who {
        Who {
            roles: c.author.roles.iter().map(|r| badge(*r)).collect(),
            member_level: c.author.member_level.clone(),
            badges: c.author.badges.clone(),
            pinned: c.pinned,
            liked_by_owner: c.liked_by_owner,
            location: c.location.clone(),
        }
    }

    /// Whether the row has anything to show here.
    pub(super) fn is_empty(&self) -> bool {
        self.roles.is_empty()
            && self.badges.is_empty()
            && !self.pinned
            && !self.liked_by_owner
            && self.location.is_none()
    }
}

fn badge(r: Role) -> RoleBadge {
    let (label, i18n) = match r {
        Role::Owner => ("owner", "badgeOwner"),
        Role::Moderator => ("moderator", "badgeModerator"),
        Role::Member => ("member", "badgeMember"),
        Role::Verified => ("verified", "badgeVerified"),
        Role::Vip => ("VIP", "badgeVip"),
    };
    RoleBadge {
        role: r.as_str(),
        label,
        i18n,
    }
}
