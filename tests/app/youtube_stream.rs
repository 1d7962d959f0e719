//! Pushed sources: the runner (`PushTask`) delivers a stream's batches
//! complete, in order and once, and resumes a dropped stream from the token
//! stored with the last batch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use commentwatch::domain::RawComment;
use commentwatch::poller::{PushTask, STREAMING};
use commentwatch::source::{BoxFuture, BoxStream, PushedBatch, PushedSource, Source, SourceError};
use commentwatch::status::SourceState;
use commentwatch::store::ChangeKind;
use tokio_util::sync::CancellationToken;

use crate::helpers::pipeline;

const TOTAL: usize = 500;

/// What the test source did: the token each open was given.
#[derive(Default)]
struct Script {
    opens: Vec<Option<String>>,
    /// Fail once, after this many messages were sent (mid-stream, between
    /// two batches of one connection).
    fail_at: Option<usize>,
}

/// A stream of `TOTAL` messages in bursts of 1 to 37, resuming after the
/// token (the index of the next message). The server closes each connection
/// after 120 messages; the stream is held open (pending) once all are sent.
struct Bursts {
    script: Arc<Mutex<Script>>,
}

impl Source for Bursts {
    fn name(&self) -> String {
        "youtube-live:STREAMTEST1".into()
    }
}

fn message(i: usize) -> RawComment {
    RawComment {
        id: format!("m{i:04}"),
        author_name: format!("viewer {}", i % 17),
        author_id: format!("UC{}", i % 17),
        text: format!("message number {i}"),
        ..RawComment::default()
    }
}

impl PushedSource for Bursts {
    fn open<'a>(
        &'a self,
        resume: Option<&'a str>,
    ) -> BoxFuture<'a, Result<BoxStream<'a, Result<PushedBatch, SourceError>>, SourceError>> {
        let start: usize = resume.map_or(0, |t| t.parse().expect("a token we made"));
        self.script
            .lock()
            .unwrap()
            .opens
            .push(resume.map(str::to_owned));
        let script = self.script.clone();
        Box::pin(async move {
            let mut items: Vec<Result<PushedBatch, SourceError>> = Vec::new();
            let mut at = start;
            let mut burst = 1 + start % 37;
            while at < TOTAL && at < start + 120 {
                let fail = {
                    let mut s = script.lock().unwrap();
                    match s.fail_at {
                        Some(f) if f <= at => {
                            s.fail_at = None;
                            true
                        }
                        _ => false,
                    }
                };
                if fail {
                    items.push(Err(SourceError::transient("connection reset")));
                    break;
                }
                let end = (at + burst).min(TOTAL);
                items.push(Ok(PushedBatch {
                    comments: (at..end).map(message).collect(),
                    resume: Some(end.to_string()),
                    ..PushedBatch::default()
                }));
                at = end;
                burst = 1 + (burst * 7) % 37;
            }
            let done = at >= TOTAL;
            let stream = futures_util::stream::iter(items);
            let stream: BoxStream<'a, _> = if done {
                Box::pin(futures_util::StreamExt::chain(
                    stream,
                    futures_util::stream::pending(),
                ))
            } else {
                Box::pin(stream)
            };
            Ok(stream)
        })
    }
}

