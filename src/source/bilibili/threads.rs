//! Every reply of a root comment, not only the three previews the reply list
//! carries: `/x/v2/reply/reply` (`type=1`, `oid`, `root`, `pn`, `ps`), which
//! lists a root's replies oldest first by page number. Read here from the
//! last page backwards, stopping at a page that holds a reply already seen.
//!
//! Here: which roots need their replies, reading one reply page, and the
//! per-root memory of what was fetched. The requests themselves are
//! `mod.rs`'s. What it must not do: fail the main page because a root's
//! replies could not be read (they are tried again on the next poll), or
//! send more than `THREAD_PAGES_PER_POLL` requests in one poll.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::super::http::JsonResponse;
use super::super::{Page, SourceError};
use super::*;

/// The reply pages of one root, oldest first.
pub(super) const THREAD_PATH: &str = "/x/v2/reply/reply";
/// Replies per reply page (the web client's own size).
pub(super) const THREAD_PAGE_SIZE: u64 = 20;
/// Reply pages one poll may read across all roots, so a busy comment
/// section cannot turn one poll into a burst Bilibili's risk control sees.
pub(super) const THREAD_PAGES_PER_POLL: u32 = 10;
/// Reply pages read for a root the source has not seen before, unless
/// `CW_BACKFILL_PAGES` says otherwise (`Bilibili::with_backfill_pages`): the
/// newest ones, as the reply list's own first backfill keeps to the newest
/// pages.
pub(super) const THREAD_BACKFILL_PAGES: u64 = 5;
/// The least time between two requests of one poll.
pub(super) const REQUEST_GAP: Duration = Duration::from_millis(250);

/// A root on a reply-list page with what it says about its replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RootCount {
    pub rpid: u64,
    /// `rcount`: replies Bilibili counts under the root.
    pub rcount: u64,
    /// Replies the reply list delivered inline.
    pub previews: u64,
    /// Listed outside the time-ordered list (`top.upper`, `top_replies`).
    pub pinned: bool,
}

/// What was fetched of a root's replies the last time they were complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ThreadSeen {
    /// The root's `rcount` then.
    pub count: u64,
    /// The newest reply's rpid then (rpids grow with time).
    pub newest: u64,
}

/// Per root, what was seen, so an idle poll asks for no reply page.
pub(super) type ThreadMemory = HashMap<u64, ThreadSeen>;

/// Roots whose replies need fetching: more than the previews, and a count
/// that changed since their replies were last fetched in full.
pub(super) fn roots_to_fetch(roots: &[RootCount], memory: &ThreadMemory) -> Vec<RootCount> {
    let mut wanted: Vec<RootCount> = Vec::new();
    for root in roots {
        if root.rcount <= root.previews || wanted.iter().any(|r| r.rpid == root.rpid) {
            continue;
        }
        if memory.get(&root.rpid).map(|s| s.count) != Some(root.rcount) {
            wanted.push(*root);
        }
    }
    wanted
}

/// The last page number for `count` replies.
pub(super) fn last_page(count: u64) -> u64 {
    count.div_ceil(THREAD_PAGE_SIZE).max(1)
}

/// One reply page: its replies (each answering its `parent`, else the root)
/// and the count the page reports.
pub(super) fn read_thread_page(resp: &JsonResponse, root: u64) -> Result<Vec<Reply>, SourceError> {
    let body = &resp.body;
    let Some(code) = body_code(body) else {
        if resp.status == StatusCode::PRECONDITION_FAILED {
            return Err(risk_control("HTTP 412"));
        }
        return Err(SourceError::transient(format!(
            "a reply page came without a Bilibili code (HTTP {})",
            resp.status.as_u16()
        )));
    };
    if code != 0 {
        return Err(code_error(code, body["message"].as_str()));
    }
    let items: &[Value] = match &body["data"]["replies"] {
        Value::Array(items) => items,
        _ => &[],
    };
    let upper = upper_mid(&body["data"]);
    Ok(items
        .iter()
        .filter_map(|v| read_reply(v, upper))
        .map(|mut r| {
            if r.comment.reply_to.is_none() {
                r.comment.reply_to = Some(root.to_string());
            }
            r
        })
        .collect())
}

