//! Reviewing the log: search across scripts and lengths, filters and their
//! combinations, keyset paging while comments arrive, retention, the `/log`
//! page and `/api/comments`, and bad parameters. Exact result sets are
//! checked on an in-memory log (no demo comments in the way); HTTP behaviour
//! on the real app.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use commentwatch::domain::{Comment, RawAmount, RawComment};
use commentwatch::params::Params;
use commentwatch::store::{Batch, CommentLog};
use commentwatch::store::{Flag, Selection, SourceFilter};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PATIENCE, eventually, spawn_app};

/// The page in headless Chromium.
mod in_browser;

pub const YT: &str = "youtube:dQw4w9WgXcQ";
pub const BILI: &str = "bilibili:BV1xx411c7mD";

/// A comment as the sanitizer makes it: `id` by `author` saying `text`,
/// posted `minute` minutes after 2026-04-01T20:00Z.
pub fn comment(source: &str, id: &str, author: &str, text: &str, minute: i64) -> Comment {
    let at = t0() + Duration::minutes(minute);
    commentwatch::sanitize::sanitize(
        source,
        RawComment {
            id: id.into(),
            author_name: author.into(),
            author_id: format!("UC-{author}"),
            text: text.into(),
            published_at: Some(at),
            ..RawComment::default()
        },
        at,
    )
    .expect("a valid comment")
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 20, 0, 0).unwrap()
}

/// Stores `comments` (all from their first's source) in one batch.
pub async fn store(log: &CommentLog, comments: Vec<Comment>) {
    let source = comments[0].source.clone();
    log.record(Batch {
        source,
        comments,
        ..Batch::default()
    })
    .await
    .expect("stored");
}

/// The ids `sel` selects, walking every page.
async fn ids(log: &CommentLog, sel: Selection) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut before = None;
    loop {
        let page = log.page(sel.clone(), before, 7).await.expect("a page");
        out.extend(page.comments.into_iter().map(|(_, c)| c.id));
        match page.next_before_seq {
            Some(b) => before = Some(b),
            None => return out,
        }
    }
}

fn q(query: &str) -> Selection {
    Selection {
        q: Some(query.into()),
        ..Selection::default()
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

async fn searchable_log() -> CommentLog {
    let log = CommentLog::open_in_memory().unwrap();
    store(
        &log,
        vec![
            comment(YT, "zh1", "viewer1", "今天主播好帅", 1),
            comment(YT, "zh2", "viewer2", "主播加油！", 2),
            comment(YT, "ja1", "viewer3", "配信ありがとうございます", 3),
            comment(YT, "ja2", "viewer4", "草", 4),
            comment(YT, "ko1", "viewer5", "안녕하세요 여러분", 5),
            comment(YT, "en1", "viewer6", "I LOVE this Song", 6),
            comment(YT, "en2", "viewer7", "great sponsor segment 👍🏽", 7),
            comment(YT, "emoji", "viewer8", "🎉🎉", 8),
            comment(YT, "name", "小明", "hi", 9),
            comment(
                YT,
                "quote",
                "viewer9",
                "he said \"' OR '1'='1\" -- NEAR(a b)*",
                10,
            ),
        ],
    )
    .await;
    log
}

#[tokio::test]
async fn search_finds_one_two_and_five_character_substrings_in_any_script() {
    let log = searchable_log().await;
    for (query, expected) in [
        // two-character Chinese word, one character, more characters
        ("主播", &["zh1", "zh2"][..]),
        ("主", &["zh1", "zh2"]),
        ("主播好帅", &["zh1"]),
        // Japanese: one character (a whole comment), a five-character phrase
        ("草", &["ja2"]),
        ("ありがとう", &["ja1"]),
        // Korean
        ("안녕", &["ko1"]),
        ("여러분", &["ko1"]),
        // English, any case, inside words, one and two letters
        ("song", &["en1"]),
        ("SONG", &["en1"]),
        ("love", &["en1"]),
        ("ov", &["en1"]),
        ("spons", &["en2"]),
        // emoji, alone and with a skin tone
        ("👍", &["en2"]),
        ("👍🏽", &["en2"]),
        ("🎉", &["emoji"]),
        // author names, including a one-character part of one
        ("小明", &["name"]),
        ("明", &["name"]),
        ("viewer7", &["en2"]),
        // SQL and FTS5 syntax is only text to find
        ("' OR '1'='1", &["quote"]),
        ("NEAR(a b)*", &["quote"]),
        ("\"", &["quote"]),
        // nothing
        ("x", &[]),
        ("主播好帅啊", &[]),
    ] {
        assert_eq!(ids(&log, q(query)).await, set(expected), "q={query:?}");
    }
}

#[tokio::test]
async fn hostile_search_strings_are_answered_as_text_and_never_break_the_log() {
    let log = searchable_log().await;
    let before = log.count().await.unwrap();
    let lines = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/security/sqli_search.jsonl"
    ))
    .unwrap();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let raw: String = serde_json::from_str(line).unwrap();
        let params = match Params::parse([("q", raw.as_str())], Utc::now()) {
            Ok(p) => p,
            // Only an empty-after-cleaning query may be refused, by name.
            Err(e) => {
                assert_eq!(e.param, "q", "{raw:?}: {e}");
                continue;
            }
        };
        let page = log
            .page(params.selection.clone(), None, 100)
            .await
            .unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        if let Some(needle) = &params.selection.q {
            let needle = needle.to_lowercase();
            for (_, c) in &page.comments {
                let hay = format!("{}\n{}", c.text, c.author.name).to_lowercase();
                assert!(hay.contains(&needle), "{raw:?} matched {:?}", c.text);
            }
        }
    }
    assert_eq!(log.count().await.unwrap(), before, "nothing was deleted");
    assert_eq!(ids(&log, q("主播")).await.len(), 2, "the index still works");
}

