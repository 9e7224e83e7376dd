//! The audit spine: one function appends an event to the hash chain; queries
//! read it back; verification walks the chain.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;
use vitrine_entity::audit_chain::{Verifier, VerifyReport};
use vitrine_entity::entities::{audit_chain_head, audit_event};
use vitrine_entity::policy::{Action, Actor};
use vitrine_entity::{ActorKind, AuditAction};

use crate::error::ApiResult;
use crate::services::{authorize_instance, begin, event, fetch_page};
use crate::state::{AppState, RequestMeta};

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
    authorize_instance(state, actor, Action::ViewAudit)?;
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
    let query = audit_event::Entity::find()
        .filter(cond)
        .order_by_desc(audit_event::Column::Seq);
    Ok(fetch_page(query, limit, &state.db).await?)
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
    authorize_instance(state, actor, Action::ViewAudit)?;
    let report = verify_chain(&state.db).await?;
    if !report.ok {
        tracing::error!(first_bad_seq = ?report.first_bad_seq, "audit chain verification FAILED");
    }
    let mut tx = begin(state).await?;
    tx.audit(
        event(AuditAction::AuditChainVerified, actor, meta).details(serde_json::json!({
            "ok": report.ok,
            "checked": report.checked,
            "firstBadSeq": report.first_bad_seq,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}
