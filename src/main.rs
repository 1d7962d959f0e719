//! The `commentwatch` binary: read settings, start logging, run the app.

use std::io::IsTerminal;
use std::process::ExitCode;

use commentwatch::App;
use commentwatch::config::{ConfigError, Invocation};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    one_malloc_arena();
    let config = match Invocation::from_env() {
        Ok(Invocation::Serve(c)) => *c,
        // `export`, `search`, `stats`: read the log and exit.
        Ok(Invocation::Log { db, command }) => return commentwatch::cli::run(*command, &db),
        // --help, --version and unknown flags: clap prints and picks the code.
        Err(ConfigError::Cli(e)) => e.exit(),
        Err(e) => {
            eprintln!("commentwatch: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("commentwatch=info,tower_http=warn"));
    // `CW_LOG_FORMAT=json`: one JSON object per line, for log collectors.
    // Colours only on a terminal: a file or a pipe gets plain text.
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    for note in &config.notes {
        tracing::info!("{note}");
    }
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    let result = runtime.block_on(async {
        let app = App::build(config).await?;
        for warning in app.warnings() {
            eprintln!("commentwatch: warning: {warning}");
        }
        println!("commentwatch: dashboard on http://{}/", app.local_addr());
        app.run(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("commentwatch: {e}");
            ExitCode::from(2)
        }
    }
}

/// Holds glibc's malloc to one arena, before any thread starts, unless
/// `MALLOC_ARENA_MAX` (or `GLIBC_TUNABLES`) says otherwise. With glibc's
/// default (up to eight arenas per core, one per thread that allocates),
/// what a burst of comments allocated on several threads stayed spread over
/// the arenas, and the resident memory crept up for half a minute after the
/// burst: 18 % over idle a minute after it. With one arena it is back
/// within 5 %, at the same CPU per message (docs/PERFORMANCE.md): the
/// threads' own caches (tcache) take most small allocations, so they rarely
/// wait on the arena's lock.
/// The crate's one `unsafe` block (the lint denies any other).
#[allow(unsafe_code)]
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none()
        && std::env::var_os("GLIBC_TUNABLES").is_none()
    {
        // SAFETY: mallopt only sets an allocator parameter; no thread has
        // started yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Whether log lines are coloured: only on a terminal, and not when
/// `NO_COLOR` is set to anything but an empty value (<https://no-color.org>).
fn use_colour(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::use_colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some("".into())));
        assert!(!use_colour(true, Some("1".into())));
        assert!(!use_colour(false, None));
    }
}
