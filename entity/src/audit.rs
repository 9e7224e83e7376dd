//! Appending to the audit log: the one function that writes an event.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use crate::audit_chain::{canonical_json, chain_hash};
use crate::domain::{ActorKind, AuditAction};
use crate::entities::{audit_chain_head, audit_event};
use crate::policy::Actor;

/// The actor of jobs and of the command line.
pub const SYSTEM: ActorRef = ActorRef {
    kind: ActorKind::System,
    id: None,
    partner_org_id: None,
};

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
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Value,
}

impl NewEvent {
    /// An event with no request origin (jobs, the command line).
    pub fn new(action: AuditAction, actor: impl Into<ActorRef>) -> Self {
        Self {
            action,
            actor: actor.into(),
            target_type: None,
            target_id: None,
            share_link_id: None,
            ip: None,
            user_agent: None,
            details: Value::Object(Default::default()),
        }
    }

    /// Where the request came from.
    pub fn origin(mut self, ip: Option<String>, user_agent: Option<String>) -> Self {
        self.ip = ip;
        self.user_agent = user_agent;
        self
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
    append_many(txn, now, vec![event])
        .await?
        .pop()
        .ok_or_else(|| DbErr::Custom("no event appended".into()))
}

/// The sequence number of the last event appended (0 for an empty log): as
/// of the reader's snapshot, every event up to it is committed and visible.
pub async fn last_seq<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    Ok(audit_chain_head::Entity::find_by_id(1)
        .one(conn)
        .await?
        .map_or(0, |h| h.last_seq))
}

/// PostgreSQL: rows travel as one array parameter per column, 5,000 rows a
/// statement, unpacked by `unnest` — binding 14 parameters per row cost more
/// than the insert itself, and parsing the rows out of JSON nearly as much.
/// Arrays cannot carry NULLs through the driver, so the nullable columns go
/// with a placeholder and a per-row bit mask of which of them are null.
async fn insert_postgres<C: ConnectionTrait>(
    txn: &C,
    models: &[audit_event::Model],
) -> Result<(), DbErr> {
    use sea_orm::{ActiveEnum, Statement, Value as Param};
    const SQL: &str = "INSERT INTO audit_events (seq, occurred_at, actor_kind, actor_id, \
        partner_org_id, action, target_type, target_id, share_link_id, ip, user_agent, details, \
        prev_hash, hash) SELECT seq, occurred_at, actor_kind, \
        CASE WHEN nulls & 1 = 0 THEN actor_id END, \
        CASE WHEN nulls & 2 = 0 THEN partner_org_id END, action, \
        CASE WHEN nulls & 4 = 0 THEN target_type END, \
        CASE WHEN nulls & 8 = 0 THEN target_id END, \
        CASE WHEN nulls & 16 = 0 THEN share_link_id END, \
        CASE WHEN nulls & 32 = 0 THEN ip END, \
        CASE WHEN nulls & 64 = 0 THEN user_agent END, details, prev_hash, hash \
        FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::uuid[], $5::uuid[], \
        $6::text[], $7::text[], $8::text[], $9::uuid[], $10::text[], $11::text[], $12::text[], \
        $13::text[], $14::text[], $15::int[]) AS r(seq, occurred_at, actor_kind, actor_id, \
        partner_org_id, action, target_type, target_id, share_link_id, ip, user_agent, details, \
        prev_hash, hash, nulls)";
    for chunk in models.chunks(5000) {
        let mut nulls = Vec::with_capacity(chunk.len());
        for m in chunk {
            let mut mask = 0i32;
            for (bit, null) in [
                m.actor_id.is_none(),
                m.partner_org_id.is_none(),
                m.target_type.is_none(),
                m.target_id.is_none(),
                m.share_link_id.is_none(),
                m.ip.is_none(),
                m.user_agent.is_none(),
            ]
            .into_iter()
            .enumerate()
            {
                if null {
                    mask |= 1 << bit;
                }
            }
            nulls.push(mask);
        }
        let uuid = |get: fn(&audit_event::Model) -> Option<Uuid>| -> Param {
            chunk
                .iter()
                .map(|m| get(m).unwrap_or_default())
                .collect::<Vec<Uuid>>()
                .into()
        };
        let text = |get: fn(&audit_event::Model) -> Option<&str>| -> Param {
            chunk
                .iter()
                .map(|m| get(m).unwrap_or_default().to_owned())
                .collect::<Vec<String>>()
                .into()
        };
        let values: Vec<Param> = vec![
            chunk.iter().map(|m| m.seq).collect::<Vec<i64>>().into(),
            chunk
                .iter()
                .map(|m| m.occurred_at)
                .collect::<Vec<DateTime<Utc>>>()
                .into(),
            chunk
                .iter()
                .map(|m| m.actor_kind.to_value())
                .collect::<Vec<String>>()
                .into(),
            uuid(|m| m.actor_id),
            uuid(|m| m.partner_org_id),
            text(|m| Some(m.action.as_str())),
            text(|m| m.target_type.as_deref()),
            text(|m| m.target_id.as_deref()),
            uuid(|m| m.share_link_id),
            text(|m| m.ip.as_deref()),
            text(|m| m.user_agent.as_deref()),
            text(|m| Some(m.details.as_str())),
            text(|m| Some(m.prev_hash.as_str())),
            text(|m| Some(m.hash.as_str())),
            nulls.into(),
        ];
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            SQL,
            values,
        ))
        .await?;
    }
    Ok(())
}

/// Appends events in order inside `txn`, as [`append`] does, with one read
/// and one update of the chain head and one multi-row insert: how deliveries
/// are group-committed.
pub async fn append_many<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    events: Vec<NewEvent>,
) -> Result<Vec<audit_event::Model>, DbErr> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut head_query = audit_chain_head::Entity::find_by_id(1);
    if txn.get_database_backend() == DbBackend::Postgres {
        head_query = head_query.lock_exclusive();
    }
    let head = head_query
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit chain head".into()))?;

    let occurred_at = crate::clock::to_micros(now);
    let mut seq = head.last_seq;
    let mut last_hash = head.last_hash.clone();
    let mut models = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let mut model = audit_event::Model {
            seq,
            occurred_at,
            actor_kind: event.actor.kind,
            actor_id: event.actor.id,
            partner_org_id: event.actor.partner_org_id,
            action: event.action.as_str().to_owned(),
            target_type: event.target_type.map(str::to_owned),
            target_id: truncate(event.target_id, 64),
            share_link_id: event.share_link_id,
            ip: truncate(event.ip, 64),
            user_agent: truncate(event.user_agent, 512),
            details: canonical_json(&event.details),
            prev_hash: last_hash,
            hash: String::new(),
        };
        model.hash = chain_hash(&model.prev_hash, &model.chained_fields());
        last_hash = model.hash.clone();
        models.push(model);
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        insert_postgres(txn, &models).await?;
    } else {
        // Bounded statements: SQLite allows 32766 parameters.
        for chunk in models.chunks(1000) {
            audit_event::Entity::insert_many(
                chunk.iter().cloned().map(audit_event::ActiveModel::from),
            )
            .exec_without_returning(txn)
            .await?;
        }
    }
    let moved = audit_chain_head::Entity::update_many()
        .col_expr(audit_chain_head::Column::LastSeq, seq.into())
        .col_expr(audit_chain_head::Column::LastHash, last_hash.into())
        .filter(audit_chain_head::Column::Id.eq(1))
        .filter(audit_chain_head::Column::LastSeq.eq(head.last_seq))
        .exec(txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(DbErr::Custom("audit chain head moved concurrently".into()));
    }
    Ok(models)
}
