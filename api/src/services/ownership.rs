//! The ownership statement: the organisation's profile and per-asset overrides.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::entities::ownership_profile::{self, ORGANISATION};
use vitrine_entity::policy::{Action, Actor};
use vitrine_worker::tagging::Ownership;

use crate::error::{ApiError, ApiResult};
use crate::services::assets::authorize_asset;
use crate::services::{authorize_instance, begin, event};
use crate::state::{AppState, RequestMeta};

/// Trims fields, turns empty ones into "not set", bounds their length.
pub fn normalize(input: Ownership) -> ApiResult<Ownership> {
    let field = |name: &str, v: Option<String>, max: usize| -> ApiResult<Option<String>> {
        match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
            Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => {
                Err(ApiError::BadUserInput(format!(
                    "{name} has at most {max} characters and no control characters"
                )))
            }
            other => Ok(other),
        }
    };
    let web_statement = field("webStatement", input.web_statement, 500)?;
    if let Some(url) = &web_statement
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(ApiError::BadUserInput(
            "webStatement must be an http(s) URL".into(),
        ));
    }
    Ok(Ownership {
        copyright: field("copyright", input.copyright, 500)?,
        creator: field("creator", input.creator, 200)?,
        credit: field("credit", input.credit, 200)?,
        source: field("source", input.source, 200)?,
        usage_terms: field("usageTerms", input.usage_terms, 2000)?,
        web_statement,
    })
}

fn row(
    id: Uuid,
    asset_id: Option<Uuid>,
    o: &Ownership,
    actor: &Actor,
    state: &AppState,
) -> ownership_profile::ActiveModel {
    ownership_profile::ActiveModel {
        id: Set(id),
        asset_id: Set(asset_id),
        copyright: Set(o.copyright.clone()),
        creator: Set(o.creator.clone()),
        credit: Set(o.credit.clone()),
        source: Set(o.source.clone()),
        usage_terms: Set(o.usage_terms.clone()),
        web_statement: Set(o.web_statement.clone()),
        updated_by: Set(actor.user_id()),
        updated_at: Set(state.clock.now()),
    }
}

const UPDATE_COLUMNS: [ownership_profile::Column; 8] = [
    ownership_profile::Column::Copyright,
    ownership_profile::Column::Creator,
    ownership_profile::Column::Credit,
    ownership_profile::Column::Source,
    ownership_profile::Column::UsageTerms,
    ownership_profile::Column::WebStatement,
    ownership_profile::Column::UpdatedBy,
    ownership_profile::Column::UpdatedAt,
];

/// The organisation's profile (every member may read it: it is on every file).
pub async fn organisation(state: &AppState, actor: &Actor) -> ApiResult<Ownership> {
    authorize_instance(state, actor, Action::ViewMetadata)?;
    Ok(vitrine_worker::ownership::organisation(&state.db).await?)
}

/// Replaces the organisation's profile (admins) and re-tags stored renditions.
pub async fn update_organisation(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    input: Ownership,
) -> ApiResult<Ownership> {
    authorize_instance(state, actor, Action::Admin)?;
    let profile = normalize(input)?;
    let mut tx = begin(state).await?;
    ownership_profile::Entity::insert(row(ORGANISATION, None, &profile, actor, state))
        .on_conflict(
            OnConflict::column(ownership_profile::Column::Id)
                .update_columns(UPDATE_COLUMNS)
                .to_owned(),
        )
        .exec_without_returning(tx.conn())
        .await?;
    tx.audit(event(AuditAction::OwnershipProfileUpdated, actor, meta).details(json!(profile)))
        .await?;
    tx.commit().await?;
    if let Err(e) = state.queue.enqueue_retag(None).await {
        tracing::warn!(error = %e, "could not enqueue re-tagging of renditions");
    }
    Ok(profile)
}

/// An asset's own override (fields it leaves unset fall back to the
/// organisation's).
pub async fn asset_override(state: &AppState, asset_id: Uuid) -> ApiResult<Option<Ownership>> {
    Ok(vitrine_worker::ownership::asset_override(&state.db, asset_id).await?)
}

/// The statement in force for an asset.
pub async fn effective(state: &AppState, asset_id: Uuid) -> ApiResult<Ownership> {
    Ok(vitrine_worker::ownership::effective(&state.db, asset_id).await?)
}

/// Sets (or, with every field empty, removes) an asset's override, then
/// re-tags its renditions. Needs MANAGE_LICENSES on the asset.
pub async fn set_asset_override(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    asset_id: Uuid,
    input: Ownership,
) -> ApiResult<Option<Ownership>> {
    let profile = normalize(input)?;
    let mut tx = begin(state).await?;
    let asset = vitrine_entity::entities::asset::Entity::find_by_id(asset_id)
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such asset".into()))?;
    authorize_asset(state, tx.conn(), actor, Action::ManageLicenses, &asset).await?;
    let empty = profile == Ownership::default();
    if empty {
        ownership_profile::Entity::delete_many()
            .filter(ownership_profile::Column::AssetId.eq(asset_id))
            .exec(tx.conn())
            .await?;
    } else {
        let existing = ownership_profile::Entity::find()
            .filter(ownership_profile::Column::AssetId.eq(asset_id))
            .one(tx.conn())
            .await?;
        let id = existing.map_or_else(Uuid::now_v7, |e| e.id);
        ownership_profile::Entity::insert(row(id, Some(asset_id), &profile, actor, state))
            .on_conflict(
                OnConflict::column(ownership_profile::Column::Id)
                    .update_columns(UPDATE_COLUMNS)
                    .to_owned(),
            )
            .exec_without_returning(tx.conn())
            .await?;
    }
    tx.audit(
        event(AuditAction::AssetOwnershipUpdated, actor, meta)
            .target("asset", asset_id)
            .details(json!(profile)),
    )
    .await?;
    tx.commit().await?;
    if let Err(e) = state.queue.enqueue_retag(Some(asset_id)).await {
        tracing::warn!(error = %e, "could not enqueue re-tagging of renditions");
    }
    Ok((!empty).then_some(profile))
}
