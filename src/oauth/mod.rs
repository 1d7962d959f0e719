//! The streamer's own YouTube account, connected through Google's OAuth
//! flow for installed apps (loopback redirect, PKCE S256): the pending
//! flows (`state`, single use, ten minutes), the refresh token kept in the
//! log, the access token kept in memory only and refreshed before it
//! expires, and Disconnect (revoked at Google, then forgotten).
//!
//! It never imports `crate::web` (routes call it) nor `crate::source`; no
//! token, verifier or client secret ever reaches a log line, an error
//! message or anything it returns but [`YouTubeAccount::access_token`].
//! Rooms: this file (the flow and its state), `google` (the HTTP calls),
//! `pkce` (verifier, challenge and state values).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{info, warn};

use crate::domain::Secret;
use crate::store::{CommentLog, LinkedAccount, LogError};

/// The token, channel and revoke calls to Google.
/// Whether the connected channel owns each monitored live chat.
mod chats;
mod google;
/// Acting on a live chat: delete a message, time out, ban, unban.
mod live;
/// PKCE verifiers and challenges, and `state` values.
mod pkce;

pub use chats::{ChatRole, OWNER_LOOKUP_COST};
pub use google::GoogleError;
pub use live::{BAN_COST, CHAT_LOOKUP_COST, DELETE_COST, MODERATE_COST, REPLY_COST, UNBAN_COST};

/// The one scope the actions need (manage the channel's YouTube account:
/// delete chat messages, ban, moderate and reply to comments).
pub const SCOPE: &str = "https://www.googleapis.com/auth/youtube.force-ssl";
/// How the log names the account.
const PLATFORM: &str = "youtube";
/// How long a started flow waits for Google's answer.
const STATE_LIFE: Duration = Duration::from_secs(10 * 60);
/// Flows started and not finished that are remembered at once.
const MAX_PENDING: usize = 64;
/// An access token is refreshed this long before Google says it expires.
const REFRESH_EARLY: Duration = Duration::from_secs(120);

/// `YOUTUBE_OAUTH_CLIENT_*` and `GOOGLE_OAUTH_*_URL`, with the API base
/// and daily quota of `YOUTUBE_API_*` (the channel lookup spends from it).
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub auth_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub api_base: String,
    pub daily_quota: i64,
    /// `CW_ACTION_QUOTA_RESERVE`: what polling leaves for actions.
    pub action_reserve: i64,
}

/// Why connecting, refreshing or disconnecting failed, in words fit for
/// the dashboard (never a token).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error(
        "no OAuth client is configured: set YOUTUBE_OAUTH_CLIENT_ID and YOUTUBE_OAUTH_CLIENT_SECRET"
    )]
    NotConfigured,
    #[error("no YouTube account is connected")]
    NotConnected,
    #[error("this sign-in link is unknown or was used already; connect again from the dashboard")]
    UnknownState,
    #[error("this sign-in took longer than ten minutes; connect again from the dashboard")]
    Expired,
    #[error("too many sign-ins are under way; finish or wait for one, then try again")]
    Busy,
    #[error("this video has no live chat now")]
    NoChat,
    #[error("Google: {0}")]
    Google(#[from] GoogleError),
    #[error("the comment log does not answer: {0}")]
    Log(#[from] LogError),
}

/// What the dashboard may know of the connection: never a token.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Status {
    /// Whether an OAuth client is configured at all.
    pub configured: bool,
    pub connected: bool,
    pub channel_title: Option<String>,
    pub channel_id: Option<String>,
}

/// The connection's handle, cheap to clone; inert without a client.
#[derive(Clone, Default)]
pub struct YouTubeAccount(Option<Arc<Inner>>);

struct Inner {
    settings: OAuthSettings,
    log: CommentLog,
    google: google::Google,
    pending: Mutex<HashMap<String, Pending>>,
    /// Each video's live chat id, once looked up.
    chats: Mutex<HashMap<String, String>>,
    /// The monitored `youtube-live:` videos.
    live_videos: Vec<String>,
    /// Each of them's channel, once looked up (empty: YouTube did not know it).
    owners: Mutex<HashMap<String, String>>,
    /// The access token and when to stop using it; in memory only.
    access: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

/// A flow started from the dashboard and not finished yet.
struct Pending {
    verifier: Secret,
    redirect_uri: String,
    /// The SHA-256 of the dashboard session that started it.
    session: Option<String>,
    started: Instant,
}

impl YouTubeAccount {
    pub fn new(settings: Option<OAuthSettings>, log: CommentLog) -> YouTubeAccount {
        YouTubeAccount(settings.map(|settings| {
            Arc::new(Inner {
                google: google::Google::new(&settings),
                settings,
                log,
                pending: Mutex::new(HashMap::new()),
                chats: Mutex::new(HashMap::new()),
                live_videos: Vec::new(),
                owners: Mutex::new(HashMap::new()),
                access: tokio::sync::Mutex::new(None),
            })
        }))
    }

