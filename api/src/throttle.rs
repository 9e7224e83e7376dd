//! Failure counters for throttling (sign-in now, share-link passwords later):
//! a fixed window per key, decided with the injected clock so tests can move
//! time. In memory in the embedded mode; in Redis when configured, so every
//! API process sees the same counts.

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

/// Records a failure: starts a new window if the current one is over.
const HIT_SCRIPT: &str = r"
local started = tonumber(redis.call('HGET', KEYS[1], 'started') or '-1')
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if started < 0 or now - started >= window or now < started then
  redis.call('HSET', KEYS[1], 'started', now, 'count', 1)
else
  redis.call('HINCRBY', KEYS[1], 'count', 1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

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

    async fn window(&self, key: &str) -> Result<Option<Window>, ApiError> {
        match self {
            Throttle::Memory(map) => Ok(map
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(key)
                .copied()),
            Throttle::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let (started, count): (Option<i64>, Option<u32>) = redis::cmd("HMGET")
                    .arg(Self::storage_key(prefix, key))
                    .arg("started")
                    .arg("count")
                    .query_async(&mut conn)
                    .await
                    .map_err(ApiError::internal)?;
                Ok(match (started, count) {
                    (Some(started_ms), Some(count)) => Some(Window { started_ms, count }),
                    _ => None,
                })
            }
        }
    }

    /// `Err(TooManyRequests)` when `key` already holds `limit` failures in
    /// the window that contains `now`.
    pub async fn check(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let now_ms = now.timestamp_millis();
        match self.window(key).await? {
            Some(w)
                if w.count >= limit
                    && now_ms >= w.started_ms
                    && now_ms - w.started_ms < window_ms =>
            {
                let remaining_ms = w.started_ms.saturating_add(window_ms) - now_ms;
                let retry_after_secs = u64::try_from((remaining_ms + 999) / 1000)
                    .unwrap_or(1)
                    .max(1);
                Err(ApiError::TooManyRequests { retry_after_secs })
            }
            _ => Ok(()),
        }
    }

    /// Records one failure for `key`.
    pub async fn hit(
        &self,
        key: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let now_ms = now.timestamp_millis();
        match self {
            Throttle::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
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
                entry.count = entry.count.saturating_add(1);
                // Keep the map from growing without bound under a spray of keys.
                if map.len() > 100_000 {
                    map.retain(|_, w| now_ms - w.started_ms < window_ms);
                }
                Ok(())
            }
            Throttle::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                // Expire well after the window, so a clock that runs ahead of
                // Redis's own never loses a live window.
                let ttl_ms = window_ms.saturating_mul(2).max(60_000);
                redis::Script::new(HIT_SCRIPT)
                    .key(Self::storage_key(prefix, key))
                    .arg(now_ms)
                    .arg(window_ms)
                    .arg(ttl_ms)
                    .invoke_async::<i64>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(ApiError::internal)
            }
        }
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
            t.check("k", 5, window, start).await.unwrap();
            t.hit("k", window, start + chrono::Duration::seconds(i))
                .await
                .unwrap();
        }
        let err = t
            .check("k", 5, window, start + chrono::Duration::seconds(10))
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
        t.check("other", 5, window, start).await.unwrap();
        t.check("k", 5, window, start + chrono::Duration::seconds(900))
            .await
            .unwrap();
        t.reset("k").await.unwrap();
        t.check("k", 5, window, start + chrono::Duration::seconds(10))
            .await
            .unwrap();
    }
}
