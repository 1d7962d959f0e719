//! The video's view info (`/x/web-interface/view?bvid=`), read once per
//! source for its title. Best effort: a title is shown in the dashboard's
//! source badge, so a failure here never fails a poll.

use serde_json::Value;

use super::super::http::JsonResponse;
use super::{Bilibili, av_to_bv};

/// The view info of one video.
const VIEW_PATH: &str = "/x/web-interface/view";

/// How many times a title that could not be read is asked for again.
const MAX_TITLE_ATTEMPTS: u32 = 3;

impl Bilibili {
    /// Reads the title from the video's view info, unless it is known or
    /// was tried `MAX_TITLE_ATTEMPTS` times; never fails the poll.
    pub(super) async fn look_up_title(&self) {
        use std::sync::atomic::Ordering;
        if self.title.get().is_some()
            || self.title_attempts.fetch_add(1, Ordering::Relaxed) >= MAX_TITLE_ATTEMPTS
        {
            return;
        }
        let bvid = av_to_bv(self.aid).unwrap_or_default();
        let url = format!("{}{VIEW_PATH}?bvid={bvid}", self.api_base);
        if let Some(title) = self.send(&url).await.ok().as_ref().and_then(read_title) {
            let _ = self.title.set(title);
        }
    }
}

/// The title in a view-info answer (`code` 0, `data.title`), as sent.
fn read_title(resp: &JsonResponse) -> Option<String> {
    if !resp.status.is_success() || resp.body.get("code").and_then(Value::as_i64) != Some(0) {
        return None;
    }
    resp.body
        .pointer("/data/title")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use serde_json::json;

    use super::*;

    fn resp(status: u16, body: Value) -> JsonResponse {
        JsonResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body,
        }
    }

    #[test]
    fn the_title_is_read_from_a_successful_answer_only() {
        let ok = json!({"code": 0, "data": {"bvid": "BV1xx411c7mD", "title": "【直播回放】今晚"}});
        assert_eq!(
            read_title(&resp(200, ok)).as_deref(),
            Some("【直播回放】今晚")
        );
        let missing = json!({"code": -404, "message": "啥都木有", "data": null});
        assert_eq!(read_title(&resp(200, missing)), None);
        assert_eq!(
            read_title(&resp(412, json!({"code": 0, "data": {"title": "x"}}))),
            None
        );
        assert_eq!(
            read_title(&resp(200, json!({"code": 0, "data": {"title": " "}}))),
            None
        );
    }
}
