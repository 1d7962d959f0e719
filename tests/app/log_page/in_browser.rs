//! The `/log` page in headless Chromium: what a person sees and downloads
//! there (the exports, times in their own time zone, replies, language).
//! HTTP-only behaviour of the page stays in `log_page.rs`.

use serde_json::Value;

use crate::chrome::Browser;
use crate::export::ingest;
use crate::helpers::{PATIENCE, spawn_app};
use crate::log_page::{YT, comment};

/// Fetches what the page's first export link (CSV) serves, from the page.
const FETCH_CSV: &str = "
    if (window.__csv === undefined) {
      window.__csv = null;
      fetch(document.querySelector('.log-exports a').href)
        .then(r => r.text()).then(t => { window.__csv = t; });
    }
    return window.__csv;";

// See: issue 15, "a CSV export of a Super Chat has its amount".
#[tokio::test]
async fn a_csv_export_of_a_super_chat_from_the_log_page_carries_its_amount() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    ingest(
        &app,
        vec![
            comment(YT, "free1", "viewer", "no money here", 1),
            crate::cli::super_chat(YT, "sc1", "patron", 2),
        ],
    )
    .await;
    browser
        .goto(&app.url(&format!("/log?source={YT}&paid=1")))
        .await;
    let shown: String = browser
        .eval("return document.querySelector('.log-amount').textContent")
        .await;
    assert_eq!(shown, "$4.99");
    let csv: Option<String> = browser
        .poll("the CSV export", PATIENCE, FETCH_CSV, Option::is_some)
        .await;
    let csv = csv.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers[11..13], ["amount", "currency"], "{headers:?}");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "only the Super Chat: {csv}");
    assert_eq!(
        (&rows[0][2], &rows[0][11], &rows[0][12]),
        ("sc1", "4.99", "USD")
    );
    assert!(browser.console_errors().await.is_empty());
    browser.close().await;
}

/// What the page shows of its times: each row's time text and hover text,
/// the zone in the filter labels, the toggle's state, the "from" field.
const TIMES: &str = "
    const rows = [...document.querySelectorAll('.log-list time')];
    return {
      shown: rows.map(t => t.textContent),
      hover: rows.map(t => t.title),
      zone: document.querySelector('.log-zone').textContent,
      utc: document.getElementById('log-utc').getAttribute('aria-pressed'),
      since: document.querySelector('input[name=since]').value,
      search: location.search,
    };";

#[derive(serde::Deserialize, Debug)]
struct Times {
    shown: Vec<String>,
    hover: Vec<String>,
    zone: String,
    utc: String,
    since: String,
    search: String,
}

// See: issue 15, "times in the streamer's time zone on /log (shown and
// typed; a UTC toggle), consistent in hover texts and filters".
#[tokio::test]
async fn the_log_page_shows_and_reads_times_in_the_browsers_time_zone_with_a_utc_toggle() {
    // A phone-sized window: the screenshot shows the filters at 420 px.
    let Some(browser) = Browser::launch_with(&["--window-size=420,900"]).await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    // 20:01 and 20:02 UTC on 1 April: 04:01 and 04:02 on 2 April in Shanghai.
    ingest(
        &app,
        vec![
            comment(YT, "tz1", "early", "posted at one past", 1),
            comment(YT, "tz2", "later", "posted at two past", 2),
        ],
    )
    .await;
    browser
        .cdp(
            "Emulation.setTimezoneOverride",
            serde_json::json!({ "timezoneId": "Asia/Shanghai" }),
        )
        .await;
    browser.goto(&app.url(&format!("/log?source={YT}"))).await;
    let t: Times = browser.eval(TIMES).await;
    assert_eq!(
        t.shown,
        ["2026-04-02 04:02:00", "2026-04-02 04:01:00"],
        "{t:?}"
    );
    assert!(t.hover.iter().all(|h| h.ends_with("UTC+08:00")), "{t:?}");
    assert_eq!((t.zone.as_str(), t.utc.as_str()), ("(UTC+08:00)", "false"));
    browser.screenshot("log-shanghai-420").await;

    // The toggle shows UTC everywhere, and the choice outlives a reload.
    browser
        .eval::<()>("document.getElementById('log-utc').click()")
        .await;
    let t: Times = browser.eval(TIMES).await;
    assert_eq!(
        t.shown,
        ["2026-04-01 20:02:00", "2026-04-01 20:01:00"],
        "{t:?}"
    );
    assert!(t.hover.iter().all(|h| h.ends_with(" UTC")), "{t:?}");
    assert_eq!((t.zone.as_str(), t.utc.as_str()), ("(UTC)", "true"));
    browser.goto(&app.url(&format!("/log?source={YT}"))).await;
    let t: Times = browser.eval(TIMES).await;
    assert_eq!(
        t.shown[0], "2026-04-01 20:02:00",
        "still UTC after a reload"
    );
    browser
        .eval::<()>("document.getElementById('log-utc').click()")
        .await;

    // A "from" typed in local time filters by that local time.
    browser
        .eval::<()>(
            "document.querySelector('input[name=since]').value = '2026-04-02T04:01:30';
             document.querySelector('.log-form').requestSubmit();",
        )
        .await;
    let t: Times = browser
        .poll("the filtered page", PATIENCE, TIMES, |t: &Times| {
            t.search.contains("since")
        })
        .await;
    assert!(
        t.search.contains("since=2026-04-01T20%3A01%3A30Z"),
        "sent in UTC: {}",
        t.search
    );
    assert_eq!(
        t.shown,
        ["2026-04-02 04:02:00"],
        "only what came after: {t:?}"
    );
    assert_eq!(
        t.since, "2026-04-02T04:01:30",
        "the field shows what was typed"
    );
    assert!(browser.console_errors().await.is_empty());
    browser.close().await;
}