/// A log with two sources, replies, a deletion, an edit and a Super Chat.
async fn filterable_log() -> CommentLog {
    let log = CommentLog::open_in_memory().unwrap();
    let mut reply = comment(YT, "y2", "Bob", "reply to alice", 2);
    reply.reply_to = Some("y1".into());
    let paid = commentwatch::sanitize::sanitize(
        YT,
        RawComment {
            id: "y4".into(),
            author_name: "Carol".into(),
            author_id: "UC-Carol".into(),
            text: "thanks for the stream".into(),
            published_at: Some(t0() + Duration::minutes(4)),
            amount: Some(RawAmount {
                display: "$5.00".into(),
                micros: 5_000_000,
                currency: "USD".into(),
            }),
            ..RawComment::default()
        },
        t0() + Duration::minutes(4),
    )
    .unwrap();
    store(
        &log,
        vec![
            comment(
                YT,
                "y1",
                "Alice",
                "first question: when is the next stream?",
                1,
            ),
            reply,
            comment(YT, "y3", "alice", "second question from Alice", 3),
            paid,
        ],
    )
    .await;
    store(
        &log,
        vec![
            comment(BILI, "101", "Alice", "主播 question", 41),
            comment(BILI, "102", "小明", "主播好 oldword", 42),
        ],
    )
    .await;
    // Indexed before the changes below, so they go through the triggers.
    log.index_pending().await.unwrap();
    // The platform deletes one and the author edits another.
    log.record(Batch {
        source: YT.into(),
        deleted: vec!["y3".into()],
        ..Batch::default()
    })
    .await
    .unwrap();
    let mut edited = comment(BILI, "102", "小明", "主播好帅 (edited)", 42);
    edited.edited = true;
    store(&log, vec![edited]).await;
    log
}

