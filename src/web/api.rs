//! The comment log's JSON API and exports:
//!
//! - `GET /api/comments`: one page, newest first, `{"comments": [...],
//!   "next_before_seq": N|null}`;
//! - `GET /api/comments.csv` and `GET /api/comments.jsonl`: the whole
//!   selection, streamed in constant memory;
//! - `GET /api/stats`: totals, comments per minute, most active authors and
//!   busiest minutes, which the `/log` page draws.
//!
//! All of them take the parameters of `/log` (parsed by
//! `params::Params`). A parameter that cannot be used is a 400 naming
//! it, never a 500 and never a quietly broader selection. This module only
//! reads the log; it never touches the hub or a source.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use chrono::Utc;
use serde::Serialize;
use tracing::{debug, error};

use super::{AppState, Cockpit};
use crate::params::{ParamError, Params};
use crate::store::{self, CommentLog, ExportError, Flag, Format, Row};

/// The API routes; `web::router` puts them behind the token.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/comments", get(comments))
        .route("/api/comments.csv", get(csv))
        .route("/api/comments.jsonl", get(jsonl))
        .route("/api/stats", get(stats))
}

/// API refusals; the one type every handler answers with.
pub use super::Error as ApiError;

/// Parses a request's parameters; shared with the page. The highlight
/// words come from the server's settings (`CW_HIGHLIGHT`), never the URL.
pub fn params(pairs: &[(String, String)], cockpit: &Cockpit) -> Result<Params, ParamError> {
    let mut params = Params::parse(pairs.iter().map(|(k, v)| (k, v)), Utc::now())?;
    let sel = &mut params.selection;
    if sel.highlighted != Flag::Any {
        sel.highlight_words = cockpit.highlight_words();
        if sel.highlight_words.is_empty() {
            return Err(ParamError::new(
                "highlighted",
                "no highlight words are set; start commentwatch with CW_HIGHLIGHT=word,word",
            ));
        }
    }
    Ok(params)
}

#[derive(Serialize)]
struct CommentsBody<'a> {
    comments: Vec<Row<'a>>,
    next_before_seq: Option<i64>,
}

/// `GET /api/comments`: one page of the selection, newest first.
async fn comments(
    State(log): State<CommentLog>,
    State(cockpit): State<Cockpit>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = params(&pairs, &cockpit)?;
    let limit = params.page_limit()?;
    let page = log.page(params.selection, params.before_seq, limit).await?;
    let body = CommentsBody {
        comments: page
            .comments
            .iter()
            .map(|(seq, comment)| Row { seq: *seq, comment })
            .collect(),
        next_before_seq: page.next_before_seq,
    };
    Ok(Json(body).into_response())
}

/// `GET /api/stats`: statistics of the selection.
async fn stats(
    State(log): State<CommentLog>,
    State(cockpit): State<Cockpit>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = params(&pairs, &cockpit)?;
    Ok(Json(log.stats(params.selection).await?).into_response())
}

/// `GET /api/comments.csv`: the selection as CSV (`?bom=1` for spreadsheets).
async fn csv(
    State(log): State<CommentLog>,
    State(cockpit): State<Cockpit>,
    State(exports): State<Exports>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = params(&pairs, &cockpit)?;
    let format = Format::Csv { bom: params.bom };
    stream(log, exports, params, format).await
}

/// `GET /api/comments.jsonl`: the selection as JSON Lines.
async fn jsonl(
    State(log): State<CommentLog>,
    State(cockpit): State<Cockpit>,
    State(exports): State<Exports>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = params(&pairs, &cockpit)?;
    stream(log, exports, params, Format::Jsonl).await
}

/// Exports that may run at once; more get `503` with `Retry-After`. Each
/// holds a reader on the log and a thread of the blocking pool, which the
/// poller and the API need too.
const MAX_EXPORTS: usize = 4;
/// How long an export waits for its client to read before giving up.
const READ_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// The slots for exports running at once.
#[derive(Clone)]
pub struct Exports(std::sync::Arc<tokio::sync::Semaphore>);

impl Default for Exports {
    fn default() -> Exports {
        Exports(std::sync::Arc::new(tokio::sync::Semaphore::new(
            MAX_EXPORTS,
        )))
    }
}

/// Streams an export. A blocking task reads the log batch by batch and sends
/// each formatted chunk through a small channel; the channel fills when the
/// client reads slowly, and that blocks the reader, so memory holds a few
/// chunks whatever the row count. When the client goes away, or reads
/// nothing for [`READ_STALL`], the reader stops at its next chunk and frees
/// its thread and slot.
async fn stream(
    log: CommentLog,
    exports: Exports,
    params: Params,
    format: Format,
) -> Result<Response, ApiError> {
    let Ok(slot) = exports.0.clone().try_acquire_owned() else {
        return Err(ApiError::Busy {
            why: format!("{MAX_EXPORTS} exports are running already; try again in a few seconds"),
            retry_after: 5,
        });
    };
    if params.selection.uses_index() {
        log.index_pending().await?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
            runtime,
        };
        let result = log
            .reader()
            .map_err(ExportError::from)
            .and_then(|mut reader| {
                store::export(
                    &mut reader,
                    &params.selection,
                    params.before_seq,
                    params.limit,
                    format,
                    &mut out,
                    &mut |_| {},
                )
            });
        match result {
            Ok(rows) => debug!(export.rows = rows, "export finished"),
            // The client went away, or stopped reading: nothing to tell it.
            Err(ExportError::Write(e)) => debug!(error = %e, "export stopped"),
            Err(ExportError::Log(e)) => {
                error!(error = %e, "an export failed while reading the comment log");
                // Fails the body, so the client sees a broken download
                // rather than a file that looks complete.
                let _ = tx.blocking_send(Err(std::io::Error::other("the export failed")));
            }
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let (content_type, extension) = match format {
        Format::Csv { .. } => ("text/csv; charset=utf-8; header=present", "csv"),
        Format::Jsonl => ("application/jsonl; charset=utf-8", "jsonl"),
    };
    let filename = format!(
        "attachment; filename=\"commentwatch-{}.{extension}\"",
        Utc::now().format("%Y%m%d-%H%M%S")
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, filename),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// Bytes per chunk sent to the client.
const CHUNK: usize = 64 * 1024;

/// A `Write` that hands full chunks to the response body.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
    runtime: tokio::runtime::Handle,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        // On the blocking pool, so waiting here blocks only this export.
        match self
            .runtime
            .block_on(self.tx.send_timeout(Ok(Bytes::from(chunk)), READ_STALL))
        {
            Ok(()) => Ok(()),
            Err(tokio::sync::mpsc::error::SendTimeoutError::Timeout(_)) => Err(
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading"),
            ),
            Err(tokio::sync::mpsc::error::SendTimeoutError::Closed(_)) => {
                Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            }
        }
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
