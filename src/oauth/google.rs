//! The calls to Google on behalf of the connected account: the code
//! exchange and refresh at the token endpoint, the revocation, and
//! `channels.list?mine=true` (which channel the account is; 1 quota unit,
//! reserved in the log like every YouTube request). Tokens and the client
//! secret go in request bodies and headers only, never in a URL, and no
//! answer body is ever quoted in an error (it could echo a token).

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{OAuthSettings, REFRESH_EARLY, SCOPE};
use crate::domain::Secret;
use crate::store::CommentLog;

/// How long one call to Google may take.
const TIMEOUT: Duration = Duration::from_secs(15);
/// Largest answer read from Google.
const MAX_BODY: usize = 256 * 1024;

/// Why a call to Google failed, in words fit for the dashboard.
#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    #[error("could not reach {0}")]
    Unreachable(&'static str),
    /// Google's `error` code (e.g. `invalid_grant`), cleaned.
    #[error("the {what} was refused ({code})")]
    Refused { what: &'static str, code: String },
    #[error("the {0} answer could not be read")]
    Unreadable(&'static str),
    #[error(
        "Google sent no refresh token; remove commentwatch's access in your Google account and connect again"
    )]
    NoRefreshToken,
    #[error("the permission to manage your YouTube account was not granted")]
    ScopeMissing,
    #[error("this Google account has no YouTube channel")]
    NoChannel,
    #[error("the day's YouTube quota is spent")]
    Quota,
    /// The YouTube API refused a call: its HTTP status and reason.
    #[error("YouTube refused the {what} ({code})")]
    Api {
        what: &'static str,
        status: u16,
        code: String,
    },
}

/// One YouTube Data API request: `$YOUTUBE_API_BASE/youtube/v3/{path}`.
pub(super) struct ApiCall<'a> {
    pub(super) what: &'static str,
    pub(super) method: reqwest::Method,
    pub(super) path: &'a str,
    pub(super) query: &'a [(&'a str, &'a str)],
    pub(super) body: Option<serde_json::Value>,
    pub(super) cost: i64,
}

/// Tokens from the token endpoint.
pub(super) struct Tokens {
    pub(super) access_token: Secret,
    pub(super) refresh_token: Option<Secret>,
    /// A little before Google's expiry.
    pub(super) use_until: Instant,
}

/// The connected channel.
pub(super) struct Channel {
    pub(super) id: String,
    pub(super) title: String,
}

pub(super) struct Google {
    http: reqwest::Client,
    client_id: String,
    client_secret: Secret,
    token_url: String,
    revoke_url: String,
    api_base: String,
    daily_quota: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: serde_json::Value,
}

impl Google {
    pub(super) fn new(s: &OAuthSettings) -> Google {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("commentwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Google {
            http,
            client_id: s.client_id.clone(),
            client_secret: s.client_secret.clone(),
            token_url: s.token_url.clone(),
            revoke_url: s.revoke_url.clone(),
            api_base: s.api_base.clone(),
            daily_quota: s.daily_quota,
        }
    }

