//! CSV and JSONL exports over HTTP: RFC 4180 through a real CSV parser with
//! hostile cells, formula neutralising, the BOM, one JSON line per row, the
//! same filters as the page, and a large export streamed whole.

use commentwatch::domain::{Comment, RawComment};
use commentwatch::store::Batch;
use commentwatch::store::CSV_COLUMNS;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};
use crate::log_page::{YT, comment, settle, t0};

/// Every line of a `tests/data/security` file.
pub fn attack_strings(file: &str) -> Vec<String> {
    let path = format!("{}/tests/data/security/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Comments whose text, author name and author id are the formula attacks.
pub fn hostile_comments() -> Vec<Comment> {
    attack_strings("csv_formula.jsonl")
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let at = t0() + chrono::Duration::seconds(i as i64);
            commentwatch::sanitize::sanitize(
                YT,
                RawComment {
                    id: format!("f{i}"),
                    author_name: s.clone(),
                    author_id: s.clone(),
                    text: s.clone(),
                    published_at: Some(at),
                    reply_to: Some(s),
                    ..RawComment::default()
                },
                at,
            )
            .ok()
        })
        .collect()
}

pub async fn ingest(app: &TestApp, comments: Vec<Comment>) {
    for chunk in comments.chunks(500) {
        app.feed
            .ingest(Batch {
                source: chunk[0].source.clone(),
                comments: chunk.to_vec(),
                ..Batch::default()
            })
            .await
            .unwrap();
    }
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    let resp = reqwest::get(app.url(path)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp
}

/// Whether a spreadsheet would start evaluating this cell.
pub fn looks_like_formula(cell: &str) -> bool {
    let first = cell.chars().find(|c| {
        !(c.is_whitespace() || c.is_control() || matches!(c, '\u{feff}' | '\u{200b}'..='\u{200d}'))
    });
    matches!(
        first,
        Some('=' | '+' | '-' | '@' | '＝' | '＋' | '－' | '＠')
    ) || cell.starts_with(['\t', '\r', '\n'])
}

#[tokio::test]
async fn csv_round_trips_hostile_cells_and_neutralises_every_formula() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let comments = hostile_comments();
    ingest(&app, comments.clone()).await;
    let resp = get(&app, &format!("/api/comments.csv?source={YT}")).await;
    assert_eq!(
        resp.headers()["content-type"],
        "text/csv; charset=utf-8; header=present"
    );
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"commentwatch-")
            && disposition.ends_with(".csv\"")
    );
    let body = resp.bytes().await.unwrap();
    assert!(
        !body.starts_with("\u{feff}".as_bytes()),
        "no BOM unless asked"
    );
    assert!(body.windows(2).any(|w| w == b"\r\n"), "RFC 4180 line ends");
    let mut reader = csv::ReaderBuilder::new().from_reader(&body[..]);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        CSV_COLUMNS
    );
    let by_id: std::collections::HashMap<&str, &Comment> =
        comments.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.expect("a well-formed record");
        assert_eq!(record.len(), CSV_COLUMNS.len());
        let c = by_id[&record[2]];
        rows += 1;
        for (cell, original) in [
            (&record[4], c.author.name.as_str()),
            (&record[5], c.author.id.as_str()),
            (&record[6], c.text.as_str()),
            (&record[8], c.reply_to.as_deref().unwrap_or("")),
        ] {
            if looks_like_formula(original) {
                assert_eq!(cell, format!("'{original}"), "neutralised: {original:?}");
            } else {
                assert_eq!(cell, original, "kept as is");
            }
            assert!(!looks_like_formula(cell), "{cell:?} would run as a formula");
        }
        assert_eq!(&record[0], record[0].parse::<i64>().unwrap().to_string());
        assert_eq!(&record[1], YT);
        assert!(matches!(&record[9], "true" | "false") && matches!(&record[10], "true" | "false"));
    }
    assert_eq!(rows, comments.len(), "one record per comment");
    // YouTube handles start with @, which Excel reads as a formula.
    assert!(by_id.values().any(|c| c.author.name == "@channel"));
}

#[tokio::test]
async fn a_bom_is_added_for_spreadsheets_only_when_asked() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    ingest(&app, vec![comment(YT, "b1", "viewer", "主播 ünïcödé", 1)]).await;
    let with = get(&app, &format!("/api/comments.csv?bom=1&source={YT}"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(with.starts_with("\u{feff}seq,source,id,".as_bytes()));
    let without = get(&app, &format!("/api/comments.csv?source={YT}"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(without.starts_with(b"seq,source,id,"));
    assert_eq!(&with[3..], &without[..], "the same rows either way");
}

#[tokio::test]
async fn jsonl_has_one_line_per_row_each_a_comment_with_its_seq() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    settle(&app).await;
    ingest(&app, hostile_comments()).await;
    let total = get(&app, "/api/stats")
        .await
        .text()
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap()["total"]
        .as_u64()
        .unwrap();
    let resp = get(&app, "/api/comments.jsonl").await;
    assert_eq!(
        resp.headers()["content-type"],
        "application/jsonl; charset=utf-8"
    );
    let body = resp.text().await.unwrap();
    assert!(body.ends_with('\n'));
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len() as u64, total, "line count = row count");
    let mut last_seq = i64::MAX;
    for line in lines {
        let row: Value = serde_json::from_str(line).expect("each line is JSON");
        let seq = row["seq"].as_i64().unwrap();
        assert!(seq < last_seq, "newest first, no repeats");
        last_seq = seq;
        for field in ["id", "source", "text", "html", "published_at", "fetched_at"] {
            assert!(row[field].is_string(), "{field} in {row}");
        }
        assert!(row["author"]["name"].is_string() && row["edited"].is_boolean());
    }
}

#[tokio::test]
async fn exports_take_the_same_filters_as_the_page_and_stream_past_any_page_limit() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let many: Vec<Comment> = (0..5_000)
        .map(|i| {
            let text = if i % 10 == 0 {
                format!("主播 {i}")
            } else {
                format!("chat {i}")
            };
            comment(YT, &format!("m{i}"), &format!("v{}", i % 7), &text, i / 60)
        })
        .collect();
    ingest(&app, many).await;
    let csv = get(&app, &format!("/api/comments.csv?source={YT}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 5_000,
        "the header and every row, no limit"
    );
    // Filtered: the same rows as walking /api/comments page by page.
    let filter = format!("q=%E4%B8%BB%E6%92%AD&source={YT}&author=v3");
    let jsonl = get(&app, &format!("/api/comments.jsonl?{filter}"))
        .await
        .text()
        .await
        .unwrap();
    let exported: Vec<i64> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let mut paged = Vec::new();
    let mut url = format!("/api/comments?{filter}&limit=13");
    loop {
        let page: Value = get(&app, &url)
            .await
            .text()
            .await
            .map(|t| serde_json::from_str::<Value>(&t).unwrap())
            .unwrap();
        paged.extend(
            page["comments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["seq"].as_i64().unwrap()),
        );
        match page["next_before_seq"].as_i64() {
            Some(b) => url = format!("/api/comments?{filter}&limit=13&before_seq={b}"),
            None => break,
        }
    }
    assert!(!exported.is_empty());
    assert_eq!(exported, paged);
    // An export may start where a page ended.
    let tail = get(
        &app,
        &format!("/api/comments.jsonl?{filter}&before_seq={}", exported[2]),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(tail.lines().count(), exported.len() - 3);
}
