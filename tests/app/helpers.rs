//! Spawning the app, requests by route, waiting for a condition up to a
//! deadline, WebSocket clients that read frames, the real binary, and the
//! one switch that says whether PostgreSQL and Chromium are mandatory.
//!
//! Tests wait with [`eventually`] (or [`Client::until`] for frames), never
//! with a fixed sleep: a loaded machine makes them slower, not flaky.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use commentwatch::{App, Config, StartError};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long any single wait in a test may take before it counts as a failure.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A running app with its own log file.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The app's own pipeline: tests push batches through it directly.
    #[allow(dead_code)]
    pub feed: commentwatch::poller::Pipeline,
    /// The log file, for tests that restart on it.
    #[allow(dead_code)]
    pub db: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), StartError>>>,
    _dir: Option<TempDir>,
    http: reqwest::Client,
}

/// Settings every test app gets: port 0, a fixed demo seed, no backlog delay.
fn base_env(db: &str) -> HashMap<String, String> {
    HashMap::from([
        ("CW_LISTEN".into(), "127.0.0.1:0".into()),
        ("CW_DB".into(), db.to_owned()),
        ("CW_DEMO_SEED".into(), "7".into()),
    ])
}

/// Starts the app on a fresh temp log with `env` on top of the test defaults.
pub async fn spawn_app(env: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("comments.db");
    let mut app = spawn_app_on(&db, env).await;
    app._dir = Some(dir);
    app
}

/// Starts the app on an existing log file (for restart tests).
pub async fn spawn_app_on(db: &Path, env: &[(&str, &str)]) -> TestApp {
    spawn_app_with_db(&db.display().to_string(), env).await
}

/// Starts the app with `CW_DB=db`: a file, or a `postgres://` URL.
pub async fn spawn_app_with_db(db: &str, env: &[(&str, &str)]) -> TestApp {
    let mut vars = base_env(db);
    for (k, v) in env {
        vars.insert((*k).into(), (*v).into());
    }
    let config = Config::from_lookup(["commentwatch"], |k| vars.get(k).cloned())
        .expect("test config is valid");
    let app = App::build(config).await.expect("app builds");
    let addr = app.local_addr();
    let feed = app.pipeline();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        feed,
        db: PathBuf::from(db),
        stop: Some(stop),
        handle: Some(handle),
        _dir: None,
        http: reqwest::Client::new(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `GET path` (e.g. `/api/comments?q=x`), whatever the answer's status.
    #[allow(dead_code)]
    pub async fn get(&self, path: &str) -> reqwest::Response {
        send(self.http.get(self.url(path)), path).await
    }

    /// `GET path`, which must answer 200 with JSON; the JSON.
    #[allow(dead_code)]
    pub async fn get_json(&self, path: &str) -> Value {
        json_of(self.get(path).await, path).await
    }

    /// `GET path`, which must answer 200; the body as text.
    #[allow(dead_code)]
    pub async fn get_text(&self, path: &str) -> String {
        text_of(self.get(path).await, path).await
    }

    /// `POST path` with `body` as JSON, whatever the answer's status.
    #[allow(dead_code)]
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        let request = self
            .http
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        send(request, path).await
    }

    /// Opens `/ws` (with `?since=` if given) and waits for `hello`.
    pub async fn connect(&self, since: Option<i64>) -> Client {
        Client::connect(&self.addr.to_string(), since).await
    }

    /// Stops the app like Ctrl-C would and waits for it to finish.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(PATIENCE, handle)
                .await
                .expect("the app stops in time")
                .expect("the app task did not panic")
                .expect("the app ran without error");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A WebSocket client that reads JSON frames.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// `latest_seq` from the server's `hello`.
    pub latest_seq: i64,
}

impl Client {
    /// Opens `/ws` on `addr` (with `?since=` if given) and waits for `hello`.
    pub async fn connect(addr: &str, since: Option<i64>) -> Client {
        let url = match since {
            Some(s) => format!("ws://{addr}/ws?since={s}"),
            None => format!("ws://{addr}/ws"),
        };
        let (ws, _) = tokio::time::timeout(PATIENCE, connect_async(url))
            .await
            .expect("connect in time")
            .expect("WebSocket handshake");
        let mut client = Client { ws, latest_seq: 0 };
        let hello = client.next_frame().await.expect("a first frame");
        assert_eq!(hello["type"], "hello", "the first frame is hello: {hello}");
        client.latest_seq = hello["latest_seq"].as_i64().expect("latest_seq");
        client
    }

    /// The next text frame as JSON; `None` when the server closed.
    pub async fn next_frame(&mut self) -> Option<Value> {
        self.next_frame_within(PATIENCE)
            .await
            .expect("a frame in time")
    }

