//! The audit log's hash chain: a canonical encoding of each event and
//! `hash = SHA-256(prev_hash ‖ 0x00 ‖ canonical(event))`.
//!
//! Editing, deleting, inserting or reordering a stored event breaks the chain
//! at (or right after) that event, which [`verify`] reports by sequence number.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::{ActorKind, AuditAction};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an event that the hash covers: all of them but the hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedFields<'a> {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    pub actor_id: Option<Uuid>,
    pub partner_org_id: Option<Uuid>,
    /// The stored action name. A string, not [`AuditAction`], so that a row
    /// written by a newer version still verifies.
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub share_link_id: Option<Uuid>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// The details exactly as stored (canonical JSON text, see [`canonical_json`]).
    pub details: &'a str,
}

/// Formats an instant the one way the chain hashes it (microseconds, UTC).
pub fn format_instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The canonical byte encoding of an event: a JSON array in a fixed order.
pub fn canonical_encoding(f: &ChainedFields<'_>) -> Vec<u8> {
    let opt_uuid = |u: Option<Uuid>| u.map_or(Value::Null, |u| Value::String(u.to_string()));
    let opt_str = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.to_owned()));
    let array = Value::Array(vec![
        Value::from(1), // encoding version
        Value::from(f.seq),
        Value::String(format_instant(f.occurred_at)),
        Value::String(f.actor_kind.as_str().to_owned()),
        opt_uuid(f.actor_id),
        opt_uuid(f.partner_org_id),
        Value::String(f.action.to_owned()),
        opt_str(f.target_type),
        opt_str(f.target_id),
        opt_uuid(f.share_link_id),
        opt_str(f.ip),
        opt_str(f.user_agent),
        Value::String(f.details.to_owned()),
    ]);
    array.to_string().into_bytes()
}

/// `SHA-256(prev_hash ‖ 0x00 ‖ canonical(event))`, lower-case hex.
pub fn chain_hash(prev_hash: &str, fields: &ChainedFields<'_>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update([0u8]);
    hasher.update(canonical_encoding(fields));
    hex(&hasher.finalize())
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Serialises JSON with object keys sorted at every level and no whitespace,
/// so equal values always give equal text whatever the map implementation.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// One stored link of the chain, as read back for verification.
#[derive(Debug, Clone)]
pub struct StoredLink<'a> {
    pub fields: ChainedFields<'a>,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// Incremental verifier: feed events in sequence order.
#[derive(Debug, Clone)]
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
    first_bad_seq: Option<i64>,
}

/// The outcome of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub ok: bool,
    pub checked: u64,
    pub first_bad_seq: Option<i64>,
    /// The sequence number of the last event examined (0 when the log is empty).
    pub last_seq: i64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    pub fn new() -> Self {
        Self {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            checked: 0,
            first_bad_seq: None,
        }
    }

    /// Whether a break has been found (further events need not be read).
    pub fn is_broken(&self) -> bool {
        self.first_bad_seq.is_some()
    }

    /// Checks the next stored event.
    pub fn feed(&mut self, link: &StoredLink<'_>) {
        if self.is_broken() {
            return;
        }
        self.checked += 1;
        let seq = link.fields.seq;
        if seq != self.expected_seq {
            // A gap (deleted events) or a reordering: the first missing number is bad.
            self.first_bad_seq = Some(self.expected_seq.min(seq));
            return;
        }
        let recomputed = chain_hash(&self.prev_hash, &link.fields);
        if link.prev_hash != self.prev_hash || link.hash != recomputed {
            self.first_bad_seq = Some(seq);
            return;
        }
        self.prev_hash = recomputed;
        self.expected_seq = seq + 1;
    }

    /// Finishes against the chain head (the last sequence number and hash the
    /// log recorded), which detects events cut off the end.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> VerifyReport {
        let last_seq = self.expected_seq - 1;
        let first_bad_seq = match self.first_bad_seq {
            Some(bad) => Some(bad),
            None if head_seq != last_seq || head_hash != self.prev_hash => Some(last_seq + 1),
            None => None,
        };
        VerifyReport {
            ok: first_bad_seq.is_none(),
            checked: self.checked,
            first_bad_seq,
            last_seq,
        }
    }
}

