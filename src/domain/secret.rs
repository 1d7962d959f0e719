//! Secrets in settings: `Secret`, a value whose `Debug` never shows it, and
//! `redact`, a database URL with its password replaced, for messages and
//! logs. No I/O; imports nothing else of the crate.

use std::fmt;

/// A value that must never reach a log line: `Debug` prints `(hidden)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(hidden)")
    }
}

/// `url` without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            // libpq also takes `?password=`.
            if u.query_pairs().any(|(k, _)| k == "password") {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k == "password" {
                            "***".into()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        // Unparseable: hide whatever follows a `:` in the user part.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let user = &url[scheme + 3..at];
                match user.split_once(':') {
                    Some((name, _)) => format!("{}{name}:***{}", &url[..scheme + 3], &url[at..]),
                    None => url.to_owned(),
                }
            }
            _ => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_survives_redaction() {
        assert_eq!(
            redact("postgres://cw:s3cret@db.internal:5432/comments"),
            "postgres://cw:***@db.internal:5432/comments"
        );
        let r = redact("postgres://cw@db/comments?password=s3cret&sslmode=require");
        assert!(
            !r.contains("s3cret") && r.contains("sslmode=require"),
            "{r}"
        );
        let r = redact("postgresql://cw:s3cret@[nope/db");
        assert!(!r.contains("s3cret"), "{r}");
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        assert!(!format!("{:?}", Secret::new("hunter22")).contains("hunter22"));
    }
}
