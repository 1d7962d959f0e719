//! Any JSON API (`generic:NAME`), described only by `CW_GENERIC_<NAME>_*`
//! env vars: a URL, extra request headers, JSON pointers (RFC 6901) to the
//! array of items and to each field within one item, a text format, a cursor
//! style and the order the API lists items in.
//!
//! What it does: validates every setting at start (each bad value is an error
//! naming its exact variable), fetches one page, maps each item to a
//! `RawComment` on its own (an unreadable item is skipped and counted, never
//! fatal to its neighbours) and works out the cursor of the next page.
//!
//! What it must not do: sanitize, store or publish anything (the sanitizer
//! and the poller do that); trust the response's shape; or put header values
//! or the URL in any error text, `Debug` output or log line — the headers
//! usually hold a token and query strings often hold API keys.

use std::fmt;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::http::Http;
use super::{BoxFuture, Page, PolledSource, Source, SourceError};
use crate::domain::ConfigError;
use crate::domain::{RawComment, SourceSpec};

/// Unix times above this are milliseconds, below it seconds: 10^11 seconds
/// is the year 5138, 10^11 milliseconds is 1973.
const MILLIS_THRESHOLD: f64 = 1e11;

/// Headers that describe the connection or the body rather than the request:
/// setting them by hand breaks the request or smuggles a second one.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// The settings of one generic source, read from `CW_GENERIC_<NAME>_*` and
/// validated by [`GenericSettings::from_lookup`]; there is no other way to
/// make one, so every pointer, header and cursor in here is well-formed.
#[derive(Clone)]
pub struct GenericSettings {
    /// `CW_GENERIC_<NAME>_`, to name variables in runtime errors.
    prefix: String,
    url: Url,
    items: Pointer,
    id: Pointer,
    text: Pointer,
    author: Option<Pointer>,
    time: Option<Pointer>,
    author_id: Option<Pointer>,
    avatar: Option<Pointer>,
    likes: Option<Pointer>,
    reply_to: Option<Pointer>,
    text_format: TextFormat,
    /// Every value is marked sensitive, so `Debug` never prints it.
    headers: HeaderMap,
    cursor: Cursor,
    order: Order,
}

/// What the `_TEXT` pointer points at (`_TEXT_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// Plain text, shown as typed (the default).
    Plain,
    /// The platform's HTML: the sanitizer cleans it and derives the text.
    Html,
}

/// How to ask for the next (older) page (`_CURSOR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The API has one page (the default).
    None,
    /// `token:<pointer>:<param>`: the response holds the next page's token at
    /// `pointer` (from the response's root); it is sent back as `?param=`.
    Token { pointer: String, param: String },
    /// `page:<param>`: pages are numbered from 1 and sent as `?param=N`.
    PageNumber { param: String },
}

/// The order the API lists the items of one page in (`_ORDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first, as the poller wants them (the default).
    Newest,
    /// Oldest first: each page is reversed.
    Oldest,
}

/// A validated JSON pointer: empty or starting with `/`, every `~` escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pointer(String);

impl Pointer {
    /// What `self` points at in `v`; JSON `null` counts as nothing, since
    /// APIs write `"field": null` to mean "absent".
    fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        v.pointer(&self.0).filter(|v| !v.is_null())
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GenericSettings {
    /// Like a derived `Debug`, but the URL loses its query string (it may
    /// carry a key); header values are already marked sensitive.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericSettings")
            .field("prefix", &self.prefix)
            .field("url", &redact_url(self.url.as_str()))
            .field("items", &self.items)
            .field("id", &self.id)
            .field("text", &self.text)
            .field("author", &self.author)
            .field("time", &self.time)
            .field("author_id", &self.author_id)
            .field("avatar", &self.avatar)
            .field("likes", &self.likes)
            .field("reply_to", &self.reply_to)
            .field("text_format", &self.text_format)
            .field("headers", &self.headers)
            .field("cursor", &self.cursor)
            .field("order", &self.order)
            .finish()
    }
}

/// `CW_GENERIC_<NAME>_` for a source name: upper-cased, anything but
/// letters and digits turned into `_`.
pub fn env_prefix(name: &str) -> String {
    let mut p = String::from("CW_GENERIC_");
    p.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    p.push('_');
    p
}

