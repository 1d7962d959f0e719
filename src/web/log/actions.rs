//! What was done on the platforms from the dashboard, as `/log` shows it:
//! the *Actions* view (`/log?actions=1`: who — which dashboard session —,
//! what, on which comment, when, and the platform's answer) and the marks
//! on the comments acted on ("deleted on YouTube by you"). It reads the
//! recorded actions and the comments they name; it writes nothing and
//! never sees a token.

use std::collections::HashMap;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::error;

use super::reply::seq_of;
use super::{around_url, href};
use crate::domain::rfc3339;
use crate::store::{ActionRecord, CommentLog, LogError};

/// How many of the newest actions the view lists (the JSON Lines export
/// has them all).
const VIEW_MAX: i64 = 200;
/// How many of the newest actions mark the comments of a page.
const MARKS_MAX: i64 = 1_000;
/// How much of a comment's text the view shows.
const SNIPPET_CHARS: usize = 80;

/// Who asked, as the page says it: this browser's own session, another
/// session (the first 12 hex digits of its SHA-256), a tool with the token
/// (`bearer`) or an open dashboard (`open`).
pub(super) struct By {
    pub you: bool,
    pub session: String,
}

impl By {
    fn of(session: &str, me: Option<&str>) -> By {
        By {
            you: me == Some(session),
            session: session.chars().take(12).collect(),
        }
    }
}

/// The words of an action, in English (`log-i18n.js` has them by `key`).
fn done_words(action: &str) -> (&'static str, &'static str) {
    match action {
        "delete" => ("actedDelete", "deleted on YouTube"),
        "timeout" => ("actedTimeout", "author timed out on YouTube"),
        "ban" => ("actedBan", "author banned on YouTube"),
        "unban" => ("actedUnban", "author unbanned on YouTube"),
        "hold" => ("actedHold", "held for review on YouTube"),
        "reject" => ("actedReject", "rejected on YouTube"),
        "reply" => ("actedReply", "replied to on YouTube"),
        _ => ("actedOther", "acted on on YouTube"),
    }
}

/// A timeout's length as people say it.
fn duration_text(seconds: Option<i64>) -> Option<String> {
    seconds.map(|s| match s {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    })
}

/// A mark on a comment of the list: one successful action on it.
pub(super) struct Mark {
    pub action: String,
    pub key: &'static str,
    pub words: &'static str,
    pub duration: Option<String>,
    pub by: By,
    pub time_iso: String,
}

/// The successful actions on the comments of a page, by `(source, id)`,
/// oldest first.
pub(super) async fn marks(
    log: &CommentLog,
    me: Option<&str>,
) -> Result<HashMap<(String, String), Vec<Mark>>, LogError> {
    let mut out: HashMap<(String, String), Vec<Mark>> = HashMap::new();
    let mut actions = log.recent_actions(MARKS_MAX).await?;
    actions.reverse();
    for a in actions.into_iter().filter(|a| a.ok) {
        let (key, words) = done_words(&a.action);
        out.entry((a.source.clone(), a.comment_id.clone()))
            .or_default()
            .push(Mark {
                key,
                words,
                duration: duration_text(a.duration),
                by: By::of(&a.session, me),
                time_iso: time_iso(a.at),
                action: a.action,
            });
    }
    Ok(out)
}

fn time_iso(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| rfc3339::format(&t))
        .unwrap_or_default()
}

/// The platform's answer: `done`, or the short reason and its sentence.
pub(super) struct Answer {
    pub ok: bool,
    /// `quota`, `not_moderator`, `gone`, … (empty when done).
    pub reason: String,
    pub sentence: String,
}

impl Answer {
    fn of(a: &ActionRecord) -> Answer {
        if a.ok {
            return Answer {
                ok: true,
                reason: String::new(),
                sentence: String::new(),
            };
        }
        let (reason, sentence) = match a.answer.split_once(": ") {
            Some((r, s)) if !r.contains(' ') => (r.to_owned(), s.to_owned()),
            _ => (String::new(), a.answer.clone()),
        };
        Answer {
            ok: false,
            reason,
            sentence,
        }
    }

    /// The `log-i18n.js` key of the reason, when it is a known one.
    pub fn reason_key(&self) -> &'static str {
        match self.reason.as_str() {
            "quota" => "whyQuota",
            "not_moderator" => "whyNotModerator",
            "gone" => "whyGone",
            "not_allowed" => "whyNotAllowed",
            "not_connected" => "whyNotConnected",
            "reconnect" => "whyReconnect",
            "no_chat" => "whyNoChat",
            _ => "",
        }
    }
}

