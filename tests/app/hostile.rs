//! Hostile comments must come out of the pipeline inert. Checked twice: on the
//! frames a real client receives from the demo source, and by pushing every
//! string of the attack corpus (`tests/data/security`) through the sanitizer
//! in every field a platform controls.

use chrono::Utc;
use commentwatch::domain::RawComment;
use commentwatch::sanitize::sanitize;
use serde_json::Value;

use crate::helpers::spawn_app;

const BIDI: &[char] = &[
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}',
];

/// Markup that would run script or load something if it reached the page.
fn assert_inert_html(html: &str) {
    let lower = html.to_ascii_lowercase();
    for needle in [
        "<script",
        "<img",
        "<svg",
        "<iframe",
        "<math",
        "<style",
        "<object",
        "<embed",
        "<form",
        "<input",
        "<base",
        "<meta",
        "<link",
        " on",
        "javascript:",
        "vbscript:",
        "data:",
        "style=",
        "srcdoc",
    ] {
        // " on" catches event handler attributes; text content is escaped, so
        // a literal " on" can only appear inside a tag as an attribute.
        if needle == " on" {
            for tag in html.split('<').skip(1) {
                let inside = tag.split('>').next().unwrap_or("").to_ascii_lowercase();
                assert!(!inside.contains(" on"), "event handler in {html:?}");
            }
            continue;
        }
        if needle.starts_with('<') {
            assert!(!lower.contains(needle), "{needle} in {html:?}");
        } else {
            // Scheme-like strings are fine as escaped text, not in attributes.
            for tag in html.split('<').skip(1) {
                let inside = tag.split('>').next().unwrap_or("").to_ascii_lowercase();
                assert!(
                    !inside.contains(needle),
                    "{needle} inside a tag in {html:?}"
                );
            }
        }
    }
    for anchor in html.split("<a ").skip(1) {
        let tag = anchor.split('>').next().unwrap_or("");
        assert!(
            tag.contains(r#"rel="noopener noreferrer nofollow ugc""#),
            "link rel in {html:?}"
        );
        assert!(
            tag.contains(r#"href="http://"#)
                || tag.contains(r#"href="https://"#)
                || !tag.contains("href"),
            "link scheme in {html:?}"
        );
    }
}

fn assert_inert_text(s: &str) {
    assert!(
        !s.chars().any(|c| BIDI.contains(&c)),
        "bidi control in {s:?}"
    );
    assert!(!s.contains('\u{200B}'), "zero-width space in {s:?}");
    assert!(
        !s.chars().any(|c| c.is_control() && c != '\n'),
        "control character in {s:?}"
    );
}

#[tokio::test]
async fn hostile_demo_comments_arrive_inert_on_the_wire() {
    // 100 comments a second: a few polls hold hundreds, a tenth of them attacks.
    let app = spawn_app(&[("CW_DEMO_RATE", "6000"), ("CW_POLL", "1s")]).await;
    let mut client = app.connect(None).await;
    let frames = client.comments(300).await;
    let mut hostile_seen = 0;
    for f in &frames {
        let c = &f["comment"];
        let text = c["text"].as_str().unwrap();
        let html = c["html"].as_str().unwrap();
        let name = c["author"]["name"].as_str().unwrap();
        if text.contains('<') || name.contains('<') {
            hostile_seen += 1;
        }
        assert_inert_html(html);
        assert_inert_text(text);
        assert_inert_text(name);
        assert!(text.chars().count() <= 10_001, "text capped");
        let avatar = &c["author"]["avatar"];
        assert!(
            avatar.is_null(),
            "the demo's avatars are all hostile: {avatar}"
        );
    }
    assert!(
        hostile_seen >= 10,
        "the sample held attacks ({hostile_seen})"
    );
    // The spoofed file name is shown without its override.
    let spoof = frames
        .iter()
        .map(|f| f["comment"]["text"].as_str().unwrap())
        .find(|t| t.contains("gnp.exe"));
    if let Some(t) = spoof {
        assert_eq!(t, "my file: gnp.exe");
    }
    app.stop().await;
}

fn corpus() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/security");
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if !line.trim().is_empty() {
                    let s: Value = serde_json::from_str(line).unwrap();
                    all.push(s.as_str().unwrap().to_owned());
                }
            }
        }
    }
    assert!(all.len() > 500, "the corpus is there");
    all
}

#[test]
fn every_attack_string_is_inert_in_every_field_a_platform_controls() {
    for attack in corpus() {
        let raw = RawComment {
            id: attack.clone(),
            author_name: attack.clone(),
            author_id: attack.clone(),
            author_avatar: Some(attack.clone()),
            text: attack.clone(),
            html: Some(attack.clone()),
            reply_to: Some(attack.clone()),
            ..RawComment::default()
        };
        let Ok(c) = sanitize("youtube:x", raw, Utc::now()) else {
            continue; // refused outright (no usable id): also inert
        };
        assert_inert_html(c.html.as_str());
        assert_inert_text(&c.text);
        assert_inert_text(&c.author.name);
        assert_inert_text(&c.id);
        assert!(c.author.avatar.is_none(), "{attack:?} kept as avatar");

        // The same string typed as plain text on a plain-text platform.
        let plain = RawComment {
            id: "x".into(),
            text: attack.clone(),
            ..RawComment::default()
        };
        let c = sanitize("bilibili:x", plain, Utc::now()).unwrap();
        assert_inert_html(c.html.as_str());
        assert_inert_text(&c.text);
    }
}

/// Terminal escape sequences a hostile API could put in an error message
/// never reach the source status (and so never the log line written from it).
#[tokio::test]
async fn escape_sequences_in_an_api_error_never_reach_status_or_logs() {
    use commentwatch::config::Schedule;
    use commentwatch::poller::SourceTask;
    use commentwatch::source::http::Http;
    use commentwatch::source::youtube::{VideoComments, YouTubeSettings};
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let escapes: Vec<String> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/security/terminal_escapes.jsonl"
    ))
    .unwrap()
    .lines()
    .map(|l| serde_json::from_str::<String>(l).unwrap())
    .collect();
    let message = escapes.join(" | ");
    Mock::given(path("/youtube/v3/commentThreads"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": {"code": 400, "message": message, "errors": [{"reason": "badRequest\u{1b}[2J"}]}
        })))
        .mount(&server)
        .await;
    let pipeline = crate::helpers::pipeline();
    let settings = YouTubeSettings {
        api_key: "k".into(),
        api_base: server.uri(),
        daily_quota: 10_000,
        session_hours: 4.0,
    };
    let source = VideoComments::new(
        "Xq3vLk9pT2w",
        settings,
        Http::new(std::time::Duration::from_secs(5), 1 << 20),
    );
    let task = SourceTask::new(
        source,
        Schedule::Every(std::time::Duration::from_secs(10)),
        pipeline.clone(),
        5,
        std::time::Duration::from_secs(10),
        None,
    );
    task.poll_now().await;
    let status = pipeline.hub.statuses().pop().unwrap();
    let error = status.last_error.expect("the error is reported");
    for text in [error.as_str(), status.detail.as_deref().unwrap_or("")] {
        assert!(
            !text.chars().any(|c| c.is_control()),
            "control character in {text:?}"
        );
    }
}