impl GenericSettings {
    /// Reads and validates every `CW_GENERIC_<NAME>_*` variable through
    /// `lookup`. A missing required variable is `ConfigError::Missing`; a bad
    /// value is `ConfigError::Invalid` naming the exact variable. Empty values
    /// count as unset, except `_ITEMS`, where empty means "the response is the
    /// array".
    pub fn from_lookup(
        name: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<GenericSettings, ConfigError> {
        let prefix = env_prefix(name);
        let var = |suffix: &str| format!("{prefix}{suffix}");
        // Surrounding whitespace is a copy-paste accident in env files, never
        // part of a pointer or keyword.
        let get = |suffix: &str| lookup(&var(suffix)).map(|v| v.trim().to_owned());
        let set = |suffix: &str| get(suffix).filter(|v| !v.is_empty());

        let url = match set("URL") {
            Some(url) => parse_url(&var("URL"), &url)?,
            None => {
                return Err(ConfigError::Missing {
                    var: var("URL"),
                    why: format!("generic:{name} needs the URL of its JSON API"),
                });
            }
        };
        let items = match get("ITEMS") {
            Some(p) => parse_pointer(&var("ITEMS"), &p, true)?,
            None => {
                return Err(ConfigError::Missing {
                    var: var("ITEMS"),
                    why: format!(
                        "generic:{name} needs a JSON pointer to the array of comments in each \
                         response, e.g. /data/comments (set it empty if the response itself is \
                         the array)"
                    ),
                });
            }
        };
        let required = |suffix: &str, what: &str| -> Result<Pointer, ConfigError> {
            match set(suffix) {
                Some(p) => parse_pointer(&var(suffix), &p, false),
                None => Err(ConfigError::Missing {
                    var: var(suffix),
                    why: format!(
                        "generic:{name} needs a JSON pointer to {what} within one item, e.g. /id"
                    ),
                }),
            }
        };
        let optional = |suffix: &str| -> Result<Option<Pointer>, ConfigError> {
            set(suffix)
                .map(|p| parse_pointer(&var(suffix), &p, false))
                .transpose()
        };
        let id = required("ID", "each comment's id")?;
        let text = required("TEXT", "each comment's text")?;
        let author = optional("AUTHOR")?;
        let time = optional("TIME")?;
        let author_id = optional("AUTHOR_ID")?;
        let avatar = optional("AVATAR")?;
        let likes = optional("LIKES")?;
        let reply_to = optional("REPLY_TO")?;
        let text_format = match set("TEXT_FORMAT") {
            None => TextFormat::Plain,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "plain" => TextFormat::Plain,
                "html" => TextFormat::Html,
                _ => {
                    return Err(ConfigError::invalid(
                        var("TEXT_FORMAT"),
                        &v,
                        "expected plain (the default) or html",
                    ));
                }
            },
        };
        let headers = match set("HEADERS") {
            None => HeaderMap::new(),
            Some(v) => parse_headers(&v).map_err(|why| {
                // The value usually holds a token: never echo it.
                ConfigError::invalid(var("HEADERS"), "(hidden)", why)
            })?,
        };
        let cursor = match set("CURSOR") {
            None => Cursor::None,
            Some(v) => {
                parse_cursor(&v).map_err(|why| ConfigError::invalid(var("CURSOR"), &v, why))?
            }
        };
        let order = match set("ORDER") {
            None => Order::Newest,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "newest" => Order::Newest,
                "oldest" => Order::Oldest,
                _ => {
                    return Err(ConfigError::invalid(
                        var("ORDER"),
                        &v,
                        "expected newest (the API lists the newest item first; the default) \
                         or oldest",
                    ));
                }
            },
        };
        Ok(GenericSettings {
            prefix,
            url,
            items,
            id,
            text,
            author,
            time,
            author_id,
            avatar,
            likes,
            reply_to,
            text_format,
            headers,
            cursor,
            order,
        })
    }

    /// The cursor style (`_CURSOR`).
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// The text format (`_TEXT_FORMAT`).
    pub fn text_format(&self) -> TextFormat {
        self.text_format
    }

    /// The item order (`_ORDER`).
    pub fn order(&self) -> Order {
        self.order
    }

    /// The names of the configured `_HEADERS` (never their values).
    pub fn header_names(&self) -> Vec<String> {
        self.headers.keys().map(|k| k.to_string()).collect()
    }

    fn var(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// Maps one item, or `None` when its `_ID` or `_TEXT` matches nothing
    /// usable. Optional fields that match nothing are left empty.
    fn map_item(&self, item: &Value) -> Option<RawComment> {
        let id = self.id.get(item).and_then(scalar_text)?;
        if id.trim().is_empty() {
            return None;
        }
        let body = self.text.get(item).and_then(scalar_text)?;
        let (text, html) = match self.text_format {
            TextFormat::Plain => (body, None),
            // Empty text makes the sanitizer derive it from the cleaned HTML.
            TextFormat::Html => (String::new(), Some(body)),
        };
        let field =
            |p: &Option<Pointer>| p.as_ref().and_then(|p| p.get(item)).and_then(scalar_text);
        Some(RawComment {
            id,
            author_name: field(&self.author).unwrap_or_default(),
            author_id: field(&self.author_id).unwrap_or_default(),
            author_avatar: field(&self.avatar).filter(|a| !a.trim().is_empty()),
            text,
            html,
            published_at: self
                .time
                .as_ref()
                .and_then(|p| p.get(item))
                .and_then(parse_time),
            updated_at: None,
            likes: self
                .likes
                .as_ref()
                .and_then(|p| p.get(item))
                .and_then(parse_count)
                .unwrap_or(0),
            // Many APIs write 0 or "" for "not a reply" (Bilibili's `parent`).
            reply_to: field(&self.reply_to).filter(|r| !r.trim().is_empty() && r.trim() != "0"),
            amount: None,
            emotes: Vec::new(),
        })
    }

    /// The array of items in a response. Matching nothing is a transient
    /// error, not an empty page: an API that answers 200 with an error body
    /// looks exactly like this, and the source status should say so.
    fn items<'a>(&self, body: &'a Value) -> Result<&'a Vec<Value>, SourceError> {
        let var = self.var("ITEMS");
        match body.pointer(&self.items.0) {
            None | Some(Value::Null) => Err(SourceError::transient(format!(
                "{var} {:?} matches nothing in the response",
                self.items.0
            ))),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(SourceError::transient(format!(
                "{var} {:?} matches {} in the response, not an array",
                self.items.0,
                json_kind(other)
            ))),
        }
    }
}

