//! `YOUTUBE_OAUTH_CLIENT_ID`, `YOUTUBE_OAUTH_CLIENT_SECRET` and the
//! `GOOGLE_OAUTH_*_URL` endpoints, checked at start: a bad value stops the
//! start naming its variable, the secret is never shown. Parsing only; what
//! they are for is `crate::oauth`'s business.

use super::args::Cli;
use super::parse::parse_base_url;
use crate::domain::{ConfigError, Secret};
use crate::oauth::OAuthSettings;
use crate::source::youtube::YouTubeSettings;

/// `None` when neither the client id nor its secret is set.
pub(super) fn parse(
    cli: &Cli,
    youtube: &YouTubeSettings,
) -> Result<Option<OAuthSettings>, ConfigError> {
    let auth_url = endpoint("GOOGLE_OAUTH_AUTH_URL", &cli.google_oauth_auth_url)?;
    let token_url = endpoint("GOOGLE_OAUTH_TOKEN_URL", &cli.google_oauth_token_url)?;
    let revoke_url = endpoint("GOOGLE_OAUTH_REVOKE_URL", &cli.google_oauth_revoke_url)?;
    let id = cli.youtube_oauth_client_id.as_deref().unwrap_or("").trim();
    let secret = cli
        .youtube_oauth_client_secret
        .as_deref()
        .unwrap_or("")
        .trim();
    match (id.is_empty(), secret.is_empty()) {
        (true, true) => return Ok(None),
        (false, true) => {
            return Err(ConfigError::Missing {
                var: "YOUTUBE_OAUTH_CLIENT_SECRET".into(),
                why: "YOUTUBE_OAUTH_CLIENT_ID is set; its client secret is needed too".into(),
            });
        }
        (true, false) => {
            return Err(ConfigError::Missing {
                var: "YOUTUBE_OAUTH_CLIENT_ID".into(),
                why: "YOUTUBE_OAUTH_CLIENT_SECRET is set; its client id is needed too".into(),
            });
        }
        (false, false) => {}
    }
    let token_like = |s: &str| {
        s.len() <= 256
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
    };
    if !token_like(id) {
        return Err(ConfigError::invalid(
            "YOUTUBE_OAUTH_CLIENT_ID",
            id,
            "expected a client id such as 1234-abc.apps.googleusercontent.com",
        ));
    }
    if !token_like(secret) {
        return Err(ConfigError::invalid(
            "YOUTUBE_OAUTH_CLIENT_SECRET",
            "(hidden)",
            "expected a client secret: letters, digits, - _ . ~",
        ));
    }
    let action_reserve = super::parse::in_range(
        "CW_ACTION_QUOTA_RESERVE",
        &cli.action_quota_reserve,
        0..youtube.daily_quota,
        "expected a whole number of quota units below YOUTUBE_DAILY_QUOTA, e.g. 300",
    )?;
    Ok(Some(OAuthSettings {
        action_reserve,
        client_id: id.to_owned(),
        client_secret: Secret::new(secret),
        auth_url,
        token_url,
        revoke_url,
        api_base: youtube.api_base.clone(),
        daily_quota: youtube.daily_quota,
    }))
}

impl super::Config {
    /// The YouTube quota polling may spend a day: `YOUTUBE_DAILY_QUOTA`,
    /// less `CW_ACTION_QUOTA_RESERVE` when an account can be connected, so
    /// a long session's polling never leaves the streamer unable to ban.
    pub fn polling_quota(&self) -> i64 {
        let reserve = self.youtube_oauth.as_ref().map_or(0, |o| o.action_reserve);
        self.youtube.daily_quota - reserve
    }
}

/// An http(s) address, kept as given (a path is part of it).
fn endpoint(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = parse_base_url(var, value)?;
    match reqwest::Url::parse(&url) {
        Ok(u) if u.query().is_none() && u.fragment().is_none() && u.password().is_none() => Ok(url),
        _ => Err(ConfigError::invalid(
            var,
            value,
            "expected an http(s) address without a query, such as https://oauth2.googleapis.com/token",
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn config(env: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_lookup(["commentwatch"], |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_client_needs_both_halves_and_bad_values_name_their_variable() {
        assert!(config(&[]).unwrap().youtube_oauth.is_none());
        let both = [
            (
                "YOUTUBE_OAUTH_CLIENT_ID",
                "123-abc.apps.googleusercontent.com",
            ),
            ("YOUTUBE_OAUTH_CLIENT_SECRET", "GOCSPX-s3cret"),
        ];
        let c = config(&both).unwrap().youtube_oauth.unwrap();
        assert_eq!(c.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(c.auth_url, "https://accounts.google.com/o/oauth2/v2/auth");
        assert_eq!(c.revoke_url, "https://oauth2.googleapis.com/revoke");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.action_reserve, 300);
        assert_eq!(config(&both).unwrap().polling_quota(), 10_000 - 300);
        assert_eq!(
            config(&[]).unwrap().polling_quota(),
            10_000,
            "no reserve without a client"
        );
        let small = [both[0], both[1], ("YOUTUBE_DAILY_QUOTA", "200")];
        let e = config(&small).unwrap_err();
        assert!(e.contains("CW_ACTION_QUOTA_RESERVE"), "{e}");
        let set = [both[0], both[1], ("CW_ACTION_QUOTA_RESERVE", "1000")];
        assert_eq!(config(&set).unwrap().polling_quota(), 9_000);
        let e = config(&both[..1]).unwrap_err();
        assert!(e.contains("YOUTUBE_OAUTH_CLIENT_SECRET"), "{e}");
        let e = config(&both[1..]).unwrap_err();
        assert!(e.contains("YOUTUBE_OAUTH_CLIENT_ID"), "{e}");
        let e = config(&[
            both[0],
            ("YOUTUBE_OAUTH_CLIENT_SECRET", "s3cret with space"),
        ])
        .unwrap_err();
        assert!(
            e.contains("YOUTUBE_OAUTH_CLIENT_SECRET") && !e.contains("s3cret"),
            "{e}"
        );
        for var in [
            "GOOGLE_OAUTH_AUTH_URL",
            "GOOGLE_OAUTH_TOKEN_URL",
            "GOOGLE_OAUTH_REVOKE_URL",
        ] {
            let e = config(&[(var, "ftp://nope")]).unwrap_err();
            assert!(e.contains(var), "{e}");
        }
    }
}
