//! Seeing well on the dashboard, in a real headless Chromium: the comments'
//! text size (a setting that persists) and line length, long comments
//! clamped to four lines with "more".
//!
//! Comments are put on the app's own feed (`TestApp::feed`), so each test
//! knows exactly what the page must show; the demo source runs at rate 0.

use commentwatch::domain::{Comment, RawAmount, RawComment};
use commentwatch::store::Batch;
use serde::Deserialize;
use serde_json::Value;

use crate::chrome::Browser;
use crate::helpers::{PATIENCE, TestApp, spawn_app};

const WINDOW: &str = "--window-size=1440,900";
const SRC: &str = "youtube:seeingwell1";

/// A comment `id` by `author` saying `text`, paid `amount` (in the
/// currency's micros, in yen) if given.
fn comment(id: &str, author: &str, text: &str, amount: Option<i64>) -> Comment {
    let now = chrono::Utc::now();
    commentwatch::sanitize::sanitize(
        SRC,
        RawComment {
            id: id.into(),
            author_name: author.into(),
            author_id: format!("UC-{author}"),
            text: text.into(),
            published_at: Some(now),
            amount: amount.map(|micros| RawAmount {
                display: format!("¥{}", micros / 1_000_000),
                micros,
                currency: "JPY".into(),
            }),
            ..RawComment::default()
        },
        now,
    )
    .expect("a valid comment")
}

/// Puts `comments` on the app's feed as one poll would.
async fn say(app: &TestApp, comments: Vec<Comment>) {
    app.feed
        .ingest(Batch {
            source: SRC.into(),
            comments,
            ..Batch::default()
        })
        .await
        .unwrap();
}

/// The dashboard of a fresh app, live, with its backlog drawn.
async fn dashboard(browser: &Browser) -> TestApp {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    let _: bool = browser
        .poll(
            "the dashboard to go live",
            PATIENCE,
            "return document.getElementById('conn').dataset.state === 'live';",
            |live| *live,
        )
        .await;
    app
}

/// Waits until the comment `id` is on the page.
async fn shown(browser: &Browser, id: &str) {
    let script = format!("return !!document.querySelector('#feed li.comment[data-id=\"{id}\"]');");
    let _: bool = browser
        .poll(
            &format!("comment {id} on the page"),
            PATIENCE,
            &script,
            |b| *b,
        )
        .await;
}

#[derive(Debug, Deserialize)]
struct Clamp {
    clamped: bool,
    more_shown: bool,
    client: f64,
    scroll: f64,
    line: f64,
    overflow_y: String,
}

fn clamp_of(id: &str) -> String {
    format!(
        r#"const li = document.querySelector('#feed li.comment[data-id="{id}"]');
           const body = li.querySelector('.body');
           const st = getComputedStyle(body);
           return {{
             clamped: li.classList.contains('clamped'),
             more_shown: !li.querySelector('.more').hidden,
             client: body.clientHeight,
             scroll: body.scrollHeight,
             line: parseFloat(st.lineHeight),
             overflow_y: st.overflowY,
           }};"#
    )
}