    /// Like `next_frame`, but `Err(())` if nothing arrives within `wait`.
    pub async fn next_frame_within(&mut self, wait: Duration) -> Result<Option<Value>, ()> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next())
                .await
                .map_err(|_| ())?;
            match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Text(t))) => {
                    return Ok(Some(
                        serde_json::from_str(t.as_str()).expect("frames are JSON"),
                    ));
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Reads frames until one satisfies `pred`; panics after `PATIENCE`.
    pub async fn until(&mut self, pred: impl FnMut(&Value) -> bool) -> Vec<Value> {
        self.until_within(PATIENCE, pred).await
    }

    /// Like `until`, with a deadline of its own.
    pub async fn until_within(
        &mut self,
        within: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Vec<Value> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self
                .next_frame_within(left)
                .await
                .unwrap_or_else(|_| panic!("timed out; frames so far: {seen:#?}"))
                .unwrap_or_else(|| panic!("server closed; frames so far: {seen:#?}"));
            let done = pred(&frame);
            seen.push(frame);
            if done {
                return seen;
            }
        }
    }

    /// Reads comment frames until at least `n` arrived; returns them.
    pub async fn comments(&mut self, n: usize) -> Vec<Value> {
        self.comments_within(n, PATIENCE).await
    }

    /// Like `comments`, with a deadline of its own (a flood on a loaded
    /// machine).
    pub async fn comments_within(&mut self, n: usize, within: Duration) -> Vec<Value> {
        let mut count = 0;
        self.until_within(within, |f| {
            if f["type"] == "comment" {
                count += 1;
            }
            count >= n
        })
        .await
        .into_iter()
        .filter(|f| f["type"] == "comment")
        .collect()
    }

    /// Reads until the server closes; returns the close code it sent.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let msg = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("the server closes in time");
            match msg {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.send(Message::Close(None)).await;
    }
}

/// Sends `request` (for `what`, named in the panic) within [`PATIENCE`].
async fn send(request: reqwest::RequestBuilder, what: &str) -> reqwest::Response {
    tokio::time::timeout(PATIENCE, request.send())
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {PATIENCE:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The body of `response` to `what`, which must be a 200.
async fn text_of(response: reqwest::Response, what: &str) -> String {
    let status = response.status();
    let body = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
    assert_eq!(status, 200, "{what} answered {status}: {body}");
    body
}

/// The JSON body of `response` to `what`, which must be a 200.
async fn json_of(response: reqwest::Response, what: &str) -> Value {
    let body = text_of(response, what).await;
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what} is not JSON ({e}): {body}"))
}

/// What one attempt of [`eventually`] found: done (with a value), or not yet
/// (with why, for the message if time runs out).
pub trait Attempt {
    type Output;
    fn done(self) -> Result<Self::Output, String>;
}

impl Attempt for bool {
    type Output = ();
    fn done(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("still false".into())
        }
    }
}

impl<T> Attempt for Option<T> {
    type Output = T;
    fn done(self) -> Result<T, String> {
        self.ok_or_else(|| "still None".into())
    }
}

impl<T, E: Display> Attempt for Result<T, E> {
    type Output = T;
    fn done(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Runs `check` until it is done — `true`, `Some(value)` or `Ok(value)` —
/// and returns the value; every 50 ms, for at most `within`. After that it
/// panics with `what` and the last `Err` (or `None`/`false`) it saw. A check
/// may also assert, for what must hold on every attempt.
///
/// ```ignore
/// let total = eventually("the backlog is stored", PATIENCE, || async {
///     let stats = app.get_json("/api/stats").await;
///     stats["total"].as_u64().filter(|n| *n >= 20)
/// })
/// .await;
/// ```
pub async fn eventually<A, F, Fut>(what: &str, within: Duration, mut check: F) -> A::Output
where
    A: Attempt,
    F: FnMut() -> Fut,
    Fut: Future<Output = A>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let why = match check().await.done() {
            Ok(value) => return value,
            Err(why) => why,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}; last: {why}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The one switch for what a test run may skip. PostgreSQL and the browser
/// tests skip (with a loud line) when their server or Chromium is missing,
/// unless this says they are required:
///
/// - `CW_REQUIRE_ALL`, or `CI` (what CI services set), makes both required;
/// - `CW_REQUIRE_POSTGRES` or `CW_REQUIRE_BROWSER` makes one required.
///
/// Each counts when set to anything but an empty value, `0` or `false`.
pub fn required(need: Need) -> bool {
    required_by(need, |var| std::env::var(var).ok())
}

/// [`required`], with the environment read through `lookup`.
fn required_by(need: Need, lookup: impl Fn(&str) -> Option<String>) -> bool {
    let on = |var: &str| {
        lookup(var).is_some_and(|v| {
            let v = v.trim();
            !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
        })
    };
    on("CW_REQUIRE_ALL") || on("CI") || on(need.var())
}

#[test]
fn one_switch_requires_everything_and_each_variable_one_thing() {
    let with = |vars: &[(&str, &str)]| {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |need| required_by(need, |k| vars.get(k).cloned())
    };
    for everything in [
        &[("CI", "true")][..],
        &[("CI", "1")],
        &[("CW_REQUIRE_ALL", "1")],
    ] {
        let required = with(everything);
        assert!(
            required(Need::Postgres) && required(Need::Browser),
            "{everything:?}"
        );
    }
    for nothing in [
        &[][..],
        &[("CI", "")],
        &[("CI", "false")],
        &[("CI", "0")],
        &[("CW_REQUIRE_ALL", "0")],
    ] {
        let required = with(nothing);
        assert!(
            !required(Need::Postgres) && !required(Need::Browser),
            "{nothing:?}"
        );
    }
    let required = with(&[("CW_REQUIRE_POSTGRES", "1")]);
    assert!(required(Need::Postgres) && !required(Need::Browser));
    let required = with(&[("CW_REQUIRE_BROWSER", "1")]);
    assert!(required(Need::Browser) && !required(Need::Postgres));
}

/// What [`required`] is asked about.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// A PostgreSQL server (`CW_TEST_POSTGRES`).
    Postgres,
    /// Chromium and chromedriver.
    Browser,
}

impl Need {
    /// The variable that requires just this one.
    pub fn var(self) -> &'static str {
        match self {
            Need::Postgres => "CW_REQUIRE_POSTGRES",
            Need::Browser => "CW_REQUIRE_BROWSER",
        }
    }
}

