//! The sanitizer: the one place where an untrusted `RawComment` becomes a
//! `Comment` that is safe to store, send and show.
//!
//! It is pure computation — no I/O, no clock, no logging of comment bodies —
//! so it can be tested exhaustively and run anywhere. It is the only caller of
//! `SafeHtml::from_sanitizer` (a test below checks), which is what lets
//! templates and the dashboard trust `Comment::html` and nothing else. It
//! must not touch the log, the web or the sources.
//!
//! What it does to each field:
//! - plain text: control characters removed, bidi overrides/isolates and
//!   invisible zero-width characters dropped, combining-mark floods (Zalgo)
//!   capped, length capped;
//! - HTML: ammonia with a tiny allowlist (`br`, `b`, `i`, `s`, `em`, `strong`,
//!   and `a` with an `http(s)` `href`, given `rel="noopener noreferrer nofollow ugc"`);
//! - avatars: kept only as `https` URLs on the platforms' own image hosts
//!   (`crate::domain::Platform::image_hosts`);
//! - ids: control characters dropped and length capped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use chrono::{DateTime, Duration, Utc};

pub use crate::domain::SafeHtml;
use crate::domain::{Amount, Comment, RawAmount, RawComment, image_host_allowed};

/// Roles, membership levels and event details.
mod event;
/// The author, their badges and colour, and the owner's marks.
mod who;

pub use who::{clean_badges, clean_color, clean_location};

/// Longest comment text kept, in characters. YouTube allows 10,000.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest author name kept, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest id kept, in bytes. Real ids are well under 100.
pub const MAX_ID_BYTES: usize = 256;
/// Longest platform HTML fed to the HTML parser, in bytes.
const MAX_HTML_BYTES: usize = 64 * 1024;
/// Combining marks allowed on one base character; more is a Zalgo flood.
const MAX_COMBINING_MARKS: usize = 4;

/// Why a raw comment could not become a `Comment`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    /// Without an id a comment cannot be deduplicated, so it is not kept.
    #[error("the comment has no usable id")]
    MissingId,
}

/// The HTML policy, built once.
static POLICY: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut b = Builder::empty();
    b.add_tags(["br", "b", "i", "s", "em", "strong", "a"])
        .tag_attributes(HashMap::from([("a", HashSet::from(["href"]))]))
        .generic_attributes(HashSet::new())
        .url_schemes(HashSet::from(["http", "https"]))
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow ugc"));
    b
});

/// Turns a platform's comment into one that is safe to show.
///
/// `source` is the configured source name (trusted); `fetched_at` the time
/// the poller received it.
pub fn sanitize(
    source: &str,
    mut raw: RawComment,
    fetched_at: DateTime<Utc>,
) -> Result<Comment, Rejected> {
    let id = clean_id(&raw.id);
    if id.is_empty() {
        return Err(Rejected::MissingId);
    }
    let (text, html) = match raw.html.as_deref() {
        Some(platform_html) => {
            let html = html_from_platform(platform_html);
            let text = if raw.text.trim().is_empty() {
                clean_text(&text_from_html(html.as_str()), MAX_TEXT_CHARS)
            } else {
                clean_text(&raw.text, MAX_TEXT_CHARS)
            };
            (text, html)
        }
        None => {
            let text = clean_text(&raw.text, MAX_TEXT_CHARS);
            let html = html_from_text(&text);
            (text, html)
        }
    };
    // A clock that is far ahead would pin a comment to the top forever.
    let published_at = raw
        .published_at
        .filter(|t| *t <= fetched_at + Duration::minutes(5))
        .unwrap_or(fetched_at);
    let edited = matches!(raw.updated_at, Some(u) if u > published_at);
    Ok(Comment {
        id,
        source: source.to_owned(),
        author: who::author(&mut raw),
        html,
        published_at,
        fetched_at,
        likes: raw.likes.max(0),
        reply_to: raw
            .reply_to
            .as_deref()
            .map(clean_id)
            .filter(|r| !r.is_empty()),
        amount: raw.amount.map(clean_amount),
        edited,
        deleted: false,
        emotes: clean_emotes(raw.emotes, &text),
        text,
        kind: raw.kind,
        event: raw.event.map(event::clean_event),
        pinned: raw.pinned,
        liked_by_owner: raw.liked_by_owner,
        location: clean_location(raw.location),
    })
}

/// Re-checks HTML read back from the comment log. The log is ours, but a file
/// on disk can be edited by anyone with access to it; cleaning is idempotent,
/// so this costs time, never content.
pub fn html_from_log(stored: &str) -> SafeHtml {
    html_from_platform(stored)
}

