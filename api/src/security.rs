//! Bearer tokens and password hashing.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash as Phc;
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

/// The most memory a stored hash may ask of a check (a planted hash must
/// not make a check take gigabytes); ours take 19 MiB.
const MAX_MEMORY_KIB: u32 = 64 * 1024;

thread_local! {
    /// argon2's working memory, kept by each password thread and reused:
    /// allocating 19 MiB per check leaves allocator arenas holding freed
    /// copies (measured: +19 MiB per check until ten were held).
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs argon2 with `params` into `out`, in this thread's working memory.
fn argon2_into(
    argon: &Argon2<'_>,
    blocks: usize,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    BLOCKS.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

/// Hashes a password with argon2id (default parameters: 19 MiB, t=2, p=1).
/// CPU-heavy: call through [`PasswordGate`].
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let failed = |e: String| ApiError::Internal(format!("password hashing failed: {e}").into());
    let params = argon2::Params::default();
    let argon = Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let salt = random_bytes::<16>().map_err(ApiError::internal)?;
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        &argon,
        params.block_count(),
        password.as_bytes(),
        &salt,
        &mut out,
    )
    .map_err(|e| failed(e.to_string()))?;
    let phc = Phc {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(argon2::Version::V0x13.into()),
        params: argon2::password_hash::phc::ParamsString::try_from(&params)
            .map_err(|e| failed(e.to_string()))?,
        salt: Some(
            argon2::password_hash::phc::Salt::new(&salt).map_err(|e| failed(e.to_string()))?,
        ),
        hash: Some(
            argon2::password_hash::phc::Output::new(&out).map_err(|e| failed(e.to_string()))?,
        ),
    };
    Ok(phc.to_string())
}

/// Verifies a password against a stored PHC string (constant-time compare).
/// CPU-heavy: call through [`PasswordGate`].
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Ok(parsed) = Phc::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_MEMORY_KIB {
        return false;
    }
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    if argon2_into(&argon, blocks, password.as_bytes(), salt, &mut out).is_err() {
        return false;
    }
    argon2::password_hash::phc::Output::new(&out).is_ok_and(|computed| computed == *expected)
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

/// Bounds the argon2 work (sign-ins, link passwords, setting passwords)
/// running at once. Each hash takes 19 MiB and a core for tens of
/// milliseconds, so unbounded parallel attempts would take memory without
/// limit and starve everything else: the work runs on `concurrency`
/// dedicated threads (not the blocking pool, whose many threads would each
/// keep a freed 19 MiB in their allocator arena), attempts beyond them
/// queue, and one that cannot start within the wait is refused with 429
/// (nothing checked, nothing counted).
pub struct PasswordGate {
    permits: tokio::sync::Semaphore,
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
    wait: std::time::Duration,
}

type Job = Box<dyn FnOnce() + Send>;

impl std::fmt::Debug for PasswordGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordGate")
            .field("free", &self.permits.available_permits())
            .field("wait", &self.wait)
            .finish()
    }
}

impl PasswordGate {
    pub fn new(concurrency: usize, wait: std::time::Duration) -> Self {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        let threads = concurrency.max(1);
        for n in 0..threads {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("vitrine-argon2-{n}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password thread");
            }
        }
        Self {
            permits: tokio::sync::Semaphore::new(threads),
            jobs: std::sync::Mutex::new(sender),
            wait,
        }
    }

    /// Runs `f` (argon2 work) on a password thread once one is free.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = match tokio::time::timeout(self.wait, self.permits.acquire()).await {
            Ok(permit) => permit.map_err(ApiError::internal)?,
            Err(_) => {
                tracing::warn!("password checks are saturated; an attempt was refused");
                return Err(ApiError::TooManyRequests {
                    retry_after_secs: 1,
                });
            }
        };
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs
            .lock()
            .map_err(|_| ApiError::Internal("the password threads are gone".into()))?
            .send(job)
            .map_err(|_| ApiError::Internal("the password threads are gone".into()))?;
        let result = result
            .await
            .map_err(|_| ApiError::Internal("a password check was lost".into()));
        drop(permit);
        result
    }

    /// Checks a password against a stored PHC string.
    pub async fn verify(&self, password: &str, stored: String) -> Result<bool, ApiError> {
        let password = password.to_owned();
        self.run(move || verify_password(&password, &stored)).await
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_owned();
        self.run(move || hash_password(&password)).await?
    }
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