    /// Trades an authorization code and its PKCE verifier for tokens.
    pub(super) async fn exchange(
        &self,
        code: &str,
        verifier: &Secret,
        redirect_uri: &str,
    ) -> Result<Tokens, GoogleError> {
        let tokens = self
            .token(
                "sign-in",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("code_verifier", verifier.expose()),
                    ("redirect_uri", redirect_uri),
                ],
            )
            .await?;
        Ok(tokens)
    }

    /// A fresh access token for the refresh token.
    pub(super) async fn refresh(&self, refresh: &Secret) -> Result<Tokens, GoogleError> {
        self.token(
            "token refresh",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose()),
            ],
        )
        .await
    }

    async fn token(
        &self,
        what: &'static str,
        form: &[(&str, &str)],
    ) -> Result<Tokens, GoogleError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose())
            .extend_pairs(form)
            .finish();
        let bytes = self.post_form(what, &self.token_url, body).await?;
        let answer: TokenAnswer =
            serde_json::from_slice(&bytes).map_err(|_| GoogleError::Unreadable(what))?;
        if let Some(scope) = &answer.scope
            && !scope.split(' ').any(|s| s == SCOPE)
        {
            return Err(GoogleError::ScopeMissing);
        }
        let life = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        Ok(Tokens {
            access_token: Secret::new(answer.access_token),
            refresh_token: answer.refresh_token.map(Secret::new),
            use_until: Instant::now() + life.saturating_sub(REFRESH_EARLY),
        })
    }

    /// Revokes `token` (a refresh token revokes its access tokens too).
    pub(super) async fn revoke(&self, token: &Secret) -> Result<(), GoogleError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token.expose())
            .finish();
        self.post_form("revocation", &self.revoke_url, body).await?;
        Ok(())
    }

    /// `channels.list?mine=true&part=snippet`: the account's channel.
    pub(super) async fn channel(
        &self,
        access: &Secret,
        log: &CommentLog,
    ) -> Result<Channel, GoogleError> {
        let day = crate::quota::quota_day(chrono::Utc::now());
        match log.reserve_quota(day, 1, self.daily_quota).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(GoogleError::Quota),
            Err(_) => return Err(GoogleError::Unreachable("the comment log")),
        }
        let url = format!(
            "{}/youtube/v3/channels?mine=true&part=snippet",
            self.api_base
        );
        let resp = self
            .http
            .get(url)
            .bearer_auth(access.expose())
            .send()
            .await
            .map_err(|_| GoogleError::Unreachable("the YouTube API"))?;
        let status = resp.status();
        let bytes = read(resp, "channel").await?;
        if !status.is_success() {
            return Err(refusal("channel lookup", status, &bytes));
        }
        #[derive(Deserialize)]
        struct Snippet {
            title: String,
        }
        #[derive(Deserialize)]
        struct Item {
            id: String,
            snippet: Snippet,
        }
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            items: Vec<Item>,
        }
        let list: List =
            serde_json::from_slice(&bytes).map_err(|_| GoogleError::Unreadable("channel"))?;
        let item = list
            .items
            .into_iter()
            .next()
            .ok_or(GoogleError::NoChannel)?;
        Ok(Channel {
            id: crate::sanitize::clean_line(&item.id, 64),
            title: crate::sanitize::clean_line(&item.snippet.title, 200),
        })
    }

    /// A YouTube Data API call with the account's access token, its `cost`
    /// reserved first against the key's daily budget (nothing is sent when
    /// the day's quota is spent). The answer's JSON (`null` for 204).
    pub(super) async fn api(
        &self,
        access: &Secret,
        call: ApiCall<'_>,
        log: &CommentLog,
    ) -> Result<serde_json::Value, GoogleError> {
        let day = crate::quota::quota_day(chrono::Utc::now());
        match log.reserve_quota(day, call.cost, self.daily_quota).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(GoogleError::Quota),
            Err(_) => return Err(GoogleError::Unreachable("the comment log")),
        }
        let url = format!("{}/youtube/v3/{}", self.api_base, call.path);
        let mut req = self
            .http
            .request(call.method, url)
            .query(call.query)
            .bearer_auth(access.expose());
        if let Some(body) = call.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|_| GoogleError::Unreachable("the YouTube API"))?;
        let status = resp.status();
        let bytes = read(resp, "YouTube API").await?;
        if !status.is_success() {
            return Err(match refusal(call.what, status, &bytes) {
                GoogleError::Refused { code, .. } if code == "quotaExceeded" => GoogleError::Quota,
                GoogleError::Refused { what, code } => GoogleError::Api {
                    what,
                    status: status.as_u16(),
                    code,
                },
                other => other,
            });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|_| GoogleError::Unreadable(call.what))
    }

    async fn post_form(
        &self,
        what: &'static str,
        url: &str,
        body: String,
    ) -> Result<Vec<u8>, GoogleError> {
        let resp = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|_| GoogleError::Unreachable("Google's sign-in service"))?;
        let status = resp.status();
        let bytes = read(resp, what).await?;
        if !status.is_success() {
            return Err(refusal(what, status, &bytes));
        }
        Ok(bytes)
    }
}

async fn read(resp: reqwest::Response, what: &'static str) -> Result<Vec<u8>, GoogleError> {
    if resp.content_length().is_some_and(|n| n as usize > MAX_BODY) {
        return Err(GoogleError::Unreadable(what));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|_| GoogleError::Unreadable(what))?;
    if bytes.len() > MAX_BODY {
        return Err(GoogleError::Unreadable(what));
    }
    Ok(bytes.to_vec())
}

/// Google's error code, or the HTTP status: a short word, never the body.
fn refusal(what: &'static str, status: reqwest::StatusCode, body: &[u8]) -> GoogleError {
    let code = serde_json::from_slice::<ErrorAnswer>(body)
        .ok()
        .and_then(|e| match e.error {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Object(o) => o
                .get("errors")
                .and_then(|e| e.get(0))
                .and_then(|e| e.get("reason"))
                .and_then(|r| r.as_str())
                .map(str::to_owned),
            _ => None,
        })
        .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    GoogleError::Refused { what, code }
}
