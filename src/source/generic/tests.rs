//! Unit tests of the generic source: settings, item pointers, paging and
//! the checks that name a variable when the response does not fit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::domain::ConfigError;

fn settings(vars: &[(&str, &str)]) -> Result<GenericSettings, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (format!("CW_GENERIC_MYAPI_{k}"), v.to_string()))
        .collect();
    GenericSettings::from_lookup("myapi", &|k| map.get(k).cloned())
}

const BASE: &[(&str, &str)] = &[
    ("URL", "https://api.example.com/comments?video=42"),
    ("ITEMS", "/data/comments"),
    ("ID", "/id"),
    ("TEXT", "/body"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut vars: Vec<_> = BASE
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .copied()
        .collect();
    vars.extend_from_slice(extra);
    vars
}

fn error(extra: &[(&'static str, &'static str)]) -> String {
    settings(&with(extra)).unwrap_err().to_string()
}

fn invalid_var(extra: &[(&'static str, &'static str)]) -> String {
    match settings(&with(extra)).unwrap_err() {
        ConfigError::Invalid { var, .. } => var,
        other => panic!("expected Invalid, got {other}"),
    }
}

fn generic(extra: &[(&'static str, &'static str)]) -> Generic {
    let s = settings(&with(extra)).expect("valid settings");
    Generic::new(
        "myapi",
        s,
        Http::new(std::time::Duration::from_secs(1), 1 << 20),
    )
}

#[test]
fn env_prefix_upper_cases_and_replaces_everything_but_letters_and_digits() {
    assert_eq!(env_prefix("my-api.v2"), "CW_GENERIC_MY_API_V2_");
    assert_eq!(env_prefix("shop"), "CW_GENERIC_SHOP_");
}

#[test]
fn the_minimal_settings_take_the_documented_defaults() {
    let s = settings(BASE).unwrap();
    assert_eq!(s.cursor(), &Cursor::None);
    assert_eq!(s.text_format(), TextFormat::Plain);
    assert_eq!(s.order(), Order::Newest);
    assert!(s.header_names().is_empty());
    assert_eq!(s.url.query(), Some("video=42"));
}

#[test]
fn a_missing_required_variable_is_reported_as_missing_by_name() {
    for required in ["URL", "ITEMS", "ID", "TEXT"] {
        let vars: Vec<_> = BASE
            .iter()
            .filter(|(k, _)| *k != required)
            .copied()
            .collect();
        match settings(&vars).unwrap_err() {
            ConfigError::Missing { var, .. } => {
                assert_eq!(var, format!("CW_GENERIC_MYAPI_{required}"))
            }
            other => panic!("{required}: expected Missing, got {other}"),
        }
    }
    // An empty required pointer is as good as unset.
    assert!(matches!(
        settings(&with(&[("ID", "")])).unwrap_err(),
        ConfigError::Missing { .. }
    ));
}

#[test]
fn an_empty_items_pointer_means_the_response_is_the_array() {
    let s = settings(&with(&[("ITEMS", "")])).unwrap();
    assert_eq!(s.items.0, "");
}

#[test]
fn each_bad_value_is_an_error_naming_its_exact_variable() {
    let cases: &[(&str, &str)] = &[
        ("URL", "ftp://example.com/x"),
        ("URL", "not a url"),
        ("URL", "https://user:pw@example.com/"),
        ("ITEMS", "data/comments"),
        ("ID", "id"),
        ("TEXT", "/body~2"),
        ("AUTHOR", "user.name"),
        ("TIME", "created_at"),
        ("AUTHOR_ID", "uid"),
        ("AVATAR", "avatar"),
        ("LIKES", "likes"),
        ("REPLY_TO", "parent"),
        ("TEXT_FORMAT", "markdown"),
        ("HEADERS", "Authorization Bearer abc"),
        ("CURSOR", "offset:skip"),
        ("ORDER", "random"),
    ];
    for (suffix, value) in cases {
        let var = invalid_var(&[(suffix, value)]);
        assert_eq!(
            var,
            format!("CW_GENERIC_MYAPI_{suffix}"),
            "{suffix}={value}"
        );
    }
    let e = error(&[("CURSOR", "offset:skip")]);
    assert!(
        e.starts_with("CW_GENERIC_MYAPI_CURSOR=\"offset:skip\" is not valid: expected none"),
        "{e}"
    );
    assert!(e.contains("token:") && e.contains("page:"), "{e}");
    let e = error(&[("ID", "id")]);
    assert!(e.contains("starting with /"), "{e}");
}

#[test]
fn a_bad_url_is_shown_without_its_query_string_or_credentials() {
    let e = error(&[("URL", "ftp://example.com/x?key=SECRET")]);
    assert!(
        e.contains("CW_GENERIC_MYAPI_URL") && !e.contains("SECRET"),
        "{e}"
    );
    let e = error(&[("URL", "https://me:SECRET@example.com/x")]);
    assert!(!e.contains("SECRET"), "{e}");
}

#[test]
fn headers_are_name_value_pairs_separated_by_semicolons() {
    let s = settings(&with(&[(
        "HEADERS",
        "Authorization: Bearer abc; X-Client: cw;",
    )]))
    .unwrap();
    assert_eq!(s.headers["authorization"], "Bearer abc");
    assert_eq!(s.headers["x-client"], "cw");
    assert!(s.headers["authorization"].is_sensitive());
    // A value may contain colons (only the first one separates).
    let s = settings(&with(&[("HEADERS", "X-Time: 12:30")])).unwrap();
    assert_eq!(s.headers["x-time"], "12:30");
}

#[test]
fn a_cookie_header_keeps_its_own_semicolons() {
    let s = settings(&with(&[(
        "HEADERS",
        "Cookie: SESSDATA=abc; buvid3=xyz; X-Client: cw",
    )]))
    .unwrap();
    assert_eq!(s.headers["cookie"], "SESSDATA=abc; buvid3=xyz");
    assert_eq!(s.headers["x-client"], "cw");
}

#[test]
fn bad_headers_are_refused_without_echoing_any_value() {
    for bad in [
        "Authorization Bearer SECRET",
        "Bad Name: SECRET",
        "Host: SECRET.example.com",
        "X-Ok: fine; Bearer SECRET",
        ";",
    ] {
        let e = error(&[("HEADERS", bad)]);
        assert!(e.starts_with("CW_GENERIC_MYAPI_HEADERS="), "{bad}: {e}");
        assert!(!e.contains("SECRET"), "{bad}: {e}");
    }
}

#[test]
fn settings_debug_output_hides_header_values_and_the_query_string() {
    let s = settings(&with(&[
        ("URL", "https://api.example.com/c?key=SECRETKEY"),
        ("HEADERS", "Authorization: Bearer SECRETTOKEN"),
    ]))
    .unwrap();
    let dbg = format!("{s:?}");
    assert!(
        !dbg.contains("SECRETKEY") && !dbg.contains("SECRETTOKEN"),
        "{dbg}"
    );
    assert!(dbg.contains("api.example.com"), "{dbg}");
}

#[test]
fn cursors_parse_into_token_page_or_none() {
    let cursor = |v: &'static str| settings(&with(&[("CURSOR", v)])).map(|s| s.cursor().clone());
    assert_eq!(cursor("none").unwrap(), Cursor::None);
    assert_eq!(
        cursor("token:/meta/next:cursor").unwrap(),
        Cursor::Token {
            pointer: "/meta/next".into(),
            param: "cursor".into()
        }
    );
    // Only the last colon separates the parameter.
    assert_eq!(
        cursor("token:/meta/a:b:after").unwrap(),
        Cursor::Token {
            pointer: "/meta/a:b".into(),
            param: "after".into()
        }
    );
    assert_eq!(
        cursor("page:p").unwrap(),
        Cursor::PageNumber { param: "p".into() }
    );
    for bad in [
        "token:/meta/next",
        "token:meta/next:cursor",
        "token:/meta/next:",
        "page:",
        "page:a b",
        "page:a&b=c",
        "none:x",
        "offset",
    ] {
        assert!(cursor(bad).is_err(), "{bad} should be refused");
    }
}

#[test]
fn text_format_and_order_accept_their_keywords() {
    let s = settings(&with(&[("TEXT_FORMAT", "HTML"), ("ORDER", "oldest")])).unwrap();
    assert_eq!(s.text_format(), TextFormat::Html);
    assert_eq!(s.order(), Order::Oldest);
}

#[test]
fn numeric_ids_keep_every_digit() {
    let s = settings(BASE).unwrap();
    let c = s
        .map_item(&json!({"id": 12345678901234567u64, "body": "hi"}))
        .unwrap();
    assert_eq!(c.id, "12345678901234567");
    let parsed: Value = serde_json::from_str(r#"{"id": 98765432109876543, "body": "x"}"#).unwrap();
    assert_eq!(s.map_item(&parsed).unwrap().id, "98765432109876543");
    assert_eq!(
        s.map_item(&json!({"id": "abc", "body": "x"})).unwrap().id,
        "abc"
    );
}

#[test]
fn an_item_without_a_usable_id_or_text_is_not_mapped() {
    let s = settings(BASE).unwrap();
    for item in [
        json!({"body": "no id"}),
        json!({"id": null, "body": "null id"}),
        json!({"id": "", "body": "empty id"}),
        json!({"id": {"x": 1}, "body": "object id"}),
        json!({"id": 1}),
        json!({"id": 1, "body": null}),
        json!("not an object"),
    ] {
        assert!(s.map_item(&item).is_none(), "{item}");
    }
}

#[test]
fn times_are_read_from_rfc3339_unix_seconds_or_unix_milliseconds() {
    let s = settings(&with(&[("TIME", "/t")])).unwrap();
    let expected = DateTime::parse_from_rfc3339("2024-03-01T12:00:00Z").unwrap();
    for t in [
        json!("2024-03-01T12:00:00Z"),
        json!("2024-03-01T13:00:00+01:00"),
        json!(1709294400),
        json!(1709294400000u64),
        json!("1709294400"),
        json!("1709294400000"),
        json!(1709294400.0),
    ] {
        let c = s.map_item(&json!({"id": 1, "body": "x", "t": t})).unwrap();
        assert_eq!(c.published_at, Some(expected.with_timezone(&Utc)), "{t}");
    }
    let c = s
        .map_item(&json!({"id": 1, "body": "x", "t": 1709294400123u64}))
        .unwrap();
    assert_eq!(c.published_at.unwrap().timestamp_millis(), 1709294400123);
    for junk in [json!("yesterday"), json!(-5), json!(true), json!(1e300)] {
        let c = s
            .map_item(&json!({"id": 1, "body": "x", "t": junk}))
            .unwrap();
        assert_eq!(c.published_at, None, "{junk}");
    }
}

#[test]
fn nested_pointers_reach_into_each_item() {
    let s = settings(&with(&[
        ("ID", "/meta/ids/0"),
        ("TEXT", "/content/text"),
        ("AUTHOR", "/user/profile/name"),
        ("AUTHOR_ID", "/user/id"),
        ("AVATAR", "/user/profile/avatar"),
        ("LIKES", "/stats/likes"),
        ("REPLY_TO", "/parent"),
        ("TIME", "/created"),
    ]))
    .unwrap();
    let c = s
        .map_item(&json!({
            "meta": {"ids": [777]},
            "content": {"text": "nested"},
            "user": {"id": 42, "profile": {"name": "Ann", "avatar": "https://i.ytimg.com/a.jpg"}},
            "stats": {"likes": "12"},
            "parent": "555",
            "created": 1709294400
        }))
        .unwrap();
    assert_eq!(c.id, "777");
    assert_eq!(c.text, "nested");
    assert_eq!(c.html, None);
    assert_eq!(c.author_name, "Ann");
    assert_eq!(c.author_id, "42");
    assert_eq!(
        c.author_avatar.as_deref(),
        Some("https://i.ytimg.com/a.jpg")
    );
    assert_eq!(c.likes, 12);
    assert_eq!(c.reply_to.as_deref(), Some("555"));
    assert!(c.published_at.is_some());
}

#[test]
fn pointers_unescape_tilde_and_slash_in_keys() {
    let s = settings(&with(&[("TEXT", "/a~1b/c~0d")])).unwrap();
    let c = s
        .map_item(&json!({"id": 1, "a/b": {"c~d": "escaped"}}))
        .unwrap();
    assert_eq!(c.text, "escaped");
}

#[test]
fn optional_fields_that_match_nothing_stay_empty() {
    let s = settings(&with(&[
        ("AUTHOR", "/author"),
        ("LIKES", "/likes"),
        ("REPLY_TO", "/parent"),
        ("AVATAR", "/avatar"),
    ]))
    .unwrap();
    let c = s
        .map_item(&json!({"id": 1, "body": "x", "likes": "many", "parent": 0, "avatar": ""}))
        .unwrap();
    assert_eq!(c.author_name, "");
    assert_eq!(c.likes, 0);
    assert_eq!(c.reply_to, None);
    assert_eq!(c.author_avatar, None);
    let c = s
        .map_item(&json!({"id": 1, "body": "x", "likes": -3}))
        .unwrap();
    assert_eq!(c.likes, 0);
}

#[test]
fn html_text_goes_to_html_and_leaves_text_for_the_sanitizer() {
    let s = settings(&with(&[("TEXT_FORMAT", "html")])).unwrap();
    let c = s.map_item(&json!({"id": 1, "body": "<b>hi</b>"})).unwrap();
    assert_eq!(c.html.as_deref(), Some("<b>hi</b>"));
    assert_eq!(c.text, "");
}

#[test]
fn a_page_skips_and_counts_unreadable_items() {
    let g = generic(&[]);
    let body = json!({"data": {"comments": [
        {"id": 3, "body": "c"}, {"body": "no id"}, {"id": 1, "body": "a"}
    ]}});
    let page = g.page_from(&body, None).unwrap();
    let ids: Vec<_> = page.comments.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["3", "1"]);
    assert_eq!(page.skipped, 1);
    assert_eq!(page.next, None);
}

#[test]
fn items_that_match_nothing_or_are_not_an_array_are_an_error_naming_the_variable() {
    let g = generic(&[]);
    for body in [
        json!({"error": "busy"}),
        json!({"data": {"comments": {"a": 1}}}),
    ] {
        match g.page_from(&body, None).unwrap_err() {
            SourceError::Settings { reason } => {
                assert!(
                    reason.starts_with("CW_GENERIC_MYAPI_ITEMS \"/data/comments\""),
                    "{reason}"
                )
            }
            other => panic!("expected Settings, got {other:?}"),
        }
    }
}

#[test]
fn an_oldest_first_api_is_reversed_to_newest_first() {
    let g = generic(&[("ORDER", "oldest"), ("ITEMS", "")]);
    let body = json!([{"id": 1, "body": "a"}, {"id": 2, "body": "b"}]);
    let page = g.page_from(&body, None).unwrap();
    let ids: Vec<_> = page.comments.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["2", "1"]);
}

