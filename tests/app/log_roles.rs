//! Filtering the log by who wrote a comment (`role=`) and what it is
//! (`kind=`) through every reader a person uses: `/api/comments`, the CSV
//! and JSONL exports, `/api/stats`, the `/log` page (its *Who* and *Kind*
//! menus, in headless Chromium) and `commentwatch export --role --kind`.
//! Bad values are a 400 naming the parameter, like every other filter.
//! The store's side, on both backends, is in `store_role_filters.rs`.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use commentwatch::domain::{Comment, Kind, RawComment, Role};
use reqwest::StatusCode;
use serde_json::Value;

use crate::chrome::Browser;
use crate::export::ingest;
use crate::helpers::{PATIENCE, TestApp, spawn_app};
use crate::log_page::{YT, settle, t0};

/// `id` by an author of `roles` of kind `kind`, `minute`s after `t0`.
fn said(id: &str, roles: &[Role], kind: Kind, minute: i64) -> Comment {
    let at = t0() + chrono::Duration::minutes(minute);
    commentwatch::sanitize::sanitize(
        YT,
        RawComment {
            id: id.into(),
            author_name: format!("name-{id}"),
            author_id: format!("UC-{id}"),
            text: format!("words of {id}"),
            published_at: Some(at),
            roles: roles.to_vec(),
            kind,
            ..RawComment::default()
        },
        at,
    )
    .expect("a valid comment")
}

async fn app_with_speakers() -> TestApp {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    settle(&app).await;
    ingest(
        &app,
        vec![
            said("own", &[Role::Owner], Kind::Text, 1),
            said("mod", &[Role::Moderator], Kind::Text, 2),
            said("mem", &[Role::Member], Kind::Membership, 3),
            said("gift", &[], Kind::Gift, 4),
            said("plain", &[], Kind::Text, 5),
        ],
    )
    .await;
    app
}

async fn api_ids(app: &TestApp, query: &str) -> BTreeSet<String> {
    let resp = reqwest::get(app.url(&format!("/api/comments?source={YT}&{query}")))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{query}");
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    body["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn role_and_kind_filter_the_api_its_exports_and_the_command_line_alike() {
    let app = app_with_speakers().await;
    for (query, want) in [
        ("role=owner", set(&["own"])),
        ("role=moderator&role=member", set(&["mod", "mem"])),
        ("role=moderator,member", set(&["mod", "mem"])),
        ("role=Owner", set(&["own"])),
        ("kind=text", set(&["own", "mod", "plain"])),
        ("kind=membership,gift", set(&["mem", "gift"])),
        ("role=owner&kind=gift", set(&[])),
        ("role=&kind=", set(&["own", "mod", "mem", "gift", "plain"])),
    ] {
        assert_eq!(api_ids(&app, query).await, want, "{query}");
        let stats = reqwest::get(app.url(&format!("/api/stats?source={YT}&{query}")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let stats: Value = serde_json::from_str(&stats).unwrap();
        assert_eq!(stats["total"], want.len(), "/api/stats?{query}");
    }
    // The CSV export and the command line give the same bytes.
    let query = format!("source={YT}&role=moderator,member&kind=text&kind=membership");
    let api = reqwest::get(app.url(&format!("/api/comments.csv?{query}")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let csv = String::from_utf8(api.to_vec()).unwrap();
    assert_eq!(csv.lines().count(), 3, "a header and two rows: {csv}");
    let out = Command::new(env!("CARGO_BIN_EXE_commentwatch"))
        .env_clear()
        .env("CW_DB", &app.db)
        .args([
            "export",
            "--format",
            "csv",
            "--source",
            YT,
            "--role",
            "moderator",
            "--role",
            "member",
            "--kind",
            "text,membership",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, api.to_vec());
    // A bad value names the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_commentwatch"))
        .env_clear()
        .env("CW_DB", &app.db)
        .args(["export", "--format", "jsonl", "--role", "admin"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--role") && err.contains("admin"), "{err}");
}

#[tokio::test]
async fn a_bad_role_or_kind_is_a_400_naming_it_on_every_reader() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let client = reqwest::Client::new();
    for (query, param) in [
        ("role=admin", "role"),
        ("role=owner,%3Cscript%3E", "role"),
        ("kind=donation", "kind"),
        ("kind=text&kind=superchat,nope", "kind"),
    ] {
        for path in [
            "/api/comments",
            "/api/comments.csv",
            "/api/comments.jsonl",
            "/api/stats",
        ] {
            let resp = client
                .get(app.url(&format!("{path}?{query}")))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}?{query}");
            let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
            assert_eq!(body["param"], param, "{path}?{query}: {body}");
        }
        let resp = client
            .get(app.url(&format!("/log?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "/log?{query}");
        let page = resp.text().await.unwrap();
        assert!(page.contains(&format!("{param}: ")), "/log?{query}");
        assert!(!page.contains("<script>"), "the bad value is escaped");
    }
}

/// The rows' ids and the two menus' values, as the page shows them.
const SHOWN: &str = "
    return {
      ids: [...document.querySelectorAll('.log-list .log-item')]
        .map(li => li.querySelector('.log-author').textContent.replace('name-', '')),
      role: document.querySelector('select[name=role]').value,
      kind: document.querySelector('select[name=kind]').value,
      search: location.search,
    };";

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Shown {
    ids: Vec<String>,
    role: String,
    kind: String,
    search: String,
}

#[tokio::test]
async fn the_log_page_filters_by_who_and_kind_from_its_menus() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = app_with_speakers().await;
    browser.goto(&app.url(&format!("/log?source={YT}"))).await;
    let all: Shown = browser.eval(SHOWN).await;
    assert_eq!(all.ids, ["plain", "gift", "mem", "mod", "own"]);
    // Choose "moderators" and search: only the moderator's comment.
    let _: bool = browser
        .eval(
            "document.querySelector('select[name=role]').value = 'moderator';
             document.querySelector('.log-form').requestSubmit(); return true;",
        )
        .await;
    let shown: Shown = browser
        .poll(
            "the moderator's comment alone",
            PATIENCE,
            SHOWN,
            |s: &Shown| s.search.contains("role=moderator"),
        )
        .await;
    assert_eq!(shown.ids, ["mod"]);
    assert_eq!(
        (shown.role.as_str(), shown.kind.as_str()),
        ("moderator", "")
    );
    // Then gifts of anyone.
    let _: bool = browser
        .eval(
            "document.querySelector('select[name=role]').value = '';
             document.querySelector('select[name=kind]').value = 'gift';
             document.querySelector('.log-form').requestSubmit(); return true;",
        )
        .await;
    let shown: Shown = browser
        .poll("the gift alone", PATIENCE, SHOWN, |s: &Shown| {
            s.search.contains("kind=gift")
        })
        .await;
    assert_eq!(shown.ids, ["gift"]);
    // A link with several roles keeps them in the menu.
    browser
        .goto(&app.url(&format!("/log?source={YT}&role=owner,moderator")))
        .await;
    let shown: Shown = browser.eval(SHOWN).await;
    assert_eq!(shown.ids, ["mod", "own"]);
    assert_eq!(shown.role, "owner,moderator");
    let menu: String = browser
        .eval("return document.querySelector('select[name=role]').selectedOptions[0].textContent")
        .await;
    assert_eq!(menu, "owner, moderator");
    assert!(browser.console_errors().await.is_empty());
    browser.close().await;
}