/// `_URL`: an absolute http(s) URL with a host; a query string is kept.
fn parse_url(var: &str, value: &str) -> Result<Url, ConfigError> {
    let shown = redact_url(value);
    let url = Url::parse(value).map_err(|e| {
        ConfigError::invalid(
            var,
            &shown,
            format!(
                "{e}; expected an http(s) URL such as https://api.example.com/comments?video=42"
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::invalid(
            var,
            &shown,
            "expected an http(s) URL such as https://api.example.com/comments?video=42",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(
            var,
            &shown,
            "expected a URL without user:password@; send credentials with \
             _HEADERS instead (e.g. Authorization: Basic …)",
        ));
    }
    Ok(url)
}

/// A URL safe to show: no query string, no user info.
fn redact_url(value: &str) -> String {
    let (base, query) = match value.split_once('?') {
        Some((b, _)) => (b, "?…"),
        None => (value.split('#').next().unwrap_or(value), ""),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://…@{host}"),
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    format!("{base}{query}")
}

/// A JSON pointer (RFC 6901). Only `_ITEMS` may be empty (the root).
fn parse_pointer(var: &str, value: &str, may_be_root: bool) -> Result<Pointer, ConfigError> {
    check_pointer(value, may_be_root)
        .map(|()| Pointer(value.to_owned()))
        .map_err(|why| ConfigError::invalid(var, value, why))
}

fn check_pointer(value: &str, may_be_root: bool) -> Result<(), String> {
    let example = if may_be_root {
        "expected a JSON pointer (RFC 6901) from the response's root, starting with /, \
         e.g. /data/comments, or empty if the response itself is the array"
    } else {
        "expected a JSON pointer (RFC 6901) within one item, starting with /, \
         e.g. /id or /user/profile/name"
    };
    if value.is_empty() && may_be_root {
        return Ok(());
    }
    if !value.starts_with('/') {
        return Err(example.to_owned());
    }
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!(
                "~ must be written ~0 and a / inside a key ~1; {example}"
            ));
        }
    }
    Ok(())
}

/// `_HEADERS`: `Name: value` pairs separated by `;`. A `Cookie` value may
/// itself hold `;`-separated cookies: a piece without `Name:` continues the
/// cookie before it. The error never quotes a value.
fn parse_headers(value: &str) -> Result<HeaderMap, String> {
    const EXPECTED: &str =
        "expected Name: value pairs separated by ;, e.g. Authorization: Bearer TOKEN; X-Client: cw";
    let mut pairs: Vec<(HeaderName, String)> = Vec::new();
    for (i, piece) in value.split(';').enumerate() {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let named = piece
            .split_once(':')
            .and_then(|(n, v)| Some((HeaderName::from_bytes(n.trim().as_bytes()).ok()?, v)));
        match named {
            Some((name, v)) => {
                if RESERVED_HEADERS.contains(&name.as_str()) {
                    return Err(format!(
                        "the {name} header is set by the HTTP client and cannot be overridden; \
                         {EXPECTED}"
                    ));
                }
                pairs.push((name, v.trim().to_owned()));
            }
            None => match pairs.last_mut() {
                Some((name, v)) if *name == reqwest::header::COOKIE => {
                    v.push_str("; ");
                    v.push_str(piece);
                }
                _ => {
                    return Err(format!(
                        "piece {} does not start with a header name and a colon; {EXPECTED}",
                        i + 1
                    ));
                }
            },
        }
    }
    if pairs.is_empty() {
        return Err(EXPECTED.to_owned());
    }
    let mut headers = HeaderMap::new();
    for (name, v) in pairs {
        let mut v = HeaderValue::from_str(&v).map_err(|_| {
            format!("the value of {name} holds a line break or control character; {EXPECTED}")
        })?;
        v.set_sensitive(true);
        headers.append(name, v);
    }
    Ok(headers)
}

/// `_CURSOR`: `none`, `token:<pointer>:<param>` or `page:<param>`.
fn parse_cursor(value: &str) -> Result<Cursor, String> {
    const EXPECTED: &str = "expected none (the default), token:<JSON pointer to the next \
         page's token>:<query parameter> (e.g. token:/meta/next:cursor) or page:<query \
         parameter> (e.g. page:page)";
    let (kind, rest) = value.split_once(':').unwrap_or((value, ""));
    match kind.to_ascii_lowercase().as_str() {
        "none" if rest.is_empty() => Ok(Cursor::None),
        "token" => {
            // The parameter is after the last colon: a pointer may contain
            // colons, a query parameter name should not.
            let (pointer, param) = rest.rsplit_once(':').ok_or(EXPECTED)?;
            check_pointer(pointer, false).map_err(|_| {
                format!("the token's pointer must start with /, e.g. /meta/next; {EXPECTED}")
            })?;
            check_param(param).map_err(|why| format!("{why}; {EXPECTED}"))?;
            Ok(Cursor::Token {
                pointer: pointer.to_owned(),
                param: param.to_owned(),
            })
        }
        "page" => {
            check_param(rest).map_err(|why| format!("{why}; {EXPECTED}"))?;
            Ok(Cursor::PageNumber {
                param: rest.to_owned(),
            })
        }
        _ => Err(EXPECTED.to_owned()),
    }
}

fn check_param(param: &str) -> Result<(), String> {
    if param.is_empty() {
        return Err("the query parameter name is empty".into());
    }
    if param
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '&' | '=' | '#' | '?'))
    {
        return Err(format!("{param:?} is not a query parameter name"));
    }
    Ok(())
}

