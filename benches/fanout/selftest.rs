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
    // A text holding what starts a frame, escaped as JSON escapes it.
    // and a nested object that starts with `type`, as a comment's event does.
    let sneaky = r#"{"type":"comment","seq":9,"comment":{"text":"x\",{\"type\":\"comment\"}","event":{"type":"gift"}}}"#;
    assert_eq!(
        common::split_frames(&format!("[{sneaky},{one}]")),
        vec![sneaky, one]
    );
    let frames = common::split_frames(&three);
    let fields = common::Fields::new(ID_PREFIX);
    assert_eq!(fields.seq(frames[1]), Some(8));
    assert_eq!(fields.comment_index(frames[2]), Some(7));
}

fn comment(k: u64) -> String {
    // Comment 5 is longer than 65,535 bytes: a frame with a 64-bit length,
    // larger than the client's starting buffer.
    let long = if k == 5 {
        "x".repeat(70_000)
    } else {
        String::new()
    };
    format!(
        r#"{{"type":"comment","seq":{k},"comment":{{"id":"Ugbench{k:010}","text":"[{k}], {{not a frame}} \"quoted\"{long}"}}}}"#
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

/// One client of the stand-in: a ping, the frames of [`messages`], then,
/// once the client has answered the ping, comment 6; then reads until the
/// client goes.
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
    if socket.send(Message::Ping(b"hi"[..].into())).await.is_err() {
        return;
    }
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
    while let Some(Ok(message)) = socket.next().await {
        if matches!(&message, Message::Pong(payload) if payload.as_ref() == b"hi") {
            let six = comment(6);
            let text = if batch { format!("[{six}]") } else { six };
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
    }
}

/// Two clients of the stand-in, with and without `batch`: each must count
/// comments 1–6 once (6 only comes once the client has answered a ping),
/// one duplicate and one frame out of order, and the messages and frames
/// the stand-in sent. Then again with comments 1–2 as the backlog and 4–6
/// as a second burst: each phase gets its own frames, faults and messages.
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
        wait_for(&delivered, 12, "comments from the stand-in").await;
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
            assert_eq!(arrivals, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6], "{case}");
            assert_eq!((duplicates, disorder), (2, 2), "{case}");
            assert_eq!(frames, 18, "{case}");
            assert_eq!(messages, if batch { 8 } else { 18 }, "{case}");
            assert_eq!((backlog.frames, backlog_messages), (0, 0), "{case}");
        } else {
            // 1–2 backlog, 3 live, 4–6 the second burst with 4's faults.
            assert_eq!(arrivals, [3, 3, 4, 4, 5, 5, 6, 6], "{case}");
            assert_eq!((duplicates, disorder), (0, 0), "{case}");
            assert_eq!((backlog.frames, backlog.duplicates), (4, 0), "{case}");
            assert_eq!((second.duplicates, second.out_of_order), (2, 2), "{case}");
            // Batched, the first message (hello, 1, 2) is the backlog's;
            // else the two messages of comments 1 and 2.
            let want = if batch { (2, 6, 6, 12) } else { (4, 4, 14, 14) };
            assert_eq!(
                (backlog_messages, backlog_frames, messages, frames),
                want,
                "{case}"
            );
        }
    }
}
