use sea_orm::entity::prelude::*;

use crate::domain::{ProcessingState, Stage};

/// One version of an asset. Numbered from 1 per asset; never modified except
/// to record its approval.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "asset_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub asset_id: Uuid,
    pub number: i32,
    pub stage: Stage,
    pub blob_sha256: String,
    pub bytes: i64,
    pub media_type: String,
    pub width: i32,
    pub height: i32,
    /// The uploaded file's name, as the uploader's machine called it.
    pub filename: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTimeUtc>,
    /// JSON ([`crate::license::Authorization`]): the license state and the
    /// licenses in force when the version was approved.
    pub authorization: Option<String>,
    /// For a restore: the number of the version it brought back.
    pub restored_from: Option<i32>,
    pub processing_state: ProcessingState,
    #[sea_orm(column_type = "Text", nullable)]
    pub processing_error: Option<String>,
    pub processing_attempts: i32,
    /// When the current attempt started.
    pub processing_started_at: Option<DateTimeUtc>,
    /// When the worker holding the version last said it was still at it
    /// (its lease runs from here).
    pub processing_heartbeat_at: Option<DateTimeUtc>,
    /// Which worker process holds the version while PROCESSING.
    pub processing_owner: Option<String>,
    pub processed_at: Option<DateTimeUtc>,
    /// Extracted metadata (JSON), without the GPS position.
    #[sea_orm(column_type = "Text", nullable)]
    pub metadata: Option<String>,
    /// 64-bit difference hash (hex) of the oriented image.
    pub perceptual_hash: Option<String>,
    /// The GPS position, when the file had one (administrators only).
    #[sea_orm(column_type = "Double", nullable)]
    pub gps_latitude: Option<f64>,
    #[sea_orm(column_type = "Double", nullable)]
    pub gps_longitude: Option<f64>,
    /// Whether it may leave the organisation as far as moderation goes.
    pub moderation_state: crate::domain::ModerationState,
    /// MANUAL or OVERRIDE (a person), AUTOMATIC (rules).
    pub moderation_kind: Option<String>,
    pub moderated_by: Option<Uuid>,
    pub moderated_at: Option<DateTimeUtc>,
    pub moderation_reason: Option<String>,
    /// The upload preset the version came through.
    pub preset_id: Option<Uuid>,
    /// MANUAL, AUTOMATIC or AUTOMATIC_THEN_MANUAL, fixed at upload.
    pub moderation_mode: Option<String>,
    /// The rule thresholds in force at upload (JSON
    /// [`crate::moderation_rules::RuleSet`]).
    #[sea_orm(column_type = "Text", nullable)]
    pub moderation_rules: Option<String>,
    /// The rules' results (JSON list of
    /// [`crate::moderation_rules::RuleResult`]), once evaluated.
    #[sea_orm(column_type = "Text", nullable)]
    pub rule_results: Option<String>,
    /// The rules that failed, as `,SHARPNESS,NEAR_DUPLICATE,`.
    pub failed_rules: Option<String>,
    /// The perceptual hash's four 16-bit bands (most significant first),
    /// indexed for near-duplicate lookups.
    pub phash_b0: Option<i32>,
    pub phash_b1: Option<i32>,
    pub phash_b2: Option<i32>,
    pub phash_b3: Option<i32>,
}

impl Model {
    /// The rules' results, once evaluated.
    pub fn results(&self) -> Vec<crate::moderation_rules::RuleResult> {
        self.rule_results
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
