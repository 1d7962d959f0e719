//! The comment log benchmark: `cargo bench --bench log`.
//!
//! Builds a 1,000,000-comment log in a temporary file from realistic mixed
//! chat (English, Chinese, Japanese, Korean, emoji; common words and rare
//! ones; three sources over thirty days) and prints the figures recorded in
//! the README:
//!
//! - insert rate, in batched transactions as the poller writes them;
//! - search latency, p50 and p99, by query length (1, 2, 5 characters) and
//!   script, each query a page of 100 newest first, as `/api/comments` asks;
//! - export rate (CSV, JSONL) and peak memory, each in a fresh child process
//!   so that its high-water mark (`VmHWM`) is the export's own: 100,000 and
//!   1,000,000 rows should peak alike;
//! - `/log` first-page time over HTTP on loopback, and `/api/stats` of the
//!   whole log.
//!
//! Not part of `cargo test`; it takes a few minutes on two cores. It only
//! writes to its temporary directory and talks to its own server on
//! 127.0.0.1.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use commentwatch::domain::{RawAmount, RawComment};
use commentwatch::store::{self, Batch, CommentLog, Format, Selection};
use commentwatch::{App, Config};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TOTAL: usize = 1_000_000;
const BATCH: usize = 5_000;
const SOURCES: [&str; 3] = ["youtube-live:dQw4w9WgXcQ", "bilibili:BV1xx411c7mD", "demo"];

const EN: &[&str] = &[
    "lol",
    "gg",
    "nice",
    "hello",
    "from",
    "the",
    "stream",
    "is",
    "so",
    "good",
    "today",
    "this",
    "song",
    "slaps",
    "what",
    "game",
    "are",
    "you",
    "playing",
    "first",
    "time",
    "here",
    "love",
    "it",
    "great",
    "play",
    "can",
    "we",
    "get",
    "a",
    "wave",
    "hi",
    "chat",
    "hype",
    "let's",
    "go",
    "sound",
    "is",
    "low",
    "please",
    "turn",
    "up",
    "mic",
    "where",
    "did",
    "buy",
    "that",
    "shirt",
    "question",
    "how",
    "long",
    "have",
    "been",
    "streaming",
    "thanks",
    "for",
    "the",
    "tips",
    "clip",
    "that",
    "omg",
    "no",
    "way",
    "amazing",
    "build",
    "boss",
    "fight",
    "again",
    "pog",
    "sponsor",
    "segment",
    "skip",
    "when",
    "merch",
    "drop",
    "subscribed",
    "just",
    "now",
    "greetings",
    "Brazil",
    "Germany",
    "Philippines",
    "Canada",
    "NordVPN",
    "Raid",
    "Shadow",
];
const ZH: &[&str] = &[
    "主播",
    "好看",
    "哈哈哈",
    "加油",
    "谢谢",
    "弹幕",
    "前排",
    "来了",
    "好帅",
    "666",
    "厉害",
    "这个",
    "游戏",
    "叫什么",
    "名字",
    "今天",
    "几点",
    "下播",
    "声音",
    "太小",
    "了",
    "画质",
    "真好",
    "第一次",
    "来",
    "支持",
    "一下",
    "老板",
    "大气",
    "笑死",
    "我",
    "了",
    "草",
    "的",
    "好",
    "吗",
    "呢",
    "赞助",
    "什么",
    "时候",
    "更新",
    "求",
    "歌名",
    "关注",
    "了",
    "晚上好",
];
const JA: &[&str] = &[
    "草",
    "すごい",
    "かわいい",
    "ありがとう",
    "配信",
    "初見です",
    "こんばんは",
    "おつかれ",
    "さま",
    "でした",
    "うまい",
    "それな",
    "まじで",
    "きた",
    "歌枠",
    "楽しみ",
    "です",
    "ね",
    "待機",
    "神回",
    "わかる",
    "声",
    "小さい",
    "かも",
    "同接",
    "すごいですね",
    "やばい",
];
const KO: &[&str] = &[
    "안녕하세요",
    "대박",
    "ㅋㅋㅋ",
    "감사합니다",
    "방송",
    "재밌어요",
    "최고",
    "사랑해요",
    "오늘",
    "노래",
    "좋아요",
    "처음",
    "왔어요",
    "화이팅",
    "진짜",
    "귀여워",
];
const EMOJI: &[&str] = &[
    "😂", "👍", "❤️", "🔥", "🎉", "😭", "🙏", "👏🏽", "💯", "🤣", "😍", "🥺", "✨", "🇯🇵", "🎮",
];
const NAMES: &[&str] = &[
    "@alex",
    "@mika",
    "小明",
    "たろう",
    "민수",
    "@gamer",
    "ニコ",
    "@luna",
    "阿强",
    "하늘",
    "@sam",
    "猫猫",
    "@nova",
    "ゆき",
    "지훈",
    "@rex",
];