/// Sanitizes HTML that a platform produced (YouTube's `textDisplay`).
pub fn html_from_platform(html: &str) -> SafeHtml {
    let capped = truncate_bytes(html, MAX_HTML_BYTES);
    // `Document` is `!Send`; turn it into a string at once.
    let cleaned = POLICY.clean(capped).to_string();
    SafeHtml::from_sanitizer(filter_chars(&cleaned, Newlines::Keep))
}

/// Builds HTML from clean plain text: escaped, with line breaks and `http(s)`
/// links. Text without links needs no parser: escaping alone is safe, and
/// that fast path is what keeps sanitizing cheap for chat-sized comments.
pub fn html_from_text(text: &str) -> SafeHtml {
    if !text.contains("http://") && !text.contains("https://") {
        return SafeHtml::from_sanitizer(escape_with_breaks(text));
    }
    let mut out = String::with_capacity(text.len() + 64);
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.starts_with("https://") || word.starts_with("http://") {
            let url = escape_with_breaks(word);
            out.push_str("<a href=\"");
            out.push_str(&url);
            out.push_str("\">");
            out.push_str(&url);
            out.push_str("</a>");
        } else {
            out.push_str(&escape_with_breaks(word));
        }
    }
    // The link markup came from hostile text, so the real policy checks it.
    SafeHtml::from_sanitizer(POLICY.clean(&out).to_string())
}

fn escape_with_breaks(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text from sanitized HTML: tags dropped, `<br>` as a newline, the few
/// entities that ammonia's serializer emits decoded exactly once.
///
/// A raw line break next to a `<br>` is whitespace in HTML, not a second
/// break: YouTube's `textDisplay` writes each break as `\r<br>`, which must
/// give one newline, not two.
fn text_from_html(html: &str) -> String {
    let mut html = html.replace("\r\n", "\n").replace('\r', "\n");
    while html.contains("\n<br>") || html.contains("<br>\n") {
        html = html.replace("\n<br>", "<br>").replace("<br>\n", "<br>");
    }
    let with_breaks = html.replace("<br>", "\n");
    let stripped = Builder::empty().clean(&with_breaks).to_string();
    stripped
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Comment text: multi-line, capped at `max` characters.
pub fn clean_text(s: &str, max: usize) -> String {
    cap_chars(filter_chars(s, Newlines::Keep).trim(), max)
}

/// A one-line field such as an author name.
pub fn clean_line(s: &str, max: usize) -> String {
    cap_chars(filter_chars(s, Newlines::Space).trim(), max)
}

/// An identifier: printable, one line, at most `MAX_ID_BYTES`.
pub fn clean_id(s: &str) -> String {
    let filtered: String = filter_chars(s, Newlines::Drop)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    truncate_bytes(&filtered, MAX_ID_BYTES).to_owned()
}

/// Keeps an image URL (avatar, emote) only if it is `https`, has no
/// credentials or port, and points at one of the platforms' image hosts.
pub fn safe_avatar_url(raw: &str) -> Option<String> {
    if raw.len() > 2048 {
        return None;
    }
    let url = ammonia::Url::parse(raw.trim()).ok()?;
    if url.scheme() != "https" || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    if url.port().is_some() {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    image_host_allowed(&host).then(|| url.to_string())
}

/// Most emotes kept per comment.
const MAX_EMOTES: usize = 20;

/// Keeps emotes whose token appears in the text and whose image is an
/// `https` URL on a platform image host.
fn clean_emotes(raw: Vec<(String, String)>, text: &str) -> BTreeMap<String, String> {
    raw.into_iter()
        .filter_map(|(token, url)| {
            let token = clean_line(&token, 32);
            let ok = !token.is_empty() && !token.ends_with('…') && text.contains(&token);
            ok.then_some(())?;
            Some((token, safe_avatar_url(&url)?))
        })
        .take(MAX_EMOTES)
        .collect()
}

/// The one currency that is no ISO 4217 code: Twitch's Bits (cheers).
pub const BITS: &str = "bits";

fn clean_amount(raw: RawAmount) -> Amount {
    let currency: String = raw.currency.trim().to_ascii_uppercase();
    let currency = if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
        currency
    } else if currency == "BITS" {
        BITS.to_owned()
    } else {
        String::new()
    };
    Amount {
        display: clean_line(&raw.display, 32),
        micros: raw.micros.max(0),
        currency,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Newlines {
    Keep,
    Space,
    Drop,
}

/// True for characters that change text direction or hide text: the tools of
/// "Trojan Source" spoofing (CVE-2021-42574) and of filter evasion.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Every character that hides text or turns its direction: the bidi
/// controls, the invisible characters, and also the joiners and direction
/// marks (U+200C–U+200F, U+061C), which the sanitizer keeps in comments
/// (emoji sequences and scripts need them) but which a terminal line or a
/// spreadsheet cell must not start with or carry. The one list the CLI and
/// exports use.
pub fn is_hidden(c: char) -> bool {
    is_bidi_control(c) || is_invisible(c) || matches!(c, '\u{200C}'..='\u{200F}' | '\u{061C}')
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' // soft hyphen
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers (blank names)
            | '\u{180E}' // Mongolian vowel separator
            | '\u{200B}' // zero-width space
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{FEFF}' // byte-order mark
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
            | '\u{FFFE}' | '\u{FFFF}'
    )
}

fn is_combining_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{0483}'..='\u{0489}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// The character-level filter shared by every text field.
fn filter_chars(s: &str, newlines: Newlines) -> String {
    let mut out = String::with_capacity(s.len());
    let mut marks = 0usize;
    let mut blank_lines = 0usize;
    let mut prev: Option<char> = None;
    // Tag characters are only meaningful inside an emoji flag sequence
    // (🏴 + tags); elsewhere they smuggle invisible ASCII.
    let mut in_flag_tags = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let c = match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    continue;
                }
                '\n'
            }
            '\u{2028}' | '\u{2029}' => '\n',
            '\t' => ' ',
            c => c,
        };
        if c == '\n' {
            in_flag_tags = false;
            match newlines {
                Newlines::Keep => {
                    // At most one blank line in a row: nobody needs a wall of
                    // empty lines in a chat feed.
                    blank_lines += 1;
                    if blank_lines <= 2 {
                        out.push('\n');
                    }
                }
                Newlines::Space => out.push(' '),
                Newlines::Drop => {}
            }
            marks = 0;
            prev = Some(c);
            continue;
        }
        if c.is_control() || is_bidi_control(c) || is_invisible(c) {
            continue;
        }
        if ('\u{E0000}'..='\u{E007F}').contains(&c) {
            if prev == Some('\u{1F3F4}') {
                in_flag_tags = true;
            }
            if in_flag_tags {
                out.push(c);
                prev = Some(c);
                if c == '\u{E007F}' {
                    in_flag_tags = false;
                }
            }
            continue;
        }
        in_flag_tags = false;
        if c == '\u{200C}' || c == '\u{200D}' {
            // Joiners build emoji and some scripts; runs of them build nothing.
            if matches!(prev, None | Some('\u{200C}' | '\u{200D}' | '\n')) {
                continue;
            }
        } else if is_combining_mark(c) {
            marks += 1;
            if marks > MAX_COMBINING_MARKS {
                continue;
            }
        } else {
            marks = 0;
        }
        blank_lines = 0;
        out.push(c);
        prev = Some(c);
    }
    out
}

