//! The parameters every reader of the log takes — the `/log` page,
//! `/api/comments`, the CSV and JSONL exports, `/api/stats` and the
//! `export`/`search`/`stats` subcommands — as `name=value` pairs parsed by
//! [`Params::parse`] into one typed [`Selection`] plus paging and output
//! options, so the page, the API and the command line can never disagree
//! about what a filter means; and the way back, a selection as canonical
//! parameters for links ([`ToParams`]).
//!
//! Shared by `web` and `cli`; the store only ever sees the typed
//! selection. No I/O, no SQL; the store is used for its value types only.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use crate::domain::rfc3339;
use crate::domain::{Kind, Role, SourceSpec};
use crate::sanitize;
use crate::store::{Flag, Selection, SourceFilter};

/// Comments on one page when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 100;
/// The most comments one page may hold; exports have no limit.
pub const MAX_LIMIT: u64 = 1_000;
/// Longest search query, in characters: a sentence, not a document.
pub const MAX_QUERY_CHARS: usize = 200;

/// Parameters that may be given more than once (and hold comma lists):
/// each value adds to the set.
const REPEATABLE: &[&str] = &["role", "kind"];

/// Every parameter the readers accept, in the order error messages list them.
const KNOWN: &[&str] = &[
    "q",
    "source",
    "author",
    "since",
    "until",
    "deleted",
    "edited",
    "replies",
    "paid",
    "featured",
    "highlighted",
    "role",
    "kind",
    "limit",
    "before_seq",
    "bom",
    "stats",
];

/// A parameter the reader cannot accept. Shown to the user as is: it names
/// the parameter (the CLI turns `since` into `--since`) and what would do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct ParamError {
    pub param: String,
    pub message: String,
}

impl ParamError {
    pub fn new(param: &str, message: impl Into<String>) -> ParamError {
        ParamError {
            param: param.to_owned(),
            message: message.into(),
        }
    }
}

/// A value as a parameter spells it.
pub trait AsParam {
    /// The parameter value that means this (`""` for a flag's `Any`).
    fn as_param(&self) -> &str;
}

impl AsParam for Flag {
    fn as_param(&self) -> &str {
        match self {
            Flag::Any => "",
            Flag::Only => "1",
            Flag::Without => "0",
        }
    }
}

impl AsParam for SourceFilter {
    fn as_param(&self) -> &str {
        self.as_str()
    }
}

/// The platforms a `source` parameter may name to keep every one of their
/// sources.
use crate::domain::PLATFORM_NAMES as PLATFORMS;

/// A selection as parameters.
pub trait ToParams {
    /// The selection as canonical parameters (empty ones left out), for
    /// links: times become absolute RFC 3339, so a bookmarked page holds
    /// still.
    fn to_pairs(&self) -> Vec<(&'static str, String)>;
}

impl ToParams for Selection {
    fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(q) = &self.q {
            out.push(("q", q.clone()));
        }
        if let Some(s) = &self.source {
            out.push(("source", s.as_param().to_owned()));
        }
        if let Some(a) = &self.author {
            out.push(("author", a.clone()));
        }
        if let Some(t) = &self.since {
            out.push(("since", rfc3339::format(t)));
        }
        if let Some(t) = &self.until {
            out.push(("until", rfc3339::format(t)));
        }
        for (name, flag) in [
            ("deleted", self.deleted),
            ("edited", self.edited),
            ("replies", self.replies),
            ("paid", self.paid),
            ("featured", self.featured),
            ("highlighted", self.highlighted),
        ] {
            if flag != Flag::Any {
                out.push((name, flag.as_param().to_owned()));
            }
        }
        if !self.roles.is_empty() {
            let names: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
            out.push(("role", names.join(",")));
        }
        if !self.kinds.is_empty() {
            let names: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
            out.push(("kind", names.join(",")));
        }
        out
    }
}

/// A request's parameters: a selection plus paging and output options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub selection: Selection,
    /// As given; [`Params::page_limit`] applies the default and the maximum.
    pub limit: Option<u64>,
    /// Only comments with a smaller `seq` (the next page of a keyset walk).
    pub before_seq: Option<i64>,
    /// CSV: start with a UTF-8 byte order mark, for spreadsheets.
    pub bom: bool,
    /// `/log`: render the statistics panel on the server (for browsers
    /// without JavaScript).
    pub stats: bool,
}

