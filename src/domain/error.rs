//! `ConfigError`: why the settings were refused. A leaf, so that `config`
//! and the per-platform settings parsers under `source` can both return it
//! without importing each other. No I/O; imports nothing else of the crate.

/// Why the settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unknown flags, `--help` and `--version`: clap prints and exits itself.
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// A value that does not parse or is out of range.
    #[error("{var}={value:?} is not valid: {expected}")]
    Invalid {
        var: String,
        value: String,
        expected: String,
    },
    /// A setting that the configured sources need is not set.
    #[error("{var} is not set: {why}")]
    Missing { var: String, why: String },
    /// The `.env` file exists but cannot be read.
    #[error(".env: {0}")]
    DotEnv(String),
}

impl ConfigError {
    pub fn invalid(var: impl Into<String>, value: &str, expected: impl Into<String>) -> Self {
        ConfigError::Invalid {
            var: var.into(),
            value: value.to_owned(),
            expected: expected.into(),
        }
    }
}
