//! Pinned comments in their time order. Bilibili lists them on the first
//! page whatever their age; one older than that page's oldest listed comment
//! belongs further down, and delivering it on page 1 would store it before
//! newer comments of the pages read after it. So within one poll it is held
//! back and delivered on the later page whose time range covers it, or on the
//! last page read. A later page that fails releases what is held before its
//! error reaches the poller; one still held when the next poll starts (the
//! poll ran out of pages or time) goes out on that poll's first page.
//!
//! What it must not do: hold a comment across more than one poll, or hold
//! one the last poll already gave back.

use std::collections::HashSet;

use super::super::{Page, SourceError};
use super::threads::RootCount;
use crate::domain::RawComment;

/// Pinned comments held back, and those already delivered.
#[derive(Default)]
pub(super) struct PinnedOrder {
    held: Vec<RawComment>,
    delivered: HashSet<String>,
    /// A later page that failed while comments were held: its cursor and
    /// error, answered again without a request when the poller retries it.
    failed: Option<(String, SourceError)>,
}

impl PinnedOrder {
    /// The error a later page just gave, if `cursor` names that page.
    pub(super) fn replay_failure(&mut self, cursor: Option<&str>) -> Option<SourceError> {
        let (failed, error) = self.failed.take()?;
        (cursor == Some(failed.as_str())).then_some(error)
    }

    /// A later page failed. With comments held, they go out now on a page of
    /// their own whose next page is the one that failed, so the poller keeps
    /// them and then meets the error (replayed, not re-requested).
    pub(super) fn on_failure(
        &mut self,
        cursor: &str,
        error: SourceError,
    ) -> Result<Page, SourceError> {
        if self.held.is_empty() {
            return Err(error);
        }
        let mut comments = std::mem::take(&mut self.held);
        comments
            .sort_by_key(|c| std::cmp::Reverse((c.published_at, c.id.parse::<u64>().unwrap_or(0))));
        self.delivered.extend(comments.iter().map(|c| c.id.clone()));
        self.failed = Some((cursor.to_owned(), error));
        Ok(Page {
            comments,
            next: Some(cursor.to_owned()),
            timeline: Some(Vec::new()),
            ..Page::default()
        })
    }

    /// Places the pinned comments of `page` (the first page when `later` is
    /// false) and releases held ones that belong on it.
    pub(super) fn place(&mut self, page: &mut Page, roots: &[RootCount], later: bool) {
        let listed: HashSet<String> = page.timeline.iter().flatten().cloned().collect();
        let oldest_listed = page
            .comments
            .iter()
            .filter(|c| listed.contains(&c.id))
            .filter_map(|c| c.published_at)
            .min();
        if !later {
            // A new poll: what the last one could not place goes out now.
            let leftover: HashSet<String> = self.held.drain(..).map(|c| c.id).collect();
            if page.next.is_some()
                && let Some(oldest) = oldest_listed
            {
                let pinned: HashSet<String> = roots
                    .iter()
                    .filter(|r| r.pinned)
                    .map(|r| r.rpid.to_string())
                    .filter(|id| !listed.contains(id))
                    .collect();
                let (hold, keep): (Vec<RawComment>, Vec<RawComment>) =
                    std::mem::take(&mut page.comments)
                        .into_iter()
                        .partition(|c| {
                            pinned.contains(&c.id)
                                && !leftover.contains(&c.id)
                                && !self.delivered.contains(&c.id)
                                && c.published_at.is_some_and(|t| t < oldest)
                        });
                page.comments = keep;
                self.held = hold;
            }
        } else if !self.held.is_empty() {
            let (release, hold): (Vec<RawComment>, Vec<RawComment>) =
                std::mem::take(&mut self.held).into_iter().partition(|c| {
                    page.next.is_none()
                        || oldest_listed.is_none_or(|oldest| c.published_at >= Some(oldest))
                });
            self.held = hold;
            page.comments.extend(release);
            page.comments.sort_by_key(|c| {
                std::cmp::Reverse((c.published_at, c.id.parse::<u64>().unwrap_or(0)))
            });
        }
        for root in roots.iter().filter(|r| r.pinned) {
            let id = root.rpid.to_string();
            if page.comments.iter().any(|c| c.id == id) {
                self.delivered.insert(id);
            }
        }
    }
}
