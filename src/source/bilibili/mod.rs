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
//! the body codes, `replies` reads a page, `view` the video's title; video ids are
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
            blocked_until: std::sync::Mutex::new(None),
        })
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
        if let Some(blocked) = self.still_blocked() {
            return Err(blocked);
        }
        let mut resp = self.request_replies(cursor, false).await?;
        if wants_new_signature(&resp.body) {
            resp = self.request_replies(cursor, true).await?;
        }
        let (mut page, roots) = read_page(&resp, cursor.is_some())?;
        self.fetch_threads(&mut page, &roots).await;
        Ok(page)
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
mod tests {
    use reqwest::StatusCode;
    use serde_json::Value;

    use super::*;
    use crate::domain::RawComment;

    const MODE2: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fixtures/bilibili_reply_main_mode2.json"
    ));
    const LEGACY: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fixtures/bilibili_reply_legacy.json"
    ));
    const UNAUTH_PAGE2: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fixtures/bilibili_reply_main_unauth_page2_empty.json"
    ));
    const ERROR_412: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fixtures/bilibili_error_412.json"
    ));

    fn response(status: u16, body: &str) -> JsonResponse {
        JsonResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: serde_json::from_str(body).unwrap(),
        }
    }

    fn page(body: &str, later_page: bool) -> Result<Page, SourceError> {
        read_page(&response(200, body), later_page).map(|(page, _)| page)
    }

    fn find<'a>(page: &'a Page, id: &str) -> &'a RawComment {
        page.comments
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("comment {id} is on the page"))
    }

    #[test]
    fn the_documented_wbi_test_vector_gives_the_documented_mixin_key_and_w_rid() {
        let mixin = mixin_key(
            "7cd084941338484aae1ad9425b84077c",
            "4932caff0ff746eab6f01bf08b70ac45",
        )
        .unwrap();
        assert_eq!(mixin, "ea1db124af3c7062474693fa704f4ff8");
        let query = sign_query(
            &[("foo", "114"), ("bar", "514"), ("zab", "1919810")],
            &mixin,
            1702204169,
        );
        assert_eq!(
            query,
            "bar=514&foo=114&wts=1702204169&zab=1919810&w_rid=8f6f2b5b3d485fe1886cec6a0be8c5d4"
        );
    }

    #[test]
    fn wbi_values_are_stripped_of_reserved_marks_and_encoded_like_encode_uri_component() {
        let query = sign_query(
            &[
                ("q", "a b!'()*c~-_.中"),
                ("pagination_str", r#"{"offset":""}"#),
            ],
            "m",
            1,
        );
        let (signed, _) = query.split_once("&w_rid=").unwrap();
        assert_eq!(
            signed,
            "pagination_str=%7B%22offset%22%3A%22%22%7D&q=a%20bc~-_.%E4%B8%AD&wts=1"
        );
    }

    #[test]
    fn keys_too_short_for_the_shuffle_table_are_refused() {
        assert_eq!(mixin_key("abc", "def"), None);
        assert_eq!(mixin_key(&"a".repeat(32), &"é".repeat(16)), None);
    }

    #[test]
    fn the_newest_page_yields_every_reply_once_with_the_pinned_duplicate_collapsed() {
        let page = page(MODE2, false).unwrap();
        let ids: Vec<&str> = page.comments.iter().map(|c| c.id.as_str()).collect();
        // Five roots, one preview child, one pinned comment listed twice.
        assert_eq!(
            ids,
            [
                "262810020097",
                "262810021830",
                "262810018364",
                "262810016631",
                "262810014898",
                "262810013165",
                "262810004500",
            ]
        );
        assert_eq!(page.skipped, 0);
        assert_eq!(
            page.next.as_deref(),
            Some(r#"{"type":3,"direction":1,"Data":{"cursor":1267}}"#)
        );
        assert!(page.comments.iter().all(|c| c.html.is_none()));
    }

    #[test]
    fn a_sixteen_digit_mid_is_kept_exactly() {
        let page = page(MODE2, false).unwrap();
        assert_eq!(find(&page, "262810020097").author_id, "3546791234567890");
    }

    #[test]
    fn a_preview_child_answers_its_parent_and_roots_answer_nobody() {
        let page = page(MODE2, false).unwrap();
        let child = find(&page, "262810021830");
        assert_eq!(child.reply_to.as_deref(), Some("262810018364"));
        assert_eq!(child.author_name, "夜空のメロディ");
        assert_eq!(find(&page, "262810018364").reply_to, None);
    }

    #[test]
    fn text_is_kept_verbatim_emote_tokens_and_hostile_markup_included() {
        let page = page(MODE2, false).unwrap();
        let hostile = find(&page, "262810020097");
        assert_eq!(
            hostile.text,
            "<img src=x onerror=alert(document.cookie)>[doge]"
        );
        assert!(find(&page, "262810018364").text.contains("[笑哭][笑哭]"));
        let pinned = find(&page, "262810004500");
        assert_eq!(pinned.likes, 520);
        assert_eq!(
            pinned.published_at.unwrap().timestamp(),
            1773482400,
            "ctime is unix seconds"
        );
    }

    #[test]
    fn http_avatars_are_upgraded_to_https() {
        assert_eq!(
            https_avatar("http://i0.hdslb.com/bfs/face/a.jpg"),
            "https://i0.hdslb.com/bfs/face/a.jpg"
        );
        assert_eq!(
            https_avatar("//i1.hdslb.com/bfs/face/b.jpg"),
            "https://i1.hdslb.com/bfs/face/b.jpg"
        );
        let page = page(MODE2, false).unwrap();
        assert!(
            page.comments.iter().all(|c| c
                .author_avatar
                .as_deref()
                .unwrap()
                .starts_with("https://"))
        );
    }

    #[test]
    fn malformed_replies_are_skipped_and_counted_without_sinking_the_page() {
        let mut body: Value = serde_json::from_str(MODE2).unwrap();
        let replies = body["data"]["replies"].as_array_mut().unwrap();
        replies.insert(0, serde_json::json!({"rpid": "not a number", "ctime": 1}));
        replies.insert(
            2,
            serde_json::json!({"rpid": 5, "ctime": 1, "content": {"message": 7}}),
        );
        replies.push(serde_json::json!("a string, not an object"));
        let page = page(&body.to_string(), false).unwrap();
        assert_eq!(page.skipped, 3);
        assert_eq!(page.comments.len(), 7);
    }

    #[test]
    fn the_legacy_list_replies_read_the_same_as_the_cursor_list_ones() {
        let legacy = page(LEGACY, false).unwrap();
        let main = page(MODE2, false).unwrap();
        assert_eq!(
            find(&legacy, "262810020097"),
            find(&main, "262810020097"),
            "the same rpid reads the same from both endpoints"
        );
        assert_eq!(legacy.next, None);
    }

    #[test]
    fn an_empty_later_page_without_a_login_asks_for_the_cookie() {
        let err = page(UNAUTH_PAGE2, true).unwrap_err();
        assert_eq!(
            err,
            SourceError::Login {
                reason: "Bilibili serves only the newest page without a login: set BILIBILI_COOKIE"
                    .into()
            }
        );
    }

    #[test]
    fn an_empty_first_page_is_an_empty_comment_section() {
        let page = page(UNAUTH_PAGE2, false).unwrap();
        assert!(page.comments.is_empty());
        assert_eq!(page.next, None);
        let empty_list = r#"{"code":0,"data":{"cursor":{"is_end":true},"replies":[]}}"#;
        assert!(super::read_page(&response(200, empty_list), false).is_ok());
    }

    #[test]
    fn the_last_later_page_ends_paging_without_an_error() {
        let end = r#"{"code":0,"data":{"cursor":{"is_end":true,"pagination_reply":{"next_offset":"x"}},"replies":[]}}"#;
        let page = page(end, true).unwrap();
        assert!(page.comments.is_empty());
        assert_eq!(page.next, None);
    }

    #[test]
    fn risk_control_backs_off_at_least_a_minute_with_jitter() {
        for status in [200, 412] {
            let Err(err) = read_page(&response(status, ERROR_412), false) else {
                panic!("risk control is an error");
            };
            let SourceError::Transient {
                reason,
                retry_after: Some(wait),
            } = err
            else {
                panic!("a transient error with a wait: {err:?}");
            };
            assert!(wait >= Duration::from_secs(60) && wait <= Duration::from_secs(90));
            assert_eq!(
                reason,
                "Bilibili risk control (-412 请求被拦截): backing off"
            );
        }
        for code in [-352, -799, -509] {
            assert!(matches!(
                code_error(code, None),
                SourceError::Transient { retry_after: Some(w), .. } if w >= RISK_BACKOFF
            ));
        }
        let html_block = blocked_page(SourceError::transient(
            "an HTML page instead of JSON (HTTP 412)",
        ));
        assert!(matches!(
            html_block,
            SourceError::Transient { retry_after: Some(w), .. } if w >= RISK_BACKOFF
        ));
    }

    #[test]
    fn closed_missing_and_malformed_stop_polling_and_minus_101_asks_for_a_login() {
        assert_eq!(
            code_error(12002, Some("评论区已关闭")),
            SourceError::Stopped {
                reason: "comments are closed on this video (12002)".into()
            }
        );
        for code in [-404, -400, 12009] {
            assert!(matches!(
                code_error(code, None),
                SourceError::Stopped { .. }
            ));
        }
        assert!(matches!(code_error(-101, None), SourceError::Login { .. }));
        assert!(matches!(
            code_error(-10403, None),
            SourceError::Transient {
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn unknown_codes_quote_the_server_only_when_it_cannot_be_echoing_secrets() {
        assert_eq!(
            code_error(-10403, Some("地区限制")).to_string(),
            "Bilibili answered with error code -10403: 地区限制"
        );
        for echo in [
            "SESSDATA=abc123",
            "see https://api.bilibili.com/x?oid=1",
            "a\nb",
        ] {
            assert_eq!(
                code_error(-10403, Some(echo)).to_string(),
                "Bilibili answered with error code -10403"
            );
        }
    }

    #[test]
    fn stale_signatures_and_captchas_ask_for_a_re_sign() {
        let body = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert!(wants_new_signature(&body(r#"{"code":-352}"#)));
        assert!(wants_new_signature(&body(r#"{"code":-403}"#)));
        assert!(wants_new_signature(&body(
            r#"{"code":0,"data":{"v_voucher":"voucher_x"}}"#
        )));
        assert!(!wants_new_signature(&body(MODE2)));
        assert!(!wants_new_signature(&body(ERROR_412)));
    }

    #[test]
    fn nav_keys_are_read_even_from_a_logged_out_answer() {
        let nav = r#"{"code":-101,"message":"账号未登录","data":{"isLogin":false,"wbi_img":{
            "img_url":"https://i0.hdslb.com/bfs/wbi/7cd084941338484aae1ad9425b84077c.png",
            "sub_url":"https://i0.hdslb.com/bfs/wbi/4932caff0ff746eab6f01bf08b70ac45.png"}}}"#;
        assert_eq!(
            read_nav(&response(200, nav)).unwrap(),
            "ea1db124af3c7062474693fa704f4ff8"
        );
        assert!(matches!(
            read_nav(&response(412, ERROR_412)),
            Err(SourceError::Transient { retry_after: Some(w), .. }) if w >= RISK_BACKOFF
        ));
    }

    #[test]
    fn the_cookie_is_hidden_from_debug_output() {
        let settings = BilibiliSettings {
            api_base: "https://api.bilibili.com".into(),
            cookie: Some("SESSDATA=secret-session".into()),
            min_interval: Duration::from_secs(10),
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("secret-session"), "{shown}");
        assert!(shown.contains("(hidden)"));
    }
}
