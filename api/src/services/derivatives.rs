//! Derivative profiles (administrators define them: `pdp-square` is 800×800
//! COVER at the focal point, AUTO format, 1× and 2×) and the focal points
//! editors set on assets. Who may receive which profile is the policy's
//! [`authorize_profile`]; what a derivative shows of an asset stays
//! [`vitrine_entity::policy::authorize`]'s VIEW_PREVIEW decision.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::entities::{asset, asset_focal_point, derivative_profile, partner_org};
use vitrine_entity::policy::{Action, Actor, ProfileAudience, ProfileFacts, authorize_profile};

use crate::error::{ApiError, ApiResult};
use crate::services::assets::authorize_asset;
use crate::services::{access, authorize_instance, begin, event, is_unique_violation};
use crate::state::{AppState, RequestMeta};

/// How the image is fitted to the profile's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "DerivativeFit")]
pub enum Fit {
    /// Scaled to fit inside the box, aspect kept (one side may be shorter).
    Inside,
    /// Scaled to cover the box, then cropped to it at the anchor.
    Cover,
    /// Scaled to fit inside, then padded to the box with the background.
    Contain,
}

/// Where a COVER crop centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "DerivativeAnchor")]
pub enum Anchor {
    Center,
    /// The asset's focal point (the centre where none is set).
    FocalPoint,
    /// The most detailed region (highest entropy).
    Entropy,
}

/// The encoded format of a derivative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "DerivativeFormat")]
pub enum Format {
    Jpeg,
    Webp,
    Avif,
    Png,
    /// The best format the client's `Accept` header takes (AVIF, then WebP,
    /// then JPEG), answered with `Vary: Accept`.
    Auto,
}

macro_rules! names {
    ($ty:ty { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$v => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(<$ty>::$v),)+ _ => None }
            }
        }
    };
}
names!(Fit { Inside => "INSIDE", Cover => "COVER", Contain => "CONTAIN" });
names!(Anchor { Center => "CENTER", FocalPoint => "FOCAL_POINT", Entropy => "ENTROPY" });
names!(Format { Jpeg => "JPEG", Webp => "WEBP", Avif => "AVIF", Png => "PNG", Auto => "AUTO" });

/// The largest side of a profile's box at 1×, and of any derivative.
pub const MAX_SIDE: i32 = 8192;
pub const MAX_PIXELS_SIDE_AT_DPR: i32 = 16384;

/// A profile's settings, as given.
#[derive(Debug, Clone)]
pub struct ProfileInput {
    pub name: String,
    pub width: i32,
    pub height: i32,
    pub fit: Fit,
    pub anchor: Anchor,
    pub format: Format,
    pub quality: i32,
    pub dprs: Vec<i32>,
    pub background: String,
    pub sharpen: bool,
    pub upscale: bool,
    pub eager: bool,
    pub audience: ProfileAudience,
    pub partner_org_ids: Vec<Uuid>,
    /// Served publicly (`/p/`) for published assets opted in.
    pub public: bool,
}

/// The profile's policy facts.
pub fn facts(p: &derivative_profile::Model) -> ProfileFacts {
    p.facts()
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadUserInput(msg.into())
}

