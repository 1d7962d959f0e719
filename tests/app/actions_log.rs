//! What was done on YouTube, reviewed in `/log` in Chromium: the *Actions*
//! view lists who (this browser's session, or another), what, on which
//! comment (linked to it in the log), when and YouTube's answer, in English
//! and Chinese; each comment acted on is marked in the comment list.

use fantoccini::Locator;
use serde_json::json;

use crate::actions::{CHAT, seed};
use crate::chrome::Browser;
use crate::helpers::{PATIENCE, spawn_app};
use crate::oauth::{connect_account, mock};

const TOKEN: &str = "actions-log-token-4242";

#[tokio::test]
async fn the_log_shows_what_was_done_on_youtube_and_marks_the_comments() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let google = mock::start().await;
    let mut env: Vec<(&str, String)> = google.env();
    env.extend([("CW_DEMO_RATE", "0".into()), ("CW_TOKEN", TOKEN.into())]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(&env).await;
    seed(&app).await;
    connect_account(&format!("http://{}", app.addr), TOKEN).await;

    // A tool with the token deletes m3: not this browser's session.
    let resp = reqwest::Client::new()
        .post(app.url("/api/actions/youtube/delete"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({"source": CHAT, "id": "m3"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    browser.goto(&app.url("/login")).await;
    let field = browser
        .check(browser.client.find(Locator::Css("#token")).await, "#token")
        .await;
    browser.check(field.send_keys(TOKEN).await, "type").await;
    let button = browser
        .check(
            browser
                .client
                .find(Locator::Css(".login-form button[type=submit]"))
                .await,
            "sign in",
        )
        .await;
    browser.check(button.click().await, "sign in").await;
    browser
        .poll(
            "the dashboard",
            PATIENCE,
            "return location.pathname === '/';",
            |b: &bool| *b,
        )
        .await;

    // This browser deletes m1, times out m2's author, and is refused on m4.
    let act = |action: &'static str, body: serde_json::Value| {
        format!(
            "return fetch('/api/actions/youtube/{action}', {{method: 'POST', \
               headers: {{'content-type': 'application/json'}}, body: JSON.stringify({body})}}) \
               .then((r) => r.status);"
        )
    };
    let s: u64 = browser
        .eval(&act("delete", json!({"source": CHAT, "id": "m1"})))
        .await;
    assert_eq!(s, 200);
    let s: u64 = browser
        .eval(&act(
            "timeout",
            json!({"source": CHAT, "id": "m2", "duration": 300}),
        ))
        .await;
    assert_eq!(s, 200);
    google.seen.lock().unwrap().refuse_next = Some((403, "forbidden".into()));
    let s: u64 = browser
        .eval(&act("delete", json!({"source": CHAT, "id": "m4"})))
        .await;
    assert_eq!(s, 403);

    // The Actions view, from /log's navigation.
    browser.goto(&app.url("/log")).await;
    let _: bool = browser
        .eval("localStorage.setItem('cw.dashboard.v1', JSON.stringify({lang: 'en'})); return true;")
        .await;
    browser.goto(&app.url("/log")).await;
    let _: bool = browser
        .eval("document.querySelector('.log-nav a[href=\"/log?actions=1\"]').click(); return true;")
        .await;
    let rows: Vec<Vec<String>> = browser
        .poll(
            "the actions listed",
            PATIENCE,
            "return [...document.querySelectorAll('tr.log-action')] \
               .map((r) => [...r.cells].map((c) => c.textContent.replace(/\\s+/g, ' ').trim()));",
            |r: &Vec<Vec<String>>| r.len() == 4,
        )
        .await;
    // Newest first: the refusal, the timeout, this browser's deletion, the tool's.
    assert_eq!(rows[0][1], "you", "{rows:?}");
    assert_eq!(rows[0][2], "deleted on YouTube", "{rows:?}");
    assert!(rows[0][3].starts_with("Kind: hello again"), "{rows:?}");
    assert!(rows[0][4].starts_with("not a moderator"), "{rows:?}");
    assert!(rows[0][4].contains("forbidden"), "{rows:?}");
    assert_eq!(
        rows[1][2], "author timed out on YouTube (5 min)",
        "{rows:?}"
    );
    assert!(
        rows[1][3].starts_with("Troll: second troll line"),
        "{rows:?}"
    );
    assert_eq!(rows[1][4], "done", "{rows:?}");
    assert_eq!(rows[2][1], "you", "{rows:?}");
    assert!(
        rows[2][3].starts_with("Troll: first troll line"),
        "{rows:?}"
    );
    assert_eq!(rows[3][1], "session bearer", "{rows:?}");
    assert!(rows[3][0].contains(':'), "{rows:?}");
    browser.screenshot("log-actions").await;

    // In Chinese.
    let zh: Vec<String> = browser
        .eval(
            "document.getElementById('lang-btn').click(); \
             const r = document.querySelectorAll('tr.log-action'); \
             return [r[0].cells[1].textContent.trim(), r[0].cells[2].textContent.trim(), \
                     r[0].cells[4].textContent.trim(), r[1].cells[4].textContent.trim(), \
                     document.querySelector('th').textContent];",
        )
        .await;
    assert_eq!(zh[0], "你", "{zh:?}");
    assert_eq!(zh[1], "已在 YouTube 删除", "{zh:?}");
    assert!(zh[2].starts_with("不是管理员"), "{zh:?}");
    assert_eq!(zh[3], "已完成", "{zh:?}");
    assert_eq!(zh[4], "时间", "{zh:?}");
    let _: bool = browser
        .eval("document.getElementById('lang-btn').click(); return true;")
        .await;

    // The comment's link leads to it in the log, where it is marked.
    let _: bool = browser
        .eval("document.querySelectorAll('tr.log-action')[2].querySelector('a.log-action-comment').click(); return true;")
        .await;
    let target: String = browser
        .poll(
            "the comment in the log",
            PATIENCE,
            "const id = location.hash.slice(1); const li = id && document.getElementById(id); \
             return li ? li.textContent.replace(/\\s+/g, ' ') : '';",
            |t: &String| !t.is_empty(),
        )
        .await;
    assert!(target.contains("first troll line"), "{target}");
    assert!(target.contains("deleted on YouTube by you"), "{target}");

    let marks: Vec<String> = browser
        .eval(&format!(
            "return [...document.querySelectorAll('li.log-item')] \
               .filter((li) => li.querySelector('.log-source').textContent === '{CHAT}') \
               .map((li) => li.querySelector('.log-body').textContent.trim() + ' | ' \
                 + [...li.querySelectorAll('.log-acted')].map((m) => m.textContent.replace(/\\s+/g, ' ').trim()).join(';'));"
        ))
        .await;
    let mark = |text: &str| {
        marks
            .iter()
            .find(|m| m.starts_with(&format!("{text} |")))
            .unwrap_or_else(|| panic!("{text}: {marks:?}"))
            .split(" | ")
            .nth(1)
            .unwrap()
            .to_owned()
    };
    assert_eq!(mark("first troll line"), "deleted on YouTube by you");
    assert_eq!(
        mark("second troll line"),
        "author timed out on YouTube (5 min) by you"
    );
    assert_eq!(mark("hello"), "deleted on YouTube by session bearer");
    // A refusal changed nothing, so it marks nothing.
    assert_eq!(mark("hello again"), "");

    // The JSON Lines export is linked from the view and holds every action.
    let jsonl = reqwest::Client::new()
        .get(app.url("/api/actions.jsonl"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(jsonl.lines().count(), 4, "{jsonl}");

    let errors = browser.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("/api/actions/")),
        "{errors:?}"
    );
    browser.close().await;
}
