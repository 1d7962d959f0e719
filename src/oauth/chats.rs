//! Whether the connected channel owns each monitored YouTube live chat: a
//! live chat's owner is its video's channel (`videos.list`
//! `snippet.channelId`), so the chat is the connected channel's own when
//! they are equal; otherwise it *may not* be moderated from here (the API
//! has no cheap way to ask whether one is a moderator of someone else's
//! chat; an action's 403 then says so). One `videos.list` (1 quota unit)
//! asks for up to 50 videos at once, and a video's channel never changes,
//! so each video is looked up once per run. It reads the account and the
//! API; what the dashboard shows of it is the caller's business.

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::google::ApiCall;
use super::{OAuthError, YouTubeAccount};

/// Quota units of the `videos.list` that finds up to 50 videos' channels.
pub const OWNER_LOOKUP_COST: i64 = 1;
/// Videos one `videos.list` takes.
const PER_CALL: usize = 50;

/// What the connected channel is to one monitored live chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatRole {
    /// `youtube-live:VIDEO`.
    pub source: String,
    /// The video's channel, when YouTube said.
    pub channel_id: Option<String>,
    /// `owner` (the video is the connected channel's), `may_not_moderate`
    /// (another channel's: only a moderator may act) or `unknown` (YouTube
    /// did not say: the video is gone or private, or the lookup failed).
    pub role: &'static str,
}

impl YouTubeAccount {
    /// The `youtube-live:` videos being monitored, whose chats
    /// [`YouTubeAccount::chat_roles`] describes.
    pub fn with_live_chats(mut self, videos: Vec<String>) -> YouTubeAccount {
        if let Some(inner) = self.0.as_mut().and_then(std::sync::Arc::get_mut) {
            inner.live_videos = videos;
        }
        self
    }

    /// What the connected channel is to each monitored live chat.
    pub async fn chat_roles(&self) -> Result<Vec<ChatRole>, OAuthError> {
        let inner = self.inner()?;
        let account = self.account().await?;
        let missing: Vec<String> = {
            let owners = inner.owners.lock().unwrap_or_else(|p| p.into_inner());
            inner
                .live_videos
                .iter()
                .filter(|v| !owners.contains_key(*v))
                .cloned()
                .collect()
        };
        for chunk in missing.chunks(PER_CALL) {
            let ids = chunk.join(",");
            match self.owner_lookup(&ids).await {
                Ok(found) => {
                    let mut owners = inner.owners.lock().unwrap_or_else(|p| p.into_inner());
                    for v in chunk {
                        let channel = found
                            .iter()
                            .find(|(id, _)| id == v)
                            .map(|(_, c)| c.clone())
                            .unwrap_or_default();
                        owners.insert(v.clone(), channel);
                    }
                }
                // Unknown this time; asked again next time.
                Err(e) => {
                    tracing::warn!(error = %e, "could not look up whose live chats these are")
                }
            }
        }
        let owners = inner.owners.lock().unwrap_or_else(|p| p.into_inner());
        Ok(inner
            .live_videos
            .iter()
            .map(|v| {
                let channel = owners.get(v).filter(|c| !c.is_empty()).cloned();
                let role = match &channel {
                    Some(c) if *c == account.channel_id => "owner",
                    Some(_) => "may_not_moderate",
                    None => "unknown",
                };
                ChatRole {
                    source: format!("youtube-live:{v}"),
                    channel_id: channel,
                    role,
                }
            })
            .collect())
    }

    /// `(video, channel)` of the videos `ids` (comma-separated) YouTube knows.
    async fn owner_lookup(&self, ids: &str) -> Result<Vec<(String, String)>, OAuthError> {
        let inner = self.inner()?;
        let access = self.access_token().await?;
        let answer = inner
            .google
            .api(
                &access,
                ApiCall {
                    what: "owner lookup",
                    method: Method::GET,
                    path: "videos",
                    query: &[
                        ("part", "snippet"),
                        ("id", ids),
                        ("fields", "items(id,snippet/channelId)"),
                    ],
                    body: None,
                    cost: OWNER_LOOKUP_COST,
                },
                &inner.log,
            )
            .await?;
        Ok(answer
            .get("items")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| {
                        let id = i.get("id")?.as_str()?;
                        let channel = i.pointer("/snippet/channelId")?.as_str()?;
                        Some((
                            crate::sanitize::clean_line(id, 200),
                            crate::sanitize::clean_line(channel, 200),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}
