//! Acting on a comment where it was posted, with the connected YouTube
//! account: `POST /api/actions/youtube/{delete,timeout,ban,unban}` with
//! `{"source":"youtube-live:VIDEO","id":"MESSAGE","duration":300}` on a live
//! chat, `…/{hold,reject,reply}` with `{"source":"youtube:VIDEO","id":…,
//! "ban_author":true|"text":"…"}` on a video's comments (or the comment's
//! log `"seq"` instead of `source` and `id`); `GET /api/actions` lists what
//! was done.
//! Behind the dashboard session (never the overlay key) and from this site
//! only, as JSON. Every attempt is recorded in the log (which session,
//! what, which comment, when, the API's answer); a success is mirrored
//! locally as the platform's own retraction would be (a deletion retracts
//! the message, a timeout or ban every message of its author in that chat);
//! a refusal says why and changes nothing. It touches the account through
//! `YouTubeAccount`, the log through `CommentLog` and the feed through the
//! `Pipeline` only.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::auth::session_hash;
use super::hosts::Hosts;
use super::overlay::json_body;
use super::{AppState, Error};
use crate::oauth::{self, GoogleError, OAuthError, YouTubeAccount};
use crate::poller::Pipeline;
use crate::store::{ActionRecord, Batch, CommentLog};

/// The routes, to merge inside the token-protected router.
pub fn api() -> Router<AppState> {
    Router::new()
        .route("/api/actions", get(list))
        .route("/api/actions.jsonl", get(export))
        .route("/api/actions/youtube/{action}", post(act))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    limit: Option<String>,
}

/// One recorded action, as `GET /api/actions` lists it.
#[derive(Serialize)]
struct Listed {
    at: String,
    /// The first 12 hex digits of the session's SHA-256 (`bearer`, `open`).
    session: String,
    action: String,
    source: String,
    id: String,
    author_id: String,
    duration: Option<i64>,
    ok: bool,
    answer: String,
    ban_id: Option<String>,
}

/// `GET /api/actions?limit=N`: the newest actions (100, at most 1000),
/// newest first, whatever their outcome.
async fn list(
    State(log): State<CommentLog>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let raw = query.ok().and_then(|Query(q)| q.limit);
    let limit = match raw.as_deref().map(str::parse::<i64>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            let why = "expected a whole number from 1 to 1000";
            return Error::BadParam(crate::params::ParamError::new("limit", why)).into_response();
        }
    };
    let actions = match log.recent_actions(limit).await {
        Ok(a) => a,
        Err(e) => return Error::Unavailable(e).into_response(),
    };
    let listed: Vec<Listed> = actions.into_iter().map(listed).collect();
    #[derive(Serialize)]
    struct Page {
        actions: Vec<Listed>,
    }
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(Page { actions: listed }),
    )
        .into_response()
}

/// Most actions an export holds (the newest).
const EXPORT_MAX: i64 = 100_000;

