//! Bilibili video replies (`bilibili:BVID` or `bilibili:AID`).
//!
//! Asks `/x/v2/reply/wbi/main` for a video's replies newest first (`mode=2`),
//! signs every request with WBI (keys from `/x/web-interface/nav`, cached),
//! and turns each reply — roots, their preview children and, on the first
//! page, pinned comments — into a `RawComment`. Body `code`s become
//! `SourceError`s: risk control backs off, closed or missing videos stop, a
//! silent empty page 2 asks for a login cookie.
//!
//! Here: the settings and the requests. `wbi` signs them, `codes` reads
//! the body codes, `replies` reads a page, `threads` reads every reply of a
//! root past its previews, `order` places pinned comments in their time
//! order, `view` the video's title; video ids are
//! `crate::domain::video::bilibili`'s.
//!
//! What it must not do: build HTML (the text goes out as plain text, emote
//! tokens included, and the sanitizer escapes it), put the cookie or a request
//! URL into any error or log line, or read an empty later page as "no new
//! comments".
//!
//! The endpoints are undocumented by Bilibili and change without notice
//! (docs/SOURCES.md, "Bilibili: what the code relies on"); every field is therefore read defensively,
//! one reply at a time.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, HeaderValue, ORIGIN, REFERER, USER_AGENT};

use super::http::{BROWSER_UA, Http, JsonResponse};
use super::{BoxFuture, Page, PolledSource, Source, SourceError};
use crate::domain::SourceSpec;
pub use crate::domain::video::bilibili::{VideoId, av_to_bv, bv_to_av, parse_video_id};

mod codes;
pub mod live;
mod order;
mod replies;
mod threads;
mod view;
mod wbi;

use codes::*;
use replies::*;
use threads::*;
use wbi::*;
pub use wbi::{mixin_key, sign_query};

/// The reply list, newest first with `mode=2`.
const REPLY_PATH: &str = "/x/v2/reply/wbi/main";

/// Where the WBI keys come from; answers logged out too.
const NAV_PATH: &str = "/x/web-interface/nav";

/// What the web player sends as `web_location` for the comment section.
const WEB_LOCATION: &str = "1315875";

/// The keys are said to rotate daily; refreshing twice as often costs one
/// cheap request and keeps a stale key from ever meeting a risk check.
const KEYS_MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// Settings shared by every Bilibili source.
#[derive(Clone)]
pub struct BilibiliSettings {
    /// Scheme and host; requests go to `{api_base}/x/…`. `BILIBILI_API_BASE`.
    pub api_base: String,
    /// Sent as the `Cookie` header when set. `BILIBILI_COOKIE`.
    pub cookie: Option<String>,
    /// Never poll faster than this. `BILIBILI_MIN_INTERVAL`.
    pub min_interval: Duration,
}

/// Written by hand so that printing the config can never show the cookie: it
/// holds `SESSDATA`, which is a login.
impl fmt::Debug for BilibiliSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BilibiliSettings")
            .field("api_base", &self.api_base)
            .field("cookie", &self.cookie.as_ref().map(|_| "(hidden)"))
            .field("min_interval", &self.min_interval)
            .finish()
    }
}

impl Source for Bilibili {
    fn name(&self) -> String {
        SourceSpec::Bilibili(self.video.clone()).to_string()
    }

    fn title(&self) -> Option<String> {
        self.title.get().cloned()
    }
}

impl PolledSource for Bilibili {
    fn min_interval(&self) -> Option<Duration> {
        Some(self.min_interval)
    }

    fn fetch_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, SourceError>> {
        Box::pin(Bilibili::fetch_page(self, cursor))
    }
}

/// The mixin key with the moment it was derived.
struct CachedKeys {
    mixin: String,
    fetched_at: Instant,
}

