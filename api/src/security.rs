//! Bearer tokens and password hashing.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

use crate::error::ApiError;
use crate::secret::random_bytes;

/// Prefix of session tokens, so secret scanners can recognise a leaked one.
pub const SESSION_TOKEN_PREFIX: &str = "vts_";

/// A fresh session token: 256 random bits, base64url.
pub fn generate_token(prefix: &str) -> Result<String, ApiError> {
    let bytes = random_bytes::<32>().map_err(ApiError::internal)?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// How a token is stored: SHA-256, hex. Tokens carry 256 bits of entropy, so
/// a fast hash is enough; a stolen database opens no session.
pub fn hash_token(token: &str) -> String {
    vitrine_entity::audit_chain::hex(&Sha256::digest(token.as_bytes()))
}

/// Hashes a password with argon2id (default parameters: 19 MiB, t=2, p=1).
/// CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}").into()))
}

/// Verifies a password against a stored PHC string. CPU-heavy.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match Phc::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when an email is unknown so
/// that "no such user" costs the same time as "wrong password".
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let pw = generate_token("").unwrap_or_else(|_| "vitrine-dummy-password".into());
        hash_password(&pw).unwrap_or_default()
    })
}

/// Runs CPU-heavy work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = generate_token(SESSION_TOKEN_PREFIX).unwrap();
        let b = generate_token(SESSION_TOKEN_PREFIX).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("vts_"));
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn passwords_verify_only_when_right() {
        let stored = hash_password("correct horse battery staple").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &stored));
        assert!(!verify_password("correct horse battery stapl", &stored));
        assert!(!verify_password("anything", "not a phc string"));
        assert!(!verify_password("anything", dummy_hash()));
    }
}