/// `GET /api/actions.jsonl`: every recorded action as JSON Lines, oldest
/// first, each line as `GET /api/actions` lists it.
async fn export(State(log): State<CommentLog>) -> Response {
    let mut actions = match log.recent_actions(EXPORT_MAX).await {
        Ok(a) => a,
        Err(e) => return Error::Unavailable(e).into_response(),
    };
    actions.reverse();
    let mut body = String::new();
    for a in actions {
        if let Ok(line) = serde_json::to_string(&listed(a)) {
            body.push_str(&line);
            body.push('\n');
        }
    }
    let filename = format!(
        "attachment; filename=\"commentwatch-actions-{}.jsonl\"",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    (
        [
            (
                header::CONTENT_TYPE,
                "application/jsonl; charset=utf-8".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, filename),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

fn listed(a: ActionRecord) -> Listed {
    Listed {
        at: chrono::DateTime::from_timestamp(a.at, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
        session: a.session.chars().take(12).collect(),
        action: a.action,
        source: a.source,
        id: a.comment_id,
        author_id: a.author_id,
        duration: a.duration,
        ok: a.ok,
        answer: a.answer,
        ban_id: a.ban_id,
    }
}

const EXPECTED_BODY: &str = "expected a JSON body {\"source\":\"youtube-live:VIDEO\",\"id\":\"MESSAGE\"} \
     or {\"seq\":N} (and \"duration\": 10, 300, 3600 or 86400 for a timeout; \"ban_author\": true for a rejection; \
     \"text\" for a reply)";
/// The timeouts offered, in seconds (10 s, 5 min, 1 h, 24 h).
pub const TIMEOUTS: [u64; 4] = [10, 300, 3600, 86400];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    /// The comment: `source` and `id`, or its `seq` in the log (as the
    /// dashboard has it), or all three when they agree.
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    seq: Option<i64>,
    #[serde(default)]
    duration: Option<u64>,
    /// A rejection's `banAuthor`.
    #[serde(default)]
    ban_author: Option<bool>,
    /// A reply's text.
    #[serde(default)]
    text: Option<String>,
}

#[derive(Serialize)]
struct Done {
    action: &'static str,
    source: String,
    id: String,
    /// Quota units the action reserved.
    quota: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ban_id: Option<String>,
}

/// A refusal of the platform: `{"error", "param": null, "reason"}`.
fn refused(status: StatusCode, reason: &str, error: String) -> Response {
    #[derive(Serialize)]
    struct Body<'a> {
        error: String,
        param: Option<()>,
        reason: &'a str,
    }
    let body = Body {
        error,
        param: None,
        reason,
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// Why an action failed, in the dashboard's words: the status, a short
/// reason (`quota`, `not_moderator`, `gone`, `not_allowed`, …) and a sentence.
fn explain(e: &OAuthError) -> (StatusCode, &'static str, String) {
    match e {
        OAuthError::NotConfigured | OAuthError::NotConnected => (
            StatusCode::CONFLICT,
            "not_connected",
            "no YouTube account is connected: connect one in the YouTube account panel".into(),
        ),
        OAuthError::Google(GoogleError::Refused { code, .. }) if code == "invalid_grant" => (
            StatusCode::CONFLICT,
            "reconnect",
            "Google no longer accepts the connection (removed in the Google account, or \
             expired): disconnect and connect again"
                .into(),
        ),
        OAuthError::Google(GoogleError::Quota) => (
            StatusCode::TOO_MANY_REQUESTS,
            "quota",
            "the day's YouTube quota is spent; nothing was done".into(),
        ),
        OAuthError::Google(GoogleError::Api { status, code, .. }) => match (*status, code.as_str())
        {
            (404, _) => (
                StatusCode::NOT_FOUND,
                "gone",
                format!("YouTube no longer has it ({code}); nothing was done"),
            ),
            (403, "forbidden" | "insufficientPermissions") => (
                StatusCode::FORBIDDEN,
                "not_moderator",
                format!(
                    "the connected channel is not a moderator of this chat nor the owner of this video ({code})"
                ),
            ),
            (403, _) => (
                StatusCode::FORBIDDEN,
                "not_allowed",
                format!("YouTube does not allow this ({code})"),
            ),
            _ => (
                StatusCode::BAD_GATEWAY,
                "refused",
                format!("YouTube refused it ({code})"),
            ),
        },
        OAuthError::NoChat => (StatusCode::CONFLICT, "no_chat", e.to_string()),
        OAuthError::Log(_) => (StatusCode::SERVICE_UNAVAILABLE, "log", e.to_string()),
        _ => (StatusCode::BAD_GATEWAY, "google", e.to_string()),
    }
}

/// The comment a body names: by `source` and `id`, or by `seq`; both must
/// agree when both are given.
async fn resolve(
    log: &CommentLog,
    target: &Target,
) -> Result<(String, String, crate::domain::Comment), Error> {
    let by_seq = match target.seq {
        Some(seq) => {
            let page = log
                .page(
                    crate::store::Selection::default(),
                    Some(seq.saturating_add(1)),
                    1,
                )
                .await
                .map_err(Error::Unavailable)?;
            match page.comments.into_iter().next() {
                Some((s, c)) if s == seq => Some(c),
                _ => return Err(Error::NotFound("no such comment in the log")),
            }
        }
        None => None,
    };
    match (&target.source, &target.id, by_seq) {
        (Some(source), Some(id), None) => match log.comment(source.clone(), id.clone()).await {
            Ok(Some(c)) => Ok((source.clone(), id.clone(), c)),
            Ok(None) => Err(Error::NotFound("no such comment in the log")),
            Err(e) => Err(Error::Unavailable(e)),
        },
        (None, None, Some(c)) => Ok((c.source.clone(), c.id.clone(), c)),
        (Some(source), Some(id), Some(c)) if *source == c.source && *id == c.id => {
            Ok((source.clone(), id.clone(), c))
        }
        (Some(_), Some(_), Some(_)) => Err(Error::BadBody(
            "\"seq\" names another comment than \"source\" and \"id\"",
        )),
        _ => Err(Error::BadBody(EXPECTED_BODY)),
    }
}

/// `POST /api/actions/youtube/{action}`.
async fn act(
    State(account): State<YouTubeAccount>,
    State(hosts): State<Hosts>,
    State(log): State<CommentLog>,
    State(pipeline): State<Pipeline>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let action: &'static str = match action.as_str() {
        "delete" => "delete",
        "timeout" => "timeout",
        "ban" => "ban",
        "unban" => "unban",
        "hold" => "hold",
        "reject" => "reject",
        "reply" => "reply",
        _ => {
            return Error::NotFound(
                "no such action: delete, timeout, ban, unban, hold, reject or reply",
            )
            .into_response();
        }
    };
    let target = match json_body::<Target>(&hosts, &headers, &body, EXPECTED_BODY) {
        Ok(Some(t)) => t,
        Ok(None) => return Error::BadBody(EXPECTED_BODY).into_response(),
        Err(e) => return e.into_response(),
    };
    let (source, id, comment) = match resolve(&log, &target).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let duration = match (action, target.duration) {
        ("timeout", Some(d)) if TIMEOUTS.contains(&d) => Some(d),
        ("timeout", _) => {
            return Error::BadBody("a timeout takes \"duration\": 10, 300, 3600 or 86400")
                .into_response();
        }
        (_, None) => None,
        (_, Some(_)) => return Error::BadBody("only a timeout takes a duration").into_response(),
    };
    let on_video = matches!(action, "hold" | "reject" | "reply");
    let video = match (on_video, source.split_once(':')) {
        (false, Some(("youtube-live", v))) | (true, Some(("youtube", v))) => v.to_owned(),
        (false, _) => {
            return Error::BadBody("delete, timeout, ban and unban take youtube-live: messages")
                .into_response();
        }
        (true, _) => {
            return Error::BadBody("hold, reject and reply take youtube: video comments")
                .into_response();
        }
    };
    if target.ban_author.is_some() && action != "reject" {
        return Error::BadBody("only a rejection takes \"ban_author\"").into_response();
    }
    let reply_text = match (action, target.text.as_deref().map(str::trim)) {
        ("reply", Some(t)) if !t.is_empty() && t.chars().count() <= 10_000 => Some(t.to_owned()),
        ("reply", _) => {
            return Error::BadBody("a reply takes \"text\": 1 to 10000 characters").into_response();
        }
        (_, None) => None,
        (_, Some(_)) => return Error::BadBody("only a reply takes a text").into_response(),
    };
    let author = comment.author.id.clone();
    let (result, cost) = match action {
        "delete" => (
            account.delete_message(&id).await.map(|()| None),
            oauth::DELETE_COST,
        ),
        "timeout" | "ban" => (
            account.ban(&video, &author, duration).await.map(Some),
            oauth::BAN_COST,
        ),
        "hold" | "reject" => (
            account
                .moderate(&id, action == "hold", target.ban_author == Some(true))
                .await
                .map(|()| None),
            oauth::MODERATE_COST,
        ),
        "reply" => {
            // YouTube takes replies to top-level comments only: a reply to
            // a reply goes under the same thread.
            let parent = comment.reply_to.clone().unwrap_or_else(|| id.clone());
            let text = reply_text.unwrap_or_default();
            (
                account.reply(&parent, &text).await.map(|_| None),
                oauth::REPLY_COST,
            )
        }
        _ => match log.last_ban(source.clone(), author.clone()).await {
            Ok(Some(ban)) => (account.unban(&ban).await.map(|()| None), oauth::UNBAN_COST),
            Ok(None) => {
                return Error::Conflict("no ban of this author was made from here to lift")
                    .into_response();
            }
            Err(e) => return Error::Unavailable(e).into_response(),
        },
    };
    let session = session_hash(&headers).unwrap_or_else(|| {
        if headers.contains_key(header::AUTHORIZATION) {
            "bearer".into()
        } else {
            "open".into()
        }
    });
    let explained = result.as_ref().err().map(explain);
    let record = ActionRecord {
        at: chrono::Utc::now().timestamp(),
        session,
        action: action.into(),
        source: source.clone(),
        comment_id: id.clone(),
        author_id: author.clone(),
        duration: duration.map(|d| d as i64),
        ok: result.is_ok(),
        answer: match &explained {
            None => "done".into(),
            Some((_, reason, why)) => format!("{reason}: {why}"),
        },
        ban_id: result.as_ref().ok().cloned().flatten(),
    };
    if let Err(e) = log.record_action(record).await {
        warn!(error = %e, "could not record an action in the log");
    }
    match result {
        Ok(ban_id) => {
            info!(action, source = %source, "a live chat action was taken");
            let mirror = match action {
                "delete" => Some(Batch {
                    source: source.clone(),
                    deleted: vec![id.clone()],
                    ..Batch::default()
                }),
                "timeout" | "ban" => Some(Batch {
                    source: source.clone(),
                    banned_authors: vec![author],
                    ..Batch::default()
                }),
                // Held or rejected, it is no longer public on YouTube.
                "hold" | "reject" => Some(Batch {
                    source: source.clone(),
                    deleted: vec![id.clone()],
                    ..Batch::default()
                }),
                _ => None,
            };
            if let Some(batch) = mirror
                && let Err(e) = pipeline.ingest(batch).await
            {
                warn!(error = %e, "an action was taken but its local mirror was not stored");
            }
            Json(Done {
                action,
                source,
                id,
                quota: cost,
                ban_id,
            })
            .into_response()
        }
        Err(_) => {
            let (status, reason, why) = explained.expect("an error was explained");
            refused(status, reason, why)
        }
    }
}
