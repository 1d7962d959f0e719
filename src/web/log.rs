//! `/log`: the comment log review page, server-rendered with askama and
//! usable without JavaScript. Newest first, paged by `seq` (keyset, so a
//! page never shifts while comments arrive), with a search box and filters
//! that live in the URL, matches highlighted, a link from each comment to
//! itself on its platform, and a statistics panel (`assets/log.js` fetches
//! `/api/stats` and draws it; `?stats=1` renders it here instead).
//!
//! Comment text reaches the page only through askama's escaping; the one
//! `|safe` is the sanitizer's HTML. Highlighting therefore works on the
//! plain text, split around the matches. This module reads the log and
//! nothing else.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Router, routing::get};
use chrono::{DateTime, Duration, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tracing::error;

use super::{AppState, api};
use crate::domain::{Comment, rfc3339};
use crate::params::{AsParam, Params, ToParams};
use crate::store::{CommentLog, Stats};

/// The *Actions* view and the marks on the comments acted on.
mod actions;
/// The *Source*, *Who* and *Kind* menus of the filter form.
mod choice;
/// A comment's text split around the search's matches.
mod highlight;
/// Who each reply answers, and where that comment is.
mod reply;
/// Who wrote each comment: roles, badges, the owner's marks, location.
mod who;

/// The page and, behind it, the API it links to.
pub fn routes() -> Router<AppState> {
    Router::new().route("/log", get(page)).merge(api::routes())
}

/// Characters kept as they are in URLs we build (RFC 3986 unreserved).
const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, URL_SAFE).to_string()
}

/// `path?k=v&…` from pairs, values encoded.
fn href(path: &str, pairs: &[(&str, String)]) -> String {
    let mut out = String::from(path);
    for (i, (k, v)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&enc(v));
    }
    out
}

/// The page's address of a comment on its platform (`domain` knows each
/// platform's format).
pub use crate::domain::platform::permalink as platform_link;

/// A piece of text, highlighted when it is a match.
struct Part {
    text: String,
    hit: bool,
}

fn parts(text: &str, q: Option<&str>) -> Vec<Part> {
    match q {
        Some(q) => highlight::split_matches(text, q)
            .into_iter()
            .map(|(t, hit)| Part {
                text: t.to_owned(),
                hit,
            })
            .collect(),
        None => vec![Part {
            text: text.to_owned(),
            hit: false,
        }],
    }
}

/// The log a few minutes either side of `c`, same source — the
/// conversation it was in — scrolled to it.
fn around_url(c: &Comment, seq: i64) -> String {
    let around = [
        ("source", c.source.clone()),
        (
            "since",
            rfc3339::format(&(c.published_at - Duration::minutes(2))),
        ),
        (
            "until",
            rfc3339::format(&(c.published_at + Duration::minutes(3))),
        ),
    ];
    format!("{}#c{seq}", href("/log", &around))
}

/// One comment as the page shows it.
struct RowView {
    seq: i64,
    source: String,
    source_url: String,
    author: Vec<Part>,
    author_url: String,
    time_iso: String,
    time_text: String,
    around_url: String,
    /// The text split around matches when searching; otherwise the
    /// sanitized HTML is shown.
    text: Option<Vec<Part>>,
    html: String,
    link: Option<String>,
    reply_to: Option<String>,
    reply_link: Option<String>,
    /// The comment `reply_to` names, when the log holds it.
    parent: Option<reply::Parent>,
    amount: Option<String>,
    likes: i64,
    edited: bool,
    deleted: bool,
    who: who::Who,
    /// What was done on its platform from the dashboard.
    acted: Vec<actions::Mark>,
}

impl RowView {
    fn new(seq: i64, c: &Comment, q: Option<&str>, parent: Option<reply::Parent>) -> RowView {
        let author_key = if c.author.id.is_empty() {
            &c.author.name
        } else {
            &c.author.id
        };
        RowView {
            seq,
            source: c.source.clone(),
            source_url: href("/log", &[("source", c.source.clone())]),
            author: parts(&c.author.name, q),
            author_url: href("/log", &[("author", author_key.clone())]),
            time_iso: rfc3339::format(&c.published_at),
            time_text: c.published_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            around_url: around_url(c, seq),
            text: q.map(|q| parts(&c.text, Some(q))),
            html: c.html.as_str().to_owned(),
            link: platform_link(&c.source, &c.id),
            reply_link: c
                .reply_to
                .as_deref()
                .and_then(|parent| platform_link(&c.source, parent)),
            reply_to: c.reply_to.clone(),
            parent,
            amount: c.amount.as_ref().map(|a| a.display.clone()),
            likes: c.likes,
            edited: c.edited,
            deleted: c.deleted,
            who: who::Who::of(c),
            acted: Vec::new(),
        }
    }
}