/// Checks a profile's settings; returns the DPR list normalised (sorted,
/// unique) and the background in lower case.
async fn validate(state: &AppState, input: &ProfileInput) -> ApiResult<(String, String)> {
    let name_ok = !input.name.is_empty()
        && input.name.len() <= 64
        && input
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !input.name.starts_with('-');
    if !name_ok {
        return Err(bad(
            "a profile name has 1 to 64 lower-case letters, digits and hyphens (not first)",
        ));
    }
    for (side, v) in [("width", input.width), ("height", input.height)] {
        if !(1..=MAX_SIDE).contains(&v) {
            return Err(bad(format!("{side} must be 1 to {MAX_SIDE} pixels")));
        }
    }
    if !(1..=100).contains(&input.quality) {
        return Err(bad("quality must be 1 to 100"));
    }
    let mut dprs = input.dprs.clone();
    dprs.sort_unstable();
    dprs.dedup();
    if dprs.is_empty() || dprs.iter().any(|d| !(1..=4).contains(d)) {
        return Err(bad("dprs lists 1 to 4 densities, each 1 to 4"));
    }
    let largest = dprs.last().copied().unwrap_or(1);
    if input.width.max(input.height) * largest > MAX_PIXELS_SIDE_AT_DPR {
        return Err(bad(format!(
            "at {largest}x the box exceeds {MAX_PIXELS_SIDE_AT_DPR} pixels"
        )));
    }
    let bg = input.background.to_ascii_lowercase();
    let bg_ok =
        bg.len() == 7 && bg.starts_with('#') && bg[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !bg_ok {
        return Err(bad("background is a colour #rrggbb"));
    }
    if input.audience == ProfileAudience::Members && !input.partner_org_ids.is_empty() {
        return Err(bad(
            "partnerOrgIds entitle partners: the audience must be PARTNERS or VISITORS",
        ));
    }
    if !input.partner_org_ids.is_empty() {
        // One query for the whole list, whatever its length.
        let known: std::collections::HashSet<Uuid> = partner_org::Entity::find()
            .filter(partner_org::Column::Id.is_in(input.partner_org_ids.iter().copied()))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect();
        if let Some(org) = input.partner_org_ids.iter().find(|o| !known.contains(o)) {
            return Err(bad(format!("no partner organisation {org}")));
        }
    }
    let dprs = dprs
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    Ok((dprs, bg))
}

fn fill(
    active: &mut derivative_profile::ActiveModel,
    input: &ProfileInput,
    dprs: String,
    background: String,
) {
    let mut orgs = input.partner_org_ids.clone();
    orgs.sort_unstable();
    orgs.dedup();
    active.name = Set(input.name.clone());
    active.width = Set(input.width);
    active.height = Set(input.height);
    active.fit = Set(input.fit.as_str().to_owned());
    active.anchor = Set(input.anchor.as_str().to_owned());
    active.format = Set(input.format.as_str().to_owned());
    active.quality = Set(input.quality);
    active.dprs = Set(dprs);
    active.background = Set(background);
    active.sharpen = Set(input.sharpen);
    active.upscale = Set(input.upscale);
    active.eager = Set(input.eager);
    active.public = Set(input.public);
    active.audience = Set(input.audience.as_str().to_owned());
    active.partner_org_ids = Set(orgs
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(","));
}

fn conflict(e: sea_orm::DbErr) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::Conflict("a derivative profile with this name exists".into())
    } else {
        e.into()
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such derivative profile".into())
}

