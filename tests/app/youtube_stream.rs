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
