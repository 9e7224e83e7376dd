//! The audit spine: one function appends an event to the hash chain; queries
//! read it back; verification walks the chain.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;
use vitrine_entity::audit_chain::{Verifier, VerifyReport, canonical_json, chain_hash};
use vitrine_entity::entities::{audit_chain_head, audit_event};
use vitrine_entity::policy::{Action, Actor, Resource, authorize};
use vitrine_entity::{ActorKind, AuditAction};

use crate::error::ApiResult;
use crate::services::Tx;
use crate::state::{AppState, RequestMeta};

/// Who did it, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorRef {
    pub kind: ActorKind,
    pub id: Option<Uuid>,
    pub partner_org_id: Option<Uuid>,
}

impl From<&Actor> for ActorRef {
    fn from(actor: &Actor) -> Self {
        Self {
            kind: actor.kind(),
            id: actor.user_id(),
            partner_org_id: actor.partner_org_id(),
        }
    }
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub action: AuditAction,
    pub actor: ActorRef,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub share_link_id: Option<Uuid>,
    pub meta: RequestMeta,
    pub details: Value,
}

impl NewEvent {
    pub fn new(action: AuditAction, actor: impl Into<ActorRef>, meta: &RequestMeta) -> Self {
        Self {
            action,
            actor: actor.into(),
            target_type: None,
            target_id: None,
            share_link_id: None,
            meta: meta.clone(),
            details: Value::Object(Default::default()),
        }
    }

    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target_type = Some(kind);
        self.target_id = Some(id.to_string());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

fn truncate(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| {
        if s.len() <= max {
            s
        } else {
            let mut end = max;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_owned()
        }
    })
}

/// Appends an event inside `txn`: locks the chain head (PostgreSQL: row lock;
/// SQLite: the write lock taken by `begin_write`), links the event to it and
/// advances it. Concurrent writers therefore form one linear chain whose
/// sequence order is also their commit order.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    event: NewEvent,
) -> Result<audit_event::Model, DbErr> {
    let mut head_query = audit_chain_head::Entity::find_by_id(1);
    if txn.get_database_backend() == DbBackend::Postgres {
        head_query = head_query.lock_exclusive();
    }
    let head = head_query
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit chain head".into()))?;

    let seq = head.last_seq + 1;
    let details = canonical_json(&event.details);
    let mut model = audit_event::Model {
        seq,
        occurred_at: vitrine_entity::clock::to_micros(now),
        actor_kind: event.actor.kind,
        actor_id: event.actor.id,
        partner_org_id: event.actor.partner_org_id,
        action: event.action.as_str().to_owned(),
        target_type: event.target_type.map(str::to_owned),
        target_id: truncate(event.target_id, 64),
        share_link_id: event.share_link_id,
        ip: truncate(event.meta.ip, 64),
        user_agent: truncate(event.meta.user_agent, 512),
        details,
        prev_hash: head.last_hash.clone(),
        hash: String::new(),
    };
    model.hash = chain_hash(&head.last_hash, &model.chained_fields());

    audit_event::ActiveModel::from(model.clone())
        .insert(txn)
        .await?;
    let moved = audit_chain_head::Entity::update_many()
        .col_expr(audit_chain_head::Column::LastSeq, seq.into())
        .col_expr(
            audit_chain_head::Column::LastHash,
            model.hash.clone().into(),
        )
        .filter(audit_chain_head::Column::Id.eq(1))
        .filter(audit_chain_head::Column::LastSeq.eq(head.last_seq))
        .exec(txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(DbErr::Custom("audit chain head moved concurrently".into()));
    }
    Ok(model)
}

/// Filter of `auditEvents`.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub action: Option<AuditAction>,
    pub actor_id: Option<Uuid>,
    pub actor_kind: Option<ActorKind>,
    pub target_id: Option<String>,
    pub share_link_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A page of events, newest first. `before_seq` is the cursor (exclusive).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    filter: &EventFilter,
    before_seq: Option<i64>,
    limit: u64,
) -> ApiResult<(Vec<audit_event::Model>, bool)> {
    authorize(
        actor,
        Action::ViewAudit,
        &Resource::Instance,
        state.clock.now(),
    )?;
    let mut cond = Condition::all();
    if let Some(a) = filter.action {
        cond = cond.add(audit_event::Column::Action.eq(a.as_str()));
    }
    if let Some(id) = filter.actor_id {
        cond = cond.add(audit_event::Column::ActorId.eq(id));
    }
    if let Some(kind) = filter.actor_kind {
        cond = cond.add(audit_event::Column::ActorKind.eq(kind));
    }
    if let Some(t) = &filter.target_id {
        cond = cond.add(audit_event::Column::TargetId.eq(t.clone()));
    }
    if let Some(l) = filter.share_link_id {
        cond = cond.add(audit_event::Column::ShareLinkId.eq(l));
    }
    if let Some(from) = filter.from {
        cond = cond.add(audit_event::Column::OccurredAt.gte(from));
    }
    if let Some(to) = filter.to {
        cond = cond.add(audit_event::Column::OccurredAt.lt(to));
    }
    if let Some(before) = before_seq {
        cond = cond.add(audit_event::Column::Seq.lt(before));
    }
    let mut rows = audit_event::Entity::find()
        .filter(cond)
        .order_by_desc(audit_event::Column::Seq)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, has_more))
}

/// Walks the whole chain in sequence order and checks every link and the head.
pub async fn verify_chain(db: &DatabaseConnection) -> Result<VerifyReport, DbErr> {
    const PAGE: u64 = 1000;
    let mut verifier = Verifier::new();
    let mut after = 0i64;
    'pages: loop {
        let page = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(after))
            .order_by_asc(audit_event::Column::Seq)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for event in &page {
            verifier.feed(&event.as_link());
            if verifier.is_broken() {
                break 'pages;
            }
        }
        if (page.len() as u64) < PAGE {
            break;
        }
    }
    let head = audit_chain_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit chain head".into()))?;
    Ok(verifier.finish(head.last_seq, &head.last_hash))
}

/// Verifies the chain on behalf of `actor` and records that it did.
pub async fn verify_as(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
) -> ApiResult<VerifyReport> {
    authorize(
        actor,
        Action::ViewAudit,
        &Resource::Instance,
        state.clock.now(),
    )?;
    let report = verify_chain(&state.db).await?;
    if !report.ok {
        tracing::error!(first_bad_seq = ?report.first_bad_seq, "audit chain verification FAILED");
    }
    let mut tx = Tx::begin(state).await?;
    tx.audit(
        NewEvent::new(AuditAction::AuditChainVerified, actor, meta).details(serde_json::json!({
            "ok": report.ok,
            "checked": report.checked,
            "firstBadSeq": report.first_bad_seq,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}
