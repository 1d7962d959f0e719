//! `/api/hidden`: the hidden words and authors (`crate::hidden`), read and
//! changed from the dashboard. Behind `CW_TOKEN` like every `/api` route,
//! and, like `/api/featured`, a change must come from this site as JSON
//! (`overlay::json_body`). Hiding takes the matching comments off stream
//! too: a streamer who hides a troll expects them gone from the broadcast.
//! It reads and changes the list through `Hidden` only.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::hosts::Hosts;
use super::overlay::json_body;
use super::{AppState, Error};
use crate::featured::Featured;
use crate::hidden::{Entry, Hidden, HideError};
use crate::store::CommentLog;

/// The routes, to merge inside the token-protected router.
pub fn api() -> Router<AppState> {
    Router::new().route("/api/hidden", get(list).post(hide).delete(unhide))
}

/// What a change names: one entry, a word or `author:NAME`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    entry: String,
}

/// What a change of the list must carry.
const EXPECTED_BODY: &str =
    "expected a JSON body {\"entry\":\"a word, or author:NAME\"} (at most 200 characters)";

/// The list as the API returns it: the `hidden` frame without its type.
#[derive(Serialize)]
struct List {
    words: Vec<String>,
    authors: Vec<String>,
}

fn list_of(hidden: &Hidden) -> Json<List> {
    let (words, authors) = hidden.lists();
    Json(List { words, authors })
}

/// `GET /api/hidden`: `{"words":[…],"authors":[…]}`, each in the order
/// hidden, as typed (authors without `author:`).
async fn list(State(hidden): State<Hidden>) -> Json<List> {
    list_of(&hidden)
}

/// `POST /api/hidden` with `{"entry":…}`: hides it (on every page, the
/// overlay and every instance sharing the log), takes what it matches off
/// stream, and answers with the new list.
async fn hide(
    State(hidden): State<Hidden>,
    State(featured): State<Featured>,
    State(log): State<CommentLog>,
    State(hosts): State<Hosts>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let entry = match entry(&hosts, &headers, &body) {
        Ok(e) => e,
        Err(refused) => return refused.into_response(),
    };
    if let Err(e) = hidden.hide(&log, &entry).await {
        return refusal(e).into_response();
    }
    featured.dismiss_matching(&log, hidden.matcher()).await;
    list_of(&hidden).into_response()
}

/// `DELETE /api/hidden` with `{"entry":…}`: unhides it (whichever case it
/// was hidden in), and answers with the new list.
async fn unhide(
    State(hidden): State<Hidden>,
    State(log): State<CommentLog>,
    State(hosts): State<Hosts>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let entry = match entry(&hosts, &headers, &body) {
        Ok(e) => e,
        Err(refused) => return refused.into_response(),
    };
    if let Err(e) = hidden.unhide(&log, &entry).await {
        return refusal(e).into_response();
    }
    list_of(&hidden).into_response()
}

/// The entry a change names, checked; an empty body names none.
fn entry(hosts: &Hosts, headers: &HeaderMap, body: &[u8]) -> Result<Entry, Error> {
    let change: Change =
        json_body(hosts, headers, body, EXPECTED_BODY)?.ok_or(Error::BadBody(EXPECTED_BODY))?;
    Entry::parse(&change.entry).map_err(|e| Error::BadBody(e.message()))
}

fn refusal(e: HideError) -> Error {
    match e {
        HideError::Entry(e) => Error::BadBody(e.message()),
        HideError::Log(e) => Error::Unavailable(e),
    }
}
