//! Reading the environment: the `.env` file and the process's variables.
//! The only disk access of `config`; nothing is parsed here beyond
//! `KEY=value` lines.

use std::collections::HashMap;

use crate::domain::ConfigError;

/// Reads `KEY=value` lines from a `.env` file; a missing file is no error.
/// A line that does not parse is named by position only: its text may hold
/// a secret, and the error is one line.
pub(super) fn read_dotenv(path: &str) -> Result<HashMap<String, String>, ConfigError> {
    let describe = |e: dotenvy::Error| match e {
        dotenvy::Error::LineParse(_, at) => ConfigError::DotEnv(format!(
            "cannot read the line at character {at}; check its quoting"
        )),
        dotenvy::Error::Io(e) => ConfigError::DotEnv(e.to_string()),
        other => ConfigError::DotEnv(
            crate::sanitize::clean_line(&other.to_string(), 200)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
        ),
    };
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) if e.not_found() => return Ok(HashMap::new()),
        Err(e) => return Err(describe(e)),
    };
    iter.map(|item| item.map_err(describe)).collect()
}

/// A setting whose value is not UTF-8 would read as unset (a `CW_TOKEN`
/// lost that way would leave the dashboard open): it stops the start.
pub(super) fn refuse_non_utf8_env() -> Result<(), ConfigError> {
    for (key, value) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let ours = ["CW_", "YOUTUBE_", "BILIBILI_"]
            .iter()
            .any(|p| key.starts_with(p));
        if ours && value.to_str().is_none() {
            // The value is not shown: it may be a secret.
            return Err(ConfigError::invalid(
                key,
                "…",
                "the value is not valid UTF-8",
            ));
        }
    }
    Ok(())
}
