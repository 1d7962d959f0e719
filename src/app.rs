//! Wiring: opens the log, binds the listener, starts the poller and serves
//! the router until shutdown. `main` and the integration tests both run the
//! program through `App`.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::Config;
use crate::hub::Hub;
use crate::poller::{Pipeline, Poller, SourceTask};
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
        let tasks = self
            .config
            .sources
            .iter()
            .map(|spec| {
                let source = Source::new(spec, &self.config);
                let schedule = self
                    .config
                    .poll
                    .clone()
                    .unwrap_or_else(|| source.default_schedule());
                info!(source = %spec, schedule = %schedule, "polling {spec} {schedule}");
                SourceTask::new(
                    source,
                    schedule,
                    pipeline.clone(),
                    self.config.backfill_pages,
                    self.config.poll_timeout,
                )
            })
            .collect();
        let poller = Poller::start(tasks).await?;
        let cancel = CancellationToken::new();
        let state = AppState {
            log: self.log,
            hub,
            auth: Auth::new(self.config.token.clone()),
            shutdown: cancel.clone(),
        };
        let served = axum::serve(self.listener, web::router(state))
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
