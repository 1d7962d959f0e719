//! The injection proof: every string of the attack corpus served by mock
//! YouTube and Bilibili APIs — as comment text, author name, author id,
//! avatar URL, comment id and emote image — rendered by the real server into
//! the dashboard, the overlay and the log page in headless Chromium, with
//! zero executions, zero foreign requests and zero dangerous DOM nodes.
//!
//! Before any page script runs, an init script (DevTools
//! `Page.addScriptToEvaluateOnNewDocument`) hooks `alert`, `confirm`,
//! `prompt` and `__cwTrap` (which our own payloads call), records every
//! resource the page loads and every CSP violation, and watches every DOM
//! mutation for dangerous nodes — so an attack that flashes past in a live
//! feed is caught too, not only what is on screen at the end. A last test
//! renders the same corpus through a deliberately unsafe page to show the
//! harness does catch executions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::chrome::Browser;
use crate::helpers::{PATIENCE, spawn_app};

/// Installed in every document before its own scripts.
const INIT: &str = r#"
(() => {
  const top = (() => { try { return window.top; } catch (_) { return window; } })();
  const store = (top.__cw = top.__cw || { hits: [], requests: [], violations: [], dangers: [] });
  const hit = (what) => store.hits.push(what + ' in ' + location.href.slice(0, 80));
  window.__cwTrap = () => hit('trap');
  window.alert = () => hit('alert');
  window.confirm = () => { hit('confirm'); return false; };
  window.prompt = () => { hit('prompt'); return null; };
  document.addEventListener('securitypolicyviolation', (e) =>
    store.violations.push(e.violatedDirective + ' ' + String(e.blockedURI).slice(0, 120)));
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) store.requests.push(e.name);
    }).observe({ type: 'resource', buffered: true });
  } catch (_) {}
  const allowedImage = /^https:\/\/([a-z0-9-]+\.)*(ggpht\.com|googleusercontent\.com|ytimg\.com|hdslb\.com|jtvnw\.net)\//;
  const badUrl = (v) => /^(javascript|data|vbscript):/i.test(String(v).replace(/[\s\u0000-\u001f]/g, ''));
  const check = (el) => {
    if (!(el instanceof Element)) return;
    const tag = el.tagName.toLowerCase();
    const show = () => el.outerHTML.slice(0, 160);
    if (['iframe', 'object', 'embed', 'frame', 'applet', 'base'].includes(tag)) store.dangers.push('element ' + show());
    if (tag === 'script' && !(el.src && new URL(el.src, location.href).origin === location.origin)) store.dangers.push('script ' + show());
    if (tag === 'meta' && el.hasAttribute('http-equiv')) store.dangers.push('meta ' + show());
    if (tag === 'link' && el.href && new URL(el.href, location.href).origin !== location.origin) store.dangers.push('link ' + show());
    if (['img', 'source', 'video', 'audio', 'input'].includes(tag)) {
      const src = el.getAttribute('src') || el.getAttribute('srcset');
      if (src && !allowedImage.test(src) && new URL(src, location.href).origin !== location.origin) store.dangers.push('media ' + show());
    }
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith('on')) store.dangers.push('handler ' + name + ' ' + show());
      if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster', 'background'].includes(name) && badUrl(a.value)) store.dangers.push('url ' + show());
      if (name === 'srcdoc') store.dangers.push('srcdoc ' + show());
      if (name === 'style' && /url\(|expression\(/i.test(a.value)) store.dangers.push('style ' + show());
    }
  };
  const watch = () => {
    document.querySelectorAll('*').forEach(check);
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes') check(r.target);
        r.addedNodes.forEach((n) => { check(n); if (n.querySelectorAll) n.querySelectorAll('*').forEach(check); });
      }
    }).observe(document, { subtree: true, childList: true, attributes: true });
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', watch); else watch();
})();
"#;

/// What the init script recorded, read from the top window.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Report {
    hits: Vec<String>,
    requests: Vec<String>,
    violations: Vec<String>,
    dangers: Vec<String>,
}

pub(crate) const READ: &str =
    "return window.__cw || {hits: [], requests: [], violations: [], dangers: []};";

pub(crate) fn corpus() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/security");
    let mut all = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if !line.trim().is_empty() {
                    all.push(serde_json::from_str::<String>(line).unwrap());
                }
            }
        }
    }
    all
}

/// A hostile avatar URL for payload `i` (one in five is a real image host).
fn avatar(i: usize, payload: &str) -> String {
    match i % 5 {
        0 => payload.to_owned(),
        1 => "javascript:__cwTrap()".into(),
        2 => "https://evil.invalid/track.png".into(),
        3 => "http://yt3.ggpht.com/plain-http".into(),
        _ => format!("https://yt3.ggpht.com/avatar{i}"),
    }
}