/// A string, or a number as its exact JSON text (`12345678901234567` stays
/// exact: serde_json keeps integers as integers). Anything else is nothing.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// RFC 3339, or unix seconds or milliseconds as a number or numeric string.
fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    let number = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            s.parse::<f64>().ok()?
        }
        _ => return None,
    };
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let millis = if number > MILLIS_THRESHOLD {
        number
    } else {
        number * 1000.0
    };
    // Beyond i64 the cast saturates, and chrono refuses the result.
    DateTime::from_timestamp_millis(millis.round() as i64)
}

/// A count such as likes: a number or a numeric string, never negative.
fn parse_count(v: &Value) -> Option<i64> {
    let n = match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .or_else(|| n.as_f64().map(|f| f as i64))?,
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })?
        }
        _ => return None,
    };
    Some(n.max(0))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `url` with `param=value`, replacing any `param` already in its query.
fn with_param(url: &Url, param: &str, value: &str) -> Url {
    let mut url = url.clone();
    if url.query_pairs().any(|(k, _)| k == param) {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != param)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.query_pairs_mut().append_pair(param, value);
    url
}

/// A `generic:NAME` source, ready to poll.
impl Source for Generic {
    fn name(&self) -> String {
        SourceSpec::Generic(self.name.clone()).to_string()
    }

    fn check(&self) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(Generic::check(self))
    }
}

impl PolledSource for Generic {
    fn fetch_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, SourceError>> {
        Box::pin(Generic::fetch_page(self, cursor))
    }
}

pub struct Generic {
    name: String,
    // Boxed: the settings are large, and a source moves into its task.
    settings: Box<GenericSettings>,
    http: Http,
}

impl Generic {
    /// A source named `name` (the part after `generic:`).
    pub fn new(name: &str, settings: GenericSettings, http: Http) -> Generic {
        Generic {
            name: name.to_owned(),
            settings: Box::new(settings),
            http,
        }
    }

    /// The `NAME` of `generic:NAME`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Fetches one page: the newest when `cursor` is `None`, else the page
    /// `cursor` names (a `Page::next` of an earlier page). Comments come
    /// newest first.
    pub async fn fetch_page(&self, cursor: Option<&str>) -> Result<Page, SourceError> {
        let body = self.fetch_body(cursor).await?;
        self.page_from(&body, cursor)
    }

    /// Fetches the first page once and checks that the pointers find what
    /// they should, so a misconfigured source is reported at start instead of
    /// as an empty feed. `_ITEMS` must match an array; if it has items, `_ID`
    /// and `_TEXT` must match in at least one and `_AUTHOR` and `_TIME` (when
    /// set) must match in at least one (`_TIME` must also be readable as a
    /// time). An empty first page passes: there is nothing to check against.
    pub async fn check(&self) -> Result<(), SourceError> {
        let body = self.fetch_body(None).await?;
        self.check_body(&body)
    }

    fn check_body(&self, body: &Value) -> Result<(), SourceError> {
        /// Whether a pointer's target is usable for its field.
        type ValueCheck = fn(&Value) -> bool;
        let s = &self.settings;
        let items = s.items(body)?;
        if items.is_empty() {
            return Ok(());
        }
        let mut checks: Vec<(&str, &Pointer, ValueCheck)> = vec![
            ("ID", &s.id, |v| {
                scalar_text(v).is_some_and(|t| !t.trim().is_empty())
            }),
            ("TEXT", &s.text, |v| scalar_text(v).is_some()),
        ];
        if let Some(p) = &s.author {
            checks.push(("AUTHOR", p, |v| scalar_text(v).is_some()));
        }
        if let Some(p) = &s.time {
            checks.push(("TIME", p, |v| parse_time(v).is_some()));
        }
        for (suffix, pointer, ok) in checks {
            if !items.iter().any(|item| pointer.get(item).is_some_and(ok)) {
                return Err(SourceError::transient(format!(
                    "{} {:?} matches nothing usable in any of the {} items of the first page",
                    s.var(suffix),
                    pointer.0,
                    items.len()
                )));
            }
        }
        Ok(())
    }

