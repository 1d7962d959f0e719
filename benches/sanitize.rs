//! Sanitizer throughput on typical comments: `cargo bench --bench sanitize`.
//!
//! The input mixes what a stream's chat looks like: the demo source's
//! comments (English, Chinese, Japanese, Korean, emoji, links, a share of
//! attacks) and YouTube-style HTML (`textDisplay` with `<br>`, entities and
//! links). Criterion reports the time per batch of 1,000 comments and the
//! throughput in comments per second (target: at least 250,000/s on one core).

use chrono::Utc;
use commentwatch::domain::RawComment;
use commentwatch::sanitize::sanitize;
use commentwatch::source::demo::DemoSource;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn typical_comments() -> Vec<RawComment> {
    let mut out = Vec::with_capacity(1000);
    // The demo's backlog is 20 comments; many seeds give a varied thousand.
    let mut seed = 0;
    while out.len() < 800 {
        let demo = DemoSource::new(0.0, Some(seed));
        out.extend(demo.fetch_page(None).expect("demo pages").comments);
        seed += 1;
    }
    for i in 0..200 {
        out.push(RawComment {
            id: format!("Ugz{i:020}"),
            author_name: format!("@viewer_{i}"),
            author_id: format!("UC{i:022}"),
            author_avatar: Some(format!("https://yt3.ggpht.com/ytc/avatar{i}=s48-c-k")),
            text: "Great stream! 10:42 was the best part\nsee you next week".into(),
            html: Some(
                "Great stream! <a href=\"https://www.youtube.com/watch?v=Xq3vLk9pT2w&amp;t=642\">10:42</a> \
                 was the best part<br>see you next week &#39;til then"
                    .into(),
            ),
            ..RawComment::default()
        });
    }
    out.truncate(1000);
    out
}

fn bench(c: &mut Criterion) {
    let comments = typical_comments();
    let mut group = c.benchmark_group("sanitize");
    group.throughput(Throughput::Elements(comments.len() as u64));
    group.bench_function("1000 typical comments", |b| {
        let now = Utc::now();
        b.iter_batched(
            || comments.clone(),
            |batch| {
                for raw in batch {
                    let _ = std::hint::black_box(sanitize("youtube:Xq3vLk9pT2w", raw, now));
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