/// The filter form's values, as typed.
#[derive(Default)]
struct Form {
    q: String,
    source: String,
    author: String,
    since: String,
    until: String,
    deleted: String,
    edited: String,
    replies: String,
    paid: String,
    featured: String,
    highlighted: String,
    /// Roles and kinds, comma lists (`role=` and `kind=` may repeat).
    role: String,
    kind: String,
}

impl Form {
    /// The *Who* menu's options.
    fn role_choices(&self) -> Vec<choice::Choice> {
        choice::roles(&self.role)
    }

    /// The *Kind* menu's options.
    fn kind_choices(&self) -> Vec<choice::Choice> {
        choice::kinds(&self.kind)
    }

    fn from_pairs(pairs: &[(String, String)]) -> Form {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let all = |k: &str| {
            let values: Vec<&str> = pairs
                .iter()
                .filter(|(key, v)| key == k && !v.is_empty())
                .map(|(_, v)| v.as_str())
                .collect();
            values.join(",")
        };
        Form {
            q: get("q"),
            source: get("source"),
            author: get("author"),
            since: get("since"),
            until: get("until"),
            deleted: get("deleted"),
            edited: get("edited"),
            replies: get("replies"),
            paid: get("paid"),
            featured: get("featured"),
            highlighted: get("highlighted"),
            role: all("role"),
            kind: all("kind"),
        }
    }

    fn from_params(p: &Params) -> Form {
        let s = &p.selection;
        // What an HTML datetime-local field shows: no offset, UTC here.
        let local = |t: &Option<DateTime<Utc>>| {
            t.map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default()
        };
        Form {
            q: s.q.clone().unwrap_or_default(),
            source: s
                .source
                .as_ref()
                .map(|f| f.as_param().to_owned())
                .unwrap_or_default(),
            author: s.author.clone().unwrap_or_default(),
            since: local(&s.since),
            until: local(&s.until),
            deleted: s.deleted.as_param().into(),
            edited: s.edited.as_param().into(),
            replies: s.replies.as_param().into(),
            paid: s.paid.as_param().into(),
            featured: s.featured.as_param().into(),
            highlighted: s.highlighted.as_param().into(),
            role: join(s.roles.iter().map(|r| r.as_str())),
            kind: join(s.kinds.iter().map(|k| k.as_str())),
        }
    }
}

/// Names as one comma list.
fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(",")
}

/// An entry of a ranking in the statistics panel, with where it leads.
struct Ranked {
    label: String,
    detail: String,
    count: u64,
    url: String,
}

/// One bar of the server-rendered chart; `start` (RFC 3339, UTC) and
/// `count` also let `log.js` retitle it in the viewer's time zone.
struct Bar {
    x: usize,
    y: f64,
    height: f64,
    start: String,
    count: u64,
}

/// The statistics panel, rendered on the server (`?stats=1`).
struct StatsView {
    stats: Stats,
    authors: Vec<Ranked>,
    busiest: Vec<Ranked>,
    /// The bars of the chart, in a 0–100 box.
    bars: Vec<Bar>,
    /// Width of the chart in bars: at least 24, so a short stretch still
    /// reads as bars (they sit at the right, the latest end).
    slots: usize,
    peak: f64,
}