/// YouTube `commentThreads.list` over the first `released` payloads.
struct YouTube {
    corpus: Arc<Vec<String>>,
    released: Arc<AtomicU64>,
}

impl Respond for YouTube {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let released = (self.released.load(Ordering::SeqCst) as usize).min(self.corpus.len());
        let offset: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "pageToken")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let top = released.saturating_sub(offset);
        let bottom = top.saturating_sub(100);
        let items: Vec<Value> = (bottom..top)
            .rev()
            .map(|i| {
                let p = &self.corpus[i];
                let id = format!("yt{i}-{}", p.chars().take(40).collect::<String>());
                json!({
                    "kind": "youtube#commentThread",
                    "id": id,
                    "snippet": {
                        "totalReplyCount": 0,
                        "topLevelComment": {"id": id, "snippet": {
                            "textDisplay": p, "textOriginal": p,
                            "authorDisplayName": p,
                            "authorProfileImageUrl": avatar(i, p),
                            "authorChannelId": {"value": p},
                            "likeCount": i,
                            "publishedAt": format!("2026-03-14T19:{:02}:{:02}Z", i / 60 % 60, i % 60),
                            "updatedAt": format!("2026-03-14T19:{:02}:{:02}Z", i / 60 % 60, i % 60)
                        }}
                    }
                })
            })
            .collect();
        let mut body = json!({"items": items});
        if bottom > 0 {
            body["nextPageToken"] = json!((offset + 100).to_string());
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// Bilibili's reply list (one page, newest first) over released payloads.
struct Bilibili {
    corpus: Arc<Vec<String>>,
    released: Arc<AtomicU64>,
}

impl Respond for Bilibili {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let released = (self.released.load(Ordering::SeqCst) as usize).min(self.corpus.len());
        let replies: Vec<Value> = (0..released)
            .rev()
            .map(|i| {
                let p = &self.corpus[i];
                json!({
                    "rpid": 1000 + i, "rpid_str": (1000 + i).to_string(),
                    "mid": 7, "parent": 0, "root": 0, "like": 1,
                    "ctime": 1_773_500_000 + i as i64,
                    "member": {"uname": p, "avatar": avatar(i, p), "mid": "7"},
                    "content": {"message": format!("{p} [x]"), "emote": {"[x]": {"url": avatar(i + 1, p)}}}
                })
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": "0", "ttl": 1,
            "data": {"cursor": {"is_end": true, "pagination_reply": {}}, "replies": replies}
        }))
    }
}

/// Mock YouTube and Bilibili that release the corpus `per_second` at a time.
async fn mocks(
    corpus: Arc<Vec<String>>,
    per_second: u64,
) -> (MockServer, MockServer, tokio::task::JoinHandle<()>) {
    let released = Arc::new(AtomicU64::new(0));
    let youtube = MockServer::start().await;
    Mock::given(path("/youtube/v3/commentThreads"))
        .respond_with(YouTube {
            corpus: corpus.clone(),
            released: released.clone(),
        })
        .mount(&youtube)
        .await;
    let bilibili = MockServer::start().await;
    Mock::given(path("/x/web-interface/nav"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": -101, "data": {"wbi_img": {
                "img_url": "https://i0.hdslb.com/bfs/wbi/7cd084941338484aae1ad9425b84077c.png",
                "sub_url": "https://i0.hdslb.com/bfs/wbi/4932caff0ff746eab6f01bf08b70ac45.png"
            }}
        })))
        .mount(&bilibili)
        .await;
    Mock::given(path("/x/v2/reply/wbi/main"))
        .respond_with(Bilibili {
            corpus: corpus.clone(),
            released: released.clone(),
        })
        .mount(&bilibili)
        .await;
    let total = corpus.len() as u64;
    let releaser = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / per_second.max(1)));
        while released.load(Ordering::SeqCst) < total {
            tick.tick().await;
            released.fetch_add(1, Ordering::SeqCst);
        }
    });
    (youtube, bilibili, releaser)
}

async fn app_for(youtube: &MockServer, bilibili: &MockServer) -> crate::helpers::TestApp {
    spawn_app(&[
        ("CW_SOURCES", "youtube:Xq3vLk9pT2w,bilibili:BV1FyKFeyECg"),
        ("YOUTUBE_API_KEY", "proof-key"),
        ("YOUTUBE_API_BASE", &youtube.uri()),
        ("YOUTUBE_DAILY_QUOTA", "100000000"),
        ("BILIBILI_API_BASE", &bilibili.uri()),
        ("BILIBILI_MIN_INTERVAL", "1s"),
        ("CW_POLL", "1s"),
        ("CW_BACKFILL_PAGES", "20"),
    ])
    .await
}