/// Creates a profile (administrators).
pub async fn create_profile(
    state: &AppState,
    actor: &Actor,
    input: ProfileInput,
    meta: &RequestMeta,
) -> ApiResult<derivative_profile::Model> {
    authorize_instance(state, actor, Action::Admin)?;
    let (dprs, background) = validate(state, &input).await?;
    let mut tx = begin(state).await?;
    let now = tx.now();
    let id = Uuid::now_v7();
    let mut active = derivative_profile::ActiveModel {
        id: Set(id),
        revision: Set(1),
        created_by: Set(actor.user_id()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    fill(&mut active, &input, dprs, background);
    let profile = active.insert(tx.conn()).await.map_err(conflict)?;
    tx.audit(
        event(AuditAction::DerivativeProfileChanged, actor, meta)
            .target("derivative_profile", id)
            .details(json!({ "created": profile.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(profile)
}

/// Replaces a profile's settings; its revision moves on, so derivatives
/// made under the old settings are superseded.
pub async fn update_profile(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    input: ProfileInput,
    meta: &RequestMeta,
) -> ApiResult<derivative_profile::Model> {
    authorize_instance(state, actor, Action::Admin)?;
    let (dprs, background) = validate(state, &input).await?;
    let mut tx = begin(state).await?;
    let found = derivative_profile::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(not_found)?;
    let revision = found.revision.saturating_add(1);
    let previous_name = found.name.clone();
    let mut active: derivative_profile::ActiveModel = found.into();
    fill(&mut active, &input, dprs, background);
    active.revision = Set(revision);
    active.updated_at = Set(tx.now());
    let profile = active.update(tx.conn()).await.map_err(conflict)?;
    tx.audit(
        event(AuditAction::DerivativeProfileChanged, actor, meta)
            .target("derivative_profile", id)
            .details(json!({
                "updated": profile.name,
                "previousName": previous_name,
                "revision": revision,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(profile)
}

/// Deletes a profile (its derivatives' URLs stop working).
pub async fn delete_profile(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    meta: &RequestMeta,
) -> ApiResult<bool> {
    authorize_instance(state, actor, Action::Admin)?;
    let mut tx = begin(state).await?;
    let profile = derivative_profile::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(not_found)?;
    let deleted = derivative_profile::Entity::delete_by_id(id)
        .exec(tx.conn())
        .await?;
    if deleted.rows_affected == 0 {
        return Err(not_found());
    }
    tx.audit(
        event(AuditAction::DerivativeProfileChanged, actor, meta)
            .target("derivative_profile", id)
            .details(json!({ "deleted": true, "name": profile.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The profiles `actor` may receive, by name (members: all).
pub async fn list_profiles(
    state: &AppState,
    actor: &Actor,
) -> ApiResult<Vec<derivative_profile::Model>> {
    if matches!(actor, Actor::Anonymous) {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    }
    let all = derivative_profile::Entity::find()
        .order_by_asc(derivative_profile::Column::Name)
        .all(&state.db)
        .await?;
    Ok(all
        .into_iter()
        .filter(|p| authorize_profile(actor, &facts(p)).is_ok())
        .collect())
}

/// A profile by name, if `actor` may receive it (else NOT_FOUND, like a
/// profile that does not exist).
pub async fn profile_for(
    state: &AppState,
    actor: &Actor,
    name: &str,
) -> ApiResult<derivative_profile::Model> {
    let profile = derivative_profile::Entity::find()
        .filter(derivative_profile::Column::Name.eq(name))
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    authorize_profile(actor, &facts(&profile)).map_err(|d| access::denied(d, not_found))?;
    Ok(profile)
}

/// Sets (or, with `None`, clears) an asset's focal point: fractions of the
/// upright image from its top-left corner (EDIT on the asset).
pub async fn set_focal_point(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    asset_id: Uuid,
    point: Option<(f64, f64)>,
) -> ApiResult<Option<asset_focal_point::Model>> {
    if let Some((x, y)) = point
        && !((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y))
    {
        return Err(bad("a focal point's x and y are fractions from 0 to 1"));
    }
    let mut tx = begin(state).await?;
    let found = asset::Entity::find_by_id(asset_id)
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such asset".into()))?;
    authorize_asset(state, tx.conn(), actor, Action::Edit, &found).await?;
    let now = tx.now();
    let saved = match point {
        Some((x, y)) => {
            let row = asset_focal_point::ActiveModel {
                asset_id: Set(asset_id),
                x: Set(x),
                y: Set(y),
                set_by: Set(actor.user_id()),
                set_at: Set(now),
            };
            asset_focal_point::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(asset_focal_point::Column::AssetId)
                        .update_columns([
                            asset_focal_point::Column::X,
                            asset_focal_point::Column::Y,
                            asset_focal_point::Column::SetBy,
                            asset_focal_point::Column::SetAt,
                        ])
                        .to_owned(),
                )
                .exec(tx.conn())
                .await?;
            asset_focal_point::Entity::find_by_id(asset_id)
                .one(tx.conn())
                .await?
        }
        None => {
            asset_focal_point::Entity::delete_by_id(asset_id)
                .exec(tx.conn())
                .await?;
            None
        }
    };
    tx.audit(
        event(AuditAction::FocalPointChanged, actor, meta)
            .target("asset", asset_id)
            .details(json!({ "x": point.map(|p| p.0), "y": point.map(|p| p.1) })),
    )
    .await?;
    tx.commit().await?;
    Ok(saved)
}
