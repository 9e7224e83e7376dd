//! Vitrine's data model: sea-orm entities (in [`entities`]) and the pure domain
//! rules on them — the clock, the audit hash chain, the authorization policy.
//! Nothing in this crate performs I/O except through sea-orm entities.

pub mod access;
pub mod anomaly;
pub mod asset_events;
pub mod audit;
pub mod audit_chain;
pub mod clock;
pub mod domain;
pub mod entities;
pub mod explain;
pub mod identity;
pub mod license;
pub mod moderation_rules;
pub mod policy;
pub mod search;
pub mod store;
pub mod usage;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock};
pub use domain::{
    AccessMode, ActorKind, AuditAction, GrantLevel, ModerationState, ProcessingState,
    RenditionKind, Role, ShareScope, Stage, SubjectKind, TagSource, UserKind,
};