#[tokio::test]
async fn a_long_comment_is_clamped_with_more_and_the_text_size_persists() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = dashboard(&browser).await;
    let long: String = "All work and no play makes a long comment. ".repeat(47);
    let long = &long[..2000];
    say(
        &app,
        vec![
            comment("short1", "brief", "a short one", None),
            comment("long1", "essayist", long, None),
        ],
    )
    .await;
    shown(&browser, "long1").await;
    shown(&browser, "short1").await;

    // Clamped to four whole lines, with "more" (not an inner scroll box).
    let c: Clamp = browser
        .poll(
            "the long comment clamped",
            PATIENCE,
            &clamp_of("long1"),
            |c: &Clamp| c.clamped && c.more_shown,
        )
        .await;
    assert!(
        (c.client - 4.0 * c.line).abs() < 2.0,
        "four lines tall: {c:?}"
    );
    assert!(c.scroll > c.client * 2.0, "most of it is cut: {c:?}");
    assert_ne!(c.overflow_y, "auto", "no inner scroll box");
    let s: Clamp = browser.eval(&clamp_of("short1")).await;
    assert!(
        !s.clamped && !s.more_shown,
        "a short comment has no more: {s:?}"
    );

    // A readable line length: at most about 80 characters a line.
    let ratio: f64 = browser
        .eval(
            r#"const body = document.querySelector('#feed li.comment[data-id="long1"] .body');
               const ctx = document.createElement('canvas').getContext('2d');
               const st = getComputedStyle(body);
               ctx.font = st.fontWeight + ' ' + st.fontSize + ' ' + st.fontFamily;
               return body.getBoundingClientRect().width / ctx.measureText('0').width;"#,
        )
        .await;
    assert!((60.0..=81.0).contains(&ratio), "line length {ratio} ch");

    // "more" shows it all; "less" clamps it again.
    browser
        .eval::<Value>(
            "document.querySelector('#feed li.comment[data-id=\"long1\"] .more').click(); return null;",
        )
        .await;
    let open: Clamp = browser.eval(&clamp_of("long1")).await;
    assert!(
        open.scroll - open.client < 1.0 && open.client > 10.0 * open.line,
        "whole comment shown: {open:?}"
    );
    let label: String = browser
        .eval("return document.querySelector('#feed li.comment[data-id=\"long1\"] .more').textContent;")
        .await;
    assert_eq!(label, "less");

    // The text size: larger than the page's by default, changed by the
    // setting, and kept across a reload.
    let size = "return getComputedStyle(document.querySelector('#feed li.comment[data-id=\"short1\"] .body')).fontSize;";
    let before: String = browser.eval(size).await;
    assert_eq!(before, "18px");
    browser
        .eval::<Value>(
            r#"const sel = document.getElementById('text-size');
               sel.value = '22';
               sel.dispatchEvent(new Event('change'));
               return null;"#,
        )
        .await;
    let after: String = browser.eval(size).await;
    assert_eq!(after, "22px");
    let _: bool = browser
        .poll(
            "the size saved",
            PATIENCE,
            "return (localStorage.getItem('cw.dashboard.v1') || '').includes('\"textSize\":22');",
            |b| *b,
        )
        .await;
    browser.client.refresh().await.unwrap();
    shown(&browser, "short1").await;
    let reloaded: String = browser.eval(size).await;
    assert_eq!(reloaded, "22px", "the size survives a reload");
    let chosen: String = browser
        .eval("return document.getElementById('text-size').value;")
        .await;
    assert_eq!(chosen, "22");
    browser.screenshot("seeing-clamp").await;
    browser.close().await;
}

#[derive(Debug, Deserialize, PartialEq)]
struct Badge {
    text: String,
    icon: String,
    platform: String,
}

fn badge_of(id: &str) -> String {
    format!(
        r#"const el = document.querySelector('#feed li.comment[data-id="{id}"] .source');
           return {{
             text: el.textContent,
             icon: getComputedStyle(el, '::before').content,
             platform: el.dataset.platform,
           }};"#
    )
}

