//! The HTTP side of a live room: the room's real id, owner, state and title
//! (`room_init`, `get_info`), the danmaku servers and token
//! (`getDanmuInfo`, WBI-signed with the video source's signer) and the
//! `buvid3` cookie it needs. It must not touch the WebSocket (`conn`) and
//! must never put the cookie into an error, a log line or a URL.

use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, HeaderValue, SET_COOKIE, USER_AGENT};
use serde_json::Value;

use super::super::codes::{body_code, describe, is_risk_code, risk_control};
use super::super::wbi::{read_nav, sign_query};
use super::super::{KEYS_MAX_AGE, NAV_PATH};
use super::BilibiliLive;
use crate::source::SourceError;
use crate::source::http::{BROWSER_UA, JsonResponse};

/// What the web player sends as `web_location` for the live room.
const WEB_LOCATION: &str = "444.8";

/// Where a browser gets its `buvid3` cookie when the API is Bilibili's own.
const BUVID_PAGE: &str = "https://www.bilibili.com/";

/// The room as `room_init` and `get_info` describe it.
#[derive(Debug, Clone)]
pub(super) struct RoomInfo {
    /// The real (long) room id, which the danmaku server wants.
    pub room_id: u64,
    /// The streamer's uid.
    pub owner_uid: u64,
    /// Whether the room was live when asked.
    pub live: bool,
}

/// `getDanmuInfo`'s answer.
#[derive(Debug, Clone)]
pub(super) struct DanmuInfo {
    /// The key the authentication packet carries.
    pub token: Option<String>,
    /// `wss://host:wss_port/sub` of each server, in the order given.
    pub urls: Vec<String>,
}

/// The mixin key and when it was derived.
pub(super) struct CachedKey {
    mixin: String,
    fetched_at: Instant,
}

impl BilibiliLive {
    /// A GET with the browser's User-Agent (the danmaku token is bound to
    /// it) and the cookie, `buvid3` included.
    async fn get(&self, url: &str) -> Result<JsonResponse, SourceError> {
        let mut req = self.http.client.get(url).header(USER_AGENT, BROWSER_UA);
        if let Some(cookie) = self.cookie_header().await {
            req = req.header(COOKIE, cookie);
        }
        self.http.json(req).await
    }