/// Fails the test on any execution, foreign request, CSP violation or
/// dangerous node the page recorded.
pub(crate) fn assert_clean(page: &str, origin: &str, report: &Report) {
    assert!(
        report.hits.is_empty(),
        "{page}: script ran: {:#?}",
        report.hits
    );
    assert!(
        report.dangers.is_empty(),
        "{page}: dangerous DOM: {:#?}",
        &report.dangers[..report.dangers.len().min(20)]
    );
    assert!(
        report.violations.is_empty(),
        "{page}: CSP violations (something tried): {:#?}",
        report.violations
    );
    let allowed = regex_free_allowed(origin);
    let foreign: Vec<&String> = report.requests.iter().filter(|u| !allowed(u)).collect();
    assert!(
        foreign.is_empty(),
        "{page}: requests to other origins: {foreign:#?}"
    );
}

fn regex_free_allowed(origin: &str) -> impl Fn(&str) -> bool + '_ {
    move |url: &str| {
        if url.starts_with(origin) {
            return true;
        }
        let Ok(u) = reqwest::Url::parse(url) else {
            return false;
        };
        let host = u.host_str().unwrap_or("");
        u.scheme() == "https"
            && [
                "ggpht.com",
                "googleusercontent.com",
                "ytimg.com",
                "hdslb.com",
                "jtvnw.net",
            ]
            .iter()
            .any(|h| host == *h || host.ends_with(&format!(".{h}")))
    }
}

pub(crate) async fn launch() -> Option<Browser> {
    let browser = Browser::launch_with(&["--window-size=1280,2000"]).await?;
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": INIT }),
        )
        .await;
    Some(browser)
}