#[tokio::test]
async fn five_hundred_pushed_messages_arrive_complete_in_order_once_across_drops() {
    let pipeline = pipeline();
    let mut frames = pipeline.hub.subscribe();
    let script = Arc::new(Mutex::new(Script {
        fail_at: Some(200),
        ..Script::default()
    }));
    let task = PushTask::new(
        Box::new(Bursts {
            script: script.clone(),
        }),
        pipeline.clone(),
    );
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());

    let log = pipeline.log.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while log.count().await.unwrap() < TOTAL as i64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {TOTAL} messages arrived",
            log.count().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing more arrives later (no repeats after a resume).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let changes = log.changes_since(0, 10_000).await.unwrap();
    let ids: Vec<String> = changes.iter().map(|c| c.comment.id.clone()).collect();
    let expected: Vec<String> = (0..TOTAL).map(|i| format!("m{i:04}")).collect();
    assert_eq!(ids, expected, "every message once, in the order pushed");
    assert!(changes.iter().all(|c| c.kind == ChangeKind::New));
    let seqs: Vec<i64> = changes.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=TOTAL as i64).collect::<Vec<_>>());

    // The hub heard the same, in seq order.
    let mut published = Vec::new();
    while let Ok(frame) = frames.try_recv() {
        if let Some(seq) = frame.seq {
            published.push(seq);
        }
    }
    assert_eq!(published, seqs, "frames leave in seq order, once each");

    // Each reconnect resumed from the token stored with the last batch: the
    // server closes after 120 messages, the error hit once mid-stream.
    let opens = script.lock().unwrap().opens.clone();
    assert_eq!(
        opens[0], None,
        "the first open starts at the stream's start"
    );
    assert!(opens.len() >= 5, "closes and the error reopened: {opens:?}");
    for token in opens.iter().skip(1) {
        let at: usize = token.as_deref().expect("a resume token").parse().unwrap();
        assert!(at > 0 && at <= TOTAL);
    }
    assert!(
        opens.windows(2).all(|w| w[0] < w[1] || w[0].is_none()),
        "every open resumed further on: {opens:?}"
    );
    assert_eq!(
        log.cursor("youtube-live:STREAMTEST1".into()).await.unwrap(),
        Some(TOTAL.to_string())
    );

    let status = pipeline
        .hub
        .statuses()
        .into_iter()
        .find(|s| s.source == "youtube-live:STREAMTEST1")
        .unwrap();
    assert_eq!(status.state, SourceState::Ok);
    assert_eq!(status.detail.as_deref(), Some(STREAMING));

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the runner stops when cancelled")
        .unwrap();
}

/// A source whose key is refused: the runner stops it, as the poller would.
struct Refused;

impl Source for Refused {
    fn name(&self) -> String {
        "youtube-live:REFUSED01".into()
    }
}

impl PushedSource for Refused {
    fn open<'a>(
        &'a self,
        _resume: Option<&'a str>,
    ) -> BoxFuture<'a, Result<BoxStream<'a, Result<PushedBatch, SourceError>>, SourceError>> {
        Box::pin(async {
            Err(SourceError::Stopped {
                reason: "the chat has ended".into(),
            })
        })
    }
}

#[tokio::test]
async fn a_stream_that_cannot_be_resumed_stops_the_source() {
    let pipeline = pipeline();
    let task = PushTask::new(Box::new(Refused), pipeline.clone());
    tokio::time::timeout(Duration::from_secs(5), task.run(CancellationToken::new()))
        .await
        .expect("a stopped source ends its runner");
    let status = pipeline.hub.statuses().pop().unwrap();
    assert_eq!(status.state, SourceState::Stopped);
    assert_eq!(status.last_error.as_deref(), Some("the chat has ended"));
}

// --- youtube-live: through streamList, against a mock on loopback --------

pub(crate) mod mock;

fn chat_message(i: usize) -> String {
    format!(
        r#"{{"kind":"youtube#liveChatMessage","id":"LCC.s{i:03}","snippet":{{"type":"textMessageEvent","liveChatId":"CHAT1","authorChannelId":"UCa{i}","publishedAt":"2026-12-03T09:00:{:02}Z","hasDisplayContent":true,"displayMessage":"hello {{number}} {i} \"quoted\"","textMessageDetails":{{"messageText":"hello {{number}} {i} \"quoted\""}}}},"authorDetails":{{"channelId":"UCa{i}","displayName":"Viewer {i}","profileImageUrl":"https://yt3.ggpht.com/a/photo.jpg","isVerified":false,"isChatOwner":false,"isChatSponsor":false,"isChatModerator":false}}}}"#,
        i % 60
    )
}

/// A pushed response holding messages `from..to`, with token `t{to}`.
pub(crate) fn response(from: usize, to: usize) -> String {
    let items: Vec<String> = (from..to).map(chat_message).collect();
    format!(
        r#"{{"kind":"youtube#liveChatMessageListResponse","etag":"e","nextPageToken":"t{to}","pageInfo":{{"totalResults":{n},"resultsPerPage":{n}}},"items":[{items}]}}"#,
        n = to - from,
        items = items.join(",")
    )
}

fn live_stream(base: &str) -> commentwatch::source::youtube::LiveStream {
    commentwatch::source::youtube::LiveStream::new(
        "STREAMVID01",
        commentwatch::source::youtube::YouTubeSettings {
            api_key: "test-key_123".into(),
            api_base: base.to_owned(),
            daily_quota: 10_000,
            session_hours: 4.0,
        },
        commentwatch::source::http::Http::new(Duration::from_secs(10), 10 << 20),
    )
}