#[tokio::test]
async fn source_badges_show_the_platform_icon_and_the_title_as_text() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = dashboard(&browser).await;
    say(&app, vec![comment("yt1", "viewer", "hello", None)]).await;
    shown(&browser, "yt1").await;

    // Each platform has its icon; without a title, the source's id.
    let yt: Badge = browser.eval(&badge_of("yt1")).await;
    assert_eq!(yt.platform, "youtube");
    assert_eq!(yt.icon, "\"▶\"");
    assert_eq!(yt.text, SRC, "no title yet: the source's id");
    let demo: String = browser
        .eval(
            r#"const el = document.querySelector('#feed li.comment .source[data-platform="demo"]');
               return getComputedStyle(el, '::before').content;"#,
        )
        .await;
    assert_eq!(demo, "\"✦\"");
    let icons: Vec<String> = browser
        .eval(
            r#"const el = document.createElement('span');
               el.className = 'source';
               document.getElementById('feed').append(el);
               const out = ['youtube', 'youtube-live', 'bilibili', 'bilibili-live', 'twitch', 'generic', 'demo']
                 .map((p) => { el.dataset.platform = p; return getComputedStyle(el, '::before').content; });
               el.remove();
               return out;"#,
        )
        .await;
    let distinct: std::collections::HashSet<_> = icons.iter().collect();
    assert_eq!(distinct.len(), 7, "one icon per platform: {icons:?}");
    assert!(icons.iter().all(|i| i != "none"), "{icons:?}");

    // A status frame's title (untrusted text) becomes the label, as text;
    // badges already drawn are relabelled, and the id stays in the tooltip.
    let titled: Value = browser
        .eval(&format!(
            r#"const r = await import('/assets/render.js');
               const drawn = document.createElement('span');
               r.fillBadge(drawn, '{SRC}');
               document.body.append(drawn);
               const before = drawn.textContent;
               r.setSourceTitles([{{ source: '{SRC}', title: '<img src=x onerror=__cwTrap()>  Big   stream ' }}]);
               const out = {{
                 before,
                 after: drawn.textContent,
                 tip: drawn.title,
                 elements: drawn.children.length,
                 name: r.sourceName('{SRC}'),
                 other: r.sourceName('bilibili:BV1'),
               }};
               r.setSourceTitles([{{ source: '{SRC}' }}]);
               out.gone = drawn.textContent;
               drawn.remove();
               return out;"#
        ))
        .await;
    assert_eq!(titled["before"], SRC);
    assert_eq!(titled["after"], "<img src=x onerror=__cwTrap()> Big stream");
    assert_eq!(titled["elements"], 0, "text, never markup");
    assert_eq!(
        titled["tip"],
        format!("<img src=x onerror=__cwTrap()> Big stream\n{SRC}")
    );
    assert_eq!(titled["name"], "<img src=x onerror=__cwTrap()> Big stream");
    assert_eq!(titled["other"], "bilibili:BV1", "no title: the id");
    assert_eq!(titled["gone"], SRC, "a title that goes away: the id again");
    browser.close().await;
}

#[tokio::test]
async fn questions_in_chinese_and_japanese_count_not_only_a_trailing_question_mark() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    let questions = [
        "what time is it?",
        "is this live ?  ",
        "really?!",
        "why?? 😂😂",
        "you ok? 👍🏽",
        "真的吗",
        "你好吗😊",
        "真的吗？！",
        "[doge]真的吗[doge]",
        "你吃饭了吗啊",
        "好吃吗～",
        "你在干嘛呢",
        "在哪里",
        "这是什么歌",
        "你叫什么名字",
        "为什么",
        "怎么做到的",
        "谁赢了",
        "几点开始",
        "本当？",
        "いつですか",
        "これは何ですか？",
        "どうするの？",
        "行くんですかね",
        "配信はいつまでかな",
        "教えてください",
        "この曲の名前を教えて！",
    ];
    let statements = [
        "",
        "lol",
        "great stream!",
        "what a game.",
        "hello 😂",
        "[doge]",
        "I asked? no, I said it is fine and went on talking for a while",
        "我爱你",
        "没什么",
        "今天不怎么样",
        "几乎完美",
        "谁都可以",
        "什么都行",
        "ばか",
        "静かだ",
        "確か",
        "ありがとう",
    ];
    let script = format!(
        r#"const {{ isQuestion }} = await import('/assets/settings.js');
           return {{
             missed: {q}.filter((t) => !isQuestion(t)),
             wrong: {s}.filter((t) => isQuestion(t)),
           }};"#,
        q = serde_json::to_string(&questions).unwrap(),
        s = serde_json::to_string(&statements).unwrap(),
    );
    let found: Value = browser.eval(&script).await;
    assert_eq!(found["missed"], serde_json::json!([]), "questions missed");
    assert_eq!(
        found["wrong"],
        serde_json::json!([]),
        "statements taken for questions"
    );
    browser.close().await;
}