/// One Bilibili video's comment section.
pub struct Bilibili {
    /// As configured, for the source name.
    video: String,
    /// The `oid` of every request.
    aid: u64,
    /// The video's page, as a browser on it would send.
    referer: HeaderValue,
    /// Marked sensitive so reqwest never prints it.
    cookie: Option<HeaderValue>,
    api_base: String,
    min_interval: Duration,
    http: Http,
    /// A tokio mutex: it is held across the nav request so that concurrent
    /// polls fetch the keys once, not once each.
    keys: tokio::sync::Mutex<Option<CachedKeys>>,
    /// The video's title from its view info, once read.
    title: std::sync::OnceLock<String>,
    title_attempts: std::sync::atomic::AtomicU32,
    /// Per root, the replies last fetched in full (`threads`).
    threads: std::sync::Mutex<ThreadMemory>,
    /// Reply pages this poll may still read (`threads`).
    thread_budget: std::sync::Mutex<u32>,
    /// Reply pages read for a root seen for the first time
    /// (`CW_BACKFILL_PAGES`, at most a poll's budget).
    thread_backfill: u64,
    /// Pinned comments held back to be stored in their time order (`order`).
    pinned: std::sync::Mutex<order::PinnedOrder>,
    /// The rpids the latest first page listed as pinned: a later page that
    /// lists one again (without Bilibili's mark there) keeps it pinned.
    pinned_ids: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Risk control answered a reply page: no request before then.
    blocked_until: std::sync::Mutex<Option<Instant>>,
}