fn cap_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => {
            let mut t = s[..cut].trim_end().to_owned();
            t.push('…');
            t
        }
    }
}

fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sanitizer_makes_safe_html() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        crate::boundaries::files(&src, &mut files);
        let callers: Vec<_> = files
            .iter()
            .filter(|f| !f.ends_with("sanitize.rs") && !f.ends_with("domain/comment.rs"))
            .filter(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .contains("SafeHtml::from_sanitizer")
            })
            .collect();
        assert!(callers.is_empty(), "{callers:?}");
    }

    fn raw(text: &str) -> RawComment {
        RawComment {
            id: "c1".into(),
            author_name: "viewer".into(),
            text: text.into(),
            ..RawComment::default()
        }
    }

    fn clean(text: &str) -> Comment {
        sanitize("demo", raw(text), Utc::now()).unwrap()
    }

    #[test]
    fn script_in_plain_text_is_escaped_and_kept_as_text() {
        let c = clean("<script>alert(1)</script> hi");
        assert_eq!(c.text, "<script>alert(1)</script> hi");
        assert_eq!(c.html.as_str(), "&lt;script&gt;alert(1)&lt;/script&gt; hi");
    }

    #[test]
    fn platform_html_keeps_only_the_allowlist() {
        let h = html_from_platform(
            r#"<b>ok</b><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a><a href="https://example.com/?q=<b>">y</a><svg onload=alert(1)>"#,
        );
        let h = h.as_str();
        assert!(h.starts_with("<b>ok</b>"), "{h}");
        assert!(!h.contains("<img") && !h.contains("onerror") && !h.contains("javascript:"));
        assert!(!h.contains("<svg") && !h.contains("onload"));
        assert!(
            h.contains(r#"rel="noopener noreferrer nofollow ugc""#),
            "{h}"
        );
    }

    #[test]
    fn links_in_plain_text_become_safe_anchors() {
        let c = clean("see https://example.com/a?b=1&c=2 and javascript:alert(1)");
        assert!(c.html.as_str().contains(r#"<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow ugc">"#), "{}", c.html.as_str());
        assert!(!c.html.as_str().contains("href=\"javascript"));
    }

    #[test]
    fn bidi_overrides_and_zero_width_spaces_are_removed() {
        let c = clean("file\u{202E}gnp.exe and ad\u{200B}min \u{2066}x");
        assert_eq!(c.text, "filegnp.exe and admin x");
    }

    #[test]
    fn emoji_sequences_survive_but_zalgo_is_capped() {
        let family = "👨\u{200D}👩\u{200D}👧";
        let england = "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        let c = clean(&format!("{family} {england}"));
        assert_eq!(c.text, format!("{family} {england}"));
        let zalgo = format!("a{}", "\u{0301}".repeat(50));
        assert_eq!(clean(&zalgo).text.chars().count(), 1 + MAX_COMBINING_MARKS);
        // Tag characters outside a flag are hidden ASCII: dropped.
        assert_eq!(clean("hi\u{E0041}\u{E0042}").text, "hi");
    }

    #[test]
    fn control_characters_and_terminal_escapes_are_dropped() {
        let c = clean("a\u{1b}[2Jb\u{7}c\r\nd\u{85}e");
        assert_eq!(c.text, "a[2Jbc\nde");
        assert_eq!(c.html.as_str(), "a[2Jbc<br>de");
    }

    #[test]
    fn huge_comments_are_capped() {
        let c = clean(&"x".repeat(50_000));
        assert_eq!(c.text.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(c.text.ends_with('…'));
        let name = RawComment {
            author_name: "n".repeat(1000),
            ..raw("t")
        };
        let c = sanitize("demo", name, Utc::now()).unwrap();
        assert_eq!(c.author.name.chars().count(), MAX_NAME_CHARS + 1);
    }

    #[test]
    fn avatars_must_be_https_on_a_platform_image_host() {
        assert!(safe_avatar_url("https://yt3.ggpht.com/abc=s88").is_some());
        assert!(safe_avatar_url("https://i0.hdslb.com/bfs/face/x.jpg").is_some());
        for bad in [
            "http://yt3.ggpht.com/abc",
            "javascript:alert(1)",
            "https://evil.invalid/x.png",
            "https://ggpht.com.evil.invalid/x.png",
            "https://user:pw@yt3.ggpht.com/x",
            "https://yt3.ggpht.com:8443/x",
            "data:image/png;base64,AAAA",
        ] {
            assert_eq!(safe_avatar_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn emotes_keep_only_tokens_in_the_text_with_images_on_platform_hosts() {
        let r = RawComment {
            emotes: vec![
                (
                    "[doge]".into(),
                    "https://i0.hdslb.com/bfs/emote/doge.png".into(),
                ),
                (
                    "[absent]".into(),
                    "https://i0.hdslb.com/bfs/emote/x.png".into(),
                ),
                ("[evil]".into(), "https://evil.invalid/x.png".into()),
                (
                    "[plain]".into(),
                    "http://i0.hdslb.com/bfs/emote/p.png".into(),
                ),
            ],
            ..raw("so true [doge] [evil] [plain]")
        };
        let c = sanitize("bilibili:x", r, Utc::now()).unwrap();
        assert_eq!(
            c.emotes,
            BTreeMap::from([(
                "[doge]".to_owned(),
                "https://i0.hdslb.com/bfs/emote/doge.png".to_owned()
            )])
        );
    }

    #[test]
    fn amounts_keep_iso_codes_and_twitch_bits_only() {
        let amount = |currency: &str| RawAmount {
            display: "x".into(),
            micros: 1,
            currency: currency.into(),
        };
        for (given, kept) in [("usd", "USD"), ("Bits", BITS), ("BITS", BITS), ("<b>", "")] {
            assert_eq!(clean_amount(amount(given)).currency, kept, "{given}");
        }
    }

    #[test]
    fn a_comment_without_an_id_is_rejected() {
        let r = RawComment {
            id: "\u{202E}\n ".into(),
            ..raw("x")
        };
        assert_eq!(sanitize("demo", r, Utc::now()), Err(Rejected::MissingId));
    }

    #[test]
    fn html_entities_are_decoded_exactly_once_for_the_text() {
        let r = RawComment {
            text: String::new(),
            html: Some("Tom &amp;amp; Jerry &lt;3<br>next".into()),
            ..raw("")
        };
        let c = sanitize("youtube:x", r, Utc::now()).unwrap();
        assert_eq!(c.text, "Tom &amp; Jerry <3\nnext");
    }

    #[test]
    fn an_edit_is_detected_from_updated_at() {
        let t = Utc::now() - Duration::hours(1);
        let r = RawComment {
            published_at: Some(t),
            updated_at: Some(t + Duration::minutes(3)),
            ..raw("x")
        };
        assert!(sanitize("demo", r, Utc::now()).unwrap().edited);
    }
}