/// A word from `words`, common ones far more often (a rough Zipf law).
fn pick<'a>(rng: &mut StdRng, words: &[&'a str]) -> &'a str {
    let u: f64 = rng.random();
    words[((u * u * u) * words.len() as f64) as usize]
}

fn chat(rng: &mut StdRng) -> String {
    let lang = rng.random_range(0..100);
    let n = rng.random_range(1..9);
    let mut out = String::new();
    for i in 0..n {
        let words = match lang {
            0..40 => EN,
            40..65 => ZH,
            65..85 => JA,
            85..95 => KO,
            _ => [EN, ZH, JA, KO][rng.random_range(0..4)],
        };
        let w = pick(rng, words);
        // Latin words are spaced; CJK runs together, as people type.
        if i > 0 && (std::ptr::eq(words, EN) || std::ptr::eq(words, KO)) {
            out.push(' ');
        }
        out.push_str(w);
        if rng.random_bool(0.12) {
            out.push_str(pick(rng, EMOJI));
        }
    }
    if rng.random_bool(0.1) {
        out.push('?');
    }
    out
}

fn comment(rng: &mut StdRng, k: usize, source: &str) -> commentwatch::domain::Comment {
    let start = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
    // Thirty days, in order, with bursts: time advances unevenly.
    let at = start + chrono::Duration::milliseconds((k as i64) * 2_592);
    let author = rng.random_range(0..20_000);
    let raw = RawComment {
        id: format!("c{k}"),
        author_name: format!("{}{author}", NAMES[author % NAMES.len()]),
        author_id: channel_id(author),
        text: chat(rng),
        published_at: Some(at),
        likes: if rng.random_bool(0.2) {
            rng.random_range(1..500)
        } else {
            0
        },
        reply_to: (k > 10 && rng.random_bool(0.1))
            .then(|| format!("c{}", k - rng.random_range(1..10))),
        amount: rng.random_bool(0.01).then(|| RawAmount {
            display: "$5.00".into(),
            micros: 5_000_000,
            currency: "USD".into(),
        }),
        ..RawComment::default()
    };
    commentwatch::sanitize::sanitize(source, raw, at).expect("has an id")
}

