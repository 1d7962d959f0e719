//! The shared browser harness: Debian's `chromedriver` on a free loopback
//! port, a fresh headless Chromium profile through it (fantoccini is the
//! client), and the helpers every browser test needs: running a script in
//! the page, polling the DOM up to a deadline (never a fixed sleep), console
//! errors, screenshots as test artifacts, DevTools commands.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver`, `Browser::launch`
//! returns `None` after a loud SKIPPED line on stderr, unless the browser is
//! required (`helpers::required`: `CI`, `CW_REQUIRE_ALL` or
//! `CW_REQUIRE_BROWSER`), which makes it fail instead.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::Method;
use fantoccini::error::CmdError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::time::Instant;
use url::Url;

use crate::helpers::{Need, PATIENCE, required};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Headless, and nothing that phones home or depends on the machine's GPU,
/// sandbox support or the size of `/dev/shm`.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// A Chromium session and the chromedriver behind it.
pub struct Browser {
    pub client: Client,
    /// Held only to end chromedriver (and Chromium) when the test does.
    _driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (after saying so
    /// on stderr) when they are not installed and not required.
    pub async fn launch() -> Option<Browser> {
        Browser::launch_with(&[]).await
    }

    /// Like `launch`, with more Chromium flags (e.g. a window size).
    pub async fn launch_with(extra: &[&str]) -> Option<Browser> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            let what = format!(
                "{} not found; install Debian's packages: apt-get install chromium chromium-driver",
                missing.join(" and ")
            );
            // CI must never pass by skipping.
            if required(Need::Browser) {
                panic!(
                    "the browser tests are required here (CI, CW_REQUIRE_ALL or \
                     CW_REQUIRE_BROWSER) but {what}"
                );
            }
            eprintln!("\n******** SKIPPED: browser test: {what} ********\n");
            return None;
        }

        let driver = Driver::start().await;
        let profile = format!("--user-data-dir={}", driver.profile.path().display());
        let mut args: Vec<&str> = CHROMIUM_FLAGS.to_vec();
        args.extend_from_slice(extra);
        args.push(&profile);
        let capabilities = json!({
            "browserName": "chrome",
            // Leave any dialog open so that `assert_no_dialog` sees it.
            "unhandledPromptBehavior": "ignore",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        let client = tokio::time::timeout(
            PATIENCE,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&driver.url),
        )
        .await
        .expect("Chromium starts in time")
        .expect("chromedriver opens a Chromium session");
        Some(Browser {
            client,
            _driver: driver,
        })
    }

    pub async fn goto(&self, url: &str) {
        let done = self.client.goto(url).await;
        self.check(done, &format!("open {url}")).await;
    }

    /// Runs `script` (a function body that returns JSON) in the page.
    pub async fn eval<T: serde::de::DeserializeOwned>(&self, script: &str) -> T {
        let value = self.client.execute(script, Vec::new()).await;
        let value = self.check(value, "run a script in the page").await;
        serde_json::from_value(value).expect("the script returns the expected shape")
    }