#[tokio::test]
async fn filters_combine_and_each_narrows_the_selection() {
    let log = filterable_log().await;
    let all = Selection::default();
    let by = |f: fn(&mut Selection)| {
        let mut s = all.clone();
        f(&mut s);
        s
    };
    let cases: Vec<(&str, Selection, &[&str])> = vec![
        (
            "everything",
            all.clone(),
            &["y1", "y2", "y3", "y4", "101", "102"],
        ),
        (
            "one source",
            by(|s| s.source = Some(SourceFilter::Exact(BILI.into()))),
            &["101", "102"],
        ),
        (
            "a platform",
            by(|s| s.source = Some(SourceFilter::Platform("youtube"))),
            &["y1", "y2", "y3", "y4"],
        ),
        (
            "author by name, any case",
            by(|s| s.author = Some("ALICE".into())),
            &["y1", "y3", "101"],
        ),
        (
            "author by id",
            by(|s| s.author = Some("UC-Bob".into())),
            &["y2"],
        ),
        (
            "author in CJK",
            by(|s| s.author = Some("小明".into())),
            &["102"],
        ),
        (
            "query and author",
            by(|s| {
                s.q = Some("question".into());
                s.author = Some("alice".into())
            }),
            &["y1", "y3", "101"],
        ),
        (
            "short query and author",
            by(|s| {
                s.q = Some("主播".into());
                s.author = Some("Alice".into())
            }),
            &["101"],
        ),
        (
            "query and source",
            by(|s| {
                s.q = Some("question".into());
                s.source = Some(SourceFilter::Exact(YT.into()))
            }),
            &["y1", "y3"],
        ),
        (
            "a time window (since inclusive, until exclusive)",
            by(|s| {
                s.since = Some(t0() + Duration::minutes(2));
                s.until = Some(t0() + Duration::minutes(4));
            }),
            &["y2", "y3"],
        ),
        ("only replies", by(|s| s.replies = Flag::Only), &["y2"]),
        (
            "no replies",
            by(|s| s.replies = Flag::Without),
            &["y1", "y3", "y4", "101", "102"],
        ),
        ("only deleted", by(|s| s.deleted = Flag::Only), &["y3"]),
        (
            "deleted hidden",
            by(|s| s.deleted = Flag::Without),
            &["y1", "y2", "y4", "101", "102"],
        ),
        ("only edited", by(|s| s.edited = Flag::Only), &["102"]),
        (
            "an edit is found by its new text",
            by(|s| s.q = Some("好帅".into())),
            &["102"],
        ),
        (
            "and no longer by its old one",
            by(|s| s.q = Some("oldword".into())),
            &[],
        ),
        ("only paid", by(|s| s.paid = Flag::Only), &["y4"]),
        (
            "replies of a platform in a window",
            by(|s| {
                s.source = Some(SourceFilter::Platform("youtube"));
                s.replies = Flag::Only;
                s.since = Some(t0());
            }),
            &["y2"],
        ),
    ];
    for (what, sel, expected) in cases {
        assert_eq!(ids(&log, sel).await, set(expected), "{what}");
    }
}

#[tokio::test]
async fn keyset_pages_have_no_gaps_or_repeats_while_new_comments_arrive() {
    let log = CommentLog::open_in_memory().unwrap();
    let batch = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| {
                comment(
                    YT,
                    &format!("c{i}"),
                    "viewer",
                    &format!("comment {i} 主播"),
                    i as i64,
                )
            })
            .collect::<Vec<_>>()
    };
    store(&log, batch(0, 250)).await;
    for sel in [Selection::default(), q("主播"), q("comment")] {
        let expected: Vec<i64> = log
            .page(sel.clone(), None, 1000)
            .await
            .unwrap()
            .comments
            .iter()
            .map(|(s, _)| *s)
            .collect();
        let mut seen = Vec::new();
        let mut before = None;
        let mut arriving = 10_000 + seen.len();
        loop {
            let page = log.page(sel.clone(), before, 40).await.unwrap();
            seen.extend(page.comments.iter().map(|(s, _)| *s));
            // New comments arrive between every two pages.
            store(&log, batch(arriving, 30)).await;
            arriving += 30;
            match page.next_before_seq {
                Some(b) => before = Some(b),
                None => break,
            }
        }
        assert_eq!(seen, expected, "every comment once, newest first");
    }
}