/// Watches `url` while the whole corpus flows in, then checks it.
async fn watch_live(browser: &Browser, url: &str, origin: &str, page: &str, done: &str) {
    browser.goto(url).await;
    let corpus_len = corpus().len();
    // Every payload has reached the page once the log holds both sources'
    // copies; the page's own counter or the log decides when to stop.
    let _: Value = browser
        .poll(
            &format!("{page} to receive the corpus"),
            PATIENCE * 4,
            done,
            |v: &Value| v.as_u64().is_some_and(|n| n as usize >= corpus_len),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    browser.assert_no_dialog().await;
    let report: Report = browser.eval(READ).await;
    assert!(
        report.requests.iter().any(|u| u.contains("/assets/")),
        "the request recorder works: {:?}",
        report.requests
    );
    assert_clean(page, origin, &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_is_inert_on_the_dashboard_and_the_overlay_while_it_streams_in() {
    let Some(browser) = launch().await else {
        return;
    };
    let corpus = Arc::new(corpus());
    assert!(corpus.len() >= 300, "a corpus of at least 300 attacks");

    // The dashboard, open while every payload streams in.
    let (youtube, bilibili, releaser) = mocks(corpus.clone(), 60).await;
    let app = app_for(&youtube, &bilibili).await;
    let origin = app.url("");
    // The highest seq the page has seen counts what reached it.
    let seen_on_dashboard = "const f = document.querySelectorAll('#feed li.comment'); \
        let max = 0; f.forEach(li => { max = Math.max(max, +li.dataset.seq || 0); }); return max / 2;";
    watch_live(
        &browser,
        &app.url("/"),
        &origin,
        "dashboard",
        seen_on_dashboard,
    )
    .await;
    releaser.abort();
    app.stop().await;

    // The overlay in "latest" mode, open while every payload streams in again.
    let (youtube, bilibili, releaser) = mocks(corpus.clone(), 60).await;
    let app = app_for(&youtube, &bilibili).await;
    let origin = app.url("");
    let log = app.feed.log.clone();
    browser
        .goto(&app.url("/overlay?mode=latest&limit=20&fade=0"))
        .await;
    let deadline = tokio::time::Instant::now() + PATIENCE * 4;
    while (log.count().await.unwrap() as usize) < corpus.len() * 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the corpus never fully arrived"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    browser.assert_no_dialog().await;
    let report: Report = browser.eval(READ).await;
    assert_clean("overlay", &origin, &report);
    releaser.abort();

    // The log page, every page of it, server-rendered.
    let mut url = app.url("/log");
    let mut pages = 0;
    loop {
        browser.goto(&url).await;
        browser.assert_no_dialog().await;
        let report: Report = browser.eval(READ).await;
        assert_clean(&format!("log page {pages}"), &origin, &report);
        pages += 1;
        let next: Option<String> = browser
            .eval("const a = document.querySelector('a[rel=next]'); return a ? a.href : null;")
            .await;
        match next {
            Some(n) if pages < 100 => url = n,
            _ => break,
        }
    }
    assert!(pages >= 2, "the log page was paged through");
    // And the search box, fed the SQL and FTS injection strings.
    for q in [
        "' OR 1=1 --",
        "\" OR \"\"=\"",
        "*",
        "NEAR(a b)",
        "<script>__cwTrap()</script>",
    ] {
        let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        browser.goto(&app.url(&format!("/log?q={enc}"))).await;
        let report: Report = browser.eval(READ).await;
        assert_clean(&format!("log search {q:?}"), &origin, &report);
    }
    app.stop().await;
    browser.close().await;
}

#[tokio::test]
async fn the_harness_catches_the_corpus_when_a_page_renders_it_unsafely() {
    let Some(browser) = launch().await else {
        return;
    };
    // A page on another origin, without a CSP, that does what the dashboard
    // must never do: raw text into innerHTML.
    let server = MockServer::start().await;
    let page = r#"<!doctype html><meta charset=utf-8><div id=out></div><script>
        fetch('/corpus.json').then(r => r.json()).then(list => {
          const out = document.getElementById('out');
          for (const p of list) { const d = document.createElement('div'); d.innerHTML = p; out.append(d); }
          document.body.dataset.done = '1';
        });
      </script>"#;
    Mock::given(path("/unsafe"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(page.as_bytes().to_vec(), "text/html"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/corpus.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(corpus()))
        .mount(&server)
        .await;
    browser.goto(&format!("{}/unsafe", server.uri())).await;
    let _: Value = browser
        .poll(
            "the unsafe page to render",
            PATIENCE,
            "return document.body.dataset.done || null;",
            |v: &Value| !v.is_null(),
        )
        .await;
    // Let error handlers and timers fire.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report: Report = browser.eval(READ).await;
    assert!(
        !report.hits.is_empty(),
        "the harness saw no execution on an unsafe page"
    );
    assert!(
        report.hits.iter().any(|h| h.starts_with("trap")),
        "the trap function was called: {:?}",
        report.hits
    );
    assert!(
        report.dangers.len() > 50,
        "dangerous nodes flagged: {}",
        report.dangers.len()
    );
    browser.close().await;
}

/// The same corpus beyond HTML: stored as comment text, author names and ids,
/// then exported as CSV (no cell a spreadsheet would evaluate), as JSONL
/// (every line valid JSON) and searched for (every string answered as text:
/// 200 or a 400 naming `q`, never a 500).
#[tokio::test]
async fn the_corpus_is_inert_in_csv_jsonl_and_search_too() {
    use chrono::Utc;
    use commentwatch::domain::RawComment;
    use commentwatch::sanitize::sanitize;

    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let corpus = corpus();
    let now = Utc::now();
    let comments: Vec<_> = corpus
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let raw = RawComment {
                id: format!("c{i}{p}"),
                author_name: p.clone(),
                author_id: p.clone(),
                text: p.clone(),
                reply_to: Some(p.clone()),
                ..RawComment::default()
            };
            sanitize("youtube:Xq3vLk9pT2w", raw, now).ok()
        })
        .collect();
    let stored = comments.len();
    crate::export::ingest(&app, comments).await;

    let csv_text = reqwest::get(app.url("/api/comments.csv?source=youtube:Xq3vLk9pT2w"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let mut rows = 0;
    for record in reader.records() {
        let record = record.expect("RFC 4180 CSV");
        for cell in record.iter() {
            assert!(
                !crate::export::looks_like_formula(cell),
                "formula cell {cell:?}"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, stored);

    let jsonl = reqwest::get(app.url("/api/comments.jsonl?source=youtube:Xq3vLk9pT2w"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = jsonl.lines().collect();
    assert_eq!(lines.len(), stored);
    for line in lines {
        serde_json::from_str::<Value>(line).expect("each line is JSON");
    }

    for q in &corpus {
        let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let resp = reqwest::get(app.url(&format!("/api/comments?q={enc}&limit=5")))
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!(
            status == 200 || status == 400,
            "search for {q:?} answered {status}"
        );
        if status == 400 {
            let body = resp.text().await.unwrap();
            assert!(body.contains("q"), "the 400 names the parameter: {body}");
        }
    }
}
