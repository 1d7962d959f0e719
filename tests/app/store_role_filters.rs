//! The log's `role` and `kind` filters on both backends: any of several
//! roles, whole role names only, ordinary text as a kind of its own, and
//! every reader (pages, counts, statistics, exports) agreeing. A part of
//! `store_suite`.

use std::collections::BTreeSet;

use commentwatch::domain::{Kind, RawAmount, RawComment, Role};
use commentwatch::store::{self, CommentLog, Flag, Format, Selection};

use super::{backends, batch, comment, raw};

/// Who says what: an owner, a moderator who is a member, a verified
/// member, a VIP, a plain viewer; a Super Chat, a gift and a membership.
fn speakers() -> Vec<RawComment> {
    let with = |id: &str, roles: &[Role], kind: Kind, minute| {
        let mut c = raw(id, id, "hello", minute);
        c.roles = roles.to_vec();
        c.kind = kind;
        c
    };
    let mut paid = with("sc", &[], Kind::Superchat, 6);
    paid.amount = Some(RawAmount {
        display: "$5.00".into(),
        micros: 5_000_000,
        currency: "USD".into(),
    });
    vec![
        with("own", &[Role::Owner], Kind::Text, 1),
        with("mod", &[Role::Moderator, Role::Member], Kind::Text, 2),
        with("ver", &[Role::Verified, Role::Member], Kind::Membership, 3),
        with("vip", &[Role::Vip], Kind::Gift, 4),
        with("plain", &[], Kind::Text, 5),
        paid,
    ]
}

async fn ids(log: &CommentLog, sel: &Selection) -> BTreeSet<String> {
    let page = log.page(sel.clone(), None, 100).await.unwrap();
    page.comments.into_iter().map(|(_, c)| c.id).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

async fn exported(log: &CommentLog, sel: &Selection) -> (u64, usize) {
    let (log, sel) = (log.clone(), sel.clone());
    tokio::task::spawn_blocking(move || {
        let mut reader = log.reader().unwrap();
        let count = reader.count(&sel).unwrap();
        let mut out = Vec::new();
        store::export(
            &mut reader,
            &sel,
            None,
            None,
            Format::Jsonl,
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        (count, String::from_utf8(out).unwrap().lines().count())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn role_and_kind_filters_select_the_same_comments_on_both_backends() {
    for (backend, log) in backends().await.logs {
        let yt = "youtube-live:v";
        let sent = speakers().into_iter().map(|r| comment(yt, r)).collect();
        log.record(batch(yt, sent)).await.unwrap();
        let sel = |roles: &[Role], kinds: &[Kind]| Selection {
            roles: roles.to_vec(),
            kinds: kinds.to_vec(),
            ..Selection::default()
        };
        let cases: Vec<(Selection, BTreeSet<String>)> = vec![
            (sel(&[Role::Owner], &[]), set(&["own"])),
            (sel(&[Role::Member], &[]), set(&["mod", "ver"])),
            (
                sel(&[Role::Owner, Role::Moderator], &[]),
                set(&["own", "mod"]),
            ),
            (sel(&[Role::Vip], &[]), set(&["vip"])),
            (sel(&[Role::Verified], &[]), set(&["ver"])),
            (sel(&[], &[Kind::Text]), set(&["own", "mod", "plain"])),
            (sel(&[], &[Kind::Gift]), set(&["vip"])),
            (
                sel(&[], &[Kind::Superchat, Kind::Membership]),
                set(&["sc", "ver"]),
            ),
            (
                sel(&[], &[Kind::Text, Kind::Gift]),
                set(&["own", "mod", "plain", "vip"]),
            ),
            (sel(&[], &[Kind::Sticker]), set(&[])),
            (sel(&[Role::Member], &[Kind::Text]), set(&["mod"])),
        ];
        for (s, want) in &cases {
            assert_eq!(&ids(&log, s).await, want, "{backend}: {s:?}");
            let (count, lines) = exported(&log, s).await;
            assert_eq!(
                (count, lines),
                (want.len() as u64, want.len()),
                "{backend}: the export and its count agree with the page: {s:?}"
            );
            let stats = log.stats(s.clone()).await.unwrap();
            assert_eq!(stats.total, want.len() as u64, "{backend}: stats {s:?}");
        }
        // With the other filters: a paid message that is a Super Chat.
        let mut paid = sel(&[], &[Kind::Superchat]);
        paid.paid = Flag::Only;
        assert_eq!(ids(&log, &paid).await, set(&["sc"]), "{backend}");
    }
}