/// Installed before the page's scripts: a speechSynthesis that records
/// what it is asked to say and speaks until `__finish()` (or `cancel`),
/// counting any utterance started while another was still going; and a
/// record of every flash of the page.
const SPEECH_STUB: &str = r#"
(() => {
  window.__spoken = []; window.__cur = null; window.__overlap = 0; window.__cancels = 0; window.__flashes = [];
  const stub = {
    speak(u) { if (window.__cur) window.__overlap += 1; window.__cur = u; window.__spoken.push(u.text); },
    cancel() {
      window.__cancels += 1;
      const u = window.__cur; window.__cur = null;
      if (u) setTimeout(() => u.dispatchEvent(new Event('error')), 0);
    },
    getVoices: () => [], speaking: false, pending: false, paused: false,
  };
  Object.defineProperty(window, 'speechSynthesis', { value: stub, configurable: true });
  window.__finish = () => { const u = window.__cur; window.__cur = null; if (u) u.dispatchEvent(new Event('end')); return !!u; };
  document.addEventListener('DOMContentLoaded', () => {
    const app = document.getElementById('app');
    // Each record's new value is the next one's old value.
    const has = (v) => /(^|\s)flash(\s|$)/.test(v || '');
    new MutationObserver((records) => records.forEach((r, i) => {
      const now = i + 1 < records.length ? records[i + 1].oldValue : app.className;
      if (has(now) && !has(r.oldValue)) window.__flashes.push(app.dataset.flash);
    })).observe(app, { attributes: true, attributeFilter: ['class'], attributeOldValue: true });
  });
})();
"#;

#[derive(Debug, Deserialize)]
struct Speech {
    spoken: Vec<String>,
    current: Option<String>,
    overlap: u32,
    cancels: u32,
    flashes: Vec<String>,
}

const SPEECH: &str = r#"return {
  spoken: window.__spoken, current: window.__cur ? window.__cur.text : null,
  overlap: window.__overlap, cancels: window.__cancels, flashes: window.__flashes,
};"#;

async fn speech(browser: &Browser, what: &str, done: impl Fn(&Speech) -> bool) -> Speech {
    browser.poll(what, PATIENCE, SPEECH, done).await
}

async fn hide(app: &TestApp, entry: &str) {
    let resp = reqwest::Client::new()
        .post(app.url("/api/hidden"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "entry": entry }).to_string())
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "hide {entry}: {}",
        resp.status()
    );
}