impl StatsView {
    fn new(stats: Stats, base: &[(&'static str, String)]) -> StatsView {
        let with = |extra: &[(&'static str, String)], drop: &[&str]| {
            let mut pairs: Vec<(&str, String)> = base
                .iter()
                .filter(|(k, _)| !drop.contains(k) && !extra.iter().any(|(e, _)| e == k))
                .cloned()
                .collect();
            pairs.extend(extra.iter().cloned());
            href("/log", &pairs)
        };
        let authors = stats
            .top_authors
            .iter()
            .map(|a| Ranked {
                label: a.name.clone(),
                detail: a.id.clone(),
                count: a.count,
                url: with(
                    &[(
                        "author",
                        if a.id.is_empty() {
                            a.name.clone()
                        } else {
                            a.id.clone()
                        },
                    )],
                    &[],
                ),
            })
            .collect();
        let busiest = stats
            .busiest
            .iter()
            .filter_map(|m| {
                let t = DateTime::parse_from_rfc3339(&m.minute)
                    .ok()?
                    .with_timezone(&Utc);
                Some(Ranked {
                    label: t.format("%Y-%m-%d %H:%M UTC").to_string(),
                    detail: m.minute.clone(),
                    count: m.count,
                    url: with(
                        &[
                            ("since", rfc3339::format(&t)),
                            ("until", rfc3339::format(&(t + Duration::minutes(1)))),
                        ],
                        &[],
                    ),
                })
            })
            .collect();
        let peak = stats
            .per_minute
            .iter()
            .map(|b| b.per_minute)
            .fold(0.0, f64::max);
        let slots = stats.per_minute.len().max(24);
        let offset = slots - stats.per_minute.len();
        let bars = stats
            .per_minute
            .iter()
            .enumerate()
            .filter(|(_, b)| b.count > 0)
            .map(|(i, b)| {
                let h = if peak > 0.0 {
                    b.per_minute / peak * 100.0
                } else {
                    0.0
                };
                Bar {
                    x: offset + i,
                    y: 100.0 - h,
                    height: h,
                    start: b.start.clone(),
                    count: b.count,
                }
            })
            .collect();
        StatsView {
            stats,
            authors,
            busiest,
            bars,
            slots,
            peak,
        }
    }
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    version: &'static str,
    form: Form,
    /// Sources for the filter menu: platforms first, then each source.
    sources: Vec<String>,
    rows: Vec<RowView>,
    error: Option<String>,
    searching: Option<String>,
    filtered: bool,
    older_url: Option<String>,
    newest_url: Option<String>,
    json_url: String,
    csv_url: String,
    csv_bom_url: String,
    jsonl_url: String,
    stats_api_url: String,
    stats_page_url: String,
    stats: Option<StatsView>,
    /// The selected range (RFC 3339, UTC; empty when open): the chart's
    /// edges in `log.js`.
    since_iso: String,
    until_iso: String,
    /// Shows *Sign out* (a token is set, so this browser signed in).
    signed_in: bool,
}

/// `GET /log`.
async fn page(
    State(log): State<CommentLog>,
    State(cockpit): State<super::Cockpit>,
    State(auth): State<super::Auth>,
    headers: HeaderMap,
    Query(mut pairs): Query<Vec<(String, String)>>,
) -> Response {
    let signed_in = auth.enabled();
    let me = super::auth::session_hash(&headers);
    // `actions=1` is the Actions view; the comment filters do not apply.
    let wants_actions = pairs.iter().any(|(k, v)| k == "actions" && v == "1");
    pairs.retain(|(k, _)| k != "actions");
    if wants_actions {
        return actions::view(&log, me.as_deref(), signed_in).await;
    }
    let render = |status, page: &mut LogPage| {
        page.signed_in = signed_in;
        super::render::page(status, page)
    };
    let params = match api::params(&pairs, &cockpit).and_then(|p| p.page_limit().map(|l| (p, l))) {
        Ok(ok) => ok,
        Err(e) => {
            let mut page = empty_page(Form::from_pairs(&pairs), e.to_string(), &log).await;
            return render(StatusCode::BAD_REQUEST, &mut page);
        }
    };
    match build(&log, params, me.as_deref()).await {
        Ok(mut page) => render(StatusCode::OK, &mut page),
        Err(e) => {
            error!(error = %e, "the log page could not read the comment log");
            let mut page = empty_page(
                Form::from_pairs(&pairs),
                "The comment log could not be read; see the server's log.".into(),
                &log,
            )
            .await;
            render(StatusCode::INTERNAL_SERVER_ERROR, &mut page)
        }
    }
}

async fn build(
    log: &CommentLog,
    (params, limit): (Params, u64),
    me: Option<&str>,
) -> Result<LogPage, crate::store::LogError> {
    let sel = params.selection.clone();
    let page = log.page(sel.clone(), params.before_seq, limit).await?;
    let stats = if params.stats {
        Some(log.stats(sel.clone()).await?)
    } else {
        None
    };
    let sources = choice::source_menu(log.sources().await?, sel.source.as_ref());
    let mut base = sel.to_pairs();
    if let Some(l) = params.limit {
        base.push(("limit", l.to_string()));
    }
    let with = |extra: &[(&'static str, String)]| {
        let mut pairs = base.clone();
        pairs.extend(extra.iter().cloned());
        pairs
    };
    let q = sel.q.as_deref();
    let parents = reply::parents(log, &page.comments).await?;
    let mut marks = actions::marks(log, me).await?;
    let rows = page
        .comments
        .iter()
        .map(|(seq, c)| {
            let parent = c
                .reply_to
                .as_ref()
                .and_then(|p| parents.get(&(c.source.clone(), p.clone())).cloned());
            let mut row = RowView::new(*seq, c, q, parent);
            row.acted = marks
                .remove(&(c.source.clone(), c.id.clone()))
                .unwrap_or_default();
            row
        })
        .collect();
    let selection_only = sel.to_pairs();
    let stats = stats.map(|s| StatsView::new(s, &selection_only));
    let mut stats_page = with(&[("stats", "1".into())]);
    if let Some(b) = params.before_seq {
        stats_page.push(("before_seq", b.to_string()));
    }
    Ok(LogPage {
        version: env!("CARGO_PKG_VERSION"),
        form: Form::from_params(&params),
        sources,
        rows,
        error: None,
        searching: sel.q.clone(),
        filtered: !sel.is_everything(),
        older_url: page
            .next_before_seq
            .map(|b| href("/log", &with(&[("before_seq", b.to_string())]))),
        newest_url: params.before_seq.map(|_| href("/log", &base)),
        json_url: href("/api/comments", &base),
        csv_url: href("/api/comments.csv", &selection_only),
        csv_bom_url: href(
            "/api/comments.csv",
            &[selection_only.clone(), vec![("bom", "1".into())]].concat(),
        ),
        jsonl_url: href("/api/comments.jsonl", &selection_only),
        stats_api_url: href("/api/stats", &selection_only),
        stats_page_url: href("/log", &stats_page),
        stats,
        since_iso: sel.since.as_ref().map(rfc3339::format).unwrap_or_default(),
        until_iso: sel.until.as_ref().map(rfc3339::format).unwrap_or_default(),
        signed_in: false,
    })
}

/// The page with the form and a message but no comments: a bad parameter
/// is shown where it can be fixed.
async fn empty_page(form: Form, error: String, log: &CommentLog) -> LogPage {
    let sources = choice::source_menu(log.sources().await.unwrap_or_default(), None);
    LogPage {
        version: env!("CARGO_PKG_VERSION"),
        form,
        sources,
        rows: Vec::new(),
        error: Some(error),
        searching: None,
        filtered: true,
        older_url: None,
        newest_url: None,
        json_url: "/api/comments".into(),
        csv_url: "/api/comments.csv".into(),
        csv_bom_url: "/api/comments.csv?bom=1".into(),
        jsonl_url: "/api/comments.jsonl".into(),
        stats_api_url: String::new(),
        stats_page_url: "/log?stats=1".into(),
        stats: None,
        since_iso: String::new(),
        until_iso: String::new(),
        signed_in: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_link_to_themselves_on_their_platform() {
        assert_eq!(
            platform_link("youtube:dQw4w9WgXcQ", "UgzAbc-_1.x").as_deref(),
            Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc=UgzAbc-_1.x")
        );
        assert_eq!(
            platform_link("youtube-live:dQw4w9WgXcQ", "a&b=c#d").as_deref(),
            Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc=a%26b%3Dc%23d")
        );
        assert_eq!(
            platform_link("bilibili:BV1xx411c7mD", "12345").as_deref(),
            Some("https://www.bilibili.com/video/BV1xx411c7mD#reply12345")
        );
        assert_eq!(
            platform_link("bilibili:170001", "x<y").as_deref(),
            Some("https://www.bilibili.com/video/av170001")
        );
        assert_eq!(platform_link("demo", "demo-1"), None);
        assert_eq!(platform_link("generic:shop", "1"), None);
    }
}
