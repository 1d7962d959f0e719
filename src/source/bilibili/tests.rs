//! The adapter's unit tests: signing, reading pages and error codes
//! against the fixtures, no network.

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
        page.comments
            .iter()
            .all(|c| c.author_avatar.as_deref().unwrap().starts_with("https://"))
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

const WHO: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/fixtures/bilibili_reply_main_who.json"
));

#[test]
fn who_wrote_each_reply_comes_through_owner_pinned_liked_level_medal_vip_verified_location() {
    use crate::domain::Role;
    let page = page(WHO, false).unwrap();
    let up = find(&page, "262810004500");
    assert_eq!(up.roles, [Role::Owner]);
    assert!(up.pinned && up.liked_by_owner);
    assert_eq!(up.badges, ["LV5", "大会员"]);
    assert_eq!(up.author_color.as_deref(), Some("#FB7299"));
    assert_eq!(up.location.as_deref(), Some("IP属地：上海"));
    let medal = find(&page, "262810018364");
    assert_eq!(medal.badges, ["LV5", "主播团 12", "大会员"]);
    assert!(medal.roles.is_empty() && !medal.pinned && !medal.liked_by_owner);
    let verified = find(&page, "262810021830");
    assert_eq!(verified.roles, [Role::Verified]);
    assert_eq!(verified.badges, ["LV5", "bilibili 知名音乐UP主"]);
    assert_eq!(verified.location.as_deref(), Some("IP属地：日本"));
    assert_eq!(verified.author_color, None);
    assert!(find(&page, "262810014898").liked_by_owner);
    let plain = find(&page, "262810020097");
    assert_eq!(plain.badges, ["LV2"]);
    assert!(plain.roles.is_empty() && !plain.pinned && !plain.liked_by_owner);
    // Only the UP主 is the owner, and only their comment is pinned.
    let owners = page
        .comments
        .iter()
        .filter(|c| c.roles.contains(&Role::Owner));
    assert_eq!(owners.count(), 1);
    assert_eq!(page.comments.iter().filter(|c| c.pinned).count(), 1);
    // The real page without the additions: the same owner, pin and like.
    let plain_page = self::page(MODE2, false).unwrap();
    let up = find(&plain_page, "262810004500");
    assert!(up.roles == [Role::Owner] && up.pinned && up.liked_by_owner);
}