impl Params {
    /// Parses query-string pairs. Unknown or repeated parameters are refused
    /// rather than ignored: a typo (`?sorce=`) must not quietly return the
    /// whole log. `now` anchors relative times such as `since=2h`.
    pub fn parse<K, V>(
        pairs: impl IntoIterator<Item = (K, V)>,
        now: DateTime<Utc>,
    ) -> Result<Params, ParamError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut lists: HashMap<&'static str, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            // The token belongs to the auth layer, which consumes it.
            if k == "token" {
                continue;
            }
            if !KNOWN.contains(&k) {
                return Err(ParamError::new(
                    &shorten(k, 40),
                    format!("unknown parameter; expected one of {}", KNOWN.join(", ")),
                ));
            }
            if let Some(name) = REPEATABLE.iter().find(|r| **r == k) {
                lists.entry(name).or_default().push(v.to_owned());
                continue;
            }
            if seen.insert(k.to_owned(), v.to_owned()).is_some() {
                return Err(ParamError::new(k, "given more than once"));
            }
        }
        let get = |k: &str| seen.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut sel = Selection {
            q: text_param("q", seen.get("q").map(String::as_str))?,
            author: text_param("author", seen.get("author").map(String::as_str))?,
            ..Selection::default()
        };
        if let Some(v) = get("source") {
            sel.source = Some(parse_source(v)?);
        }
        sel.since = get("since")
            .map(|v| parse_time("since", v, now))
            .transpose()?;
        sel.until = get("until")
            .map(|v| parse_time("until", v, now))
            .transpose()?;
        if let (Some(since), Some(until)) = (sel.since, sel.until)
            && until < since
        {
            return Err(ParamError::new(
                "until",
                "is earlier than since; nothing could match",
            ));
        }
        sel.deleted = parse_flag("deleted", get("deleted"))?;
        sel.edited = parse_flag("edited", get("edited"))?;
        sel.replies = parse_flag("replies", get("replies"))?;
        sel.paid = parse_flag("paid", get("paid"))?;
        sel.featured = parse_flag("featured", get("featured"))?;
        sel.highlighted = parse_flag("highlighted", get("highlighted"))?;
        let list = |name: &str| lists.get(name).map(Vec::as_slice).unwrap_or_default();
        sel.roles = parse_set("role", list("role"), &Role::ALL, |r| r.as_str())?;
        sel.kinds = parse_set("kind", list("kind"), &Kind::ALL, |k| k.as_str())?;
        let limit = match get("limit") {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n >= 1 && n <= i64::MAX as u64 => Some(n),
                _ => {
                    return Err(ParamError::new(
                        "limit",
                        format!(
                            "{:?} is not a number of comments; expected a whole number from 1 to {MAX_LIMIT}",
                            shorten(v, 40)
                        ),
                    ));
                }
            },
        };
        let before_seq = match get("before_seq") {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(ParamError::new(
                        "before_seq",
                        format!(
                            "{:?} is not a seq; expected the next_before_seq of a previous page",
                            shorten(v, 40)
                        ),
                    ));
                }
            },
        };
        Ok(Params {
            selection: sel,
            limit,
            before_seq,
            bom: parse_flag("bom", get("bom"))? == Flag::Only,
            stats: parse_flag("stats", get("stats"))? == Flag::Only,
        })
    }

    /// The page size: `limit`, or 100; more than 1,000 is refused so that no
    /// request can ask one response for the whole log.
    pub fn page_limit(&self) -> Result<u64, ParamError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if n <= MAX_LIMIT => Ok(n),
            Some(n) => Err(ParamError::new(
                "limit",
                format!(
                    "{n} is more than {MAX_LIMIT}, the most one page holds; follow next_before_seq \
                     for more, or export the selection as CSV or JSONL"
                ),
            )),
        }
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max).chain(std::iter::once('…')).collect()
    }
}