#[tokio::test]
async fn retention_prunes_exactly_what_was_fetched_before_the_window() {
    let log = CommentLog::open_in_memory().unwrap();
    let fetched = |id: &str, hours_ago: i64| {
        let at = Utc::now() - Duration::hours(hours_ago);
        commentwatch::sanitize::sanitize(
            YT,
            RawComment {
                id: id.into(),
                author_name: "viewer".into(),
                text: format!("主播 comment {id}"),
                // Posted long ago: retention counts from fetching.
                published_at: Some(at - Duration::days(400)),
                ..RawComment::default()
            },
            at,
        )
        .unwrap()
    };
    store(&log, vec![fetched("old1", 100), fetched("old2", 50)]).await;
    store(&log, vec![fetched("new1", 47), fetched("new2", 1)]).await;
    log.index_pending().await.unwrap();
    let before_prune = log.latest_seq().await.unwrap();
    let cutoff = Utc::now() - Duration::hours(48);
    assert_eq!(log.prune(cutoff).await.unwrap(), 2);
    assert_eq!(
        ids(&log, Selection::default()).await,
        set(&["new1", "new2"])
    );
    assert_eq!(
        ids(&log, q("主播")).await,
        set(&["new1", "new2"]),
        "gone from search"
    );
    assert_eq!(ids(&log, q("主")).await, set(&["new1", "new2"]));
    assert_eq!(log.prune(cutoff).await.unwrap(), 0, "nothing more to prune");
    // The change feed still only grows.
    store(&log, vec![fetched("next", 0)]).await;
    let after = log.latest_seq().await.unwrap();
    assert!(after > before_prune, "{after} > {before_prune}");
    let replay = log.changes_since(0, 100).await.unwrap();
    assert!(replay.iter().all(|c| !c.comment.id.starts_with("old")));
}

/// Waits until the app's own demo backlog is in, so later counts hold still.
pub async fn settle(app: &crate::helpers::TestApp) {
    eventually("the demo backlog arrives", PATIENCE, || async {
        let stats = app.get_json("/api/stats?source=demo").await;
        let total = stats["total"].as_u64().unwrap_or(0);
        if total >= 20 {
            Ok(())
        } else {
            Err(format!("{total} of 20 stored"))
        }
    })
    .await;
}

#[tokio::test]
async fn the_api_pages_newest_first_with_seq_beside_each_comment() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    settle(&app).await;
    app.feed
        .ingest(Batch {
            source: YT.into(),
            comments: (0..5)
                .map(|i| comment(YT, &format!("p{i}"), "pager", &format!("page test {i}"), i))
                .collect(),
            ..Batch::default()
        })
        .await
        .unwrap();
    let mut url = format!("/api/comments?source={YT}&limit=2");
    let mut seen = Vec::new();
    loop {
        let body = app.get_json(&url).await;
        for c in body["comments"].as_array().unwrap() {
            assert!(c["seq"].is_i64() && c["id"].is_string() && c["author"]["name"] == "pager");
            assert!(c["html"].is_string() && c["published_at"].is_string());
            seen.push(c["id"].as_str().unwrap().to_owned());
        }
        match body["next_before_seq"].as_i64() {
            Some(b) => url = format!("/api/comments?source={YT}&limit=2&before_seq={b}"),
            None => break,
        }
    }
    assert_eq!(seen, ["p4", "p3", "p2", "p1", "p0"]);
}

