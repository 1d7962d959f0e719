//! The live feed's WebSocket wire, as any client library sees it: `batch=1`
//! carries the same frames as arrays, a client's ping is answered, and what
//! a client may not send (an oversized or unmasked frame) closes the
//! connection with the code RFC 6455 names.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{PATIENCE, seqs, spawn_app};

/// Reads messages until a change frame with `seq >= upto` arrived: every
/// frame, arrays unpacked, and how many messages were arrays of several.
async fn read_batched<S>(ws: &mut S, upto: i64) -> (Vec<Value>, usize)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut frames = Vec::new();
    let mut arrays = 0;
    while !frames
        .iter()
        .any(|f: &Value| f["seq"].as_i64().is_some_and(|s| s >= upto))
    {
        let msg = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a message in time")
            .expect("the feed stays open")
            .expect("a message");
        let Message::Text(text) = msg else { continue };
        match serde_json::from_str::<Value>(text.as_str()).expect("JSON") {
            Value::Array(many) => {
                assert!(many.len() > 1, "an array holds several frames");
                arrays += 1;
                frames.extend(many);
            }
            one => frames.push(one),
        }
    }
    (frames, arrays)
}

/// The code of the server's close frame (`None` if it ended without one).
async fn close_code<S>(ws: &mut S) -> Option<CloseCode>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Close(frame) = msg {
                return frame.map(|f| f.code);
            }
        }
        None
    })
    .await
    .expect("the server closes in time")
}

#[tokio::test]
async fn batch_1_carries_the_same_frames_in_arrays() {
    let app = spawn_app(&[("CW_DEMO_RATE", "1200"), ("CW_POLL", "1s")]).await;
    // Let a backlog build up, then open a plain and a batched feed.
    app.connect(None).await.comments(30).await;
    let mut plain = app.connect(None).await;
    let (mut batched, _) = connect_async(format!("ws://{}/ws?batch=1", app.addr))
        .await
        .expect("handshake");
    let live = plain.comments(60).await;
    let upto = *seqs(&live).last().unwrap();
    let (frames, arrays) = read_batched(&mut batched, upto).await;

    assert_eq!(frames[0]["type"], "hello", "{}", frames[0]);
    assert!(arrays >= 1, "the backlog at least goes as one array");
    let got = seqs(&frames);
    let first = got[0];
    let want: Vec<i64> = (first..=upto).collect();
    assert_eq!(got, want, "every change once, in order");
    // The same frames, byte for byte, as the plain feed's.
    let mut plain = app.connect(Some(first - 1)).await;
    let again = plain
        .until(|f| f["seq"].as_i64().is_some_and(|s| s >= upto))
        .await;
    let changes =
        |fs: &[Value]| -> Vec<Value> { fs.iter().filter(|f| f["seq"].is_i64()).cloned().collect() };
    assert_eq!(changes(&frames), changes(&again));
    app.stop().await;
}

#[tokio::test]
async fn a_client_ping_is_answered_and_a_close_is_returned() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let (mut ws, _) = connect_async(format!("ws://{}/ws", app.addr))
        .await
        .expect("handshake");
    ws.send(Message::Ping(b"still there?".to_vec().into()))
        .await
        .unwrap();
    let pong = loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await.unwrap() {
            Some(Ok(Message::Pong(p))) => break p,
            Some(Ok(_)) => continue,
            other => panic!("no pong: {other:?}"),
        }
    };
    assert_eq!(&pong[..], b"still there?");
    ws.close(None).await.unwrap();
    // The server answers the close, and the stream ends.
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Normal));
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let (mut ws, _) = connect_async(format!("ws://{}/ws", app.addr))
        .await
        .expect("handshake");
    ws.send(Message::Text("x".repeat(5000).into()))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Size));
    app.stop().await;
}

#[tokio::test]
async fn an_unmasked_client_frame_closes_with_1002() {
    let app = spawn_app(&[("CW_DEMO_RATE", "0")]).await;
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        app.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    // An unmasked text frame, as only a server may send.
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server ends the connection");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(
        text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            || text.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "RFC 6455's sample key gets its sample answer: {text}"
    );
    // The last frame is a close (0x88) with code 1002.
    let close = got
        .windows(4)
        .rposition(|w| w[0] == 0x88 && w[2..4] == 1002u16.to_be_bytes())
        .expect("a close frame with 1002");
    assert!(close > 0);
    app.stop().await;
}
