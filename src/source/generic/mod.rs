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
//! `settings` reads the variables, `items` maps a response; here are the
//! requests and the paging.
//!
//! What it must not do: sanitize, store or publish anything (the sanitizer
//! and the poller do that); trust the response's shape; or put header values
//! or the URL in any error text, `Debug` output or log line — the headers
//! usually hold a token and query strings often hold API keys.

use reqwest::StatusCode;
use reqwest::Url;
use reqwest::header::ACCEPT;
use serde_json::Value;

use super::http::Http;
use super::{BoxFuture, Page, PolledSource, Source, SourceError};
use crate::domain::SourceSpec;

mod items;
mod settings;

use items::*;
use settings::*;
pub use settings::{Cursor, GenericSettings, Order, TextFormat, env_prefix};

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
                return Err(SourceError::Settings {
                    reason: format!(
                        "{} {:?} matches nothing usable in any of the {} items of the first page",
                        s.var(suffix),
                        pointer.0,
                        items.len()
                    ),
                });
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
            // than hostile data: the source's status names the variables
            // (never the data), rather than showing "ok" over an empty feed.
            return Err(SourceError::Settings {
                reason: format!(
                    "no item of the page had both {} {:?} and {} {:?} ({} items skipped)",
                    s.var("ID"),
                    s.id.0,
                    s.var("TEXT"),
                    s.text.0,
                    page.skipped
                ),
            });
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
mod tests;