    /// The `Cookie` header: `BILIBILI_COOKIE`, with a `buvid3` obtained
    /// from Bilibili when it has none. Marked sensitive.
    pub(super) async fn cookie_header(&self) -> Option<HeaderValue> {
        let buvid = self.buvid.lock().await.clone();
        let value = match (&self.cookie, buvid) {
            (Some(c), _) if cookie_value(c, "buvid3").is_some() => c.clone(),
            (Some(c), Some(b)) => format!("{c}; buvid3={b}"),
            (Some(c), None) => c.clone(),
            (None, Some(b)) => format!("buvid3={b}"),
            (None, None) => return None,
        };
        let mut value = HeaderValue::from_str(&value).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// The `buvid3` the authentication packet carries: the cookie's, else
    /// one Bilibili's front page sets (or, when `BILIBILI_API_BASE` points
    /// elsewhere, that base's root), fetched once.
    pub(super) async fn buvid(&self) -> Option<String> {
        if let Some(b) = self
            .cookie
            .as_deref()
            .and_then(|c| cookie_value(c, "buvid3"))
        {
            return Some(b.to_owned());
        }
        let mut cached = self.buvid.lock().await;
        if cached.is_none() {
            let page = if self.api_base.ends_with("api.bilibili.com") {
                BUVID_PAGE.to_owned()
            } else {
                format!("{}/", self.api_base)
            };
            let resp = self
                .http
                .client
                .get(page)
                .header(USER_AGENT, BROWSER_UA)
                .send()
                .await;
            *cached = resp.ok().and_then(|r| {
                r.headers()
                    .get_all(SET_COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find_map(|v| {
                        let first = v.split(';').next()?;
                        let (name, value) = first.split_once('=')?;
                        (name.trim() == "buvid3" && is_token(value.trim()))
                            .then(|| value.trim().to_owned())
                    })
            });
            if cached.is_none() {
                tracing::warn!(source = %self.name, "Bilibili set no buvid3 cookie; the danmaku server may refuse the connection");
            }
        }
        cached.clone()
    }

    /// Resolves the configured (short or real) room id.
    pub(super) async fn resolve_room(&self) -> Result<RoomInfo, SourceError> {
        let url = format!("{}/room/v1/Room/room_init?id={}", self.live_base, self.room);
        let resp = self.get(&url).await?;
        match body_code(&resp.body) {
            Some(0) => {}
            Some(60004) => {
                return Err(SourceError::Stopped {
                    reason: format!("Bilibili has no live room {} (60004)", self.room),
                });
            }
            Some(code) if is_risk_code(code) => return Err(risk_control(&describe(code))),
            code => {
                return Err(SourceError::transient(format!(
                    "room_init answered code {}",
                    code.map_or("(none)".into(), |c| c.to_string())
                )));
            }
        }
        let data = &resp.body["data"];
        let room_id = data
            .get("room_id")
            .and_then(Value::as_u64)
            .filter(|r| *r > 0)
            .ok_or_else(|| SourceError::transient("room_init named no room_id"))?;
        let info = RoomInfo {
            room_id,
            owner_uid: data.get("uid").and_then(Value::as_u64).unwrap_or(0),
            live: data.get("live_status").and_then(Value::as_i64) == Some(1),
        };
        if self.title.get().is_none() {
            self.look_up_title(room_id).await;
        }
        Ok(info)
    }

    /// The room's title from `get_info`; a failure only leaves it unknown.
    async fn look_up_title(&self, room_id: u64) {
        let url = format!("{}/room/v1/Room/get_info?room_id={room_id}", self.live_base);
        if let Ok(resp) = self.get(&url).await
            && body_code(&resp.body) == Some(0)
            && let Some(title) = resp.body.pointer("/data/title").and_then(Value::as_str)
            && !title.trim().is_empty()
        {
            let _ = self.title.set(title.to_owned());
        }
    }

    /// The WBI mixin key, from the cache unless old or `refresh`.
    async fn mixin_key(&self, refresh: bool) -> Result<String, SourceError> {
        let mut cached = self.keys.lock().await;
        if !refresh
            && let Some(k) = cached.as_ref()
            && k.fetched_at.elapsed() < KEYS_MAX_AGE
        {
            return Ok(k.mixin.clone());
        }
        let resp = self.get(&format!("{}{NAV_PATH}", self.api_base)).await?;
        let mixin = read_nav(&resp)?;
        *cached = Some(CachedKey {
            mixin: mixin.clone(),
            fetched_at: Instant::now(),
        });
        Ok(mixin)
    }

    /// `getDanmuInfo` for `room_id`, re-signed once with fresh keys if
    /// Bilibili blames the signature.
    pub(super) async fn danmu_info(&self, room_id: u64) -> Result<DanmuInfo, SourceError> {
        let mut resp = self.request_danmu_info(room_id, false).await?;
        if body_code(&resp.body) == Some(-352) {
            resp = self.request_danmu_info(room_id, true).await?;
        }
        match body_code(&resp.body) {
            Some(0) => {}
            Some(code) if is_risk_code(code) => return Err(risk_control(&describe(code))),
            Some(65530) => {
                return Err(SourceError::Login {
                    reason: "Bilibili refused the danmaku token (65530 token error): set \
                             BILIBILI_COOKIE to a logged-in cookie"
                        .into(),
                });
            }
            code => {
                return Err(SourceError::Transient {
                    reason: format!(
                        "getDanmuInfo answered code {}",
                        code.map_or("(none)".into(), |c| c.to_string())
                    ),
                    retry_after: Some(Duration::from_secs(5)),
                });
            }
        }
        let data = &resp.body["data"];
        let token = data
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let urls: Vec<String> = data
            .get("host_list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| {
                let host = h.get("host")?.as_str()?;
                let port = h.get("wss_port").and_then(Value::as_u64).unwrap_or(443);
                is_host(host).then(|| format!("wss://{host}:{port}/sub"))
            })
            .collect();
        if urls.is_empty() {
            return Err(SourceError::transient(
                "getDanmuInfo listed no danmaku server",
            ));
        }
        Ok(DanmuInfo { token, urls })
    }

    async fn request_danmu_info(
        &self,
        room_id: u64,
        fresh_keys: bool,
    ) -> Result<JsonResponse, SourceError> {
        let mixin = self.mixin_key(fresh_keys).await?;
        let id = room_id.to_string();
        let query = sign_query(
            &[("id", &id), ("type", "0"), ("web_location", WEB_LOCATION)],
            &mixin,
            chrono::Utc::now().timestamp(),
        );
        self.get(&format!(
            "{}/xlive/web-room/v1/index/getDanmuInfo?{query}",
            self.live_base
        ))
        .await
    }
}

/// The value of cookie `name` in a `Cookie` header's `a=b; c=d` pairs.
pub(super) fn cookie_value<'a>(cookie: &'a str, name: &str) -> Option<&'a str> {
    cookie.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name && !v.trim().is_empty()).then(|| v.trim())
    })
}

/// A cookie value safe to send back (`buvid3` is letters, digits, `-` and
/// the `infoc` suffix).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A host name from `host_list`, safe inside a URL.
fn is_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_values_are_read_by_name() {
        let c = "SESSDATA=abc%2Cdef; DedeUserID=42; buvid3=B-1infoc";
        assert_eq!(cookie_value(c, "DedeUserID"), Some("42"));
        assert_eq!(cookie_value(c, "buvid3"), Some("B-1infoc"));
        assert_eq!(cookie_value(c, "buvid4"), None);
        assert_eq!(cookie_value("DedeUserID=", "DedeUserID"), None);
        assert!(is_token("3F2A-11-infoc"));
        assert!(!is_token("a;b"));
        assert!(is_host("zj-cn-live-comet.chat.bilibili.com"));
        assert!(!is_host("evil.com/x?"));
    }
}