/// The comment an action names, as the view shows it (empty when the log
/// no longer holds it).
#[derive(Clone, Default)]
pub(super) struct Target {
    pub author: String,
    pub snippet: String,
    /// The comment in the log (`/log?…#c<seq>`), when the log holds it.
    pub url: Option<String>,
}

/// One line of the *Actions* view.
pub(super) struct ActionRow {
    pub time_iso: String,
    pub time_text: String,
    pub by: By,
    pub action: String,
    pub key: &'static str,
    pub words: &'static str,
    pub duration: Option<String>,
    pub source: String,
    /// The log of that source.
    pub source_url: String,
    pub comment_id: String,
    pub target: Target,
    pub answer: Answer,
}

/// `GET /log?actions=1`.
#[derive(Template)]
#[template(path = "log_actions.html")]
struct ActionsPage {
    pub version: &'static str,
    pub rows: Vec<ActionRow>,
    pub max: i64,
    pub signed_in: bool,
}

/// The newest actions, each with the comment it names.
pub(super) async fn rows(log: &CommentLog, me: Option<&str>) -> Result<Vec<ActionRow>, LogError> {
    let actions = log.recent_actions(VIEW_MAX).await?;
    let mut targets: HashMap<(String, String), Target> = HashMap::new();
    let mut out = Vec::with_capacity(actions.len());
    for a in actions {
        let key = (a.source.clone(), a.comment_id.clone());
        if !targets.contains_key(&key) {
            let found = match log.comment(a.source.clone(), a.comment_id.clone()).await? {
                Some(c) => {
                    let url = seq_of(log, &c).await?.map(|seq| around_url(&c, seq));
                    let mut snippet: String = c.text.chars().take(SNIPPET_CHARS).collect();
                    if c.text.chars().nth(SNIPPET_CHARS).is_some() {
                        snippet.push('…');
                    }
                    Target {
                        author: c.author.name.clone(),
                        snippet,
                        url,
                    }
                }
                None => Target::default(),
            };
            targets.insert(key.clone(), found);
        }
        let target = targets.get(&key).cloned().unwrap_or_default();
        let (k, words) = done_words(&a.action);
        let time = chrono::DateTime::from_timestamp(a.at, 0);
        out.push(ActionRow {
            time_iso: time_iso(a.at),
            time_text: time
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
            by: By::of(&a.session, me),
            key: k,
            words,
            duration: duration_text(a.duration),
            answer: Answer::of(&a),
            source_url: source_url(&a.source),
            source: a.source.clone(),
            comment_id: a.comment_id.clone(),
            target,
            action: a.action,
        });
    }
    Ok(out)
}

/// `GET /log?actions=1`.
pub(super) async fn view(log: &CommentLog, me: Option<&str>, signed_in: bool) -> Response {
    match rows(log, me).await {
        Ok(rows) => crate::web::render::page(
            StatusCode::OK,
            &ActionsPage {
                version: env!("CARGO_PKG_VERSION"),
                rows,
                max: VIEW_MAX,
                signed_in,
            },
        ),
        Err(e) => {
            error!(error = %e, "the actions view could not read the comment log");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The comment log could not be read; see the server's log.\n",
            )
                .into_response()
        }
    }
}

/// The log of one source.
fn source_url(source: &str) -> String {
    href("/log", &[("source", source.to_owned())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_split_into_reason_and_sentence() {
        let rec = |ok, answer: &str| ActionRecord {
            at: 0,
            session: "s".into(),
            action: "delete".into(),
            source: "youtube-live:v".into(),
            comment_id: "m".into(),
            author_id: "a".into(),
            duration: None,
            ok,
            answer: answer.into(),
            ban_id: None,
        };
        let a = Answer::of(&rec(false, "quota: the day's YouTube quota is spent"));
        assert_eq!((a.reason.as_str(), a.reason_key()), ("quota", "whyQuota"));
        assert_eq!(a.sentence, "the day's YouTube quota is spent");
        let a = Answer::of(&rec(false, "something odd: happened"));
        assert_eq!((a.reason.as_str(), a.reason_key()), ("", ""));
        assert!(Answer::of(&rec(true, "done")).ok);
        assert_eq!(duration_text(Some(300)).as_deref(), Some("5 min"));
        assert_eq!(duration_text(Some(86400)).as_deref(), Some("24 h"));
        assert_eq!(duration_text(Some(10)).as_deref(), Some("10 s"));
        assert!(By::of("abc", Some("abc")).you);
        assert_eq!(By::of("0123456789abcdef", None).session, "0123456789ab");
    }
}
