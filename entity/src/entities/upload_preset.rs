use sea_orm::entity::prelude::*;

use crate::domain::AccessMode;

/// How a batch of uploads is filed and handled. Changing a preset affects
/// later uploads only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "upload_presets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub name: String,
    /// Where uploads go when they name no folder.
    pub folder_id: Option<Uuid>,
    pub access_mode: AccessMode,
    pub access_starts_at: Option<DateTimeUtc>,
    pub access_ends_at: Option<DateTimeUtc>,
    /// FOLDER (as the folder requires), or a
    /// [`crate::moderation_rules::ModerationMode`] (always moderated).
    pub moderation: String,
    /// Tags added to every upload, comma-separated (normalised).
    pub tags: String,
    /// Licenses attached to every upload, comma-separated ids.
    pub license_ids: String,
    /// A regular expression over the file name; its named captures become
    /// tags `name:value` (a capture named `tag` becomes the bare value).
    pub filename_pattern: Option<String>,
    pub is_default: bool,
    /// Rule thresholds (JSON [`crate::moderation_rules::RuleSet`]); the
    /// organisation's defaults when null.
    #[sea_orm(column_type = "Text", nullable)]
    pub rules: Option<String>,
    /// An ownership statement override given to every upload (JSON of the
    /// statement's fields; null fields fall back to the organisation's).
    #[sea_orm(column_type = "Text", nullable)]
    pub ownership: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    pub fn tag_list(&self) -> Vec<String> {
        split(&self.tags)
    }

    /// The rule thresholds (the organisation's defaults when unset).
    pub fn rule_set(&self) -> crate::moderation_rules::RuleSet {
        self.rules
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default()
    }

    pub fn license_list(&self) -> Vec<Uuid> {
        split(&self.license_ids)
            .iter()
            .filter_map(|s| Uuid::parse_str(s).ok())
            .collect()
    }
}

fn split(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