impl AuditAction {
    /// Parses a stored action name.
    pub fn from_stored(name: &str) -> Option<Self> {
        use sea_orm::Iterable;
        AuditAction::iter().find(|a| a.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    struct Owned {
        seq: i64,
        details: String,
        action: String,
        prev: String,
        hash: String,
        at: DateTime<Utc>,
    }

    fn fields(o: &Owned) -> ChainedFields<'_> {
        ChainedFields {
            seq: o.seq,
            occurred_at: o.at,
            actor_kind: ActorKind::Member,
            actor_id: None,
            partner_org_id: None,
            action: &o.action,
            target_type: Some("user"),
            target_id: None,
            share_link_id: None,
            ip: Some("127.0.0.1"),
            user_agent: None,
            details: &o.details,
        }
    }

    fn chain(n: i64) -> Vec<Owned> {
        let mut prev = GENESIS_HASH.to_owned();
        let mut out = Vec::new();
        for seq in 1..=n {
            let mut o = Owned {
                seq,
                details: canonical_json(&serde_json::json!({"n": seq, "b": [1, {"z": 1, "a": 2}]})),
                action: "LOGIN_SUCCEEDED".into(),
                prev: prev.clone(),
                hash: String::new(),
                at: Utc
                    .timestamp_opt(1_800_000_000 + seq, 123_000)
                    .single()
                    .unwrap_or_default(),
            };
            o.hash = chain_hash(&prev, &fields(&o));
            prev = o.hash.clone();
            out.push(o);
        }
        out
    }

    fn verify(events: &[Owned]) -> VerifyReport {
        let mut v = Verifier::new();
        for o in events {
            v.feed(&StoredLink {
                fields: fields(o),
                prev_hash: &o.prev,
                hash: &o.hash,
            });
        }
        let (seq, hash) = events
            .last()
            .map_or((0, GENESIS_HASH.to_owned()), |o| (o.seq, o.hash.clone()));
        v.finish(seq, &hash)
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = serde_json::json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":"x","d":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn intact_chain_verifies() {
        let events = chain(5);
        let report = verify(&events);
        assert!(report.ok);
        assert_eq!(report.checked, 5);
        assert_eq!(report.first_bad_seq, None);
        assert_eq!(verify(&[]).first_bad_seq, None);
    }

    #[test]
    fn edited_event_is_named() {
        let mut events = chain(5);
        events[2].details = r#"{"n":999}"#.into();
        assert_eq!(verify(&events).first_bad_seq, Some(3));
    }

    #[test]
    fn edited_event_with_recomputed_hash_breaks_the_next_link() {
        let mut events = chain(5);
        events[2].action = "LOGOUT".into();
        events[2].hash = chain_hash(&events[2].prev.clone(), &fields(&events[2]));
        assert_eq!(verify(&events).first_bad_seq, Some(4));
    }

    #[test]
    fn deleted_event_is_named() {
        let mut events = chain(5);
        events.remove(1);
        assert_eq!(verify(&events).first_bad_seq, Some(2));
    }

    #[test]
    fn truncated_tail_is_detected_against_the_head() {
        let events = chain(5);
        let mut v = Verifier::new();
        for o in &events[..3] {
            v.feed(&StoredLink {
                fields: fields(o),
                prev_hash: &o.prev,
                hash: &o.hash,
            });
        }
        let report = v.finish(5, &events[4].hash);
        assert_eq!(report.first_bad_seq, Some(4));
        assert!(!report.ok);
    }

    #[test]
    fn time_is_hashed_to_the_microsecond() {
        let events = chain(1);
        let mut moved = Owned {
            ..chain(1).remove(0)
        };
        moved.at += chrono::Duration::microseconds(1);
        assert_ne!(chain_hash(GENESIS_HASH, &fields(&moved)), events[0].hash);
    }
}
