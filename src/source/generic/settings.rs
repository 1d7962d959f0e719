//! `GenericSettings`: a generic source's `CW_GENERIC_<NAME>_*` variables,
//! each checked at start (a bad value is an error naming its exact
//! variable). Never shows a header value or the URL's query string in an
//! error or in `Debug` output. No requests here.

use std::fmt;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::domain::ConfigError;

/// Headers that describe the connection or the body rather than the request:
/// setting them by hand breaks the request or smuggles a second one.
pub(super) const RESERVED_HEADERS: &[&str] = &[
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
    pub(super) prefix: String,
    pub(super) url: Url,
    pub(super) items: Pointer,
    pub(super) id: Pointer,
    pub(super) text: Pointer,
    pub(super) author: Option<Pointer>,
    pub(super) time: Option<Pointer>,
    pub(super) author_id: Option<Pointer>,
    pub(super) avatar: Option<Pointer>,
    pub(super) likes: Option<Pointer>,
    pub(super) reply_to: Option<Pointer>,
    pub(super) text_format: TextFormat,
    /// Every value is marked sensitive, so `Debug` never prints it.
    pub(super) headers: HeaderMap,
    pub(super) cursor: Cursor,
    pub(super) order: Order,
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
pub(super) struct Pointer(pub(super) String);

impl Pointer {
    /// What `self` points at in `v`; JSON `null` counts as nothing, since
    /// APIs write `"field": null` to mean "absent".
    pub(super) fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
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

    pub(super) fn var(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }
}

/// `_URL`: an absolute http(s) URL with a host; a query string is kept.
pub(super) fn parse_url(var: &str, value: &str) -> Result<Url, ConfigError> {
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
pub(super) fn redact_url(value: &str) -> String {
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
pub(super) fn parse_pointer(
    var: &str,
    value: &str,
    may_be_root: bool,
) -> Result<Pointer, ConfigError> {
    check_pointer(value, may_be_root)
        .map(|()| Pointer(value.to_owned()))
        .map_err(|why| ConfigError::invalid(var, value, why))
}

pub(super) fn check_pointer(value: &str, may_be_root: bool) -> Result<(), String> {
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
pub(super) fn parse_headers(value: &str) -> Result<HeaderMap, String> {
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
pub(super) fn parse_cursor(value: &str) -> Result<Cursor, String> {
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

pub(super) fn check_param(param: &str) -> Result<(), String> {
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
