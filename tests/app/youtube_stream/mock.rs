//! A `streamList` mock on loopback: `videos.list`, `liveChatMessages.list`
//! and the stream path, which writes a JSON array a piece at a time (chunked,
//! varied separators, objects split across chunks) and then holds, cuts or
//! closes the connection, or refuses with a Google error body.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the mock's stream path does on its n-th connection.
#[derive(Clone)]
pub enum Answer {
    /// `[`, these objects (separated by `sep`), then the TCP connection
    /// is cut without `]`.
    CutAfter(Vec<String>),
    /// `[`, these objects, then held open.
    Hold(Vec<String>),
    /// An HTTP error with a Google error body.
    Refuse(u16, String),
    /// `[`, these objects, `]` and the response's end: the server
    /// closing the stream (an `{"error":…}` object among them closes it
    /// with an error).
    Close(Vec<String>),
    /// `[`, then each object the test sends on the channel, as it is sent,
    /// held open: a chat the test drives while a page watches.
    Live(Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<String>>>),
}

pub struct Mock {
    pub base: String,
    /// The query string of every stream request.
    pub stream_queries: Arc<Mutex<Vec<String>>>,
}

pub async fn start(stream: Vec<Answer>, list_page: Option<String>) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let queries = Arc::new(Mutex::new(Vec::new()));
    let seen = queries.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let answers = stream.clone();
            let seen = seen.clone();
            let list_page = list_page.clone();
            tokio::spawn(serve(socket, answers, seen, list_page));
        }
    });
    Mock {
        base,
        stream_queries: queries,
    }
}

async fn serve(
    mut socket: TcpStream,
    answers: Vec<Answer>,
    seen: Arc<Mutex<Vec<String>>>,
    list_page: Option<String>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let json = |status: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match path {
        "/youtube/v3/videos" => {
            let body = r#"{"items":[{"id":"STREAMVID01","snippet":{"title":"A stream"},"liveStreamingDetails":{"activeLiveChatId":"CHAT1"}}]}"#;
            let _ = socket.write_all(json("200 OK", body).as_bytes()).await;
        }
        "/youtube/v3/liveChat/messages" => {
            let body = list_page.unwrap_or_else(|| "{}".into());
            let _ = socket.write_all(json("200 OK", &body).as_bytes()).await;
        }
        "/youtube/v3/liveChat/messages/stream" => {
            let n = {
                let mut s = seen.lock().unwrap();
                s.push(query.to_owned());
                s.len() - 1
            };
            let answer = answers.get(n).cloned().unwrap_or(Answer::Hold(Vec::new()));
            if let Answer::Live(rx) = answer {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=UTF-8\r\ntransfer-encoding: chunked\r\n\r\n1\r\n[\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut rx = rx.lock().await;
                let mut first = true;
                while let Some(o) = rx.recv().await {
                    let piece = if first { o } else { format!(",\n{o}") };
                    first = false;
                    let frame = format!("{:x}\r\n{piece}\r\n", piece.len());
                    if socket.write_all(frame.as_bytes()).await.is_err() {
                        return;
                    }
                }
                return;
            }
            let (objects, cut) = match answer {
                Answer::Refuse(code, body) => {
                    let _ = socket
                        .write_all(json(&format!("{code} Refused"), &body).as_bytes())
                        .await;
                    return;
                }
                Answer::CutAfter(o) => (o, true),
                Answer::Close(mut o) => {
                    o.push("]".into());
                    (o, true)
                }
                Answer::Hold(o) => (o, false),
                Answer::Live(_) => unreachable!("answered above"),
            };
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=UTF-8\r\ntransfer-encoding: chunked\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            let separators = [",", ",\n", "\r\n,", " , "];
            let mut pieces = vec!["[".to_owned()];
            for (i, o) in objects.iter().enumerate() {
                if o == "]" {
                    pieces.push("\n]".into());
                    pieces.push(String::new());
                    continue;
                }
                if i > 0 {
                    pieces.push(separators[i % separators.len()].to_owned());
                }
                // Each object split in two chunks, to cross chunk edges.
                let mid = o.len() / 2;
                pieces.push(o[..mid].to_owned());
                pieces.push(o[mid..].to_owned());
            }
            for p in pieces {
                if p.is_empty() {
                    // The last chunk: the response ends cleanly.
                    let _ = socket.write_all(b"0\r\n\r\n").await;
                    return;
                }
                let frame = format!("{:x}\r\n{p}\r\n", p.len());
                if socket.write_all(frame.as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            if cut {
                // Cut mid-stream: no `]`, no last chunk.
                return;
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
        _ => {
            let _ = socket
                .write_all(json("404 Not Found", "{}").as_bytes())
                .await;
        }
    }
}