    async fn fetch_body(&self, cursor: Option<&str>) -> Result<Value, SourceError> {
        let s = &self.settings;
        let url = match &s.cursor {
            Cursor::None => s.url.clone(),
            Cursor::Token { param, .. } => match cursor {
                None => s.url.clone(),
                Some(token) => with_param(&s.url, param, token),
            },
            // Page 1 is asked for explicitly too: a `param` already in the
            // URL must not pin every request to the same page.
            Cursor::PageNumber { param } => {
                with_param(&s.url, param, &self.page_number(cursor)?.to_string())
            }
        };
        let mut req = self.http.client.get(url).headers(s.headers.clone());
        if !s.headers.contains_key(ACCEPT) {
            req = req.header(ACCEPT, "application/json");
        }
        let resp = match self.http.json(req).await {
            Ok(resp) => resp,
            // A refusal often comes with an empty or non-JSON body, which
            // `Http::json` reports as transient; it is still a refusal.
            Err(SourceError::Transient { reason, .. })
                if reason.ends_with("(HTTP 401)") || reason.ends_with("(HTTP 403)") =>
            {
                let code = if reason.ends_with("(HTTP 401)") {
                    401
                } else {
                    403
                };
                return Err(self.refused(code));
            }
            Err(e) => return Err(e),
        };
        match resp.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(self.refused(resp.status.as_u16()))
            }
            status if !status.is_success() => Err(SourceError::transient(format!(
                "the API answered HTTP {}",
                status.as_u16()
            ))),
            _ => Ok(resp.body),
        }
    }

    fn refused(&self, code: u16) -> SourceError {
        SourceError::Stopped {
            reason: format!(
                "the API refused the credentials (HTTP {code}); check {}",
                self.settings.var("HEADERS")
            ),
        }
    }

    /// The page number a cursor names; the first page is 1.
    fn page_number(&self, cursor: Option<&str>) -> Result<u64, SourceError> {
        match cursor {
            None => Ok(1),
            Some(c) => c.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                SourceError::transient(format!(
                    "the page cursor {c:?} is not a page number (check {})",
                    self.settings.var("CURSOR")
                ))
            }),
        }
    }

    fn page_from(&self, body: &Value, cursor: Option<&str>) -> Result<Page, SourceError> {
        let s = &self.settings;
        let items = s.items(body)?;
        let mut page = Page::default();
        for item in items {
            match s.map_item(item) {
                Some(c) => page.comments.push(c),
                None => page.skipped += 1,
            }
        }
        if page.skipped > 0 && page.comments.is_empty() {
            // Every item unreadable is a configuration problem far more often
            // than hostile data; name the variables, never the data.
            tracing::warn!(
                source = %format!("generic:{}", self.name),
                skipped = page.skipped,
                "no item of the page had both {} {:?} and {} {:?}",
                s.var("ID"),
                s.id.0,
                s.var("TEXT"),
                s.text.0,
            );
        }
        if s.order == Order::Oldest {
            page.comments.reverse();
        }
        page.next = match &s.cursor {
            Cursor::None => None,
            Cursor::PageNumber { .. } => {
                let current = self.page_number(cursor)?;
                (!items.is_empty()).then(|| (current + 1).to_string())
            }
            Cursor::Token { pointer, .. } => body
                .pointer(pointer)
                .and_then(scalar_text)
                .filter(|t| !t.is_empty())
                // An API that hands back the token it was given would make
                // the poller read the same page until its page limit.
                .filter(|t| Some(t.as_str()) != cursor),
        };
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<GenericSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (format!("CW_GENERIC_MYAPI_{k}"), v.to_string()))
            .collect();
        GenericSettings::from_lookup("myapi", &|k| map.get(k).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("URL", "https://api.example.com/comments?video=42"),
        ("ITEMS", "/data/comments"),
        ("ID", "/id"),
        ("TEXT", "/body"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut vars: Vec<_> = BASE
            .iter()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .copied()
            .collect();
        vars.extend_from_slice(extra);
        vars
    }

    fn error(extra: &[(&'static str, &'static str)]) -> String {
        settings(&with(extra)).unwrap_err().to_string()
    }

    fn invalid_var(extra: &[(&'static str, &'static str)]) -> String {
        match settings(&with(extra)).unwrap_err() {
            ConfigError::Invalid { var, .. } => var,
            other => panic!("expected Invalid, got {other}"),
        }
    }

    fn generic(extra: &[(&'static str, &'static str)]) -> Generic {
        let s = settings(&with(extra)).expect("valid settings");
        Generic::new(
            "myapi",
            s,
            Http::new(std::time::Duration::from_secs(1), 1 << 20),
        )
    }

    #[test]
    fn env_prefix_upper_cases_and_replaces_everything_but_letters_and_digits() {
        assert_eq!(env_prefix("my-api.v2"), "CW_GENERIC_MY_API_V2_");
        assert_eq!(env_prefix("shop"), "CW_GENERIC_SHOP_");
    }

    #[test]
    fn the_minimal_settings_take_the_documented_defaults() {
        let s = settings(BASE).unwrap();
        assert_eq!(s.cursor(), &Cursor::None);
        assert_eq!(s.text_format(), TextFormat::Plain);
        assert_eq!(s.order(), Order::Newest);
        assert!(s.header_names().is_empty());
        assert_eq!(s.url.query(), Some("video=42"));
    }

    #[test]
    fn a_missing_required_variable_is_reported_as_missing_by_name() {
        for required in ["URL", "ITEMS", "ID", "TEXT"] {
            let vars: Vec<_> = BASE
                .iter()
                .filter(|(k, _)| *k != required)
                .copied()
                .collect();
            match settings(&vars).unwrap_err() {
                ConfigError::Missing { var, .. } => {
                    assert_eq!(var, format!("CW_GENERIC_MYAPI_{required}"))
                }
                other => panic!("{required}: expected Missing, got {other}"),
            }
        }
        // An empty required pointer is as good as unset.
        assert!(matches!(
            settings(&with(&[("ID", "")])).unwrap_err(),
            ConfigError::Missing { .. }
        ));
    }

    #[test]
    fn an_empty_items_pointer_means_the_response_is_the_array() {
        let s = settings(&with(&[("ITEMS", "")])).unwrap();
        assert_eq!(s.items.0, "");
    }

    #[test]
    fn each_bad_value_is_an_error_naming_its_exact_variable() {
        let cases: &[(&str, &str)] = &[
            ("URL", "ftp://example.com/x"),
            ("URL", "not a url"),
            ("URL", "https://user:pw@example.com/"),
            ("ITEMS", "data/comments"),
            ("ID", "id"),
            ("TEXT", "/body~2"),
            ("AUTHOR", "user.name"),
            ("TIME", "created_at"),
            ("AUTHOR_ID", "uid"),
            ("AVATAR", "avatar"),
            ("LIKES", "likes"),
            ("REPLY_TO", "parent"),
            ("TEXT_FORMAT", "markdown"),
            ("HEADERS", "Authorization Bearer abc"),
            ("CURSOR", "offset:skip"),
            ("ORDER", "random"),
        ];
        for (suffix, value) in cases {
            let var = invalid_var(&[(suffix, value)]);
            assert_eq!(
                var,
                format!("CW_GENERIC_MYAPI_{suffix}"),
                "{suffix}={value}"
            );
        }
        let e = error(&[("CURSOR", "offset:skip")]);
        assert!(
            e.starts_with("CW_GENERIC_MYAPI_CURSOR=\"offset:skip\" is not valid: expected none"),
            "{e}"
        );
        assert!(e.contains("token:") && e.contains("page:"), "{e}");
        let e = error(&[("ID", "id")]);
        assert!(e.contains("starting with /"), "{e}");
    }

    #[test]
    fn a_bad_url_is_shown_without_its_query_string_or_credentials() {
        let e = error(&[("URL", "ftp://example.com/x?key=SECRET")]);
        assert!(
            e.contains("CW_GENERIC_MYAPI_URL") && !e.contains("SECRET"),
            "{e}"
        );
        let e = error(&[("URL", "https://me:SECRET@example.com/x")]);
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[test]
    fn headers_are_name_value_pairs_separated_by_semicolons() {
        let s = settings(&with(&[(
            "HEADERS",
            "Authorization: Bearer abc; X-Client: cw;",
        )]))
        .unwrap();
        assert_eq!(s.headers["authorization"], "Bearer abc");
        assert_eq!(s.headers["x-client"], "cw");
        assert!(s.headers["authorization"].is_sensitive());
        // A value may contain colons (only the first one separates).
        let s = settings(&with(&[("HEADERS", "X-Time: 12:30")])).unwrap();
        assert_eq!(s.headers["x-time"], "12:30");
    }

    #[test]
    fn a_cookie_header_keeps_its_own_semicolons() {
        let s = settings(&with(&[(
            "HEADERS",
            "Cookie: SESSDATA=abc; buvid3=xyz; X-Client: cw",
        )]))
        .unwrap();
        assert_eq!(s.headers["cookie"], "SESSDATA=abc; buvid3=xyz");
        assert_eq!(s.headers["x-client"], "cw");
    }

    #[test]
    fn bad_headers_are_refused_without_echoing_any_value() {
        for bad in [
            "Authorization Bearer SECRET",
            "Bad Name: SECRET",
            "Host: SECRET.example.com",
            "X-Ok: fine; Bearer SECRET",
            ";",
        ] {
            let e = error(&[("HEADERS", bad)]);
            assert!(e.starts_with("CW_GENERIC_MYAPI_HEADERS="), "{bad}: {e}");
            assert!(!e.contains("SECRET"), "{bad}: {e}");
        }
    }

    #[test]
    fn settings_debug_output_hides_header_values_and_the_query_string() {
        let s = settings(&with(&[
            ("URL", "https://api.example.com/c?key=SECRETKEY"),
            ("HEADERS", "Authorization: Bearer SECRETTOKEN"),
        ]))
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("SECRETKEY") && !dbg.contains("SECRETTOKEN"),
            "{dbg}"
        );
        assert!(dbg.contains("api.example.com"), "{dbg}");
    }

    #[test]
    fn cursors_parse_into_token_page_or_none() {
        let cursor =
            |v: &'static str| settings(&with(&[("CURSOR", v)])).map(|s| s.cursor().clone());
        assert_eq!(cursor("none").unwrap(), Cursor::None);
        assert_eq!(
            cursor("token:/meta/next:cursor").unwrap(),
            Cursor::Token {
                pointer: "/meta/next".into(),
                param: "cursor".into()
            }
        );
        // Only the last colon separates the parameter.
        assert_eq!(
            cursor("token:/meta/a:b:after").unwrap(),
            Cursor::Token {
                pointer: "/meta/a:b".into(),
                param: "after".into()
            }
        );
        assert_eq!(
            cursor("page:p").unwrap(),
            Cursor::PageNumber { param: "p".into() }
        );
        for bad in [
            "token:/meta/next",
            "token:meta/next:cursor",
            "token:/meta/next:",
            "page:",
            "page:a b",
            "page:a&b=c",
            "none:x",
            "offset",
        ] {
            assert!(cursor(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn text_format_and_order_accept_their_keywords() {
        let s = settings(&with(&[("TEXT_FORMAT", "HTML"), ("ORDER", "oldest")])).unwrap();
        assert_eq!(s.text_format(), TextFormat::Html);
        assert_eq!(s.order(), Order::Oldest);
    }

    #[test]
    fn numeric_ids_keep_every_digit() {
        let s = settings(BASE).unwrap();
        let c = s
            .map_item(&json!({"id": 12345678901234567u64, "body": "hi"}))
            .unwrap();
        assert_eq!(c.id, "12345678901234567");
        let parsed: Value =
            serde_json::from_str(r#"{"id": 98765432109876543, "body": "x"}"#).unwrap();
        assert_eq!(s.map_item(&parsed).unwrap().id, "98765432109876543");
        assert_eq!(
            s.map_item(&json!({"id": "abc", "body": "x"})).unwrap().id,
            "abc"
        );
    }

    #[test]
    fn an_item_without_a_usable_id_or_text_is_not_mapped() {
        let s = settings(BASE).unwrap();
        for item in [
            json!({"body": "no id"}),
            json!({"id": null, "body": "null id"}),
            json!({"id": "", "body": "empty id"}),
            json!({"id": {"x": 1}, "body": "object id"}),
            json!({"id": 1}),
            json!({"id": 1, "body": null}),
            json!("not an object"),
        ] {
            assert!(s.map_item(&item).is_none(), "{item}");
        }
    }

    #[test]
    fn times_are_read_from_rfc3339_unix_seconds_or_unix_milliseconds() {
        let s = settings(&with(&[("TIME", "/t")])).unwrap();
        let expected = DateTime::parse_from_rfc3339("2024-03-01T12:00:00Z").unwrap();
        for t in [
            json!("2024-03-01T12:00:00Z"),
            json!("2024-03-01T13:00:00+01:00"),
            json!(1709294400),
            json!(1709294400000u64),
            json!("1709294400"),
            json!("1709294400000"),
            json!(1709294400.0),
        ] {
            let c = s.map_item(&json!({"id": 1, "body": "x", "t": t})).unwrap();
            assert_eq!(c.published_at, Some(expected.with_timezone(&Utc)), "{t}");
        }
        let c = s
            .map_item(&json!({"id": 1, "body": "x", "t": 1709294400123u64}))
            .unwrap();
        assert_eq!(c.published_at.unwrap().timestamp_millis(), 1709294400123);
        for junk in [json!("yesterday"), json!(-5), json!(true), json!(1e300)] {
            let c = s
                .map_item(&json!({"id": 1, "body": "x", "t": junk}))
                .unwrap();
            assert_eq!(c.published_at, None, "{junk}");
        }
    }

    #[test]
    fn nested_pointers_reach_into_each_item() {
        let s = settings(&with(&[
            ("ID", "/meta/ids/0"),
            ("TEXT", "/content/text"),
            ("AUTHOR", "/user/profile/name"),
            ("AUTHOR_ID", "/user/id"),
            ("AVATAR", "/user/profile/avatar"),
            ("LIKES", "/stats/likes"),
            ("REPLY_TO", "/parent"),
            ("TIME", "/created"),
        ]))
        .unwrap();
        let c = s
            .map_item(&json!({
                "meta": {"ids": [777]},
                "content": {"text": "nested"},
                "user": {"id": 42, "profile": {"name": "Ann", "avatar": "https://i.ytimg.com/a.jpg"}},
                "stats": {"likes": "12"},
                "parent": "555",
                "created": 1709294400
            }))
            .unwrap();
        assert_eq!(c.id, "777");
        assert_eq!(c.text, "nested");
        assert_eq!(c.html, None);
        assert_eq!(c.author_name, "Ann");
        assert_eq!(c.author_id, "42");
        assert_eq!(
            c.author_avatar.as_deref(),
            Some("https://i.ytimg.com/a.jpg")
        );
        assert_eq!(c.likes, 12);
        assert_eq!(c.reply_to.as_deref(), Some("555"));
        assert!(c.published_at.is_some());
    }

    #[test]
    fn pointers_unescape_tilde_and_slash_in_keys() {
        let s = settings(&with(&[("TEXT", "/a~1b/c~0d")])).unwrap();
        let c = s
            .map_item(&json!({"id": 1, "a/b": {"c~d": "escaped"}}))
            .unwrap();
        assert_eq!(c.text, "escaped");
    }

    #[test]
    fn optional_fields_that_match_nothing_stay_empty() {
        let s = settings(&with(&[
            ("AUTHOR", "/author"),
            ("LIKES", "/likes"),
            ("REPLY_TO", "/parent"),
            ("AVATAR", "/avatar"),
        ]))
        .unwrap();
        let c = s
            .map_item(&json!({"id": 1, "body": "x", "likes": "many", "parent": 0, "avatar": ""}))
            .unwrap();
        assert_eq!(c.author_name, "");
        assert_eq!(c.likes, 0);
        assert_eq!(c.reply_to, None);
        assert_eq!(c.author_avatar, None);
        let c = s
            .map_item(&json!({"id": 1, "body": "x", "likes": -3}))
            .unwrap();
        assert_eq!(c.likes, 0);
    }

    #[test]
    fn html_text_goes_to_html_and_leaves_text_for_the_sanitizer() {
        let s = settings(&with(&[("TEXT_FORMAT", "html")])).unwrap();
        let c = s.map_item(&json!({"id": 1, "body": "<b>hi</b>"})).unwrap();
        assert_eq!(c.html.as_deref(), Some("<b>hi</b>"));
        assert_eq!(c.text, "");
    }

    #[test]
    fn a_page_skips_and_counts_unreadable_items() {
        let g = generic(&[]);
        let body = json!({"data": {"comments": [
            {"id": 3, "body": "c"}, {"body": "no id"}, {"id": 1, "body": "a"}
        ]}});
        let page = g.page_from(&body, None).unwrap();
        let ids: Vec<_> = page.comments.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["3", "1"]);
        assert_eq!(page.skipped, 1);
        assert_eq!(page.next, None);
    }

    #[test]
    fn items_that_match_nothing_or_are_not_an_array_are_a_transient_error_naming_the_variable() {
        let g = generic(&[]);
        for body in [
            json!({"error": "busy"}),
            json!({"data": {"comments": {"a": 1}}}),
        ] {
            match g.page_from(&body, None).unwrap_err() {
                SourceError::Transient { reason, .. } => {
                    assert!(
                        reason.starts_with("CW_GENERIC_MYAPI_ITEMS \"/data/comments\""),
                        "{reason}"
                    )
                }
                other => panic!("expected Transient, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_oldest_first_api_is_reversed_to_newest_first() {
        let g = generic(&[("ORDER", "oldest"), ("ITEMS", "")]);
        let body = json!([{"id": 1, "body": "a"}, {"id": 2, "body": "b"}]);
        let page = g.page_from(&body, None).unwrap();
        let ids: Vec<_> = page.comments.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["2", "1"]);
    }

    #[test]
    fn page_numbers_advance_while_pages_have_items() {
        let g = generic(&[("CURSOR", "page:p")]);
        let full = json!({"data": {"comments": [{"id": 1, "body": "a"}]}});
        let empty = json!({"data": {"comments": []}});
        assert_eq!(g.page_from(&full, None).unwrap().next.as_deref(), Some("2"));
        assert_eq!(
            g.page_from(&full, Some("2")).unwrap().next.as_deref(),
            Some("3")
        );
        assert_eq!(g.page_from(&empty, Some("3")).unwrap().next, None);
    }

    #[test]
    fn the_token_cursor_is_read_from_the_response_and_a_repeated_token_ends_paging() {
        let g = generic(&[("CURSOR", "token:/meta/next:cursor")]);
        let body = |next: Value| json!({"data": {"comments": []}, "meta": {"next": next}});
        assert_eq!(
            g.page_from(&body(json!("t2")), None)
                .unwrap()
                .next
                .as_deref(),
            Some("t2")
        );
        assert_eq!(
            g.page_from(&body(json!(99)), None).unwrap().next.as_deref(),
            Some("99")
        );
        assert_eq!(g.page_from(&body(json!(null)), None).unwrap().next, None);
        assert_eq!(g.page_from(&body(json!("")), None).unwrap().next, None);
        assert_eq!(
            g.page_from(&body(json!("t2")), Some("t2")).unwrap().next,
            None
        );
    }

    #[test]
    fn the_cursor_parameter_replaces_one_already_in_the_url() {
        let url = Url::parse("https://x.test/c?video=42&page=7").unwrap();
        let next = with_param(&url, "page", "2");
        assert_eq!(next.query(), Some("video=42&page=2"));
        let url = Url::parse("https://x.test/c").unwrap();
        assert_eq!(
            with_param(&url, "cursor", "a b&c").query(),
            Some("cursor=a+b%26c")
        );
    }

    #[test]
    fn the_start_check_names_a_pointer_that_matches_no_item() {
        let g = generic(&[("AUTHOR", "/user/name"), ("TIME", "/ts")]);
        let body = json!({"data": {"comments": [
            {"id": 1, "body": "a", "user": {"name": "Ann"}, "ts": "soon"}
        ]}});
        let e = g.check_body(&body).unwrap_err().to_string();
        assert!(e.starts_with("CW_GENERIC_MYAPI_TIME \"/ts\""), "{e}");
        let body = json!({"data": {"comments": [
            {"id": 1, "body": "a", "user": {"name": "Ann"}, "ts": 1709294400}
        ]}});
        g.check_body(&body).unwrap();
        let body = json!({"data": {"comments": [{"ident": 1, "body": "a"}]}});
        let e = g.check_body(&body).unwrap_err().to_string();
        assert!(e.starts_with("CW_GENERIC_MYAPI_ID \"/id\""), "{e}");
        g.check_body(&json!({"data": {"comments": []}})).unwrap();
    }
}
