//! Wiring: opens the log, binds the listener, starts the poller and serves
//! the router until shutdown. `main` and the integration tests both run the
//! program through `App`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::hub::Hub;
use crate::poller::{Pipeline, Poller, QuotaBook, SourceTask};
use crate::source::Source;
use crate::store::{CommentLog, LogError};
use crate::web::{self, AppState, Auth};

/// Why the program could not start. Each names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("CW_DB={path:?} cannot be used: {source}")]
    Log { path: String, source: LogError },
    #[error("CW_LISTEN=\"{addr}\" cannot be used: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("CW_POLL: the poll scheduler could not start: {0}")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),
    #[error(transparent)]
    Config(crate::config::ConfigError),
    #[error("serving the dashboard failed: {0}")]
    Serve(std::io::Error),
}

/// A configured program, its log open and its port bound, not yet running.
pub struct App {
    config: Config,
    log: CommentLog,
    listener: TcpListener,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartError> {
        let log = CommentLog::open(&config.db).map_err(|source| StartError::Log {
            path: config.db.display().to_string(),
            source,
        })?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Ok(App {
            config,
            log,
            listener,
        })
    }

    /// A warning to print at start, if the settings deserve one.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let addr = self.local_addr();
        if !addr.ip().is_loopback() && self.config.token.is_none() {
            out.push(format!(
                "listening on {addr}, reachable from other machines, without CW_TOKEN: anyone who can                  reach this address can read the dashboard. Set CW_TOKEN, or CW_LISTEN=127.0.0.1:{}",
                addr.port()
            ));
        }
        out
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Polls and serves until `shutdown` completes, then closes every socket
    /// with 1001 and lets polls in flight finish their write.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let hub = Hub::new();
        let pipeline = Pipeline::new(self.log.clone(), hub.clone());
        let mut sources = Vec::new();
        for spec in &self.config.sources {
            sources.push(Source::new(spec, &self.config).map_err(StartError::Config)?);
        }
        // Every YouTube source spends from the one API key's daily quota.
        let youtube_sources = sources
            .iter()
            .filter(|s| s.quota_cost_per_poll().is_some())
            .count();
        let quota = (youtube_sources > 0).then(|| {
            Arc::new(QuotaBook {
                daily: self.config.youtube.daily_quota,
                session: Duration::from_secs_f64(self.config.youtube.session_hours * 3600.0),
                sources: youtube_sources,
                started: Instant::now(),
            })
        });
        // A generic source's pointers are checked against a first response
        // at start, so a typo is reported once, by variable, right away.
        for source in &sources {
            if let Source::Generic(g) = source
                && let Err(e) = g.check().await
            {
                // The error may quote the API's response: one clean line.
                let e = crate::sanitize::clean_line(&e.to_string(), 500);
                warn!(source = %source.name(), error = %e, "{}: {e}", source.name());
            }
        }
        let mut tasks = Vec::new();
        for source in sources {
            let spec = source.name();
            let schedule = self
                .config
                .poll
                .clone()
                .unwrap_or_else(|| source.default_schedule());
            info!(source = %spec, schedule = %schedule, "polling {spec} {schedule}");
            let source_quota = source.quota_cost_per_poll().and(quota.clone());
            tasks.push(SourceTask::new(
                source,
                schedule,
                pipeline.clone(),
                self.config.backfill_pages,
                self.config.poll_timeout,
                source_quota,
            ));
        }
        let poller = Poller::start(tasks).await?;
        let cancel = CancellationToken::new();
        let state = AppState {
            log: self.log,
            hub,
            auth: Auth::new(self.config.token.as_ref().map(|t| t.expose().to_owned())),
            shutdown: cancel.clone(),
        };
        // Connect info gives the sign-in rate limiter each client's address.
        let app = web::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                info!("shutting down");
                // WebSocket tasks are detached from the server; tell them.
                cancel.cancel();
            })
            .await;
        poller.shutdown().await;
        served.map_err(StartError::Serve)
    }
}