impl Bilibili {
    /// A source for `video` (a BV id or av number). The error names the
    /// problem without repeating the cookie.
    pub fn new(video: &str, settings: BilibiliSettings, http: Http) -> Result<Bilibili, String> {
        let (aid, page) = match parse_video_id(video) {
            Some(VideoId::Bv(bv)) => (bv_to_av(&bv).expect("parse_video_id checked it"), bv),
            Some(VideoId::Av(aid)) => (aid, format!("av{aid}")),
            None => return Err(format!("{video:?} is not a BV id or av number")),
        };
        let referer = HeaderValue::from_str(&format!("https://www.bilibili.com/video/{page}"))
            .map_err(|_| format!("{video:?} cannot be sent in a Referer header"))?;
        let cookie = match settings.cookie.as_deref() {
            Some(c) => {
                let mut value = HeaderValue::from_str(c).map_err(|_| {
                    "BILIBILI_COOKIE cannot be sent as a header (expected printable ASCII)"
                        .to_owned()
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Bilibili {
            video: video.to_owned(),
            aid,
            referer,
            cookie,
            api_base: settings.api_base.trim_end_matches('/').to_owned(),
            min_interval: settings.min_interval,
            http,
            keys: tokio::sync::Mutex::new(None),
            title: std::sync::OnceLock::new(),
            title_attempts: std::sync::atomic::AtomicU32::new(0),
            threads: std::sync::Mutex::new(ThreadMemory::new()),
            thread_budget: std::sync::Mutex::new(0),
            thread_backfill: THREAD_BACKFILL_PAGES,
            pinned: std::sync::Mutex::new(order::PinnedOrder::default()),
            pinned_ids: std::sync::Mutex::new(std::collections::HashSet::new()),
            blocked_until: std::sync::Mutex::new(None),
        })
    }

    /// Reads at most `pages` reply pages (the newest) of a root seen for the
    /// first time, as `CW_BACKFILL_PAGES` caps a source's first read; never
    /// more than one poll's budget of reply pages, so such a root is always
    /// read to its cap in one poll.
    pub fn with_backfill_pages(mut self, pages: u32) -> Bilibili {
        self.thread_backfill = u64::from(pages.clamp(1, THREAD_PAGES_PER_POLL));
        self
    }

    /// The id as configured, e.g. `BV1xx411c7mD` or `av170001`.
    pub fn video_id(&self) -> &str {
        &self.video
    }

    /// The shortest time allowed between two polls of this video.
    pub fn min_interval(&self) -> Duration {
        self.min_interval
    }

    /// Fetches one page of replies, newest first: the newest page when
    /// `cursor` is `None`, else the page after the one that returned it.
    ///
    /// A response that says the signature is stale (-352, -403 or a captcha
    /// `v_voucher`) is retried once with freshly fetched keys.
    pub async fn fetch_page(&self, cursor: Option<&str>) -> Result<Page, SourceError> {
        if cursor.is_none() {
            self.look_up_title().await;
        }
        if let Some(error) = self
            .pinned
            .lock()
            .expect("pinned order")
            .replay_failure(cursor)
        {
            return Err(error);
        }
        let read = self.read_list_page(cursor).await;
        let (mut page, roots) = match (read, cursor) {
            (Ok(read), _) => read,
            (Err(e), Some(cursor)) => {
                return self
                    .pinned
                    .lock()
                    .expect("pinned order")
                    .on_failure(cursor, e);
            }
            (Err(e), None) => return Err(e),
        };
        self.mark_pinned(&mut page, &roots, cursor.is_none());
        self.pinned
            .lock()
            .expect("pinned order")
            .place(&mut page, &roots, cursor.is_some());
        self.fetch_threads(&mut page, &roots, cursor.is_none())
            .await;
        Ok(page)
    }

    /// Marks every copy of a pinned comment on `page` pinned: the first page
    /// says which are (`top`, `top_replies`), a later page may list one
    /// again among the others without saying so.
    fn mark_pinned(&self, page: &mut Page, roots: &[RootCount], first_page: bool) {
        let mut ids = self.pinned_ids.lock().expect("pinned ids");
        if first_page {
            *ids = roots
                .iter()
                .filter(|r| r.pinned)
                .map(|r| r.rpid.to_string())
                .collect();
        }
        for c in page.comments.iter_mut().filter(|c| ids.contains(&c.id)) {
            c.pinned = true;
        }
    }

    /// One page of the reply list, re-signed once if the signature is stale.
    async fn read_list_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<(Page, Vec<RootCount>), SourceError> {
        if let Some(blocked) = self.still_blocked() {
            return Err(blocked);
        }
        let mut resp = self.request_replies(cursor, false).await?;
        if wants_new_signature(&resp.body) {
            resp = self.request_replies(cursor, true).await?;
        }
        read_page(&resp, cursor.is_some())
    }

    /// One signed request for the reply list.
    async fn request_replies(
        &self,
        cursor: Option<&str>,
        fresh_keys: bool,
    ) -> Result<JsonResponse, SourceError> {
        let mixin = self.mixin_key(fresh_keys).await?;
        let oid = self.aid.to_string();
        // The cursor goes back exactly as received, inside a JSON object;
        // serde_json does the escaping of its quotes.
        let pagination = serde_json::json!({ "offset": cursor.unwrap_or("") }).to_string();
        let query = sign_query(
            &[
                ("oid", &oid),
                ("type", "1"),
                ("mode", "2"),
                ("pagination_str", &pagination),
                ("plat", "1"),
                ("web_location", WEB_LOCATION),
            ],
            &mixin,
            chrono::Utc::now().timestamp(),
        );
        let url = format!("{}{REPLY_PATH}?{query}", self.api_base);
        self.send(&url).await
    }

    /// The mixin key, from the cache unless it is old or `refresh` is set.
    async fn mixin_key(&self, refresh: bool) -> Result<String, SourceError> {
        let mut cached = self.keys.lock().await;
        if !refresh
            && let Some(keys) = cached.as_ref()
            && keys.fetched_at.elapsed() < KEYS_MAX_AGE
        {
            return Ok(keys.mixin.clone());
        }
        let resp = self.send(&format!("{}{NAV_PATH}", self.api_base)).await?;
        let mixin = read_nav(&resp)?;
        *cached = Some(CachedKeys {
            mixin: mixin.clone(),
            fetched_at: Instant::now(),
        });
        Ok(mixin)
    }

    /// A GET with the headers a browser on the video's page would send.
    async fn send(&self, url: &str) -> Result<JsonResponse, SourceError> {
        let mut req = self
            .http
            .client
            .get(url)
            .header(USER_AGENT, BROWSER_UA)
            .header(REFERER, self.referer.clone())
            .header(ORIGIN, "https://www.bilibili.com");
        if let Some(cookie) = &self.cookie {
            req = req.header(COOKIE, cookie.clone());
        }
        self.http.json(req).await.map_err(blocked_page)
    }
}

#[cfg(test)]
mod tests;
