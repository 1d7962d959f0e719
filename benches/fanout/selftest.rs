//! Checks of the bench's own client side, which the batched mode relies on
//! before the server sends any array: the splitting of a message into
//! frames, and clients reading single frames and arrays from a WebSocket
//! server on loopback that stands in for `/ws`, with and without a backlog
//! and a second burst counted apart. Touches nothing but loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

use crate::{ID_PREFIX, Phases, Tally, common, connect_clients, wait_for};

/// [`common::split_frames`] on single frames, arrays, and strings holding
/// the characters that delimit them; run at the start of every run.
pub fn split() {
    let one = r#"{"type":"comment","seq":7,"comment":{"id":"Ugbench0000000007"}}"#;
    assert_eq!(common::split_frames(one), vec![one]);
    let tricky =
        r#"{"type":"comment","seq":8,"comment":{"text":"a, [b] {c} \"d\", e\\","tags":[1,2]}}"#;
    let three = format!("[{one}, {tricky},{one}]");
    assert_eq!(common::split_frames(&three), vec![one, tricky, one]);
    assert_eq!(common::split_frames(&format!("[{one}]")), vec![one]);
    assert!(common::split_frames("[]").is_empty());
    let frames = common::split_frames(&three);
    assert_eq!(common::seq_of(frames[1]), Some(8));
    assert_eq!(common::comment_index(frames[2], ID_PREFIX), Some(7));
}

fn comment(k: u64) -> String {
    format!(
        r#"{{"type":"comment","seq":{k},"comment":{{"id":"Ugbench{k:010}","text":"[{k}], {{not a frame}} \"quoted\""}}}}"#
    )
}

/// What the stand-in sends each client, as messages of frames: with
/// `batch=1` the frames of a message are one JSON array, else each is a
/// message of its own. Comments 1–5, a source frame, and comment 4 again.
fn messages() -> Vec<Vec<String>> {
    vec![
        vec![r#"{"type":"hello","seq":0}"#.into(), comment(1), comment(2)],
        vec![
            comment(3),
            r#"{"type":"source","source":"youtube:x"}"#.into(),
        ],
        vec![comment(4), comment(5), comment(4)],
    ]
}

/// One client of the stand-in: the frames of [`messages`], then reads until
/// the client goes.
async fn stand_in(tcp: tokio::net::TcpStream) {
    let mut batch = false;
    // tungstenite's callback type, whose error is an HTTP response.
    #[allow(clippy::result_large_err)]
    let see_query = |req: &Request, resp: Response| {
        batch = req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "batch=1"));
        Ok(resp)
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(tcp, see_query).await else {
        return;
    };
    for frames in messages() {
        let texts = if batch {
            vec![format!("[{}]", frames.join(","))]
        } else {
            frames
        };
        for text in texts {
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
    }
    while let Some(Ok(_)) = socket.next().await {}
}

/// Two clients of the stand-in, with and without `batch`: each must count
/// comments 1–5 once, one duplicate and one frame out of order, and the
/// messages and frames the stand-in sent. Then again with comments 1–2 as
/// the backlog and 4–5 as a second burst: each phase gets its own frames,
/// faults and messages.
pub async fn clients() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(stand_in(tcp));
        }
    });
    let phased = Phases {
        backlog: 2,
        base: 3,
        second: 4,
    };
    for (batch, phases) in [
        (false, Phases::LIVE),
        (true, Phases::LIVE),
        (false, phased),
        (true, phased),
    ] {
        let (stop, delivered) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let tasks = connect_clients(
            &addr,
            2,
            batch,
            phases,
            Instant::now(),
            stop.clone(),
            delivered.clone(),
        )
        .await;
        wait_for(&delivered, 10, "comments from the stand-in").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.store(true, Ordering::Relaxed);
        let (mut arrivals, mut duplicates, mut disorder, mut messages, mut frames) =
            (Vec::new(), 0, 0, 0, 0);
        let (mut backlog, mut second) = (Tally::default(), Tally::default());
        let (mut backlog_messages, mut backlog_frames) = (0, 0);
        for t in tasks {
            let seen = t.await.unwrap();
            arrivals.extend(seen.arrivals.iter().map(|(k, _)| *k));
            duplicates += seen.duplicates;
            disorder += seen.out_of_order;
            messages += seen.messages;
            frames += seen.frames;
            backlog.add(seen.backlog);
            second.add(seen.second);
            backlog_messages += seen.backlog_messages;
            backlog_frames += seen.backlog_message_frames;
        }
        arrivals.sort();
        let case = format!("batch {batch}, backlog {}", phases.backlog);
        if phases.backlog == 0 {
            assert_eq!(arrivals, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5], "{case}");
            assert_eq!((duplicates, disorder), (2, 2), "{case}");
            assert_eq!(frames, 16, "{case}");
            assert_eq!(messages, if batch { 6 } else { 16 }, "{case}");
            assert_eq!((backlog.frames, backlog_messages), (0, 0), "{case}");
        } else {
            // 1–2 backlog, 3 live, 4–5 the second burst with 4's faults.
            assert_eq!(arrivals, [3, 3, 4, 4, 5, 5], "{case}");
            assert_eq!((duplicates, disorder), (0, 0), "{case}");
            assert_eq!((backlog.frames, backlog.duplicates), (4, 0), "{case}");
            assert_eq!((second.duplicates, second.out_of_order), (2, 2), "{case}");
            // Batched, the first message (hello, 1, 2) is the backlog's;
            // else the two messages of comments 1 and 2.
            let want = if batch { (2, 6, 4, 10) } else { (4, 4, 12, 12) };
            assert_eq!(
                (backlog_messages, backlog_frames, messages, frames),
                want,
                "{case}"
            );
        }
    }
}
