//! Attempt counters for throttling (sign-ins, share-link passwords): a fixed
//! window per key, decided with the injected clock so tests can move time.
//! An attempt is *reserved* before the password is checked — increment, then
//! compare, in one atomic step (a mutex in memory, a Lua script in Redis) —
//! so however many requests race, no more than the limit are ever checked;
//! a success gives its reservation back. In memory in the embedded mode; in
//! Redis when configured, so every API process sees the same counts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A key's window: when it started and how many failures it holds.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    started_ms: i64,
    count: u32,
}

pub enum Throttle {
    Memory(Mutex<HashMap<String, Window>>),
    Redis {
        conn: redis::aio::ConnectionManager,
        prefix: String,
    },
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Throttle::Memory(_) => f.write_str("Throttle::Memory"),
            Throttle::Redis { prefix, .. } => write!(f, "Throttle::Redis({prefix})"),
        }
    }
}

/// Reserves an attempt: starts a new window if the current one is over,
/// refuses (returning the window's start) when it already holds `limit`,
/// else counts the attempt. Atomic: Redis runs a script alone.
const RESERVE_SCRIPT: &str = r"
local started = tonumber(redis.call('HGET', KEYS[1], 'started') or '-1')
local count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[4])
if started < 0 or now - started >= window or now < started then
  redis.call('HSET', KEYS[1], 'started', now, 'count', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, now, 1}
end
if count >= limit then
  return {0, started, count}
end
count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, started, count}
";

/// Gives back an attempt reserved in the window that started at ARGV[1].
const RELEASE_SCRIPT: &str = r"
local started = tonumber(redis.call('HGET', KEYS[1], 'started') or '-1')
local count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
if started == tonumber(ARGV[1]) and count > 0 then
  redis.call('HINCRBY', KEYS[1], 'count', -1)
end
return 1
";

/// An attempt counted against a key: it stays counted (a failure) unless
/// it is given back with [`Throttle::release`].
#[derive(Debug, Clone)]
pub struct Reserved {
    key: String,
    window_started_ms: i64,
    /// This attempt took the window's last place: if it fails, the key is
    /// locked until the window ends.
    pub fills: bool,
}

impl Throttle {
    pub fn memory() -> Self {
        Throttle::Memory(Mutex::new(HashMap::new()))
    }

    pub fn redis(conn: redis::aio::ConnectionManager, prefix: &str) -> Self {
        Throttle::Redis {
            conn,
            prefix: prefix.to_owned(),
        }
    }

    /// Keys are hashed: no email address or IP lands in Redis in clear.
    fn storage_key(prefix: &str, key: &str) -> String {
        let digest = vitrine_entity::audit_chain::hex(&Sha256::digest(key.as_bytes()));
        format!("{prefix}:throttle:{digest}")
    }

