//! The event bus behind GraphQL subscriptions: an in-process broadcast in the
//! embedded mode; Redis pub/sub when Redis is configured, so an event raised
//! in any process (API or worker) reaches subscribers connected to any API
//! process.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use vitrine_entity::entities::audit_event;

/// Everything that can travel on the bus.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum BusEvent {
    /// An audit event, published after the transaction that wrote it committed.
    Audit(audit_event::Model),
}

/// Capacity of the local fan-out; a subscriber that falls further behind
/// skips the missed events (and is told so in the log).
const LOCAL_CAPACITY: usize = 1024;

#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Arc<BusEvent>>,
    redis: Option<RedisLink>,
}

#[derive(Clone)]
struct RedisLink {
    conn: redis::aio::ConnectionManager,
    channel: String,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("redis", &self.redis.as_ref().map(|r| &r.channel))
            .finish()
    }
}

impl EventBus {
    /// An in-process bus.
    pub fn in_process() -> Self {
        let (local, _) = broadcast::channel(LOCAL_CAPACITY);
        Self { local, redis: None }
    }

    /// A bus over Redis pub/sub on channel `<prefix>:events`. Spawns the task
    /// that relays messages from Redis to local subscribers (reconnecting with
    /// backoff); it ends when `shutdown` is cancelled.
    pub async fn redis(
        url: &str,
        prefix: &str,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let conn = redis::aio::ConnectionManager::new(client.clone()).await?;
        let channel = format!("{prefix}:events");
        let (local, _) = broadcast::channel(LOCAL_CAPACITY);
        // Subscribe before returning so no event published after start-up is missed.
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        tokio::spawn(relay(
            client,
            pubsub,
            channel.clone(),
            local.clone(),
            shutdown,
        ));
        Ok(Self {
            local,
            redis: Some(RedisLink { conn, channel }),
        })
    }

    /// Publishes events, in order, to every subscriber of every process; over
    /// Redis in pipelined round trips of up to 1,000 (a sweep's thousands).
    pub async fn publish_many(&self, events: Vec<BusEvent>) {
        let Some(link) = &self.redis else {
            for event in events {
                let _ = self.local.send(Arc::new(event));
            }
            return;
        };
        for chunk in events.chunks(1000) {
            let mut pipe = redis::pipe();
            for event in chunk {
                match serde_json::to_string(event) {
                    Ok(payload) => {
                        pipe.cmd("PUBLISH").arg(&link.channel).arg(payload).ignore();
                    }
                    Err(e) => tracing::error!(error = %e, "cannot encode a bus event"),
                }
            }
            let mut conn = link.conn.clone();
            let sent: Result<(), _> = pipe.query_async(&mut conn).await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "cannot publish bus events to Redis");
            }
        }
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.local.subscribe()
    }

    /// Whether the bus's Redis (if any) answers.
    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        match &self.redis {
            None => Ok(()),
            Some(link) => {
                let mut conn = link.conn.clone();
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map(|_| ())
            }
        }
    }
}

async fn relay(
    client: redis::Client,
    first: redis::aio::PubSub,
    channel: String,
    local: broadcast::Sender<Arc<BusEvent>>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut pubsub = Some(first);
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut current = match pubsub.take() {
            Some(p) => p,
            None => {
                let connected = async {
                    let mut p = client.get_async_pubsub().await?;
                    p.subscribe(&channel).await?;
                    Ok::<_, redis::RedisError>(p)
                };
                match connected.await {
                    Ok(p) => {
                        tracing::info!("event bus reconnected to Redis");
                        p
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "event bus cannot reach Redis; retrying");
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                }
            }
        };
        backoff = Duration::from_millis(100);
        let mut messages = current.on_message();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                message = messages.next() => match message {
                    Some(message) => {
                        let payload: String = match message.get_payload() {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::warn!(error = %e, "unreadable bus message");
                                continue;
                            }
                        };
                        match serde_json::from_str::<BusEvent>(&payload) {
                            Ok(event) => {
                                let _ = local.send(Arc::new(event));
                            }
                            Err(e) => tracing::warn!(error = %e, "undecodable bus message"),
                        }
                    }
                    None => {
                        tracing::warn!("event bus lost its Redis subscription; reconnecting");
                        break;
                    }
                }
            }
        }
    }
}