#[tokio::test]
async fn bad_parameters_are_a_400_naming_the_parameter_never_a_500() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let client = reqwest::Client::new();
    let long = "x".repeat(500);
    let cases = [
        ("limit=1001", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("limit=-1", "limit"),
        ("since=yesterday", "since"),
        ("until=2026-02-30T10:00:00Z", "until"),
        ("since=2026-05-02&until=2026-05-01", "until"),
        ("deleted=maybe", "deleted"),
        ("replies=2", "replies"),
        ("source=myspace:1", "source"),
        ("source=%27%3B%20DROP%20TABLE%20comments%3B--", "source"),
        ("before_seq=1%20OR%201=1", "before_seq"),
        ("sorce=demo", "sorce"),
        ("q=a&q=b", "q"),
        ("featured=perhaps", "featured"),
        (&format!("q={long}"), "q"),
    ];
    for path in [
        "/api/comments",
        "/api/comments.csv",
        "/api/comments.jsonl",
        "/api/stats",
    ] {
        for (query, param) in &cases {
            // Only a page has a most: exports stream the whole selection
            // and statistics count it.
            if path != "/api/comments" && query.starts_with("limit=1001") {
                continue;
            }
            let resp = client
                .get(app.url(&format!("{path}?{query}")))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}?{query}");
            let body: Value = resp
                .text()
                .await
                .map(|t| serde_json::from_str::<Value>(&t).unwrap())
                .unwrap();
            assert_eq!(body["param"], *param, "{path}?{query}: {body}");
            assert!(body["error"].as_str().unwrap().starts_with(param), "{body}");
        }
    }
    for (query, param) in &cases {
        let resp = client
            .get(app.url(&format!("/log?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "/log?{query}");
        let body = resp.text().await.unwrap();
        assert!(
            body.contains(&format!("{param}: ")),
            "/log?{query} names {param}"
        );
        assert!(body.contains("<form"), "the form is there to fix it");
    }
}

#[tokio::test]
async fn the_log_page_highlights_matches_safely_and_links_to_each_comment_on_its_platform() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let mut reply = comment(
        YT,
        "UgxREPLY",
        "Mallory",
        "<script>alert(1)</script> 主播 <b>hi</b>",
        5,
    );
    reply.reply_to = Some("UgxPARENT".into());
    app.feed
        .ingest(Batch {
            source: YT.into(),
            comments: vec![
                comment(YT, "UgxPARENT", "Alice", "question for 主播?", 4),
                reply,
            ],
            ..Batch::default()
        })
        .await
        .unwrap();
    app.feed
        .ingest(Batch {
            source: BILI.into(),
            comments: vec![comment(BILI, "998877", "小明", "主播好", 6)],
            ..Batch::default()
        })
        .await
        .unwrap();
    let resp = reqwest::get(app.url("/log?q=%E4%B8%BB%E6%92%AD"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("<mark>主播</mark>"),
        "matches are highlighted"
    );
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "and escaped"
    );
    assert!(
        !body.contains("<script>alert") && !body.contains("<b>hi"),
        "never live"
    );
    assert!(body.contains(
        "href=\"https://www.youtube.com/watch?v=dQw4w9WgXcQ&#38;lc=UgxREPLY\" target=\"_blank\" rel=\"noopener noreferrer nofollow\""
    ));
    assert!(
        body.contains("https://www.youtube.com/watch?v=dQw4w9WgXcQ&#38;lc=UgxPARENT"),
        "the parent too"
    );
    assert!(body.contains("https://www.bilibili.com/video/BV1xx411c7mD#reply998877"));
    // No inline script or style anywhere (CSP).
    for script in body.split("<script").skip(1) {
        assert!(
            script.starts_with(" src=\"/assets/"),
            "inline script: <script{script:.40}"
        );
    }
    assert!(!body.contains("<style") && !body.contains(" style="));
    // The script it loads is served.
    let js = reqwest::get(app.url("/assets/log.js")).await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.text().await.unwrap().contains("textContent"));
}

