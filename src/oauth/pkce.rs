//! PKCE (RFC 7636) verifiers and S256 challenges, and `state` values: random,
//! URL-safe, no I/O.

use sha2::{Digest, Sha256};

/// A fresh verifier: 32 random bytes, base64url (43 characters).
pub(super) fn verifier() -> String {
    base64url(&rand::random::<[u8; 32]>())
}

/// The S256 challenge of `verifier`.
pub(super) fn challenge(verifier: &str) -> String {
    base64url(&Sha256::digest(verifier.as_bytes()))
}

/// A fresh `state`: 32 random bytes, hex.
pub(super) fn state() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Base64url without padding (RFC 7636 §4.2).
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(verifier().len(), 43);
        assert_ne!(state(), state());
    }
}