    /// Runs `script` until `done` accepts what it returns; fails after
    /// `within`, naming `what` and showing the last value.
    pub async fn poll<T, F>(&self, what: &str, within: Duration, script: &str, done: F) -> T
    where
        T: serde::de::DeserializeOwned + std::fmt::Debug,
        F: Fn(&T) -> bool,
    {
        let deadline = Instant::now() + within;
        loop {
            let value: T = self.eval(script).await;
            if done(&value) {
                return value;
            }
            if Instant::now() >= deadline {
                panic!("waited {within:?} for {what}; the page shows {value:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (at most `within`) until `script` returns true.
    pub async fn until(&self, what: &str, within: Duration, script: &str) {
        let _: bool = self.poll(what, within, script, |b| *b).await;
    }

    /// Does `act` (a platform pushing a retraction, say) and waits at most
    /// a second for `script` to return true: what a viewer sees "at once".
    pub async fn within_a_second(&self, what: &str, act: impl FnOnce(), script: &str) {
        let started = Instant::now();
        act();
        self.until(what, Duration::from_secs(1), script).await;
        assert!(
            started.elapsed() <= Duration::from_millis(1500),
            "{what}: {:?}",
            started.elapsed()
        );
    }

    /// A PNG of the viewport, also saved as `target/screenshots/{name}.png`
    /// (a test artifact).
    pub async fn screenshot(&self, name: &str) -> Vec<u8> {
        let png = self.client.screenshot().await;
        let png = self.check(png, "take a screenshot").await;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
        png
    }

    /// Runs a Chrome DevTools Protocol command through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let result = self
            .client
            .issue_cmd(Cdp {
                cmd: cmd.to_owned(),
                params,
            })
            .await;
        self.check(result, &format!("run the DevTools command {cmd}"))
            .await
    }

    /// Unwraps a WebDriver result; an open dialog is named as the cause,
    /// since it is the likeliest one in these tests.
    pub async fn check<T>(&self, result: Result<T, CmdError>, doing: &str) -> T {
        match result {
            Ok(value) => value,
            Err(e) => match self.client.get_alert_text().await {
                Ok(text) => panic!("the page opened a dialog ({text:?}); could not {doing}: {e}"),
                Err(_) => panic!("could not {doing}: {e}"),
            },
        }
    }

    pub async fn assert_no_dialog(&self) {
        if let Ok(text) = self.client.get_alert_text().await {
            panic!("the page opened a dialog: {text:?}");
        }
    }

    /// Console messages since the last call that show a blocked attack or a
    /// broken page: Content-Security-Policy violations and uncaught errors.
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await;
        let log = self.check(log, "read the browser log").await;
        let entries = log
            .as_array()
            .unwrap_or_else(|| panic!("chromedriver returned no browser log: {log}"));
        entries
            .iter()
            .filter_map(|e| e["message"].as_str())
            .filter(|m| m.contains("Content Security Policy") || m.contains("Uncaught"))
            .map(str::to_owned)
            .collect()
    }

    /// Ends the session, which closes Chromium; the driver goes on drop.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// chromedriver's `POST /session/{id}/se/log`: the console messages since
/// the last call. It is not W3C WebDriver, so fantoccini leaves it to us.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`: one DevTools
/// command, for what WebDriver has no word for (a transparent background).
#[derive(Debug)]
struct Cdp {
    cmd: String,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}

/// Where screenshots go: `target/screenshots` of this crate.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}

/// A running chromedriver with a fresh profile directory for its Chromium.
/// Dropping it ends chromedriver and every browser process it started.
pub struct Driver {
    child: Child,
    url: String,
    profile: TempDir,
}

impl Driver {
    async fn start() -> Driver {
        let profile = tempfile::tempdir().expect("temp profile dir");
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, shared by the Chromium processes it
            // starts, so `drop` can end them all even after a panic.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        // chromedriver picks the port and prints it; keep reading afterwards
        // so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = line
                    .split_once("started successfully on port ")
                    .and_then(|(_, rest)| rest.trim_end_matches('.').parse::<u16>().ok());
                if let Some(port) = port
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        let mut driver = Driver {
            child,
            url: String::new(),
            profile,
        };
        let port = tokio::time::timeout(PATIENCE, port_rx)
            .await
            .expect("chromedriver says its port in time")
            .expect("chromedriver says its port before exiting");
        driver.url = format!("http://127.0.0.1:{port}");
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A decoded PNG: width, height and 8-bit RGBA pixels, row by row.
pub struct Rgba {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Rgba {
    /// The `[r, g, b, a]` at `(x, y)`.
    pub fn at(&self, x: usize, y: usize) -> [u8; 4] {
        let i = (y * self.width + x) * 4;
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }
}

/// Decodes the PNGs Chromium's screenshots are: 8-bit RGB or RGBA, not
/// interlaced. Just enough PNG to check pixels without another crate.
pub fn decode_png(png: &[u8]) -> Rgba {
    use std::io::Read;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let (mut width, mut height, mut channels) = (0usize, 0usize, 0usize);
    let mut idat = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let data = &png[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "8 bits per channel");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    other => panic!("PNG colour type {other} is not handled"),
                };
                assert_eq!(data[12], 0, "not interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .expect("the image data inflates");
    let stride = width * channels;
    let mut out = vec![0u8; width * height * 4];
    let mut prev = vec![0u8; stride];
    let mut line = vec![0u8; stride];
    for y in 0..height {
        let row = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let filter = row[0];
        for x in 0..stride {
            let a = if x >= channels { line[x - channels] } else { 0 };
            let b = prev[x];
            let c = if x >= channels { prev[x - channels] } else { 0 };
            let v = row[1 + x];
            line[x] = match filter {
                0 => v,
                1 => v.wrapping_add(a),
                2 => v.wrapping_add(b),
                3 => v.wrapping_add(((a as u16 + b as u16) / 2) as u8),
                4 => {
                    let p = a as i16 + b as i16 - c as i16;
                    let (pa, pb, pc) = (
                        (p - a as i16).abs(),
                        (p - b as i16).abs(),
                        (p - c as i16).abs(),
                    );
                    let pred = if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    };
                    v.wrapping_add(pred)
                }
                other => panic!("PNG filter {other}"),
            };
        }
        for x in 0..width {
            let o = (y * width + x) * 4;
            out[o..o + channels].copy_from_slice(&line[x * channels..(x + 1) * channels]);
            if channels == 3 {
                out[o + 3] = 255;
            }
        }
        std::mem::swap(&mut prev, &mut line);
    }
    Rgba {
        width,
        height,
        pixels: out,
    }
}