/// A free-text parameter, cleaned like comment text. Given but empty after
/// cleaning (only invisible characters) is an error, not "no filter".
fn text_param(name: &str, raw: Option<&str>) -> Result<Option<String>, ParamError> {
    let Some(raw) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if raw.chars().count() > MAX_QUERY_CHARS {
        return Err(ParamError::new(
            name,
            format!("longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    let clean = sanitize::clean_line(raw, MAX_QUERY_CHARS);
    if clean.is_empty() {
        return Err(ParamError::new(
            name,
            "has no visible characters to look for",
        ));
    }
    Ok(Some(clean))
}

fn parse_source(v: &str) -> Result<SourceFilter, ParamError> {
    if let Some(p) = PLATFORMS.iter().find(|p| **p == v) {
        return Ok(SourceFilter::Platform(p));
    }
    match SourceSpec::parse_list(v) {
        Ok(specs) if specs.len() == 1 => Ok(SourceFilter::Exact(specs[0].to_string())),
        _ => Err(ParamError::new(
            "source",
            format!(
                "{:?} is not a source; expected one such as demo, youtube:VIDEO_ID, \
                 youtube-live:VIDEO_ID, bilibili:BVID or generic:NAME, or a platform: {}",
                shorten(v, 60),
                PLATFORMS.join(", ")
            ),
        )),
    }
}

fn parse_flag(name: &str, v: Option<&str>) -> Result<Flag, ParamError> {
    match v {
        None | Some("any") => Ok(Flag::Any),
        Some("1" | "only" | "true" | "yes") => Ok(Flag::Only),
        Some("0" | "none" | "false" | "no") => Ok(Flag::Without),
        Some(other) => Err(ParamError::new(
            name,
            format!(
                "{:?} is not accepted; expected 1 (only these), 0 (none of these) or any",
                shorten(other, 40)
            ),
        )),
    }
}

/// A set of named values (`role`, `kind`): every value given, each a comma
/// list, any case; empty items are ignored (an empty form field is no
/// filter). The answer holds each once, in the order of `all`.
fn parse_set<T: Copy + PartialEq>(
    name: &str,
    values: &[String],
    all: &[T],
    as_str: impl Fn(T) -> &'static str,
) -> Result<Vec<T>, ParamError> {
    let mut wanted = Vec::new();
    for item in values.iter().flat_map(|v| v.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        match all.iter().find(|t| as_str(**t).eq_ignore_ascii_case(item)) {
            Some(t) => wanted.push(*t),
            None => {
                let names: Vec<&str> = all.iter().map(|t| as_str(*t)).collect();
                return Err(ParamError::new(
                    name,
                    format!(
                        "{:?} is not a {name}; expected {} (several: repeat {name}= or separate                          them with commas)",
                        shorten(item, 40),
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(all.iter().copied().filter(|t| wanted.contains(t)).collect())
}

/// A time: RFC 3339 (`2024-05-01T20:40:00Z`, any offset); a date and time
/// without offset, read as UTC (what an HTML `datetime-local` field sends);
/// a date (midnight UTC); or a duration meaning that long before `now`
/// (`90m`, `2h`, `7d`).
pub fn parse_time(name: &str, v: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ParamError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    if !v.contains(' ')
        && let Ok(d) = humantime::parse_duration(v)
        && let Ok(d) = Duration::from_std(d)
        && let Some(t) = now.checked_sub_signed(d)
    {
        return Ok(t);
    }
    Err(ParamError::new(
        name,
        format!(
            "{:?} is not a time; expected RFC 3339 (2024-05-01T20:40:00Z), a UTC date and time \
             (2024-05-01T20:40), a date (2024-05-01) or a duration ago (90m, 2h, 7d)",
            shorten(v, 60)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Params, ParamError> {
        let pairs: Vec<(String, String)> = q
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Params::parse(pairs, Utc::now())
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (query, param) in [
            ("limit=1001", "limit"),
            ("limit=0", "limit"),
            ("limit=-1", "limit"),
            ("limit=ten", "limit"),
            ("since=yesterday", "since"),
            ("until=2024-13-45", "until"),
            ("since=2024-05-02&until=2024-05-01", "until"),
            ("deleted=maybe", "deleted"),
            ("source=myspace:1", "source"),
            ("before_seq=abc", "before_seq"),
            ("featured=perhaps", "featured"),
            ("sorce=demo", "sorce"),
            ("q=a&q=b", "q"),
            ("role=admin", "role"),
            ("role=owner,,mod", "role"),
            ("kind=superchat&kind=donation", "kind"),
            ("q=%E2%80%8B", "q"),
        ] {
            let query = query.replace("%E2%80%8B", "\u{200b}");
            let err = parse(&query)
                .and_then(|p| p.page_limit().map(|_| p))
                .unwrap_err();
            assert_eq!(err.param, param, "{query}: {err}");
        }
    }

    #[test]
    fn roles_and_kinds_are_sets_given_repeated_or_as_comma_lists() {
        let p = parse("role=member,OWNER&role=member&role=&kind=gift&kind=text,superchat").unwrap();
        assert_eq!(p.selection.roles, [Role::Owner, Role::Member]);
        assert_eq!(p.selection.kinds, [Kind::Text, Kind::Superchat, Kind::Gift]);
        assert_eq!(
            p.selection.to_pairs(),
            [
                ("role", "owner,member".to_owned()),
                ("kind", "text,superchat,gift".to_owned())
            ]
        );
        let none = parse("role=&kind=").unwrap();
        assert!(none.selection.is_everything());
        assert_eq!(parse("role=vip").unwrap().selection.roles, [Role::Vip]);
    }

    #[test]
    fn times_are_read_in_every_documented_form() {
        let now = Utc::now();
        let t = |v: &str| parse_time("since", v, now).unwrap();
        assert_eq!(
            rfc3339::format(&t("2024-05-01T20:40:00Z")),
            "2024-05-01T20:40:00Z"
        );
        assert_eq!(
            rfc3339::format(&t("2024-05-01T22:40:00+02:00")),
            "2024-05-01T20:40:00Z"
        );
        assert_eq!(
            rfc3339::format(&t("2024-05-01T20:40")),
            "2024-05-01T20:40:00Z"
        );
        assert_eq!(rfc3339::format(&t("2024-05-01")), "2024-05-01T00:00:00Z");
        assert_eq!(t("2h"), now - Duration::hours(2));
    }
}