#[tokio::test]
async fn paid_messages_alert_by_default_and_read_aloud_is_queued_capped_and_never_reads_hidden_words()
 {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({ "source": SPEECH_STUB }),
        )
        .await;
    let app = dashboard(&browser).await;

    // Triggers and outputs are two groups; paid messages trigger by default.
    let panel: Value = browser
        .eval(
            r#"const ids = (id) => Array.from(document.querySelectorAll('#' + id + ' input'), (i) => i.id);
               return {
                 triggers: ids('al-triggers'), outputs: ids('al-outputs'),
                 paid: document.getElementById('al-paid').checked,
                 speak: document.getElementById('al-speak').checked,
                 mode: document.getElementById('al-speak-mode').value,
               };"#,
        )
        .await;
    assert_eq!(
        panel["triggers"],
        serde_json::json!(["al-highlight", "al-paid", "al-author"])
    );
    assert_eq!(
        panel["outputs"],
        serde_json::json!(["al-sound", "al-flash", "al-notify", "al-speak"])
    );
    assert_eq!(panel["paid"], true, "paid messages alert by default");
    assert_eq!(panel["speak"], false);
    assert_eq!(panel["mode"], "alerts");

    // One output on (the flash): a plain comment does not alert, a paid one does.
    browser
        .eval::<Value>("document.getElementById('al-flash').click(); return null;")
        .await;
    say(&app, vec![comment("plain1", "viewer", "nice stream", None)]).await;
    shown(&browser, "plain1").await;
    say(
        &app,
        vec![comment("paid1", "fan", "for the snacks", Some(500_000_000))],
    )
    .await;
    shown(&browser, "paid1").await;
    let s = speech(&browser, "the paid flash", |s| s.flashes.len() >= 2).await;
    assert_eq!(
        s.flashes,
        ["test", "paid"],
        "the switch's own flash, then the paid one only"
    );
    assert!(s.spoken.is_empty(), "read-aloud is off: {s:?}");

    // Read aloud, paid only.
    browser
        .eval::<Value>(
            r#"document.getElementById('al-speak').click();
               const mode = document.getElementById('al-speak-mode');
               mode.value = 'paid';
               mode.dispatchEvent(new Event('change'));
               return null;"#,
        )
        .await;
    say(
        &app,
        vec![
            comment("plain2", "viewer", "just chatting", None),
            comment("paid2", "payer", "big thanks", Some(1_000_000_000)),
        ],
    )
    .await;
    let s = speech(&browser, "the paid message read", |s| !s.spoken.is_empty()).await;
    assert_eq!(s.spoken, ["payer (¥1000): big thanks"]);
    assert!(browser.eval::<bool>("return window.__finish();").await);

    // Every comment: one at a time, at most five waiting (the oldest
    // dropped), and a word hidden meanwhile is never read.
    browser
        .eval::<Value>(
            r#"const mode = document.getElementById('al-speak-mode');
               mode.value = 'all';
               mode.dispatchEvent(new Event('change'));
               return null;"#,
        )
        .await;
    let burst: Vec<Comment> = (0..8)
        .map(|i| {
            let (author, text) = match i {
                0 => ("chatty", "a0 first".to_owned()),
                5 => ("viewer", "a5 has the secret word".to_owned()),
                _ => ("viewer", format!("a{i} words")),
            };
            comment(&format!("a{i}"), author, &text, None)
        })
        .collect();
    say(&app, burst).await;
    shown(&browser, "a7").await;
    let s = speech(&browser, "the first of the burst", |s| s.spoken.len() == 2).await;
    assert_eq!(s.current.as_deref(), Some("chatty: a0 first"));
    // Hidden while waiting (the word) and while being read (the author).
    hide(&app, "secret").await;
    hide(&app, "author:chatty").await;
    let s = speech(&browser, "the hidden author cut off", |s| {
        s.cancels >= 1 && s.current.as_deref() != Some("chatty: a0 first")
    })
    .await;
    assert_eq!(s.current.as_deref(), Some("viewer: a3 words"), "{s:?}");
    for _ in 0..10 {
        if !browser.eval::<bool>("return window.__finish();").await {
            break;
        }
    }
    let s: Speech = browser.eval(SPEECH).await;
    assert_eq!(
        s.spoken,
        [
            "payer (¥1000): big thanks",
            "chatty: a0 first",
            "viewer: a3 words",
            "viewer: a4 words",
            "viewer: a6 words",
            "viewer: a7 words",
        ],
        "a1 and a2 dropped (queue of 5), a5 hidden before its turn"
    );
    assert_eq!(s.overlap, 0, "never two utterances at once");
    assert!(s.spoken.iter().all(|t| !t.contains("secret")));
    browser.screenshot("seeing-alerts").await;
    browser.close().await;
}

#[derive(Debug, Deserialize)]
struct Narrow {
    header_height: f64,
    placeholder_width: f64,
    input_room: f64,
    overflow_x: f64,
}

const NARROW: &str = r#"
const input = document.getElementById('filter');
const st = getComputedStyle(input);
const ctx = document.createElement('canvas').getContext('2d');
ctx.font = st.fontStyle + ' ' + st.fontWeight + ' ' + st.fontSize + ' ' + st.fontFamily;
return {
  header_height: document.querySelector('header.top').getBoundingClientRect().height,
  placeholder_width: ctx.measureText(input.placeholder).width,
  input_room: input.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight),
  overflow_x: document.documentElement.scrollWidth - document.documentElement.clientWidth,
};"#;