/// The reply lines of the page: (who, the parent's text, where the link goes).
const REPLIES: &str = "
    return [...document.querySelectorAll('.log-parent')].map(a => [
      a.textContent,
      (a.parentElement.querySelector('.log-parent-text') || {}).textContent || '',
      a.getAttribute('href'),
    ]);";

// See: issue 15, "a reply on /log links to its parent and shows the
// parent's author, as the dashboard does".
#[tokio::test]
async fn a_reply_on_the_log_names_its_parents_author_and_links_to_the_parent() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let mut reply = comment(YT, "r2", "Bob", "yes, at eight", 5);
    reply.reply_to = Some("r1".into());
    ingest(
        &app,
        vec![
            comment(YT, "r1", "Alice", "when is the next stream?", 1),
            reply,
        ],
    )
    .await;
    browser.goto(&app.url(&format!("/log?source={YT}"))).await;
    let replies: Vec<(String, String, String)> = browser.eval(REPLIES).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let (who, said, href) = &replies[0];
    assert_eq!(
        (who.as_str(), said.as_str()),
        ("Alice", "when is the next stream?")
    );
    let parent_row: String = browser
        .eval("return document.querySelectorAll('.log-item')[1].id")
        .await;
    assert_eq!(
        href,
        &format!("#{parent_row}"),
        "the parent is on this page"
    );
    browser
        .eval::<()>("document.querySelector('.log-parent').click()")
        .await;
    let hash: String = browser.eval("return location.hash").await;
    assert_eq!(hash, format!("#{parent_row}"));

    // On a page without the parent, the link opens the log around it.
    browser
        .goto(&app.url(&format!("/log?source={YT}&limit=1")))
        .await;
    let replies: Vec<(String, String, String)> = browser.eval(REPLIES).await;
    assert_eq!(replies[0].0, "Alice");
    assert!(replies[0].2.starts_with("/log?") && replies[0].2.ends_with(&format!("#{parent_row}")));
    browser
        .eval::<()>("document.querySelector('.log-parent').click()")
        .await;
    let target: String = browser
        .poll("the parent's page", PATIENCE, "return location.hash && document.querySelector(location.hash) ? document.querySelector(location.hash + ' .log-author').textContent : ''", |s: &String| !s.is_empty())
        .await;
    assert_eq!(target, "Alice");
    assert!(browser.console_errors().await.is_empty());
    browser.close().await;
}

/// The chart's edge labels once the statistics have loaded.
const EDGES: &str = "
    const a = document.querySelector('.log-axis-start');
    const b = document.querySelector('.log-axis-end');
    const bars = [...document.querySelectorAll('.log-chart rect')].map(r => Number(r.getAttribute('x')));
    return a && b ? [a.textContent, b.textContent, bars] : null;";

// See: issue 15, "the log chart labelling its left edge with the first
// minute of data".
#[tokio::test]
async fn the_log_chart_starts_at_the_start_of_the_selected_range() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    // Comments from 20:07 to 20:09 UTC.
    ingest(
        &app,
        (7..10)
            .map(|m| comment(YT, &format!("ch{m}"), "viewer", "hello", m))
            .collect(),
    )
    .await;
    browser
        .cdp(
            "Emulation.setTimezoneOverride",
            serde_json::json!({ "timezoneId": "UTC" }),
        )
        .await;
    let edges = |path: String| {
        let browser = &browser;
        let url = app.url(&path);
        async move {
            browser.goto(&url).await;
            browser
                .poll("the chart", PATIENCE, EDGES, Option::is_some)
                .await
                .map(|e: (String, String, Vec<f64>)| e)
                .unwrap()
        }
    };
    let (left, right, bars) = edges(format!(
        "/log?source={YT}&since=2026-04-01T20:00:00Z&until=2026-04-01T20:30:00Z"
    ))
    .await;
    assert_eq!(
        (left.as_str(), right.as_str()),
        ("2026-04-01 20:00", "2026-04-01 20:30")
    );
    assert_eq!(bars, [7.0, 8.0, 9.0], "each bar at its minute of the range");
    // An open range starts at the first comment.
    let (left, _, bars) = edges(format!("/log?source={YT}")).await;
    assert_eq!(left, "2026-04-01 20:07");
    assert_eq!(bars, [0.0, 1.0, 2.0]);
    browser.close().await;
}

