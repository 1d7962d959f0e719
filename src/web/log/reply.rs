//! The parents of the replies on a `/log` page: who was answered, the start
//! of what they said, and a link to that comment in the log — on this page
//! (`#c<seq>`) when it is here, else the stretch of the log around it.
//! Like the dashboard's "↪ replying to NAME". It reads the log (a lookup
//! per parent not on the page) and writes nothing; the text is plain, for
//! askama to escape.

use std::collections::HashMap;

use chrono::Duration;

use super::{around_url, href};
use crate::domain::Comment;
use crate::store::{CommentLog, LogError, Selection, SourceFilter};

/// How much of the parent's text a reply shows, in characters (as the
/// dashboard does).
const SNIPPET_CHARS: usize = 80;

/// The comment a reply answers, as the reply shows it.
#[derive(Clone)]
pub(super) struct Parent {
    pub author: String,
    pub snippet: String,
    /// `#c<seq>` on this page, or the log around the parent.
    pub url: String,
}

impl Parent {
    fn new(c: &Comment, url: String) -> Parent {
        let mut snippet: String = c.text.chars().take(SNIPPET_CHARS).collect();
        if c.text.chars().nth(SNIPPET_CHARS).is_some() {
            snippet.push('…');
        }
        Parent {
            author: c.author.name.clone(),
            snippet,
            url,
        }
    }
}

/// The parents of the replies among `rows`, by `(source, parent id)`.
/// A parent the log does not hold (fetched before retention pruned it, or
/// never fetched) is simply absent.
pub(super) async fn parents(
    log: &CommentLog,
    rows: &[(i64, Comment)],
) -> Result<HashMap<(String, String), Parent>, LogError> {
    let on_page: HashMap<(&str, &str), (i64, &Comment)> = rows
        .iter()
        .map(|(seq, c)| ((c.source.as_str(), c.id.as_str()), (*seq, c)))
        .collect();
    let mut out = HashMap::new();
    for (_, c) in rows {
        let Some(parent_id) = c.reply_to.as_deref() else {
            continue;
        };
        let key = (c.source.clone(), parent_id.to_owned());
        if out.contains_key(&key) {
            continue;
        }
        if let Some((seq, p)) = on_page.get(&(c.source.as_str(), parent_id)) {
            out.insert(key, Parent::new(p, format!("#c{seq}")));
            continue;
        }
        let Some(p) = log.comment(c.source.clone(), parent_id.to_owned()).await? else {
            continue;
        };
        let url = match seq_of(log, &p).await? {
            Some(seq) => around_url(&p, seq),
            None => href("/log", &[("source", p.source.clone())]),
        };
        out.insert(key, Parent::new(&p, url));
    }
    Ok(out)
}

/// The `seq` of a stored comment: the log is keyed by `seq`, so it is
/// found among the comments of its source posted in the same second.
pub(super) async fn seq_of(log: &CommentLog, c: &Comment) -> Result<Option<i64>, LogError> {
    let sel = Selection {
        source: Some(SourceFilter::Exact(c.source.clone())),
        since: Some(c.published_at),
        until: Some(c.published_at + Duration::seconds(1)),
        ..Selection::default()
    };
    let page = log.page(sel, None, 1_000).await?;
    Ok(page
        .comments
        .iter()
        .find(|(_, x)| x.id == c.id)
        .map(|(seq, _)| *seq))
}