#[tokio::test]
async fn at_420_px_the_header_is_compact_the_filter_placeholder_shows_and_the_drawer_closes() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    // Chromium's windows are at least 500 px wide: emulate the phone.
    browser
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({ "width": 420, "height": 860, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    let app = dashboard(&browser).await;
    say(
        &app,
        vec![comment("n1", "viewer", "hello from a phone", None)],
    )
    .await;
    shown(&browser, "n1").await;
    let width: f64 = browser.eval("return window.innerWidth;").await;
    assert!(width <= 420.0, "a narrow window: {width}");
    browser.screenshot("seeing-420").await;

    for lang in ["en", "zh"] {
        let n: Narrow = browser.eval(NARROW).await;
        assert!(
            n.placeholder_width <= n.input_room,
            "{lang}: the filter's placeholder fits: {n:?}"
        );
        assert!(n.header_height <= 100.0, "{lang}: a compact header: {n:?}");
        assert!(
            n.overflow_x < 1.0,
            "{lang}: nothing wider than the screen: {n:?}"
        );
        browser
            .eval::<Value>("document.getElementById('lang-btn').click(); return null;")
            .await;
    }

    // The panels drawer: opened by its button, closed by Esc, and by a
    // click outside it (not by one inside).
    let open = "return document.getElementById('app').classList.contains('show-side') && getComputedStyle(document.getElementById('side')).display !== 'none';";
    let click_side = "document.getElementById('side-btn').click(); return null;";
    browser.eval::<Value>(click_side).await;
    assert!(browser.eval::<bool>(open).await, "the button opens it");
    browser.screenshot("seeing-420-drawer").await;
    browser
        .eval::<Value>(
            "document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })); return null;",
        )
        .await;
    assert!(!browser.eval::<bool>(open).await, "Esc closes it");

    browser.eval::<Value>(click_side).await;
    assert!(browser.eval::<bool>(open).await);
    let (x, y): (f64, f64) = browser
        .eval(
            "const r = document.getElementById('hl-input').getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];",
        )
        .await;
    click_at(&browser, x, y).await;
    assert!(
        browser.eval::<bool>(open).await,
        "a click inside keeps it open"
    );
    click_at(&browser, 12.0, 400.0).await;
    assert!(
        !browser.eval::<bool>(open).await,
        "a click outside closes it"
    );
    browser.close().await;
}

/// A real mouse click (pressed, released) at `x`, `y` of the viewport.
async fn click_at(browser: &Browser, x: f64, y: f64) {
    for kind in ["mousePressed", "mouseReleased"] {
        browser
            .cdp(
                "Input.dispatchMouseEvent",
                serde_json::json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await;
    }
}

#[derive(Debug, Deserialize)]
struct Bar {
    h: f64,
    w: f64,
    x: f64,
    n: f64,
}

#[tokio::test]
async fn the_rate_chart_scales_to_its_window_and_never_becomes_a_flat_block() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    browser.goto(&app.url("/")).await;
    let bars = |counts: Vec<u32>| {
        format!(
            r#"const r = await import('/assets/render.js');
               return r.rateBars({}, 120, 24);"#,
            serde_json::to_string(&counts).unwrap()
        )
    };

    // A steady 30 a minute (5 per 10 s): equal bars with gaps, below the top.
    let steady: Vec<Bar> = browser.eval(&bars(vec![5; 60])).await;
    assert_eq!(steady.len(), 60);
    assert!(steady.iter().all(|b| (b.h - steady[0].h).abs() < 1e-9));
    assert!(
        steady[0].h <= 24.0 * 0.85 && steady[0].h >= 24.0 * 0.7,
        "high, never full: {:?}",
        steady[0]
    );
    assert!(steady[0].w < 2.0, "a gap between bars: {:?}", steady[0]);
    let covered: f64 = steady.iter().map(|b| b.w * b.h).sum();
    assert!(covered < 0.7 * 120.0 * 24.0, "not a block: {covered}");

    // A burst: scaled to the busiest bucket of the window; a quiet bucket has
    // no bar, a single comment still shows.
    let mut counts = vec![0; 60];
    counts[10] = 1;
    counts[30] = 60;
    counts[59] = 30;
    let burst: Vec<Bar> = browser.eval(&bars(counts)).await;
    let tallest = burst.iter().map(|b| b.h).fold(0.0, f64::max);
    assert_eq!(burst[30].h, tallest);
    assert!(
        (burst[30].h - 20.0).abs() < 1e-6,
        "5/6 of the height: {:?}",
        burst[30]
    );
    assert!(
        (burst[59].h - 10.0).abs() < 1e-6,
        "half the busiest: {:?}",
        burst[59]
    );
    assert!(
        burst[10].h >= 1.0 && burst[10].h < 2.0,
        "a sliver: {:?}",
        burst[10]
    );
    assert_eq!(burst[0].h, 0.0);
    assert_eq!(burst[0].n, 0.0);
    assert!(burst[59].x + burst[59].w <= 120.0);

    // A trickle (one now and then) stays low: the scale is at least 4.
    let trickle: Vec<Bar> = browser.eval(&bars(vec![1; 60])).await;
    assert!(trickle[0].h < 6.0, "a trickle stays low: {:?}", trickle[0]);

    // Drawn into an svg: one rect per bucket, on a base line.
    let drawn: Value = browser
        .eval(
            r#"const r = await import('/assets/render.js');
               const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
               svg.setAttribute('viewBox', '0 0 120 24');
               svg.setAttribute('class', 'spark');
               document.body.append(svg);
               r.drawRateChart(svg, Array.from({ length: 60 }, (_, i) => i % 7));
               r.drawRateChart(svg, Array.from({ length: 60 }, (_, i) => i % 5));
               const rects = Array.from(svg.querySelectorAll('rect'));
               const out = {
                 rects: rects.length,
                 shown: rects.filter((x) => Number(x.getAttribute('height')) > 0).length,
                 lines: svg.querySelectorAll('line').length,
                 max: Math.max(...rects.map((x) => Number(x.getAttribute('height')))),
               };
               svg.remove();
               return out;"#,
        )
        .await;
    assert_eq!(drawn["rects"], 60, "redrawn, not added to: {drawn}");
    assert_eq!(drawn["shown"], 48);
    assert_eq!(drawn["lines"], 1);
    assert!(drawn["max"].as_f64().unwrap() < 24.0);
    browser.close().await;
}

#[tokio::test]
async fn wired_the_feed_status_bar_and_filter_follow_titles_questions_and_the_chart() {
    let Some(browser) = Browser::launch_with(&[WINDOW]).await else {
        return;
    };
    let app = dashboard(&browser).await;
    say(
        &app,
        vec![
            comment("w1", "viewer", "这首歌叫什么名字", None),
            comment("w2", "viewer", "great stream!", None),
        ],
    )
    .await;
    shown(&browser, "w2").await;
    // A title reaches the badges already drawn and the source choices.
    let got: Value = browser
        .eval(&format!(
            r#"const r = await import('/assets/render.js');
               r.setSourceTitles([{{ source: '{SRC}', title: 'My <b>stream</b>' }}]);
               return {{
                 badge: document.querySelector('#feed li.comment[data-id="w1"] .source').textContent,
                 demo: document.querySelector('#sources .source-status').textContent,
                 icon: getComputedStyle(document.querySelector('#sources .source-icon'), '::before').content,
               }};"#
        ))
        .await;
    assert_eq!(got["badge"], "My <b>stream</b>");
    assert_eq!(got["demo"], "demo: ok");
    assert_eq!(got["icon"], "\"✦\"");
    // "Only questions" lets the Chinese question through, not the other.
    browser
        .eval::<Value>("document.getElementById('only-questions').click(); return null;")
        .await;
    let ids: Vec<String> = browser
        .poll(
            "only questions",
            PATIENCE,
            "return Array.from(document.querySelectorAll('#feed li.comment'), (li) => li.dataset.id);",
            |ids: &Vec<String>| !ids.contains(&"w2".to_owned()),
        )
        .await;
    assert!(ids.contains(&"w1".to_owned()), "{ids:?}");
    // The status bar's chart is bars.
    let rects: u32 = browser
        .poll(
            "the chart drawn",
            PATIENCE,
            "return document.querySelectorAll('#spark rect').length;",
            |n| *n == 60,
        )
        .await;
    assert_eq!(rects, 60);
    browser.screenshot("seeing-wired").await;
    browser.close().await;
}
