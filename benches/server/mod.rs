//! The real `commentwatch` binary (release build) as the benchmarks start
//! it: on loopback port 0, a log file of its own (or a database URL), the
//! settings a benchmark gives, and the allocator tunables of the caller's
//! environment (`MALLOC_*`, `GLIBC_TUNABLES`) passed through so their effect
//! can be measured. Killed when dropped. Reads `/proc` for its CPU and
//! memory.

use std::ffi::OsString;
use std::process::{Child, Command, Stdio};

pub struct Server {
    pub child: Child,
    /// `host:port` it serves on.
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the binary with `settings` on top of an empty environment, on
    /// the log `db` names or on a new file of its own.
    pub fn start(settings: &[(&str, OsString)], db: Option<&str>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = db.map_or_else(
            || dir.path().join("bench.db").into_os_string(),
            OsString::from,
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_commentwatch"))
            .env_clear()
            .env("CW_LISTEN", "127.0.0.1:0")
            .env("CW_DB", db)
            .env("RUST_LOG", "warn")
            .envs(settings.iter().map(|(k, v)| (*k, v)))
            .envs(
                std::env::vars().filter(|(k, _)| k.starts_with("MALLOC_") || k == "GLIBC_TUNABLES"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the release binary starts");
        use std::io::BufRead;
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("http://") {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "the binary ended before saying where it serves"
            );
        }
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        Server {
            child,
            addr,
            _dir: dir,
        }
    }

    /// CPU seconds (user + system) the server has used.
    #[allow(dead_code)] // not every benchmark reads it
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&self.child.id().to_string())
    }

    /// `(VmRSS, VmHWM)` in KiB.
    #[allow(dead_code)] // not every benchmark reads it
    pub fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) process `pid` has used (`"self"` for this
/// one), from `/proc/<pid>/stat`.
#[allow(dead_code)] // not every benchmark reads it
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}
