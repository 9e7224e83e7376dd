use sea_orm::entity::prelude::*;

/// A sign-in session. The bearer token itself is never stored: only its
/// SHA-256 (`token_hash`), so a copy of the database opens no session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Set for API keys (long-lived sessions of service users): its name.
    pub api_key_name: Option<String>,
    /// An API key's scopes (`READ`, `DELIVER`, `WRITE`, comma-separated);
    /// `None` for sign-in sessions (no narrowing).
    pub scopes: Option<String>,
    pub last_used_at: Option<DateTimeUtc>,
    pub last_used_ip: Option<String>,
    /// A rotated key's earlier secret, accepted until `previous_expires_at`.
    pub previous_token_hash: Option<String>,
    pub previous_expires_at: Option<DateTimeUtc>,
    /// Who created the key.
    pub created_by: Option<Uuid>,
}

impl Model {
    /// Whether the session admits requests at `now`.
    pub fn is_live(&self, now: DateTimeUtc) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
