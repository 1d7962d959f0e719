//! Counters, gauges and histograms for `/metrics`, in the Prometheus /
//! OpenMetrics text format (`prometheus-client`). Names start with
//! `commentwatch_`. This module only counts; the poller, the pipeline and the
//! WebSocket tasks call it, and the web layer renders it.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PollLabels {
    pub source: String,
    /// `ok`, `error`, `quota`, `login`, `stopped`, `timeout`, `log_error`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UnknownLabels {
    pub source: String,
    /// The platform's name for the message type (`other` past a few).
    pub r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

/// A cheap, cloneable handle on every metric.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    pub polls: Family<PollLabels, Counter>,
    pub poll_duration: Histogram,
    pub comments_fetched: Family<SourceLabel, Counter>,
    pub comments_new: Family<SourceLabel, Counter>,
    pub comments_updated: Family<SourceLabel, Counter>,
    pub comments_deleted: Family<SourceLabel, Counter>,
    pub messages_unknown: Family<UnknownLabels, Counter>,
    pub frames_published: Counter,
    pub publish_latency: Histogram,
    pub ws_clients: Gauge,
    pub ws_refused: Family<ReasonLabel, Counter>,
    pub ws_resyncs: Counter,
    pub ws_dropped: Family<ReasonLabel, Counter>,
    pub quota_used: Family<SourceLabel, Gauge>,
    pub log_bytes: Gauge,
    pub pending_comments: Gauge,
    pub source_polled_here: Family<SourceLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("commentwatch");
        let polls = Family::<PollLabels, Counter>::default();
        registry.register("polls", "Polls per source and outcome", polls.clone());
        // 1 ms … ~65 s.
        let poll_duration = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        registry.register(
            "poll_duration_seconds",
            "How long one poll took, paging included",
            poll_duration.clone(),
        );
        let comments_fetched = Family::<SourceLabel, Counter>::default();
        registry.register(
            "comments_fetched",
            "Comments in the responses, repeats included",
            comments_fetched.clone(),
        );
        let comments_new = Family::<SourceLabel, Counter>::default();
        registry.register(
            "comments_new",
            "Comments the log had not seen before",
            comments_new.clone(),
        );
        let comments_updated = Family::<SourceLabel, Counter>::default();
        registry.register(
            "comments_updated",
            "Stored comments edited on the platform",
            comments_updated.clone(),
        );
        let comments_deleted = Family::<SourceLabel, Counter>::default();
        registry.register(
            "comments_deleted",
            "Stored comments retracted on the platform",
            comments_deleted.clone(),
        );
        let messages_unknown = Family::<UnknownLabels, Counter>::default();
        registry.register(
            "messages_unknown",
            "Messages of a type this version does not know, skipped, by source and type",
            messages_unknown.clone(),
        );
        let frames_published = Counter::default();
        registry.register(
            "frames_published",
            "Change frames handed to the hub (each goes to every client)",
            frames_published.clone(),
        );
        // 10 µs … ~20 s.
        let publish_latency = Histogram::new(exponential_buckets(0.00001, 2.0, 22));
        registry.register(
            "publish_latency_seconds",
            "From a page's response to its changes being published",
            publish_latency.clone(),
        );
        let ws_clients = Gauge::default();
        registry.register(
            "ws_clients",
            "Connected dashboards and overlays",
            ws_clients.clone(),
        );
        let ws_refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "ws_refused",
            "WebSocket connections refused, by reason",
            ws_refused.clone(),
        );
        let ws_resyncs = Counter::default();
        registry.register(
            "ws_resyncs",
            "Times a client that fell behind was caught up from the log",
            ws_resyncs.clone(),
        );
        let ws_dropped = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "ws_dropped",
            "Clients disconnected by the server, by reason",
            ws_dropped.clone(),
        );
        let quota_used = Family::<SourceLabel, Gauge>::default();
        registry.register(
            "quota_used_units",
            "YouTube quota units spent today",
            quota_used.clone(),
        );
        let log_bytes = Gauge::default();
        registry.register(
            "log_bytes",
            "Size of the comment log file and its WAL",
            log_bytes.clone(),
        );
        let pending_comments = Gauge::default();
        registry.register(
            "pending_comments",
            "Fetched comments held in memory while the log cannot be written",
            pending_comments.clone(),
        );
        let source_polled_here = Family::<SourceLabel, Gauge>::default();
        registry.register(
            "source_polled_here",
            "1 for each source this instance polls, 0 for one another instance \
             sharing the log polls",
            source_polled_here.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                polls,
                poll_duration,
                comments_fetched,
                comments_new,
                comments_updated,
                comments_deleted,
                messages_unknown,
                frames_published,
                publish_latency,
                ws_clients,
                ws_refused,
                ws_resyncs,
                ws_dropped,
                quota_used,
                log_bytes,
                pending_comments,
                source_polled_here,
            }),
        }
    }

    fn source(source: &str) -> SourceLabel {
        SourceLabel {
            source: source.to_owned(),
        }
    }

    /// One poll's outcome and what it stored.
    pub fn poll(
        &self,
        source: &str,
        outcome: &str,
        seconds: f64,
        counts: [u64; 4], // fetched, new, updated, deleted
    ) {
        let i = &self.inner;
        i.polls
            .get_or_create(&PollLabels {
                source: source.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        i.poll_duration.observe(seconds);
        let label = Self::source(source);
        i.comments_fetched.get_or_create(&label).inc_by(counts[0]);
        i.comments_new.get_or_create(&label).inc_by(counts[1]);
        i.comments_updated.get_or_create(&label).inc_by(counts[2]);
        i.comments_deleted.get_or_create(&label).inc_by(counts[3]);
    }

    /// A message of a type the source's adapter does not know, skipped.
    pub fn unknown_message(&self, source: &str, kind: &str) {
        self.inner
            .messages_unknown
            .get_or_create(&UnknownLabels {
                source: source.to_owned(),
                r#type: kind.to_owned(),
            })
            .inc();
    }

    pub fn published(&self, frames: u64, latency_seconds: f64) {
        self.inner.frames_published.inc_by(frames);
        self.inner.publish_latency.observe(latency_seconds);
    }

    pub fn ws_refused(&self, reason: &str) {
        self.inner
            .ws_refused
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub fn ws_resync(&self) {
        self.inner.ws_resyncs.inc();
    }

    pub fn ws_dropped(&self, reason: &str) {
        self.inner
            .ws_dropped
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Whether this instance polls `source` (holds its lock).
    pub fn set_polling(&self, source: &str, here: bool) {
        self.inner
            .source_polled_here
            .get_or_create(&Self::source(source))
            .set(i64::from(here));
    }

    pub fn set_pending(&self, comments: usize) {
        self.inner.pending_comments.set(comments as i64);
    }

    /// The text exposition, after refreshing the gauges read at scrape time.
    pub fn render(&self, clients: usize, quota: &[(String, i64)], log_bytes: u64) -> String {
        let i = &self.inner;
        i.ws_clients.set(clients as i64);
        for (source, used) in quota {
            i.quota_used.get_or_create(&Self::source(source)).set(*used);
        }
        i.log_bytes.set(log_bytes as i64);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &i.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