#[tokio::test]
async fn the_log_page_works_without_javascript_paging_and_statistics_included() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    app.feed
        .ingest(Batch {
            source: YT.into(),
            comments: (0..130)
                .map(|i| {
                    comment(
                        YT,
                        &format!("n{i}"),
                        &format!("v{}", i % 3),
                        &format!("hello {i}"),
                        i / 10,
                    )
                })
                .collect(),
            ..Batch::default()
        })
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let first = client
        .get(app.url(&format!("/log?source={YT}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(first.matches("class=\"log-item").count(), 100);
    let older = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("an Older link")
        .replace("&#38;", "&");
    assert!(older.contains("before_seq="), "{older}");
    let second = client
        .get(app.url(&older))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(second.matches("class=\"log-item").count(), 30);
    assert!(second.contains("← Newest") && !second.contains("rel=\"next\""));
    // Statistics rendered on the server on request.
    let stats = client
        .get(app.url(&format!("/log?source={YT}&stats=1")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(stats.contains("<strong>130</strong> comments"), "the total");
    assert!(
        stats.contains("Busiest moments") && stats.contains("<rect"),
        "a chart"
    );
    assert!(
        stats.contains("v0") && stats.contains("v1"),
        "the most active authors"
    );
    // The JSON behind the script-drawn panel.
    let json: Value = client
        .get(app.url(&format!("/api/stats?source={YT}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    assert_eq!(json["total"], 130);
    assert_eq!(json["sources"][0]["source"], YT);
    let per_minute: u64 = json["per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_minute, 130, "every comment is in the series once");
    assert_eq!(json["busiest"][0]["count"], 10);
    assert_eq!(json["top_authors"][0]["count"], 44);
}

#[tokio::test]
async fn the_log_and_its_api_need_the_token_when_one_is_set() {
    let token = "log-page-token-1";
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_TOKEN", token)]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/log",
        "/api/comments",
        "/api/comments.csv",
        "/api/comments.jsonl",
        "/api/stats",
    ] {
        let resp = client.get(app.url(path)).send().await.unwrap();
        assert_ne!(resp.status(), StatusCode::OK, "{path} without the token");
        let resp = client
            .get(app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path} with the token");
    }
}

#[tokio::test]
async fn a_log_file_from_before_search_existed_is_indexed_and_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let log = CommentLog::open(&path).unwrap();
        store(
            &log,
            vec![
                comment(YT, "o1", "小明", "主播 from the old days", 1),
                comment(YT, "o2", "viewer", "草", 2),
            ],
        )
        .await;
    }
    // Turn it back into a version-2 file: no search tables, no mark.
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(
        conn.query_row("PRAGMA auto_vacuum", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        2,
        "new files free pages incrementally"
    );
    conn.execute_batch(
        "DROP TRIGGER comments_search_delete; DROP TRIGGER comments_search_update; \
         DROP TABLE comments_fts; DROP TABLE comments_grams; \
         DELETE FROM meta WHERE key = 'search_upto'; PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);
    let log = CommentLog::open(&path).unwrap();
    assert_eq!(ids(&log, q("主播")).await, set(&["o1"]));
    assert_eq!(ids(&log, q("草")).await, set(&["o2"]));
    let by_author = Selection {
        author: Some("小明".into()),
        ..Selection::default()
    };
    assert_eq!(ids(&log, by_author).await, set(&["o1"]));
}

#[tokio::test]
async fn comments_put_on_stream_are_found_by_the_featured_filter_afterwards() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    settle(&app).await;
    let client = reqwest::Client::new();
    let all: Value = client
        .get(app.url("/api/comments?limit=20"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let chosen = &all["comments"][3];
    let resp = client
        .post(app.url("/api/featured"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "source": chosen["source"], "id": chosen["id"] }).to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    // Taken off stream again: the log still remembers it was on.
    client
        .delete(app.url("/api/featured"))
        .send()
        .await
        .unwrap();

    let featured: Value = client
        .get(app.url("/api/comments?featured=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let ids: Vec<&Value> = featured["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&chosen["id"]]);
    let never: Value = client
        .get(app.url("/api/comments?featured=0&limit=100"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(never["comments"].as_array().unwrap().len(), 19);
    let page = client
        .get(app.url("/log?featured=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<option value="1" selected data-i18n="onlyFeatured">only featured<"#),
        "the form shows the filter"
    );
}

#[tokio::test]
async fn the_highlighted_filter_finds_comments_with_the_configured_highlight_words() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0"), ("CW_HIGHLIGHT", "Sponsor, 主播")]).await;
    settle(&app).await;
    let yt = "youtube:Xq3vLk9pT2w";
    store(
        &app.feed.log,
        vec![
            comment(yt, "h1", "a", "thanks to our SPONSOR today", 1),
            comment(yt, "h2", "b", "主播好", 2),
            comment(yt, "h3", "c", "nothing to see", 3),
        ],
    )
    .await;
    let get = |q: &'static str| {
        let url = app.url(&format!("/api/comments?source={yt}&{q}"));
        async move {
            let resp = reqwest::get(url).await.unwrap();
            let status = resp.status();
            let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
            (status, body)
        }
    };
    let ids = |v: &Value| -> Vec<String> {
        v["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, body) = get("highlighted=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&body), ["h2", "h1"]);
    let (_, body) = get("highlighted=0").await;
    assert_eq!(ids(&body), ["h3"]);

    // Without CW_HIGHLIGHT there is nothing to filter by: a 400 that says so.
    let plain = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let resp = reqwest::get(plain.url("/api/comments?highlighted=1"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("highlighted"));
}