    fn inner(&self) -> Result<&Inner, OAuthError> {
        self.0.as_deref().ok_or(OAuthError::NotConfigured)
    }

    /// Starts a flow: the address of Google's consent page, with a fresh
    /// single-use `state` bound to `session` and a PKCE S256 challenge.
    /// Google sends the browser back to `redirect_uri`.
    pub fn start(
        &self,
        redirect_uri: String,
        session: Option<String>,
    ) -> Result<String, OAuthError> {
        let inner = self.inner()?;
        let state = pkce::state();
        let verifier = pkce::verifier();
        let challenge = pkce::challenge(&verifier);
        let mut url =
            url::Url::parse(&inner.settings.auth_url).map_err(|_| OAuthError::NotConfigured)?;
        url.query_pairs_mut()
            .append_pair("client_id", &inner.settings.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPE)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent");
        let mut pending = inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|_, p| p.started.elapsed() < STATE_LIFE);
        if pending.len() >= MAX_PENDING {
            return Err(OAuthError::Busy);
        }
        pending.insert(
            state,
            Pending {
                verifier: Secret::new(verifier),
                redirect_uri,
                session,
                started: Instant::now(),
            },
        );
        Ok(url.into())
    }

    /// Forgets the flow `state` names (Google said the streamer declined).
    pub fn abandon(&self, state: &str) {
        if let Ok(inner) = self.inner() {
            inner
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(state);
        }
    }

    /// Finishes the flow `state` names (once): trades `code` and the
    /// verifier for tokens, asks which channel they are (1 quota unit) and
    /// keeps the refresh token in the log.
    pub async fn finish(&self, state: &str, code: &str) -> Result<Status, OAuthError> {
        let inner = self.inner()?;
        let pending = inner
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(state)
            .ok_or(OAuthError::UnknownState)?;
        if pending.started.elapsed() >= STATE_LIFE {
            return Err(OAuthError::Expired);
        }
        let tokens = inner
            .google
            .exchange(code, &pending.verifier, &pending.redirect_uri)
            .await?;
        let refresh = tokens
            .refresh_token
            .clone()
            .ok_or(GoogleError::NoRefreshToken)?;
        let channel = inner
            .google
            .channel(&tokens.access_token, &inner.log)
            .await?;
        inner
            .log
            .link_account(LinkedAccount {
                platform: PLATFORM.into(),
                refresh_token: refresh,
                channel_id: channel.id.clone(),
                channel_title: channel.title.clone(),
                connected_at: chrono::Utc::now().timestamp(),
                connected_by: pending.session,
            })
            .await?;
        *inner.access.lock().await = Some((tokens.access_token, tokens.use_until));
        info!(channel = %channel.id, "a YouTube account was connected");
        Ok(Status {
            configured: true,
            connected: true,
            channel_title: Some(channel.title),
            channel_id: Some(channel.id),
        })
    }

    /// Which channel is connected, if any.
    pub async fn status(&self) -> Result<Status, OAuthError> {
        let Ok(inner) = self.inner() else {
            return Ok(Status::default());
        };
        let account = inner.log.linked_account(PLATFORM.into()).await?;
        Ok(Status {
            configured: true,
            connected: account.is_some(),
            channel_title: account.as_ref().map(|a| a.channel_title.clone()),
            channel_id: account.map(|a| a.channel_id),
        })
    }

    /// The connected account as the log keeps it.
    pub async fn account(&self) -> Result<LinkedAccount, OAuthError> {
        let inner = self.inner()?;
        inner
            .log
            .linked_account(PLATFORM.into())
            .await?
            .ok_or(OAuthError::NotConnected)
    }

    /// A current access token for the API calls, refreshed when it is
    /// within two minutes of its expiry.
    pub async fn access_token(&self) -> Result<Secret, OAuthError> {
        let inner = self.inner()?;
        let mut access = inner.access.lock().await;
        if let Some((token, until)) = access.as_ref()
            && *until > Instant::now()
        {
            return Ok(token.clone());
        }
        let account = self.account().await?;
        let fresh = inner.google.refresh(&account.refresh_token).await?;
        *access = Some((fresh.access_token.clone(), fresh.use_until));
        Ok(fresh.access_token)
    }

    /// Revokes the refresh token at Google and forgets the account; whether
    /// Google confirmed the revocation (the account is forgotten either
    /// way).
    pub async fn disconnect(&self) -> Result<bool, OAuthError> {
        let inner = self.inner()?;
        let account = self.account().await?;
        *inner.access.lock().await = None;
        let revoked = match inner.google.revoke(&account.refresh_token).await {
            Ok(()) => true,
            Err(e) => {
                warn!(error = %e, "Google did not confirm the revocation; the account is forgotten anyway");
                false
            }
        };
        inner.log.unlink_account(PLATFORM.into()).await?;
        info!(revoked, "the YouTube account was disconnected");
        Ok(revoked)
    }
}
