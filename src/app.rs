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
use crate::featured::Featured;
use crate::hidden::Hidden;
use crate::hub::Hub;
use crate::poller::{Pipeline, Poller, PushTask, QuotaBook, SourceTask};
use crate::source::{self, SourceKind};
use crate::store::{CommentLog, LogError};
use crate::web::{self, AppState, Auth, Cockpit, Exports, Hosts, Limits};

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
    #[error("CW_RETENTION: the daily pruning job could not start: {0}")]
    Retention(tokio_cron_scheduler::JobSchedulerError),
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
    pipeline: Pipeline,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartError> {
        let log = CommentLog::connect(&config.db)
            .await
            .map_err(|source| StartError::Log {
                path: config.db.display(),
                source,
            })?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let pipeline = Pipeline::new(log.clone(), Hub::new());
        // Twitch emotes come from TWITCH_EMOTE_BASE's host: the sanitizer
        // keeps them and the page's image policy names it.
        if let Some(host) = reqwest::Url::parse(&config.twitch.emote_base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
        {
            crate::domain::allow_image_host(&host);
        }
        Ok(App {
            config,
            log,
            listener,
            pipeline,
        })
    }

    /// A warning to print at start, if the settings deserve one.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let addr = self.local_addr();
        if !addr.ip().is_loopback() && self.config.token.is_none() {
            out.push(format!(
                "listening on {addr}, reachable from other machines, without CW_TOKEN: anyone who can reach this address can read the dashboard. Set CW_TOKEN, or CW_LISTEN=127.0.0.1:{}",
                addr.port()
            ));
        }
        if addr.ip().is_unspecified() && self.config.access.allowed_hosts.is_empty() {
            out.push(format!(
                "listening on {addr}: other machines reach it by a name or address it does not know yet, and get 421. Add it to CW_ALLOWED_HOSTS (e.g. CW_ALLOWED_HOSTS=192.168.1.20:{})",
                addr.port()
            ));
        }
        out
    }

    /// Where fetched comments go (log, then hub). Tests feed it directly to
    /// drive the feed without a source.
    pub fn pipeline(&self) -> Pipeline {
        self.pipeline.clone()
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr_of()
    }

    fn local_addr_of(&self) -> SocketAddr {
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
        let pipeline = self.pipeline.clone();
        let hub = pipeline.hub.clone();
        let mut sources = Vec::new();
        let mut pushed = Vec::new();
        for spec in &self.config.sources {
            let built =
                source::build(spec, self.config.source_settings()).map_err(StartError::Config)?;
            match built {
                SourceKind::Polled(s) => sources.push(s),
                SourceKind::Pushed(s) => pushed.push(s),
            }
        }
        // Every YouTube source spends from the one API key's daily quota.
        // A streamed chat counts too: it polls when streaming is refused.
        let youtube_sources = sources.iter().filter(|s| s.quota().is_some()).count()
            + pushed.iter().filter(|s| s.quota().is_some()).count();
        let quota = (youtube_sources > 0).then(|| {
            Arc::new(QuotaBook {
                daily: self.config.polling_quota(),
                session: Duration::from_secs_f64(self.config.youtube.session_hours * 3600.0),
                sources: youtube_sources,
                started: Instant::now(),
            })
        });
        // A generic source's pointers are checked against a first response
        // at start, so a typo is reported once, by variable, right away.
        for source in &sources {
            if let Err(e) = source.check().await {
                // The error may quote the API's response: one clean line.
                let e = crate::sanitize::clean_line(&e.to_string(), 500);
                warn!(source = %source.name(), error = %e, "{}: {e}", source.name());
            }
        }
        let mut tasks = Vec::new();
        let source_count = sources.len();
        for source in sources {
            let spec = source.name();
            let schedule = self
                .config
                .poll
                .clone()
                .unwrap_or_else(|| source.default_schedule());
            info!(source = %spec, schedule = %schedule, "polling {spec} {schedule}");
            let source_quota = source.quota().and(quota.clone());
            tasks.push(
                SourceTask::boxed(
                    source,
                    schedule,
                    pipeline.clone(),
                    self.config.backfill_pages,
                    self.config.poll_timeout,
                    source_quota,
                )
                .with_sources_in_all(source_count),
            );
        }
        let cancel = CancellationToken::new();
        // With a shared log, every instance's changes reach this hub here;
        // it starts before the first poll can commit.
        let featured = Featured::new(self.config.featured_max, hub.clone());
        // What was on stream and hidden before a restart, from the log;
        // `CW_BLOCK` adds what the log has never known.
        featured.reload(&self.log).await;
        let hidden = Hidden::new(hub.clone());
        hidden.start(&self.log, &self.config.block).await;
        // Where the feed starts, read before any poll can commit.
        let feed_from = if self.log.is_shared() {
            self.log.latest_seq().await.ok()
        } else {
            None
        };
        let feed = tokio::spawn(crate::feed::follow(
            self.log.clone(),
            hub.clone(),
            featured.clone(),
            hidden.clone(),
            feed_from,
            cancel.clone(),
        ));
        let poller = Poller::start(tasks);
        let pushers: Vec<_> = pushed
            .into_iter()
            .map(|source| {
                info!(source = %source.name(), "streaming {}", source.name());
                let task = PushTask::new(source, pipeline.clone())
                    .with_daily_quota(self.config.polling_quota());
                match &quota {
                    Some(book) => task.with_quota_book(book.clone()),
                    None => task,
                }
                .spawn(cancel.clone())
            })
            .collect();
        let upkeep = Upkeep::start(
            self.log.clone(),
            hub.clone(),
            self.config.retention,
            cancel.clone(),
        )
        .await
        .map_err(StartError::Retention)?;
        // Featured comments follow their edits and deletions in the log.
        tokio::spawn(featured.clone().follow(self.log.clone(), cancel.clone()));
        let log = self.log.clone();
        let auth = Auth::new(
            self.config.token.as_ref().map(|t| t.expose().to_owned()),
            self.log.clone(),
        );
        auth.forget_stale_sessions().await;
        // Descriptors go to WebSockets (CW_MAX_CLIENTS at most) and HTTP
        // connections; the caps, not the kernel, decide who is refused.
        let open_files = web::serve::raise_open_file_limit();
        let limits = web::serve::ServeLimits::for_open_files(open_files, self.config.max_clients);
        let hosts = Hosts::new(self.local_addr_of(), &self.config.access);
        let log_handle = self.log.clone();
        let state = AppState {
            metrics: pipeline.metrics.clone(),
            limits: Limits {
                max_clients: self.config.max_clients,
            },
            log: self.log,
            hub,
            auth,
            shutdown: cancel.clone(),
            featured,
            hidden,
            cockpit: Cockpit::from_config(&self.config),
            hosts,
            exports: Exports::default(),
            youtube_account: crate::oauth::YouTubeAccount::new(
                self.config.youtube_oauth.clone(),
                log_handle,
            )
            .with_live_chats(
                self.config
                    .sources
                    .iter()
                    .filter_map(|s| match s {
                        crate::domain::platform::SourceSpec::YouTubeLive(v) => Some(v.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            pipeline: pipeline.clone(),
        };
        let served = web::serve::serve(self.listener, web::router(state), limits, async move {
            shutdown.await;
            info!("shutting down");
            // WebSocket tasks are detached from the server; tell them.
            cancel.cancel();
        })
        .await;
        poller.shutdown().await;
        // The serve's shutdown cancelled `cancel`: every stream is closing.
        for pusher in pushers {
            let _ = pusher.await;
        }
        pipeline.flush().await;
        upkeep.shutdown().await;
        let _ = feed.await;
        // Fold the write-ahead log into the file, so what is on disk is
        // complete on its own; or, on a shared log, let go of the source
        // locks at once, so another instance takes over at its next tick.
        if let Err(e) = log.shut_down().await {
            warn!(error = %e, "could not close the comment log cleanly at shutdown");
        }
        info!("stopped");
        served.map_err(StartError::Serve)
    }
}

/// When the retention job runs: daily at 04:17 UTC (six fields, seconds
/// first), an hour when few streams are live.
const RETENTION_CRON: &str = "0 17 4 * * *";

/// The log's background work: indexing new comments for search every
/// second (off the poller's path; searches catch up on their own too), and
/// with `CW_RETENTION`, pruning old comments once at start and then daily.
struct Upkeep {
    indexer: tokio::task::JoinHandle<()>,
    retention: Option<tokio_cron_scheduler::JobScheduler>,
}

impl Upkeep {
    async fn start(
        log: CommentLog,
        hub: Hub,
        retention: Option<Duration>,
        cancel: CancellationToken,
    ) -> Result<Upkeep, tokio_cron_scheduler::JobSchedulerError> {
        let indexer = tokio::spawn({
            let log = log.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tick.tick() => {}
                    }
                    if let Err(e) = log.index_pending().await {
                        warn!(error = %e, "indexing new comments for search failed; retrying");
                    }
                }
            }
        });
        let retention = match retention {
            None => None,
            Some(window) => {
                let scheduler = tokio_cron_scheduler::JobScheduler::new().await?;
                let job_log = log.clone();
                let job_hub = hub.clone();
                scheduler
                    .add(tokio_cron_scheduler::Job::new_async(
                        RETENTION_CRON,
                        move |_, _| {
                            let (log, hub) = (job_log.clone(), job_hub.clone());
                            Box::pin(async move { prune_once(&log, &hub, window).await })
                        },
                    )?)
                    .await?;
                scheduler.start().await?;
                tokio::spawn(async move { prune_once(&log, &hub, window).await });
                Some(scheduler)
            }
        };
        Ok(Upkeep { indexer, retention })
    }

    async fn shutdown(self) {
        if let Some(mut scheduler) = self.retention
            && let Err(e) = scheduler.shutdown().await
        {
            warn!(error = %e, "the retention scheduler did not stop cleanly");
        }
        // An index chunk in flight finishes its transaction on the blocking
        // pool; aborting only stops the loop.
        self.indexer.abort();
        let _ = self.indexer.await;
    }
}

/// Prunes comments fetched more than `window` ago. Overlapping runs are
/// harmless: each deletes what is still there.
/// Prunes comments fetched before the window, and tells the hub, whose
/// recent frames may hold some of them, to serve backlogs from the log.
pub async fn prune_once(log: &CommentLog, hub: &Hub, window: Duration) {
    let Ok(window) = chrono::Duration::from_std(window) else {
        return;
    };
    let Some(cutoff) = chrono::Utc::now().checked_sub_signed(window) else {
        return;
    };
    match log.prune(cutoff).await {
        Ok(n) => {
            if n > 0 {
                hub.forget_recent();
            }
            info!(
                comments.pruned = n,
                "retention: pruned {n} comments fetched before {}",
                crate::domain::rfc3339::format(&cutoff)
            )
        }
        Err(e) => warn!(error = %e, "retention: pruning old comments failed"),
    }
}
