//! Who is speaking and what kind of message it is, in a real headless
//! Chromium: role badges (owner, moderator, member with its level,
//! verified), YouTube's own Super Chat tier colours, the line of a
//! membership, gift and sticker, the "Paid & members" filter, on the
//! dashboard and the `latest` overlay; hostile levels and gift names stay
//! text.

use commentwatch::domain::{Comment, Event, EventType, Kind, RawAmount, RawComment, Role};
use serde::Deserialize;

use crate::chrome::Browser;
use crate::helpers::{PATIENCE, TestApp};
use crate::seeing::{WINDOW, dashboard, say, shown};

const SRC: &str = "youtube:seeingwell1";
const HOSTILE: &str = "<img src=x onerror=window.__pwned=1>";

struct Speaker<'a> {
    id: &'a str,
    roles: Vec<Role>,
    level: Option<&'a str>,
    kind: Kind,
    event: Option<Event>,
    amount: Option<i64>,
}

impl<'a> Speaker<'a> {
    fn new(id: &'a str) -> Self {
        Speaker {
            id,
            roles: Vec::new(),
            level: None,
            kind: Kind::Text,
            event: None,
            amount: None,
        }
    }

    fn comment(self) -> Comment {
        let now = chrono::Utc::now();
        commentwatch::sanitize::sanitize(
            SRC,
            RawComment {
                id: self.id.into(),
                author_name: format!("name-{}", self.id),
                author_id: format!("UC-{}", self.id),
                text: format!("words of {}", self.id),
                published_at: Some(now),
                amount: self.amount.map(|micros| RawAmount {
                    display: format!("${}.00", micros / 1_000_000),
                    micros,
                    currency: "USD".into(),
                }),
                roles: self.roles,
                member_level: self.level.map(Into::into),
                kind: self.kind,
                event: self.event,
                ..RawComment::default()
            },
            now,
        )
        .expect("a valid comment")
    }
}

fn event(kind: EventType, fill: impl FnOnce(&mut Event)) -> Option<Event> {
    let mut e = Event::new(kind);
    fill(&mut e);
    Some(e)
}

/// One comment of each role and kind the page draws.
fn speakers() -> Vec<Comment> {
    let mut all = Vec::new();
    all.push(Speaker::new("plain").comment());
    all.push(
        Speaker {
            roles: vec![Role::Owner],
            ..Speaker::new("owner")
        }
        .comment(),
    );
    all.push(
        Speaker {
            roles: vec![Role::Moderator, Role::Verified],
            ..Speaker::new("mod")
        }
        .comment(),
    );
    all.push(
        Speaker {
            roles: vec![Role::Member],
            level: Some(HOSTILE),
            ..Speaker::new("member")
        }
        .comment(),
    );
    all.push(
        Speaker {
            kind: Kind::Superchat,
            amount: Some(500_000_000),
            event: event(EventType::Superchat, |e| e.tier = Some(7)),
            ..Speaker::new("sc7")
        }
        .comment(),
    );
    all.push(
        Speaker {
            kind: Kind::Membership,
            roles: vec![Role::Member],
            level: Some("Gold"),
            event: event(EventType::Milestone, |e| {
                e.months = Some(24);
                e.level = Some("Gold".into());
            }),
            ..Speaker::new("milestone")
        }
        .comment(),
    );
    all.push(
        Speaker {
            kind: Kind::Gift,
            event: event(EventType::GiftMemberships, |e| e.count = Some(5)),
            ..Speaker::new("gifting")
        }
        .comment(),
    );
    all.push(
        Speaker {
            kind: Kind::Gift,
            event: event(EventType::Gift, |e| {
                e.name = Some(HOSTILE.into());
                e.count = Some(3);
            }),
            ..Speaker::new("gift")
        }
        .comment(),
    );
    all.push(
        Speaker {
            kind: Kind::Sticker,
            amount: Some(2_000_000),
            event: event(EventType::Sticker, |e| {
                e.alt = Some("a dancing cat".into());
                e.tier = Some(2);
            }),
            ..Speaker::new("sticker")
        }
        .comment(),
    );
    all.push(
        Speaker {
            kind: Kind::Event,
            event: event(EventType::Poll, |e| {
                e.question = Some("Which game next?".into());
                e.options = vec![
                    commentwatch::domain::PollOption {
                        text: "Zelda".into(),
                        votes: 1204,
                    },
                    commentwatch::domain::PollOption {
                        text: HOSTILE.into(),
                        votes: 3,
                    },
                ];
                e.status = Some("closed".into());
            }),
            ..Speaker::new("poll")
        }
        .comment(),
    );
    all
}

#[derive(Debug, Deserialize)]
struct Card {
    roles: Vec<String>,
    role_words: Vec<String>,
    roles_hidden: bool,
    event: String,
    event_hidden: bool,
    kind: Option<String>,
    tier: Option<String>,
    border: String,
}

/// What the item of comment `id` shows, in `selector`'s list.
fn card_of(selector: &str, id: &str) -> String {
    format!(
        r#"const li = document.querySelector('{selector}[data-id="{id}"]');
           const roles = li.querySelector('.roles');
           const ev = li.querySelector('.event');
           return {{
             roles: [...roles.querySelectorAll('.role')].map((r) => r.dataset.role),
             role_words: [...roles.querySelectorAll('.role')].map((r) => r.textContent),
             roles_hidden: roles.hidden,
             event: ev.textContent,
             event_hidden: ev.hidden,
             kind: li.dataset.kind || null,
             tier: li.dataset.ytTier || null,
             border: getComputedStyle(li).borderLeftColor,
           }};"#
    )
}

async fn card(browser: &Browser, selector: &str, id: &str) -> Card {
    browser.eval(&card_of(selector, id)).await
}

