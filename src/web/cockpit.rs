//! The dashboard's and the overlay's settings, taken once from the
//! configuration: highlight words (`CW_HIGHLIGHT`), the YouTube daily quota
//! the status bar counts down from, and the overlay's read-only key (see
//! `overlay` for why OBS gets a key of its own). Hidden words and authors
//! (`CW_BLOCK` seeds them) are live state, `crate::hidden`'s, which pages
//! get from `dashboard_json` at load and from `hidden` frames after.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::config::Config;

/// What the dashboard and the overlay take from the configuration.
#[derive(Clone, Default)]
pub struct Cockpit(Arc<Settings>);

#[derive(Default)]
struct Settings {
    highlight: Vec<String>,
    daily_quota: i64,
    /// `None` without `CW_TOKEN`: the overlay is then as open as the rest.
    overlay_key: Option<String>,
}

impl Cockpit {
    pub fn from_config(config: &Config) -> Cockpit {
        let overlay_key = config.token.as_ref().map(|token| {
            match &config.overlay_key {
                Some(key) => key.expose().to_owned(),
                None => {
                    // A label of its own, so the key can never equal the
                    // session cookie (an HMAC of the same token).
                    let mut mac = Hmac::<Sha256>::new_from_slice(token.expose().as_bytes())
                        .expect("HMAC takes any key");
                    mac.update(b"commentwatch overlay key v1");
                    mac.finalize().into_bytes()[..16]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect()
                }
            }
        });
        Cockpit(Arc::new(Settings {
            highlight: config.highlight.clone(),
            daily_quota: config.youtube.daily_quota,
            overlay_key,
        }))
    }

    /// `CW_HIGHLIGHT`'s words, lower-cased, for the log's `highlighted` filter.
    pub fn highlight_words(&self) -> Vec<String> {
        self.0
            .highlight
            .iter()
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect()
    }

    /// The overlay's read-only key (`None` without `CW_TOKEN`).
    pub fn overlay_key(&self) -> Option<&str> {
        self.0.overlay_key.as_deref()
    }

    /// The dashboard's starting settings, as JSON for a `data-` attribute
    /// (askama escapes it; the page parses it). `block` is the hidden list
    /// as it is now (each entry as typed), until the first `hidden` frame.
    pub fn dashboard_json(&self, featured_max: usize, hidden: &[String]) -> String {
        json!({
            "highlight": self.0.highlight,
            "block": hidden,
            "youtube_daily_quota": self.0.daily_quota,
            "featured_max": featured_max,
        })
        .to_string()
    }
}
