//! A Twitch chat mock on loopback: IRC over WebSocket as
//! docs/SOURCES.md describes it. It checks the anonymous login (`CAP REQ`
//! for tags and commands, `NICK justinfan<digits>`, no `PASS`, `JOIN
//! #channel` of a channel it serves), confirms later `JOIN`s, records
//! `PART`s, answers the client's `PING`s, and lets a test send any raw line
//! to the connection that is open, ask it to `RECONNECT`, or drop its
//! socket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{PATIENCE, eventually};

/// What the test asks the open connection to do.
enum Cmd {
    /// Send this text as one frame.
    Frame(String),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// One client's login as the mock saw it.
#[derive(Debug, Clone, Default)]
pub struct Login {
    pub lines: Vec<String>,
    pub nick: String,
    pub joined: String,
}

#[derive(Default)]
struct Shared {
    /// The open connection's command channel.
    open: Option<mpsc::UnboundedSender<Cmd>>,
    /// Every completed login, in order.
    logins: Vec<Login>,
    /// Logins that broke the rules, and why.
    refused: Vec<String>,
    /// `PONG`s the client sent to our `PING`s.
    pongs: usize,
    /// Lines to send right after a join (a `NOTICE`, say).
    on_join: Vec<String>,
    /// `PING`s the client sent.
    pings: usize,
    /// Every channel joined, on any connection, in order.
    joins: Vec<String>,
    /// Every channel parted.
    parts: Vec<String>,
    /// Leave the client's `PING`s unanswered (a server gone silent).
    silent: bool,
}

pub struct MockIrc {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl MockIrc {
    /// Listens on loopback for clients of `#channel`.
    pub async fn start(channel: &str) -> MockIrc {
        MockIrc::start_for(&[channel]).await
    }