/// A YouTube-like channel id: `UC` and 22 base64url characters.
fn channel_id(n: usize) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut id = String::from("UC");
    for _ in 0..22 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        id.push(B64[(x % 64) as usize] as char);
    }
    id
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// In a child process: export `rows` rows and print rate and peak memory.
fn child_export(db: &str, format: &str, rows: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let log = rt
        .block_on(async { CommentLog::open(std::path::Path::new(db)) })
        .unwrap();
    let format = match format {
        "csv" => Format::Csv { bom: true },
        _ => Format::Jsonl,
    };
    let before_kib = vm_hwm_kib();
    let mut reader = log.reader().unwrap();
    let mut out = std::io::BufWriter::new(std::io::sink());
    let started = Instant::now();
    let n = store::export(
        &mut reader,
        &Selection::default(),
        None,
        Some(rows),
        format,
        &mut out,
        &mut |_| {},
    )
    .unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!("{n} {:.0} {} {}", n as f64 / secs, before_kib, vm_hwm_kib());
}

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--child-export") {
        let (db, format, rows) = (
            args.next().unwrap(),
            args.next().unwrap(),
            args.next().unwrap(),
        );
        child_export(&db, &format, rows.parse().unwrap());
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let log = CommentLog::open(&db).unwrap();
    let mut rng = StdRng::seed_from_u64(42);
    println!(
        "commentwatch log benchmark: {TOTAL} comments in {}",
        db.display()
    );

    // Insert: batches of 5,000, one transaction each. Comments are made
    // (and sanitized) before the clock starts: only the log is timed.
    let mut insert_time = Duration::ZERO;
    let mut first_100k = Duration::ZERO;
    let mut k = 0;
    while k < TOTAL {
        let source = SOURCES[(k / BATCH) % SOURCES.len()];
        let comments: Vec<_> = (k..k + BATCH)
            .map(|i| comment(&mut rng, i, source))
            .collect();
        let started = Instant::now();
        log.record(Batch {
            source: source.into(),
            comments,
            ..Batch::default()
        })
        .await
        .unwrap();
        insert_time += started.elapsed();
        k += BATCH;
        if k == 100_000 {
            first_100k = insert_time;
        }
    }
    println!(
        "insert: first 100,000 in {} ({:.0}/s); all {TOTAL} in {:.1} s ({:.0}/s)",
        ms(first_100k),
        100_000.0 / first_100k.as_secs_f64(),
        insert_time.as_secs_f64(),
        TOTAL as f64 / insert_time.as_secs_f64()
    );
    // Search indexing runs after storing, off the poller's path (in the
    // app, every second and before any search); here all at once.
    let started = Instant::now();
    log.index_pending().await.unwrap();
    let index_time = started.elapsed();
    println!(
        "search index catch-up: {TOTAL} comments in {:.1} s ({:.0}/s); store + index: {:.0}/s",
        index_time.as_secs_f64(),
        TOTAL as f64 / index_time.as_secs_f64(),
        TOTAL as f64 / (index_time + insert_time).as_secs_f64()
    );
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(db.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("file size: {:.0} MiB", size as f64 / (1 << 20) as f64);

    // Search: each query a page of 100, newest first, repeated; the first
    // run of each is discarded (cold statement cache).
    let classes: &[(&str, &[&str])] = &[
        ("1 char, Latin", &["a", "e", "z", "q", "?"]),
        ("1 char, CJK", &["草", "的", "好", "赞", "声"]),
        ("1 char, Hangul", &["대", "ㅋ", "왔"]),
        ("1 emoji", &["😂", "🔥", "🎉", "🥺"]),
        ("2 chars, Latin", &["gg", "lo", "Go", "qz"]),
        ("2 chars, Chinese", &["主播", "加油", "赞助", "歌名"]),
        ("2 chars, Japanese", &["配信", "待機", "神回"]),
        ("2 chars, Korean", &["대박", "최고"]),
        (
            "5 chars, English",
            &["hello", "great", "Sound", "spons", "xqzvw"],
        ),
        (
            "5 chars, Japanese",
            &["ありがとう", "すごいです", "こんばんは"],
        ),
        (
            "5 chars, Chinese",
            &["哈哈哈哈哈", "主播好帅了", "谢谢老板大"],
        ),
        ("5 chars, Korean", &["안녕하세요", "감사합니다"]),
    ];
    println!("search (a page of 100, newest first; p50 / p99 / max over 20 runs of each query):");
    let mut all = Vec::new();
    for (class, queries) in classes {
        let mut times = Vec::new();
        let mut hits = Vec::new();
        for q in *queries {
            let sel = Selection {
                q: Some((*q).into()),
                ..Selection::default()
            };
            for run in 0..21 {
                let started = Instant::now();
                let page = log.page(sel.clone(), None, 100).await.unwrap();
                if run > 0 {
                    times.push(started.elapsed());
                } else {
                    hits.push(page.comments.len());
                }
            }
        }
        times.sort();
        all.extend(times.iter().copied());
        println!(
            "  {class:<18} {:>9} / {:>9} / {:>9}   (rows per query: {hits:?})",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap())
        );
    }
    all.sort();
    println!(
        "  all queries        {:>9} / {:>9} / {:>9}",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap())
    );
    // Filters, alone and with a query, first page and a deep one.
    let at = |d: i64| {
        Some(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap() + chrono::Duration::days(d))
    };
    let filters: Vec<(&str, Selection, Option<i64>)> = vec![
        (
            "source (one of three)",
            Selection {
                source: Some(store::SourceFilter::Exact(SOURCES[1].into())),
                ..Selection::default()
            },
            None,
        ),
        (
            "source=youtube-live (platform)",
            Selection {
                source: Some(store::SourceFilter::Platform("youtube-live")),
                ..Selection::default()
            },
            None,
        ),
        (
            "author id",
            Selection {
                author: Some(channel_id(4242)),
                ..Selection::default()
            },
            None,
        ),
        (
            "author name",
            Selection {
                author: Some("@alex4240".into()),
                ..Selection::default()
            },
            None,
        ),
        (
            "one day (since+until)",
            Selection {
                since: at(10),
                until: at(11),
                ..Selection::default()
            },
            None,
        ),
        (
            "paid only",
            Selection {
                paid: store::Flag::Only,
                ..Selection::default()
            },
            None,
        ),
        (
            "deleted only (none)",
            Selection {
                deleted: store::Flag::Only,
                ..Selection::default()
            },
            None,
        ),
        (
            "replies only",
            Selection {
                replies: store::Flag::Only,
                ..Selection::default()
            },
            None,
        ),
        (
            "主播 + source, page at seq 500000",
            Selection {
                q: Some("主播".into()),
                source: Some(store::SourceFilter::Exact(SOURCES[1].into())),
                ..Selection::default()
            },
            Some(500_000),
        ),
        (
            "hello + one day",
            Selection {
                q: Some("hello".into()),
                since: at(10),
                until: at(11),
                ..Selection::default()
            },
            None,
        ),
        (
            "草 + author name",
            Selection {
                q: Some("草".into()),
                author: Some("たろう4243".into()),
                ..Selection::default()
            },
            None,
        ),
    ];
    for (what, sel, before) in filters {
        let mut times = Vec::new();
        let mut rows = 0;
        for run in 0..11 {
            let started = Instant::now();
            let page = log.page(sel.clone(), before, 100).await.unwrap();
            rows = page.comments.len();
            if run > 0 {
                times.push(started.elapsed());
            }
        }
        times.sort();
        println!(
            "  {what:<34} p50 {:>9}, max {:>9} ({rows} rows)",
            ms(percentile(&times, 0.5)),
            ms(*times.last().unwrap())
        );
    }

    // Export, each in a fresh process so its peak memory is its own.
    println!("export (to a sink, newest first, in a fresh process each):");
    let exe = std::env::current_exe().unwrap();
    for (format, rows) in [
        ("csv", 100_000u64),
        ("csv", TOTAL as u64),
        ("jsonl", 100_000),
        ("jsonl", TOTAL as u64),
    ] {
        let out = std::process::Command::new(&exe)
            .args([
                "--child-export",
                &db.display().to_string(),
                format,
                &rows.to_string(),
            ])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 4 {
            println!(
                "  {format:<5} {:>9} rows: {:>9} rows/s, peak RSS {:.1} MiB (at start {:.1} MiB)",
                f[0],
                f[1],
                f[3].parse::<f64>().unwrap_or(0.0) / 1024.0,
                f[2].parse::<f64>().unwrap_or(0.0) / 1024.0
            );
        } else {
            println!(
                "  {format} {rows}: failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    // Pages over HTTP, from the real app on loopback.
    drop(log);
    let vars = std::collections::HashMap::from([
        ("CW_DB", db.display().to_string()),
        ("CW_LISTEN", "127.0.0.1:0".to_string()),
        ("CW_SOURCES", "demo".to_string()),
        ("CW_DEMO_RATE", "0".to_string()),
        ("CW_DEMO_SEED", "1".to_string()),
    ]);
    let config = Config::from_lookup(["commentwatch"], |k| vars.get(k).cloned()).unwrap();
    let app = App::build(config).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    for (what, path, runs) in [
        ("/log first page", "/log", 50),
        ("/log?q=主播", "/log?q=%E4%B8%BB%E6%92%AD", 50),
        ("/log?q=hello&source=demo", "/log?q=hello&source=demo", 50),
        ("/api/comments?q=草", "/api/comments?q=%E8%8D%89", 50),
        ("/api/stats (whole log)", "/api/stats", 3),
        ("/api/stats?q=主播", "/api/stats?q=%E4%B8%BB%E6%92%AD", 3),
    ] {
        let mut times = Vec::new();
        for run in 0..=runs {
            let started = Instant::now();
            let resp = client.get(format!("{base}{path}")).send().await.unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
            let _ = resp.bytes().await.unwrap();
            if run > 0 {
                times.push(started.elapsed());
            }
        }
        times.sort();
        println!(
            "http: {what:<26} p50 {:>9}, p99 {:>9} ({runs} runs)",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        );
    }
    // Retention on the big log: a week of 30 days' comments.
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let log = CommentLog::open(&db).unwrap();
    let cutoff = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap() + chrono::Duration::days(7);
    let started = Instant::now();
    let pruned = log.prune(cutoff).await.unwrap();
    println!(
        "prune: {pruned} comments older than a cutoff in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
