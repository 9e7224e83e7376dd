use sea_orm::entity::prelude::*;

/// A purge of cached public URLs by surrogate key, sent to the configured
/// CDN (retried with backoff; every attempt audited).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cdn_purges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The surrogate keys, space-separated (`asset-{id}`, `profile-{name}`).
    #[sea_orm(column_type = "Text")]
    pub tags: String,
    /// The audited action that caused it (SEVERAL when several did).
    pub cause: String,
    /// The first audit event that caused it, if any.
    pub source_seq: Option<i64>,
    /// PENDING, SUCCEEDED or FAILED (given up).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    pub fn tag_list(&self) -> Vec<&str> {
        self.tags.split_whitespace().collect()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
