//! One refusal type for every `/api` handler: each answers with its status
//! and the same JSON body, `{"error": "…", "param": "…"|null}`, so a tool
//! reads every refusal one way. Pages answer with a page instead (see
//! `render`). It formats refusals and touches nothing else.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::error;

use crate::params::ParamError;
use crate::store::LogError;

/// Why an API request was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `400`, naming the parameter.
    #[error(transparent)]
    BadParam(#[from] ParamError),
    /// `400`: a body that cannot be used.
    #[error("{0}")]
    BadBody(&'static str),
    /// `403`: another site's page sent it.
    #[error("cross-site request refused")]
    CrossSite,
    /// `404`.
    #[error("{0}")]
    NotFound(&'static str),
    /// `409`: the request no longer fits what the log holds.
    #[error("{0}")]
    Conflict(&'static str),
    /// `415`: a body that is not JSON.
    #[error("expected Content-Type: application/json")]
    NotJson,
    /// `500`: reading the log failed; logged here, once.
    #[error(transparent)]
    Log(#[from] LogError),
    /// `503`: the log does not answer; logged here, once.
    #[error("the comment log does not answer")]
    Unavailable(LogError),
    /// `503` with `Retry-After`: too busy for this now.
    #[error("{why}")]
    Busy { why: String, retry_after: u32 },
}

#[derive(Serialize)]
struct Body<'a> {
    error: String,
    param: Option<&'a str>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Error::BadParam(_) | Error::BadBody(_) => StatusCode::BAD_REQUEST,
            Error::CrossSite => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Log(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Unavailable(_) | Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        };
        let message = match &self {
            Error::Log(e) => {
                error!(error = %e, "reading the comment log failed");
                "the comment log could not be read".to_owned()
            }
            Error::Unavailable(e) => {
                error!(error = %e, "the comment log does not answer");
                self.to_string()
            }
            _ => self.to_string(),
        };
        let param = match &self {
            Error::BadParam(e) => Some(e.param.as_str()),
            _ => None,
        };
        let mut resp = (
            status,
            Json(Body {
                error: message,
                param,
            }),
        )
            .into_response();
        if let Error::Busy { retry_after, .. } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, retry_after.into());
        }
        resp
    }
}