#[test]
fn page_numbers_advance_while_pages_have_items() {
    let g = generic(&[("CURSOR", "page:p")]);
    let full = json!({"data": {"comments": [{"id": 1, "body": "a"}]}});
    let empty = json!({"data": {"comments": []}});
    assert_eq!(g.page_from(&full, None).unwrap().next.as_deref(), Some("2"));
    assert_eq!(
        g.page_from(&full, Some("2")).unwrap().next.as_deref(),
        Some("3")
    );
    assert_eq!(g.page_from(&empty, Some("3")).unwrap().next, None);
}

#[test]
fn the_token_cursor_is_read_from_the_response_and_a_repeated_token_ends_paging() {
    let g = generic(&[("CURSOR", "token:/meta/next:cursor")]);
    let body = |next: Value| json!({"data": {"comments": []}, "meta": {"next": next}});
    assert_eq!(
        g.page_from(&body(json!("t2")), None)
            .unwrap()
            .next
            .as_deref(),
        Some("t2")
    );
    assert_eq!(
        g.page_from(&body(json!(99)), None).unwrap().next.as_deref(),
        Some("99")
    );
    assert_eq!(g.page_from(&body(json!(null)), None).unwrap().next, None);
    assert_eq!(g.page_from(&body(json!("")), None).unwrap().next, None);
    assert_eq!(
        g.page_from(&body(json!("t2")), Some("t2")).unwrap().next,
        None
    );
}

