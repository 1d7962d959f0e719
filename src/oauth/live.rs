//! Acting on a YouTube live chat with the connected account: delete a
//! message (`liveChatMessages.delete`), time out or ban its author
//! (`liveChatBans.insert`, temporary or permanent) and unban
//! (`liveChatBans.delete`, with the id the ban returned); on a video's
//! comments, hold for review or reject (`comments.setModerationStatus`) and
//! reply (`comments.insert`). Each call's quota is reserved first; the chat's id comes from `videos.list` once per
//! video. What the log records of it, and what the dashboard sees, is the
//! caller's business.

use reqwest::Method;
use serde_json::{Value, json};

use super::google::ApiCall;
use super::{OAuthError, YouTubeAccount};

/// Quota units of `liveChatMessages.delete`.
pub const DELETE_COST: i64 = 50;
/// Quota units of `liveChatBans.insert`.
pub const BAN_COST: i64 = 50;
/// Quota units of `liveChatBans.delete`.
pub const UNBAN_COST: i64 = 50;
/// Quota units of `comments.setModerationStatus` (hold, reject).
pub const MODERATE_COST: i64 = 50;
/// Quota units of `comments.insert` (a reply).
pub const REPLY_COST: i64 = 50;
/// Quota units of the `videos.list` that finds a video's chat (once).
pub const CHAT_LOOKUP_COST: i64 = 1;

impl YouTubeAccount {
    async fn call(&self, call: ApiCall<'_>) -> Result<Value, OAuthError> {
        let inner = self.inner()?;
        let access = self.access_token().await?;
        Ok(inner.google.api(&access, call, &inner.log).await?)
    }

    /// Deletes the live chat message `id`.
    pub async fn delete_message(&self, id: &str) -> Result<(), OAuthError> {
        self.call(ApiCall {
            what: "deletion",
            method: Method::DELETE,
            path: "liveChat/messages",
            query: &[("id", id)],
            body: None,
            cost: DELETE_COST,
        })
        .await?;
        Ok(())
    }

    /// Bans `channel_id` from the live chat of `video`: for `seconds`
    /// (a timeout), or for good. The ban's id (what unbanning needs).
    pub async fn ban(
        &self,
        video: &str,
        channel_id: &str,
        seconds: Option<u64>,
    ) -> Result<String, OAuthError> {
        let chat = self.live_chat_id(video).await?;
        let mut snippet = json!({
            "liveChatId": chat,
            "type": if seconds.is_some() { "temporary" } else { "permanent" },
            "bannedUserDetails": {"channelId": channel_id},
        });
        if let Some(s) = seconds {
            snippet["banDurationSeconds"] = Value::String(s.to_string());
        }
        let answer = self
            .call(ApiCall {
                what: if seconds.is_some() { "timeout" } else { "ban" },
                method: Method::POST,
                path: "liveChat/bans",
                query: &[("part", "snippet")],
                body: Some(json!({ "snippet": snippet })),
                cost: BAN_COST,
            })
            .await?;
        answer
            .get("id")
            .and_then(Value::as_str)
            .map(|id| crate::sanitize::clean_line(id, 200))
            .ok_or(OAuthError::Google(super::GoogleError::Unreadable("ban")))
    }

    /// Lifts the ban `ban_id`.
    pub async fn unban(&self, ban_id: &str) -> Result<(), OAuthError> {
        self.call(ApiCall {
            what: "unban",
            method: Method::DELETE,
            path: "liveChat/bans",
            query: &[("id", ban_id)],
            body: None,
            cost: UNBAN_COST,
        })
        .await?;
        Ok(())
    }

    /// Holds a video comment for review (`hold`) or rejects it, optionally
    /// banning its author from the channel's comments.
    pub async fn moderate(&self, id: &str, hold: bool, ban_author: bool) -> Result<(), OAuthError> {
        let status = if hold { "heldForReview" } else { "rejected" };
        let mut query = vec![("id", id), ("moderationStatus", status)];
        if ban_author && !hold {
            query.push(("banAuthor", "true"));
        }
        self.call(ApiCall {
            what: if hold { "hold" } else { "rejection" },
            method: Method::POST,
            path: "comments/setModerationStatus",
            query: &query,
            body: None,
            cost: MODERATE_COST,
        })
        .await?;
        Ok(())
    }

    /// Replies to the top-level video comment `parent`; the reply's id.
    pub async fn reply(&self, parent: &str, text: &str) -> Result<String, OAuthError> {
        let answer = self
            .call(ApiCall {
                what: "reply",
                method: Method::POST,
                path: "comments",
                query: &[("part", "snippet")],
                body: Some(json!({"snippet": {"parentId": parent, "textOriginal": text}})),
                cost: REPLY_COST,
            })
            .await?;
        Ok(answer
            .get("id")
            .and_then(Value::as_str)
            .map(|id| crate::sanitize::clean_line(id, 200))
            .unwrap_or_default())
    }

    /// The live chat of `video` (`videos.list`, once per video).
    async fn live_chat_id(&self, video: &str) -> Result<String, OAuthError> {
        let inner = self.inner()?;
        if let Some(id) = inner
            .chats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(video)
        {
            return Ok(id.clone());
        }
        let answer = self
            .call(ApiCall {
                what: "chat lookup",
                method: Method::GET,
                path: "videos",
                query: &[("part", "liveStreamingDetails"), ("id", video)],
                body: None,
                cost: CHAT_LOOKUP_COST,
            })
            .await?;
        let id = answer
            .pointer("/items/0/liveStreamingDetails/activeLiveChatId")
            .and_then(Value::as_str)
            .ok_or(OAuthError::NoChat)?
            .to_owned();
        inner
            .chats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(video.to_owned(), id.clone());
        Ok(id)
    }
}