/// A few of the page's words, its language and title.
const WORDS: &str = "
    const q = (s) => (document.querySelector(s) || {}).textContent || '';
    return {
      lang: document.documentElement.lang,
      title: document.title,
      search: q('.log-btn-primary'),
      summary: q('.log-summary p'),
      stats: q('#stats-title'),
      toggle: q('#log-utc'),
      button: q('#lang-btn'),
      untranslated: [...document.querySelectorAll('.log-form select:not([name=source]) option')].filter(o => /^[a-z ]+$/.test(o.textContent)).length,
    };";

#[derive(serde::Deserialize, Debug)]
struct Words {
    lang: String,
    title: String,
    search: String,
    summary: String,
    stats: String,
    toggle: String,
    button: String,
    /// Filter choices still in English.
    untranslated: usize,
}

// See: issue 15, "/log and /login in Chinese too (same language choice as
// the dashboard)".
#[tokio::test]
async fn the_log_and_sign_in_pages_speak_the_dashboards_language() {
    // A browser whose language is Chinese (what it sends as Accept-Language).
    let Some(browser) = Browser::launch_with(&[
        "--lang=zh-CN",
        "--accept-lang=zh-CN,zh",
        "--window-size=1920,1080",
    ])
    .await
    else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    ingest(&app, vec![comment(YT, "l1", "viewer", "hello", 1)]).await;
    browser.goto(&app.url(&format!("/log?source={YT}"))).await;
    let w: Words = browser
        .poll("the page in Chinese", PATIENCE, WORDS, |w: &Words| {
            w.lang == "zh-CN"
        })
        .await;
    assert_eq!(w.search, "搜索", "{w:?}");
    assert!(
        w.summary.contains("1 条评论") && w.summary.contains("最新的在前"),
        "{w:?}"
    );
    assert_eq!((w.stats.as_str(), w.toggle.as_str()), ("统计", "显示 UTC"));
    assert!(w.title.starts_with("评论记录"), "{w:?}");
    assert_eq!(w.button, "English");
    assert_eq!(w.untranslated, 0, "every filter choice is in Chinese");
    browser.screenshot("log-zh-1920").await;

    // The language button switches, and the choice is the dashboard's too.
    browser
        .eval::<()>("document.getElementById('lang-btn').click()")
        .await;
    let w: Words = browser.eval(WORDS).await;
    assert_eq!(
        (w.lang.as_str(), w.search.as_str()),
        ("en", "Search"),
        "{w:?}"
    );
    assert!(w.summary.starts_with("1 comment,"), "{w:?}");
    let saved: String = browser
        .eval("return JSON.parse(localStorage.getItem('cw.dashboard.v1')).lang")
        .await;
    assert_eq!(saved, "en");
    browser.goto(&app.url("/")).await;
    let dashboard: String = browser
        .poll(
            "the dashboard in English",
            PATIENCE,
            "return document.getElementById('lang-btn').textContent",
            |s: &String| !s.is_empty(),
        )
        .await;
    assert_eq!(
        dashboard, "中文",
        "the dashboard follows the choice made on /log"
    );

    // The sign-in page of a protected server (another origin, so no saved
    // choice there: the browser's language decides) speaks Chinese, the
    // server's messages included.
    let guarded = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", "correct-horse")]).await;
    browser.goto(&guarded.url("/login")).await;
    let login: Value = browser
        .poll(
            "the sign-in page in Chinese",
            PATIENCE,
            "return { lang: document.documentElement.lang, button: document.querySelector('.login-form button').textContent, label: document.querySelector('label[for=token]').textContent };",
            |v: &Value| v["lang"] == "zh-CN",
        )
        .await;
    assert_eq!(login["button"], "登录");
    assert_eq!(login["label"], "令牌");
    browser
        .eval::<()>(
            "document.getElementById('token').value = 'wrong'; document.querySelector('.login-form').requestSubmit();",
        )
        .await;
    let error: String = browser
        .poll(
            "the refusal",
            PATIENCE,
            "const e = document.querySelector('.login-error'); return e ? e.textContent : '';",
            |s: &String| !s.is_empty(),
        )
        .await;
    assert_eq!(error, "这不是 commentwatch 启动时设置的令牌。");
    assert!(browser.console_errors().await.is_empty());
    browser.close().await;
}