#[test]
fn the_cursor_parameter_replaces_one_already_in_the_url() {
    let url = Url::parse("https://x.test/c?video=42&page=7").unwrap();
    let next = with_param(&url, "page", "2");
    assert_eq!(next.query(), Some("video=42&page=2"));
    let url = Url::parse("https://x.test/c").unwrap();
    assert_eq!(
        with_param(&url, "cursor", "a b&c").query(),
        Some("cursor=a+b%26c")
    );
}

#[test]
fn the_start_check_names_a_pointer_that_matches_no_item() {
    let g = generic(&[("AUTHOR", "/user/name"), ("TIME", "/ts")]);
    let body = json!({"data": {"comments": [
        {"id": 1, "body": "a", "user": {"name": "Ann"}, "ts": "soon"}
    ]}});
    let e = g.check_body(&body).unwrap_err().to_string();
    assert!(e.starts_with("CW_GENERIC_MYAPI_TIME \"/ts\""), "{e}");
    let body = json!({"data": {"comments": [
        {"id": 1, "body": "a", "user": {"name": "Ann"}, "ts": 1709294400}
    ]}});
    g.check_body(&body).unwrap();
    let body = json!({"data": {"comments": [{"ident": 1, "body": "a"}]}});
    let e = g.check_body(&body).unwrap_err().to_string();
    assert!(e.starts_with("CW_GENERIC_MYAPI_ID \"/id\""), "{e}");
    g.check_body(&json!({"data": {"comments": []}})).unwrap();
}