#[tokio::test]
async fn roles_tiers_and_event_cards_show_on_the_dashboard_and_paid_and_members_filters() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app: TestApp = dashboard(&browser).await;
    say(&app, speakers()).await;
    shown(&browser, "sticker").await;
    let item = "#feed li.comment";

    let plain = card(&browser, item, "plain").await;
    assert!(plain.roles_hidden && plain.roles.is_empty(), "{plain:?}");
    assert!(plain.event_hidden && plain.kind.is_none(), "{plain:?}");

    let owner = card(&browser, item, "owner").await;
    assert_eq!(owner.roles, ["owner"]);
    assert_eq!(owner.role_words, ["Owner"]);
    let moderator = card(&browser, item, "mod").await;
    assert_eq!(moderator.roles, ["moderator", "verified"]);
    let member = card(&browser, item, "member").await;
    assert_eq!(member.roles, ["member"]);
    assert_eq!(member.role_words, [HOSTILE], "the level's name, as text");

    let sc = card(&browser, item, "sc7").await;
    assert_eq!(sc.tier.as_deref(), Some("7"));
    assert_eq!(sc.border, "rgb(230, 33, 23)", "YouTube's red for tier 7");
    let sticker = card(&browser, item, "sticker").await;
    assert_eq!(sticker.kind.as_deref(), Some("sticker"));
    assert_eq!(sticker.event, "Super Sticker: a dancing cat");
    assert_eq!(
        sticker.border, "rgb(0, 184, 212)",
        "tier 2 by YouTube's word, not the $2 amount's"
    );

    let (line, options): (String, Vec<String>) = browser
        .eval(
            r#"const ev = document.querySelector('#feed li.comment[data-id="poll"] .event');
               return [ev.querySelector('span').textContent,
                       [...ev.querySelectorAll('.poll-options li')].map((o) => o.textContent)];"#,
        )
        .await;
    assert_eq!(line, "Poll: Which game next? · closed");
    assert_eq!(
        options,
        ["Zelda — 1,204".to_owned(), format!("{HOSTILE} — 3")],
        "each answer with its votes, as text"
    );

    let milestone = card(&browser, item, "milestone").await;
    assert_eq!(milestone.kind.as_deref(), Some("membership"));
    assert_eq!(milestone.event, "Member for 24 months · Gold");
    assert_eq!(milestone.role_words, ["Gold"]);
    assert_eq!(milestone.border, "rgb(15, 157, 88)");
    let gifting = card(&browser, item, "gifting").await;
    assert_eq!(gifting.event, "Gifted 5 memberships");
    let gift = card(&browser, item, "gift").await;
    assert_eq!(gift.event, format!("Gift: {HOSTILE} ×3"));

    let injected: bool = browser
        .eval("return window.__pwned === 1 || !!document.querySelector('#feed .roles img, #feed .event img');")
        .await;
    assert!(!injected, "a hostile level or gift name became markup");
    browser.screenshot("roles-dashboard").await;

    // "Paid & members" keeps paid messages, memberships, gifts and members.
    let _: Option<bool> = browser
        .eval("document.getElementById('only-paid').click(); return null;")
        .await;
    let mut left: Vec<String> = browser
        .poll(
            "the feed to keep only paid messages and members",
            PATIENCE,
            "return [...document.querySelectorAll('#feed li.comment')].filter((li) => li.dataset.source === 'youtube:seeingwell1').map((li) => li.dataset.id);",
            |ids: &Vec<String>| !ids.contains(&"plain".to_string()),
        )
        .await;
    left.sort();
    assert_eq!(
        left,
        ["gift", "gifting", "member", "milestone", "sc7", "sticker"]
    );
    let pressed: String = browser
        .eval("return document.getElementById('only-paid').getAttribute('aria-pressed');")
        .await;
    assert_eq!(pressed, "true");

    // The overlay shows the same badges, tier and lines.
    browser
        .goto(&app.url("/overlay?mode=latest&limit=20"))
        .await;
    let _: bool = browser
        .poll(
            "the cards on the overlay",
            PATIENCE,
            "return !!document.querySelector('li.card[data-id=\"sticker\"]');",
            |b| *b,
        )
        .await;
    let card_item = "li.card";
    let sc = card(&browser, card_item, "sc7").await;
    assert_eq!(sc.tier.as_deref(), Some("7"));
    let milestone = card(&browser, card_item, "milestone").await;
    assert_eq!(milestone.event, "Member for 24 months · Gold");
    assert_eq!(milestone.kind.as_deref(), Some("membership"));
    let moderator = card(&browser, card_item, "mod").await;
    assert_eq!(moderator.roles, ["moderator", "verified"]);
    let injected: bool = browser
        .eval("return window.__pwned === 1 || !!document.querySelector('.roles img, .event img');")
        .await;
    assert!(
        !injected,
        "a hostile level or gift name became markup on the overlay"
    );
    browser.screenshot("roles-overlay").await;

    // `lang=zh` speaks Chinese whatever the browser's language is.
    browser
        .goto(&app.url("/overlay?mode=latest&limit=20&lang=zh"))
        .await;
    let _: bool = browser
        .poll(
            "the cards on the Chinese overlay",
            PATIENCE,
            "return !!document.querySelector('li.card[data-id=\"milestone\"]');",
            |b| *b,
        )
        .await;
    let milestone = card(&browser, card_item, "milestone").await;
    assert!(
        milestone.event.contains("24") && !milestone.event.contains("Member for"),
        "{}",
        milestone.event
    );
    let lang: String = browser.eval("return document.documentElement.lang;").await;
    assert_eq!(lang, "zh-CN");
    browser.close().await;
}