impl Bilibili {
    /// Adds to `page` the replies of its roots that go past the previews,
    /// newest reply pages first. A root whose pages could not all be read is
    /// not remembered, so the next poll asks again; risk control stops the
    /// reading and backs the whole source off, keeping what was read.
    ///
    /// `first_page` starts a poll, and with it a new budget of reply pages.
    pub(super) async fn fetch_threads(
        &self,
        page: &mut Page,
        roots: &[RootCount],
        first_page: bool,
    ) {
        if first_page {
            *self.thread_budget.lock().expect("budget") = THREAD_PAGES_PER_POLL;
        }
        let wanted = roots_to_fetch(roots, &self.threads.lock().expect("thread memory"));
        let mut budget = *self.thread_budget.lock().expect("budget");
        let mut fetched: Vec<Reply> = Vec::new();
        'roots: for root in wanted {
            let known = self
                .threads
                .lock()
                .expect("thread memory")
                .get(&root.rpid)
                .copied();
            let mut newest = known.map_or(0, |k| k.newest);
            let mut complete = false;
            for (read, pn) in (1..=last_page(root.rcount)).rev().enumerate() {
                if known.is_none() && read as u64 >= self.thread_backfill {
                    // A first sighting keeps to the newest pages.
                    complete = true;
                    break;
                }
                if budget == 0 {
                    break 'roots;
                }
                budget -= 1;
                tokio::time::sleep(REQUEST_GAP).await;
                let result = match self.request_thread_page(root.rpid, pn).await {
                    Ok(resp) => read_thread_page(&resp, root.rpid),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(replies) => {
                        let reached =
                            known.is_some_and(|k| replies.iter().any(|r| r.rpid <= k.newest));
                        newest = replies.iter().map(|r| r.rpid).fold(newest, u64::max);
                        fetched.extend(replies);
                        if reached || pn == 1 {
                            complete = true;
                            break;
                        }
                    }
                    Err(e) if is_backoff(&e) => {
                        if let SourceError::Transient {
                            retry_after: Some(wait),
                            ..
                        } = &e
                        {
                            page.wait_at_least = page.wait_at_least.max(Some(*wait));
                            *self.blocked_until.lock().expect("backoff") =
                                Some(std::time::Instant::now() + *wait);
                        }
                        tracing::warn!(source = %self.video, "reply pages: {e}");
                        break 'roots;
                    }
                    Err(e) => {
                        tracing::warn!(source = %self.video, "a root's reply page: {e}");
                        continue 'roots;
                    }
                }
            }
            if complete {
                self.threads.lock().expect("thread memory").insert(
                    root.rpid,
                    ThreadSeen {
                        count: root.rcount,
                        newest,
                    },
                );
            }
        }
        *self.thread_budget.lock().expect("budget") = budget;
        if fetched.is_empty() {
            return;
        }
        let on_page: std::collections::HashSet<String> =
            page.comments.iter().map(|c| c.id.clone()).collect();
        let mut seen = std::collections::HashSet::new();
        page.comments.extend(
            fetched
                .into_iter()
                .filter(|r| !on_page.contains(&r.comment.id) && seen.insert(r.rpid))
                .map(|r| r.comment),
        );
        // Newest first, as the page promises, replies among the rest.
        page.comments
            .sort_by_key(|c| std::cmp::Reverse((c.published_at, c.id.parse::<u64>().unwrap_or(0))));
    }

    /// One page of a root's replies (unsigned, as the web client sends it).
    async fn request_thread_page(&self, root: u64, pn: u64) -> Result<JsonResponse, SourceError> {
        let url = format!(
            "{}{THREAD_PATH}?type=1&oid={}&root={root}&pn={pn}&ps={THREAD_PAGE_SIZE}",
            self.api_base, self.aid
        );
        self.send(&url).await
    }

    /// The risk-control backoff still running, as the error to return
    /// instead of sending a request.
    pub(super) fn still_blocked(&self) -> Option<SourceError> {
        let until = (*self.blocked_until.lock().expect("backoff"))?;
        let left = until.checked_duration_since(std::time::Instant::now())?;
        Some(SourceError::Transient {
            reason: "Bilibili risk control: backing off".into(),
            retry_after: Some(left),
        })
    }
}

/// True for an error that should back the whole source off.
pub(super) fn is_backoff(e: &SourceError) -> bool {
    matches!(
        e,
        SourceError::Transient {
            retry_after: Some(_),
            ..
        } | SourceError::Quota { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(rpid: u64, rcount: u64, previews: u64) -> RootCount {
        RootCount {
            rpid,
            rcount,
            previews,
            pinned: false,
        }
    }

    #[test]
    fn only_roots_with_more_replies_than_previews_and_a_changed_count_are_fetched() {
        let mut memory = ThreadMemory::new();
        memory.insert(
            2,
            ThreadSeen {
                count: 60,
                newest: 9,
            },
        );
        memory.insert(
            3,
            ThreadSeen {
                count: 60,
                newest: 9,
            },
        );
        let roots = [
            root(1, 3, 3),
            root(2, 60, 3),
            root(3, 61, 3),
            root(4, 10, 3),
        ];
        let wanted: Vec<u64> = roots_to_fetch(&roots, &memory)
            .iter()
            .map(|r| r.rpid)
            .collect();
        assert_eq!(wanted, [3, 4]);
    }

    #[test]
    fn the_last_page_covers_the_count() {
        assert_eq!(last_page(0), 1);
        assert_eq!(last_page(20), 1);
        assert_eq!(last_page(21), 2);
        assert_eq!(last_page(60), 3);
    }
}