async fn wait_for_count(log: &commentwatch::store::CommentLog, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while log.count().await.unwrap() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} messages arrived",
            log.count().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stream_killed_mid_way_resumes_from_its_token_with_nothing_lost_or_doubled() {
    use mock::Answer;
    let first = vec![response(0, 10), response(10, 25), response(25, 30)];
    let second = vec![response(30, 31), response(31, 60)];
    let server = mock::start(vec![Answer::CutAfter(first), Answer::Hold(second)], None).await;
    let pipeline = pipeline();
    let task = PushTask::new(Box::new(live_stream(&server.base)), pipeline.clone())
        .with_daily_quota(10_000);
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());

    let log = pipeline.log.clone();
    wait_for_count(&log, 60).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let changes = log.changes_since(0, 1000).await.unwrap();
    let ids: Vec<String> = changes.iter().map(|c| c.comment.id.clone()).collect();
    let expected: Vec<String> = (0..60).map(|i| format!("LCC.s{i:03}")).collect();
    assert_eq!(ids, expected, "every message once, in order");
    assert_eq!(changes[7].comment.text, "hello {number} 7 \"quoted\"");

    let queries = server.stream_queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(!queries[0].contains("pageToken"), "{}", queries[0]);
    assert!(queries[0].contains("liveChatId=CHAT1"), "{}", queries[0]);
    assert!(queries[1].contains("pageToken=t30"), "{}", queries[1]);
    assert_eq!(
        log.cursor("youtube-live:STREAMVID01".into()).await.unwrap(),
        Some("t60".into())
    );
    let status = pipeline.hub.statuses().pop().unwrap();
    assert_eq!(status.state, SourceState::Ok);
    assert_eq!(status.detail.as_deref(), Some(STREAMING));
    // One videos.list (1 unit) and two connections (5 units each), counted
    // in the log where the quota planner reads them, and in the status.
    let day = commentwatch::quota::quota_day(chrono::Utc::now());
    assert_eq!(log.quota_used(day).await.unwrap(), 11);
    assert_eq!(status.quota_used, Some(11));
    assert_eq!(status.connections, Some(2), "the cut stream and its resume");

    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_refused_stream_falls_back_to_polling_and_says_so() {
    use mock::Answer;
    let refusal = r#"[{"error":{"code":404,"message":"Method not found.","errors":[{"reason":"notFound"}],"status":"NOT_FOUND"}}]"#;
    let mut page: serde_json::Value = serde_json::from_str(&response(0, 3)).unwrap();
    page["pollingIntervalMillis"] = serde_json::json!(2000);
    let server = mock::start(
        vec![Answer::Refuse(404, refusal.into())],
        Some(page.to_string()),
    )
    .await;
    let pipeline = pipeline();
    let task = PushTask::new(Box::new(live_stream(&server.base)), pipeline.clone());
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());

    wait_for_count(&pipeline.log, 3).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let detail = loop {
        let status = pipeline.hub.statuses().pop().unwrap();
        let detail = status.detail.clone().unwrap_or_default();
        if detail.starts_with("live (polling every 2 s)") {
            assert_eq!(status.state, SourceState::Ok);
            break detail;
        }
        assert!(tokio::time::Instant::now() < deadline, "status: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(detail.contains("streaming refused"), "{detail}");
    assert!(detail.contains("404"), "{detail}");
    assert!(!detail.contains("test-key"), "{detail}");
    // Streaming was asked once; polling goes on from there.
    assert_eq!(server.stream_queries.lock().unwrap().len(), 1);

    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_fallback_to_polling_is_paced_to_the_quota_plan() {
    use mock::Answer;
    let refusal = r#"{"error":{"code":403,"message":"Streaming is not enabled.","errors":[{"reason":"forbidden_stream"}]}}"#;
    let mut page: serde_json::Value = serde_json::from_str(&response(0, 2)).unwrap();
    page["pollingIntervalMillis"] = serde_json::json!(1000);
    let server = mock::start(
        vec![Answer::Refuse(403, refusal.into())],
        Some(page.to_string()),
    )
    .await;
    let pipeline = pipeline();
    // 1,000 units over 4 hours for two sources: far slower than 1 s.
    let cancel = CancellationToken::new();
    let running = on_a_tight_quota(&server.base, &pipeline).spawn(cancel.clone());

    wait_for_count(&pipeline.log, 2).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = pipeline.hub.statuses().pop().unwrap();
        let detail = status.detail.clone().unwrap_or_default();
        let every: Option<u64> = detail
            .strip_prefix("live (polling every ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok());
        if let Some(every) = every.filter(|&e| e > 1) {
            assert!(every >= 60, "paced to the plan: {detail}");
            assert!(detail.contains("403"), "{detail}");
            assert!(status.quota_used.unwrap() > 0);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "status: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn streams_the_server_closes_cleanly_or_with_an_error_resume_from_their_tokens() {
    use mock::Answer;
    let error = r#"{"error":{"code":503,"message":"The service is unavailable.","errors":[{"reason":"backendError"}]}}"#;
    let server = mock::start(
        vec![
            Answer::Close(vec![response(0, 5), response(5, 12)]),
            Answer::Close(vec![response(12, 20), error.to_owned()]),
            Answer::Hold(vec![response(20, 26)]),
        ],
        None,
    )
    .await;
    let pipeline = pipeline();
    let task = PushTask::new(Box::new(live_stream(&server.base)), pipeline.clone());
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());

    let log = pipeline.log.clone();
    wait_for_count(&log, 26).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ids: Vec<String> = log
        .changes_since(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|c| c.comment.id.clone())
        .collect();
    let expected: Vec<String> = (0..26).map(|i| format!("LCC.s{i:03}")).collect();
    assert_eq!(ids, expected, "every message once, in order");
    let queries = server.stream_queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(queries[1].contains("pageToken=t12"), "{}", queries[1]);
    assert!(queries[2].contains("pageToken=t20"), "{}", queries[2]);
    let status = pipeline.hub.statuses().pop().unwrap();
    assert_eq!(status.detail.as_deref(), Some(STREAMING));

    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_quota_error_in_the_stream_pauses_until_the_reset() {
    use mock::Answer;
    let quota = r#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your quota.","errors":[{"reason":"quotaExceeded"}]}}"#;
    let server = mock::start(
        vec![Answer::Close(vec![response(0, 4), quota.to_owned()])],
        None,
    )
    .await;
    let pipeline = pipeline();
    let task = PushTask::new(Box::new(live_stream(&server.base)), pipeline.clone());
    let cancel = CancellationToken::new();
    let running = task.spawn(cancel.clone());

    wait_for_count(&pipeline.log, 4).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = pipeline.hub.statuses().pop().unwrap();
        if status.state == SourceState::Quota {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "status: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let until = status.next_poll.expect("when the pause ends");
    assert_eq!(
        until,
        commentwatch::quota::next_reset(chrono::Utc::now()),
        "until midnight Pacific"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        server.stream_queries.lock().unwrap().len(),
        1,
        "no reconnect while paused"
    );

    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn streams_the_server_ends_at_once_are_reopened_no_faster_than_the_quota_plan() {
    use mock::Answer;
    let server = mock::start(
        vec![
            Answer::Close(vec![response(0, 3)]),
            Answer::Close(vec![response(3, 6)]),
        ],
        None,
    )
    .await;
    let pipeline = pipeline();
    // 1,000 units over 4 hours for two sources: minutes between connections.
    let cancel = CancellationToken::new();
    let running = on_a_tight_quota(&server.base, &pipeline).spawn(cancel.clone());

    wait_for_count(&pipeline.log, 3).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = pipeline.hub.statuses().pop().unwrap();
        let detail = status.detail.clone().unwrap_or_default();
        if detail.contains("within the day's quota") {
            assert!(detail.starts_with(STREAMING), "{detail}");
            assert!(
                detail.contains("the server ended the stream after")
                    && detail.contains("as often as polling could"),
                "the measured stream and why it still streams: {detail}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "status: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Without the plan it would have reopened after about a second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.stream_queries.lock().unwrap().len(), 1);
    assert_eq!(pipeline.log.count().await.unwrap(), 3);

    cancel.cancel();
    running.await.unwrap();
}

/// A stream task on a key of 1,000 units a day shared by two sources over a
/// 4-hour session: connections (and fallback polls) minutes apart.
fn on_a_tight_quota(base: &str, pipeline: &commentwatch::poller::Pipeline) -> PushTask {
    let book = Arc::new(commentwatch::poller::QuotaBook {
        daily: 1_000,
        session: Duration::from_secs(4 * 3600),
        sources: 2,
        started: std::time::Instant::now(),
    });
    PushTask::new(Box::new(live_stream(base)), pipeline.clone())
        .with_daily_quota(1_000)
        .with_quota_book(book)
}