/// The `seq` of every frame that has one.
pub fn seqs(frames: &[Value]) -> Vec<i64> {
    frames.iter().filter_map(|f| f["seq"].as_i64()).collect()
}

/// A log in memory and a hub, wired like the app wires them.
pub fn pipeline() -> commentwatch::poller::Pipeline {
    let log = commentwatch::store::CommentLog::open_in_memory().expect("in-memory log");
    commentwatch::poller::Pipeline::new(log, commentwatch::hub::Hub::new())
}

/// One poll of `source` as the scheduler would run it (5 backfill pages,
/// a 10 s timeout).
pub async fn poll(
    source: &dyn commentwatch::source::PolledSource,
    pipeline: &commentwatch::poller::Pipeline,
) -> Result<commentwatch::poller::PollReport, commentwatch::poller::PollError> {
    commentwatch::poller::poll_once(source, pipeline, 5, Duration::from_secs(10)).await
}

/// The text of a fixture in `tests/data/fixtures`.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The real binary, started as a user would, with stdout's first line (the
/// dashboard address) read so tests know where it listens.
pub struct Binary {
    pub child: std::process::Child,
    pub addr: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Binary {
    /// Starts `commentwatch` through `sh -c "<prefix> exec BIN"` (prefix may
    /// set limits) in `dir`, with only `env` set.
    pub fn start(dir: &Path, env: &[(&str, &str)], prefix: &str) -> Binary {
        use std::io::{BufRead, Read};
        let bin = env!("CARGO_BIN_EXE_commentwatch");
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(format!("{prefix} exec '{bin}'"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the binary starts");
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = err.read_to_string(&mut all);
            all
        });
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_owned();
        Binary {
            child,
            addr,
            stderr: Some(stderr),
        }
    }

    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its status and stderr.
    pub fn wait(mut self, limit: Duration) -> (std::process::ExitStatus, String) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let err = self.stderr.take().unwrap().join().unwrap();
                return (status, err);
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the binary did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Opens `/ws` (with `?since=`) on this process.
    pub async fn connect(&self, since: Option<i64>) -> Client {
        Client::connect(&self.addr, since).await
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new, empty PostgreSQL database for one test, on the server that
/// `CW_TEST_POSTGRES` names (an admin URL; `.ci/postgres` starts a server
/// and prints it). `None` when no server is configured: the test then says
/// it skipped. When PostgreSQL is [`required`], a missing server fails the
/// test instead.
pub async fn postgres_db() -> Option<String> {
    let Ok(admin) = std::env::var("CW_TEST_POSTGRES") else {
        assert!(
            !required(Need::Postgres),
            "CW_TEST_POSTGRES is not set, and PostgreSQL is required here (CI, \
             CW_REQUIRE_ALL or CW_REQUIRE_POSTGRES); run `export CW_TEST_POSTGRES=$(.ci/postgres)`"
        );
        eprintln!("skipping the PostgreSQL part: CW_TEST_POSTGRES is not set (see .ci/postgres)");
        return None;
    };
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "cw_test_{}_{}_{:08x}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        rand::random::<u32>()
    );
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("CW_TEST_POSTGRES={admin}: cannot connect: {e}"));
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let mut url = url::Url::parse(&admin).expect("CW_TEST_POSTGRES is a URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}
