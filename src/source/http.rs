//! The one HTTP client every platform adapter uses: timeouts, a body size
//! cap, a descriptive User-Agent, and the classification of transport-level
//! failures (timeouts, 429, 5xx, HTML error pages, malformed JSON) into
//! `SourceError`s. Platform-specific error envelopes are the adapters' job.
//!
//! Error texts never contain the request URL: query strings carry API keys.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use super::SourceError;

/// What a browser would send; some platforms refuse obvious bots.
pub const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";

/// Limits of every outbound request: `CW_HTTP_TIMEOUT`, `CW_MAX_BODY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub timeout: Duration,
    /// The largest response body accepted, in bytes.
    pub max_body: usize,
}

/// A shared, cheap-to-clone client.
#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
    max_body: usize,
}

/// A response whose body parsed as JSON, whatever its status.
#[derive(Debug)]
pub struct JsonResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Http {
    pub fn new(timeout: Duration, max_body: usize) -> Http {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!(
                "commentwatch/",
                env!("CARGO_PKG_VERSION"),
                " (live comment monitor)"
            ))
            // Follow a few redirects on the same host only: credentials in
            // custom headers (`CW_GENERIC_*_HEADERS`) must never be sent to
            // another host that an API redirects to.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same_host = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.host_str() == attempt.url().host_str());
                if attempt.previous().len() > 3 || !same_host {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .expect("the HTTP client builds");
        Http { client, max_body }
    }

    /// Sends `req` and parses the body as JSON.
    ///
    /// Transport failures, 429 and 5xx become `SourceError::Transient` (with
    /// the server's `Retry-After` when it gave one); any other status is
    /// returned with its JSON body for the adapter to interpret.
    pub async fn json(&self, req: RequestBuilder) -> Result<JsonResponse, SourceError> {
        let mut resp = req.send().await.map_err(transport_error)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let retry_after = retry_after(&headers);
        if let Some(len) = resp.content_length()
            && len as usize > self.max_body
        {
            return Err(SourceError::transient(format!(
                "the response body ({len} bytes) is over the {} byte cap",
                self.max_body
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(SourceError::transient(format!(
                    "the response body is over the {} byte cap",
                    self.max_body
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SourceError::Transient {
                reason: "rate limited (HTTP 429)".into(),
                retry_after,
            });
        }
        let parsed = parse_json(&body);
        if status.is_server_error() {
            return Err(SourceError::Transient {
                reason: format!("the server failed (HTTP {})", status.as_u16()),
                retry_after,
            });
        }
        match parsed {
            Ok(body) => Ok(JsonResponse {
                status,
                headers,
                body,
            }),
            Err(why) => Err(SourceError::transient(format!(
                "{why} (HTTP {})",
                status.as_u16()
            ))),
        }
    }
}

/// A reqwest error as text, without the URL (it may hold an API key).
fn transport_error(e: reqwest::Error) -> SourceError {
    let kind = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read"
    } else {
        "the request failed"
    };
    let detail = e.without_url().to_string();
    SourceError::transient(format!("{kind}: {detail}"))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(24 * 3600)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// Parses a body as JSON, tolerating what hostile or sloppy servers send:
/// invalid UTF-8 and lone surrogate escapes become U+FFFD instead of failing
/// the whole page.
pub fn parse_json(body: &[u8]) -> Result<Value, String> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('<') {
        return Err("an HTML page instead of JSON".into());
    }
    if trimmed.is_empty() {
        return Err("an empty body instead of JSON".into());
    }
    match serde_json::from_str(trimmed) {
        Ok(v) => Ok(v),
        // serde_json refuses lone surrogates with varying messages; a second
        // try with them replaced costs nothing on the happy path.
        Err(e) => serde_json::from_str(&replace_lone_surrogates(trimmed))
            .map_err(|_| format!("malformed JSON: {e}")),
    }
}

/// Rewrites `\uD800`–`\uDFFF` escapes that are not part of a valid pair.
fn replace_lone_surrogates(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let hex = |at: usize| -> Option<u16> {
        let h = s.get(at..at + 4)?;
        u16::from_str_radix(h, 16).ok()
    };
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b[i + 1] == b'u'
                && let Some(cu) = hex(i + 2)
            {
                if (0xD800..0xDC00).contains(&cu) {
                    let low = (b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u'))
                        .then(|| hex(i + 8))
                        .flatten();
                    if low.is_some_and(|l| (0xDC00..0xE000).contains(&l)) {
                        out.push_str(&s[i..i + 12]);
                        i += 12;
                        continue;
                    }
                    out.push_str("\\uFFFD");
                    i += 6;
                    continue;
                }
                if (0xDC00..0xE000).contains(&cu) {
                    out.push_str("\\uFFFD");
                    i += 6;
                    continue;
                }
            }
            // Any other escape: copy the backslash and the character after
            // it (of any width) so `\\u` stays literal.
            out.push('\\');
            i += 1;
            if let Some(next) = s[i..].chars().next() {
                out.push(next);
                i += next.len_utf8();
            }
            continue;
        }
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backslash_before_a_wide_character_is_not_a_panic() {
        for body in [r#"{"a":"\é"}"#, r#"{"a":"\主"}"#, "\\", "\\é\\"] {
            assert_eq!(replace_lone_surrogates(body), body);
        }
    }

    #[test]
    fn lone_surrogates_do_not_sink_the_page() {
        let v = parse_json(br#"{"a":"x\ud800y","b":"\ud83d\ude00","c":"\udc00","d":"\\ud800"}"#)
            .unwrap();
        assert_eq!(v["a"], "x\u{FFFD}y");
        assert_eq!(v["b"], "😀");
        assert_eq!(v["c"], "\u{FFFD}");
        assert_eq!(v["d"], "\\ud800");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let v = parse_json(b"{\"a\":\"ok\xff\xfe\"}").unwrap();
        assert_eq!(v["a"], "ok\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn an_html_error_page_is_named_as_such() {
        assert_eq!(
            parse_json(b"<!DOCTYPE html><title>502</title>").unwrap_err(),
            "an HTML page instead of JSON"
        );
        assert!(
            parse_json(b"{\"a\":")
                .unwrap_err()
                .starts_with("malformed JSON")
        );
    }
}
