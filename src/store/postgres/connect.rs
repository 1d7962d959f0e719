//! Connecting to PostgreSQL: the pool every call borrows from, and the
//! connections of their own (listening, source locks) with keepalive on
//! both ends. It runs no query of the log's own but the migration's.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use super::{
    CONNECT_TIMEOUT, Connection, KEEPALIVE_COUNT, KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, POOL_SIZE,
    PgLog, migrate, tls,
};
use crate::store::LogError;

impl PgLog {
    /// Connects, and migrates the schema (one instance at a time).
    pub async fn connect(url: &str) -> Result<PgLog, LogError> {
        let settings = tls::Settings::parse(url).map_err(LogError::Connect)?;
        let tls = settings.connector().map_err(LogError::Connect)?;
        let mut config = settings.config;
        if config.get_application_name().is_none() {
            config.application_name("commentwatch");
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT * 2))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| LogError::Connect(e.to_string()))?;
        let log_id = migrate::migrate(&pool, url).await?;
        Ok(PgLog {
            pool,
            config: Arc::new(config),
            tls,
            log_id: log_id.into(),
            locks: Arc::default(),
        })
    }

    /// A connection from the pool.
    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, LogError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => LogError::Postgres(e),
            other => LogError::Connect(other.to_string()),
        })
    }

    /// A connection of its own, outside the pool, named after its
    /// `purpose` in `pg_stat_activity` (`commentwatch-listen`, `-locks`).
    pub(super) async fn dedicated(
        &self,
        purpose: &str,
    ) -> Result<(tokio_postgres::Client, Connection), LogError> {
        let mut config = (*self.config).clone();
        let name = format!(
            "{}-{purpose}",
            config.get_application_name().unwrap_or("commentwatch")
        );
        config.application_name(&name);
        // A session's advisory locks last as long as the server believes it
        // alive. An instance that dies with its machine (or behind a broken
        // network) sends no FIN, so both ends probe: the server lets the
        // locks go, and this end gives them up, within about 25 s instead of
        // the system's two hours.
        let options = format!(
            "{} -c tcp_keepalives_idle={KEEPALIVE_IDLE} -c tcp_keepalives_interval={KEEPALIVE_INTERVAL} \
             -c tcp_keepalives_count={KEEPALIVE_COUNT}",
            config.get_options().unwrap_or("")
        );
        config
            .options(options.trim())
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(KEEPALIVE_IDLE))
            .keepalives_interval(Duration::from_secs(KEEPALIVE_INTERVAL))
            .keepalives_retries(KEEPALIVE_COUNT as u32);
        Ok(config.connect(self.tls.clone()).await?)
    }

    /// Closes every connection: the source locks go at once (another
    /// instance takes them at its next tick) and pooled connections close.
    pub(super) async fn close(&self) {
        let mut locks = self.locks.lock().await;
        locks.closed = true;
        locks.client = None;
        locks.held.clear();
        self.pool.close();
    }
}