    /// Reserves one attempt for `key` before it is checked (increment,
    /// then check, atomically): `Err(TooManyRequests)` when the window that
    /// contains `now` already holds `limit` attempts, so however many
    /// requests race, at most `limit` are ever let through to be checked.
    /// A reserved attempt counts as a failure unless it is released.
    pub async fn reserve(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Reserved, ApiError> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let now_ms = now.timestamp_millis();
        let (admitted, started_ms, count) = match self {
            Throttle::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
                // Keep the map from growing without bound under a spray of keys.
                if map.len() > 100_000 {
                    map.retain(|_, w| now_ms - w.started_ms < window_ms);
                }
                let entry = map.entry(key.to_owned()).or_insert(Window {
                    started_ms: now_ms,
                    count: 0,
                });
                if now_ms - entry.started_ms >= window_ms || now_ms < entry.started_ms {
                    *entry = Window {
                        started_ms: now_ms,
                        count: 0,
                    };
                }
                if entry.count >= limit {
                    (false, entry.started_ms, entry.count)
                } else {
                    entry.count += 1;
                    (true, entry.started_ms, entry.count)
                }
            }
            Throttle::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                // Expire well after the window, so a clock that runs ahead of
                // Redis's own never loses a live window.
                let ttl_ms = window_ms.saturating_mul(2).max(60_000);
                let (admitted, started, count): (i64, i64, u32) =
                    redis::Script::new(RESERVE_SCRIPT)
                        .key(Self::storage_key(prefix, key))
                        .arg(now_ms)
                        .arg(window_ms)
                        .arg(ttl_ms)
                        .arg(limit)
                        .invoke_async(&mut conn)
                        .await
                        .map_err(ApiError::internal)?;
                (admitted == 1, started, count)
            }
        };
        if admitted {
            return Ok(Reserved {
                key: key.to_owned(),
                window_started_ms: started_ms,
                fills: count >= limit,
            });
        }
        let remaining_ms = started_ms.saturating_add(window_ms) - now_ms;
        let retry_after_secs = u64::try_from((remaining_ms + 999) / 1000)
            .unwrap_or(1)
            .max(1);
        Err(ApiError::TooManyRequests { retry_after_secs })
    }

    /// Gives back a reserved attempt (it succeeded, or was never checked).
    /// An attempt of a window that has since ended is already forgotten.
    pub async fn release(&self, reserved: &Reserved) -> Result<(), ApiError> {
        match self {
            Throttle::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(w) = map.get_mut(&reserved.key)
                    && w.started_ms == reserved.window_started_ms
                {
                    w.count = w.count.saturating_sub(1);
                }
                Ok(())
            }
            Throttle::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                redis::Script::new(RELEASE_SCRIPT)
                    .key(Self::storage_key(prefix, &reserved.key))
                    .arg(reserved.window_started_ms)
                    .invoke_async::<i64>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(ApiError::internal)
            }
        }
    }

    /// Reserves an attempt on every `(key, limit, name)` in order; when one
    /// is refused, gives back those already reserved and names the refusing
    /// key with the error.
    pub async fn reserve_all(
        &self,
        keys: &[(String, u32, &'static str)],
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reserved>, (ApiError, &'static str)> {
        let mut reserved = Vec::with_capacity(keys.len());
        for (key, limit, name) in keys {
            match self.reserve(key, *limit, window, now).await {
                Ok(r) => reserved.push(r),
                Err(e) => {
                    if let Err(release) = self.release_all(&reserved).await {
                        return Err((release, name));
                    }
                    return Err((e, name));
                }
            }
        }
        Ok(reserved)
    }

    /// Gives back every reserved attempt of `reserved`.
    pub async fn release_all(&self, reserved: &[Reserved]) -> Result<(), ApiError> {
        for r in reserved {
            self.release(r).await?;
        }
        Ok(())
    }

    /// Forgets `key`'s failures (after a success).
    pub async fn reset(&self, key: &str) -> Result<(), ApiError> {
        match self {
            Throttle::Memory(map) => {
                map.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
                Ok(())
            }
            Throttle::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                redis::cmd("DEL")
                    .arg(Self::storage_key(prefix, key))
                    .query_async::<i64>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(ApiError::internal)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test]
    async fn memory_throttle_refuses_after_the_limit_until_the_window_ends() {
        let t = Throttle::memory();
        let window = Duration::from_secs(900);
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        for i in 0..5 {
            let r = t
                .reserve("k", 5, window, start + chrono::Duration::seconds(i))
                .await
                .unwrap();
            assert_eq!(r.fills, i == 4);
        }
        let err = t
            .reserve("k", 5, window, start + chrono::Duration::seconds(10))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ApiError::TooManyRequests {
                    retry_after_secs: 890
                }
            ),
            "{err:?}"
        );
        t.reserve("other", 5, window, start).await.unwrap();
        t.reserve("k", 5, window, start + chrono::Duration::seconds(900))
            .await
            .unwrap();
        t.reset("k").await.unwrap();
        let again = t.reserve("k", 5, window, start).await.unwrap();
        assert!(!again.fills);
    }

    #[tokio::test]
    async fn released_attempts_do_not_count_and_racers_never_pass_the_limit() {
        let t = std::sync::Arc::new(Throttle::memory());
        let window = Duration::from_secs(900);
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let a = t.reserve("k", 2, window, now).await.unwrap();
        t.release(&a).await.unwrap();
        let tasks: Vec<_> = (0..60)
            .map(|_| {
                let t = t.clone();
                tokio::spawn(async move { t.reserve("k", 2, window, now).await.is_ok() })
            })
            .collect();
        let mut admitted = 0;
        for task in tasks {
            admitted += usize::from(task.await.unwrap());
        }
        assert_eq!(admitted, 2);
    }
}
