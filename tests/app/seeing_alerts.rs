//! Alerts and read-aloud on the dashboard, in a real headless Chromium:
//! paid messages alert by default, read-aloud is queued, capped and never
//! reads hidden words. The page's speech is a recording stand-in.

use commentwatch::domain::Comment;
use serde::Deserialize;
use serde_json::Value;

use crate::chrome::Browser;
use crate::helpers::{PATIENCE, TestApp};
use crate::seeing::{WINDOW, comment, dashboard, say, shown};

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