    /// Listens on loopback for clients of these channels.
    pub async fn start_for(channels: &[&str]) -> MockIrc {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        let channels: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                let channels = channels.clone();
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        serve(ws, &channels, state).await;
                    }
                });
            }
        });
        MockIrc { url, shared }
    }

    /// Lines sent to every client right after it joined.
    pub fn on_join(&self, lines: &[&str]) {
        self.shared.lock().unwrap().on_join = lines.iter().map(|l| (*l).to_owned()).collect();
    }

    /// Waits until `n` clients completed the login; returns them all.
    pub async fn logins(&self, n: usize) -> Vec<Login> {
        let shared = self.shared.clone();
        eventually(&format!("{n} logins"), PATIENCE, || {
            let shared = shared.clone();
            async move {
                let s = shared.lock().unwrap();
                assert!(s.refused.is_empty(), "refused logins: {:?}", s.refused);
                (s.logins.len() >= n && s.open.is_some()).then(|| s.logins.clone())
            }
        })
        .await
    }

    /// How many `PONG`s answered our `PING`s.
    pub fn pongs(&self) -> usize {
        self.shared.lock().unwrap().pongs
    }

    /// Every channel joined so far, on any connection.
    pub fn joins(&self) -> Vec<String> {
        self.shared.lock().unwrap().joins.clone()
    }

    /// Every channel parted so far.
    pub fn parts(&self) -> Vec<String> {
        self.shared.lock().unwrap().parts.clone()
    }

    /// How many `PING`s the client sent.
    pub fn pings(&self) -> usize {
        self.shared.lock().unwrap().pings
    }

    /// Stops (or resumes) answering the client's `PING`s.
    pub fn go_silent(&self, silent: bool) {
        self.shared.lock().unwrap().silent = silent;
    }

    fn command(&self, cmd: Cmd) {
        let s = self.shared.lock().unwrap();
        let open = s.open.as_ref().expect("a client is connected");
        let _ = open.send(cmd);
    }

    /// Sends lines to the open connection, in one frame, each ended by CRLF.
    pub fn send(&self, lines: &[String]) {
        let mut frame = String::new();
        for l in lines {
            frame.push_str(l);
            frame.push_str("\r\n");
        }
        self.command(Cmd::Frame(frame));
    }

    /// Sends raw text as one frame, exactly as given.
    pub fn send_raw(&self, text: &str) {
        self.command(Cmd::Frame(text.to_owned()));
    }

    /// Twitch's restart notice, then the socket closed a moment later.
    pub fn reconnect(&self) {
        self.send(&[":tmi.twitch.tv RECONNECT".to_owned()]);
        let shared = self.shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Some(open) = shared.lock().unwrap().open.take() {
                let _ = open.send(Cmd::Drop);
            }
        });
    }

    /// Cuts the TCP connection without a close frame.
    pub fn drop_socket(&self) {
        if let Some(open) = self.shared.lock().unwrap().open.take() {
            let _ = open.send(Cmd::Drop);
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// What the server answers a `JOIN #channel`.
fn joined(nick: &str, channel: &str) -> String {
    format!(
        ":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #{channel}\r\n\
         :{nick}.tmi.twitch.tv 353 {nick} = #{channel} :{nick}\r\n\
         @emote-only=0;followers-only=-1;r9k=0;room-id=1;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #{channel}\r\n"
    )
}

async fn serve(mut ws: Ws, channels: &[String], state: Arc<Mutex<Shared>>) {
    // The login: three lines, in this order, then the welcome.
    let mut login = Login::default();
    while login.lines.len() < 3 {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            return;
        };
        for line in t.split("\r\n").filter(|l| !l.is_empty()) {
            login.lines.push(line.to_owned());
        }
    }
    let want_cap = "CAP REQ :twitch.tv/tags twitch.tv/commands";
    let nick = login.lines[1]
        .strip_prefix("NICK ")
        .unwrap_or("")
        .to_owned();
    let digits = nick.strip_prefix("justinfan").unwrap_or("");
    let problems: Vec<String> = [
        (login.lines[0] != want_cap).then(|| format!("first line {:?}", login.lines[0])),
        (digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("nick {nick:?}")),
        (!channels
            .iter()
            .any(|c| login.lines[2] == format!("JOIN #{c}")))
        .then(|| format!("join {:?}", login.lines[2])),
        login
            .lines
            .iter()
            .any(|l| l.starts_with("PASS"))
            .then(|| "a PASS".to_owned()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !problems.is_empty() {
        state.lock().unwrap().refused.push(problems.join(", "));
        return;
    }
    let channel = login.lines[2].trim_start_matches("JOIN #").to_owned();
    // Lines the client sent right after its first JOIN (more JOINs).
    let early = login.lines.split_off(3);
    login.nick = nick.clone();
    login.joined = channel.clone();
    let welcome = format!(
        ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands\r\n\
         :tmi.twitch.tv 001 {nick} :Welcome, GLHF!\r\n\
         :tmi.twitch.tv 376 {nick} :>\r\n{}",
        joined(&nick, &channel)
    );
    if ws.send(Message::text(welcome)).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    {
        let mut s = state.lock().unwrap();
        s.logins.push(login);
        s.joins.push(channel.clone());
        s.open = Some(tx);
    }
    let _ = ws
        .send(Message::text(on_join_lines(&channel, &state)))
        .await;
    for line in early {
        if let Some(c) = line.strip_prefix("JOIN #") {
            answer_join(&mut ws, &nick, c, channels, &state).await;
        }
    }
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Cmd::Frame(text)) => {
                    if ws.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                // Dropping `ws` closes the TCP socket without a close frame.
                Some(Cmd::Drop) | None => return,
            },
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    for line in t.split("\r\n").filter(|l| !l.is_empty()) {
                        if let Some(payload) = line.strip_prefix("PING") {
                            let silent = {
                                let mut s = state.lock().unwrap();
                                s.pings += 1;
                                s.silent
                            };
                            if !silent {
                                let pong = format!(":tmi.twitch.tv PONG tmi.twitch.tv{payload}\r\n");
                                let _ = ws.send(Message::text(pong)).await;
                            }
                        } else if line.starts_with("PONG") {
                            state.lock().unwrap().pongs += 1;
                        } else if let Some(c) = line.strip_prefix("JOIN #") {
                            answer_join(&mut ws, &nick, c, channels, &state).await;
                        } else if let Some(c) = line.strip_prefix("PART #") {
                            state.lock().unwrap().parts.push(c.to_owned());
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

/// The lines set with `on_join` that are about `channel`, as one frame.
fn on_join_lines(channel: &str, state: &Arc<Mutex<Shared>>) -> String {
    let s = state.lock().unwrap();
    let about = format!("#{channel} ");
    s.on_join
        .iter()
        .filter(|l| l.contains(&about))
        .map(|l| format!("{l}\r\n"))
        .collect()
}

/// Confirms a later `JOIN` of a channel the mock serves.
async fn answer_join(
    ws: &mut Ws,
    nick: &str,
    channel: &str,
    channels: &[String],
    state: &Arc<Mutex<Shared>>,
) {
    if !channels.iter().any(|x| x == channel) {
        return;
    }
    state.lock().unwrap().joins.push(channel.to_owned());
    let frame = joined(nick, channel) + &on_join_lines(channel, state);
    let _ = ws.send(Message::text(frame)).await;
}
