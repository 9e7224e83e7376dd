//! Opting assets and folders into public delivery (`/p/`), with an asset's
//! stable slug. Opting in is one of five conditions (see
//! [`vitrine_entity::policy::authorize_public`]): the profile must be
//! public, and the asset PUBLIC, inside its window, approved and licensed
//! for the web at the moment of each request. Choosing what the brand
//! publishes to the whole internet is MANAGE_ACCESS on the asset or folder.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::entities::{asset, asset_tag, folder, public_asset, public_folder};
use vitrine_entity::policy::{Action, Actor};

use crate::error::{ApiError, ApiResult};
use crate::services::assets::authorize_asset;
use crate::services::{access, begin, event, is_unique_violation};
use crate::state::{AppState, RequestMeta};

/// The longest slug.
pub const MAX_SLUG: usize = 100;

/// A URL slug of `text`: lower-case ASCII letters and digits, words joined
/// by hyphens (common Latin accents folded: "Bague Rosé 0042" →
/// `bague-rose-0042`).
pub fn slugify(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => Some('a'),
            'ç' | 'č' | 'ć' => Some('c'),
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => Some('e'),
            'ì' | 'í' | 'î' | 'ï' => Some('i'),
            'ñ' | 'ń' | 'ň' => Some('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => Some('o'),
            'ù' | 'ú' | 'û' | 'ü' | 'ů' => Some('u'),
            'ý' | 'ÿ' => Some('y'),
            'š' | 'ś' => Some('s'),
            'ž' | 'ź' | 'ż' => Some('z'),
            'ß' => {
                out.push_str("ss");
                None
            }
            c if c.is_ascii_alphanumeric() => Some(c),
            _ => Some('-'),
        };
        if let Some(c) = folded
            && !(c == '-' && (out.is_empty() || out.ends_with('-')))
        {
            out.push(c);
        }
    }
    let mut slug: String = out.trim_matches('-').chars().take(80).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// Checks a slug given by a user.
pub fn check_slug(slug: &str) -> ApiResult<String> {
    let ok = !slug.is_empty()
        && slug.len() <= MAX_SLUG
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && Uuid::parse_str(slug).is_err();
    if ok {
        Ok(slug.to_owned())
    } else {
        Err(ApiError::BadUserInput(format!(
            "a slug is 1 to {MAX_SLUG} lower-case letters, digits and inner hyphens, and not an id"
        )))
    }
}

/// A free slug from the asset's SKU (a `sku:` tag, from the filename rules
/// of its upload preset) and title (`-2`, `-3`, … appended when taken):
/// `sku:RING-0042` and "Bague rosé" make `ring-0042-bague-rose`.
async fn free_slug<C: ConnectionTrait>(conn: &C, title: &str, id: Uuid) -> ApiResult<String> {
    let sku = asset_tag::Entity::find()
        .filter(asset_tag::Column::AssetId.eq(id))
        .filter(asset_tag::Column::Tag.starts_with("sku:"))
        .one(conn)
        .await?
        .map(|t| t.tag.trim_start_matches("sku:").to_owned());
    let words = match sku {
        // A title that already names the SKU is not repeated.
        Some(sku) if !slugify(title).contains(&slugify(&sku)) => format!("{sku} {title}"),
        _ => title.to_owned(),
    };
    let base = match slugify(&words) {
        s if s.is_empty() || Uuid::parse_str(&s).is_ok() => {
            let id = id.simple().to_string();
            format!("asset-{}", &id[id.len() - 12..])
        }
        s => s,
    };
    let taken: std::collections::HashSet<String> = public_asset::Entity::find()
        .filter(public_asset::Column::Slug.starts_with(&base))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| p.slug)
        .collect();
    let mut candidate = base.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    Ok(candidate)
}

/// How an asset stands for public delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Opted in by itself (with its slug).
    pub own: Option<public_asset::Model>,
    /// Opted in by a folder above it.
    pub via_folder: bool,
}

/// An asset's opt-in, as its managers see it.
pub async fn of_asset<C: ConnectionTrait>(
    conn: &C,
    found: &asset::Model,
) -> ApiResult<Publication> {
    let own = public_asset::Entity::find_by_id(found.id).one(conn).await?;
    let via_folder = match found.folder_id {
        Some(f) => folder_is_public(conn, f).await?,
        None => false,
    };
    Ok(Publication { own, via_folder })
}

/// Whether `folder_id` or a folder above it is opted in.
pub async fn folder_is_public<C: ConnectionTrait>(conn: &C, folder_id: Uuid) -> ApiResult<bool> {
    let Some(found) = folder::Entity::find_by_id(folder_id).one(conn).await? else {
        return Ok(false);
    };
    Ok(public_folder::Entity::find()
        .filter(public_folder::Column::FolderId.is_in(found.lineage()))
        .one(conn)
        .await?
        .is_some())
}

/// Opts an asset into public delivery (with `slug`, or its current one, or
/// one made from its title) or out of it. MANAGE_ACCESS on the asset.
pub async fn set_asset(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    asset_id: Uuid,
    enabled: bool,
    slug: Option<String>,
) -> ApiResult<Publication> {
    let slug = slug.as_deref().map(check_slug).transpose()?;
    let mut tx = begin(state).await?;
    let found = asset::Entity::find_by_id(asset_id)
        .one(tx.conn())
        .await?
        .filter(|a| a.deleted_at.is_none())
        .ok_or_else(|| ApiError::NotFound("no such asset".into()))?;
    authorize_asset(state, tx.conn(), actor, Action::ManageAccess, &found).await?;
    let before = public_asset::Entity::find_by_id(asset_id)
        .one(tx.conn())
        .await?;
    if enabled {
        let chosen = match (&slug, &before) {
            (Some(s), _) => s.clone(),
            (None, Some(b)) => b.slug.clone(),
            (None, None) => free_slug(tx.conn(), &found.title, found.id).await?,
        };
        if before.as_ref().is_some_and(|b| b.slug == chosen) {
            return of_asset(tx.conn(), &found).await;
        }
        public_asset::Entity::delete_by_id(asset_id)
            .exec(tx.conn())
            .await?;
        let row = public_asset::ActiveModel {
            asset_id: Set(asset_id),
            slug: Set(chosen.clone()),
            created_by: Set(actor.user_id()),
            created_at: Set(tx.now()),
        };
        public_asset::Entity::insert(row)
            .exec_without_returning(tx.conn())
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::Conflict(format!("the slug {chosen:?} is taken"))
                } else {
                    e.into()
                }
            })?;
        tx.audit(
            event(AuditAction::PublicDeliveryChanged, actor, meta)
                .target("asset", asset_id)
                .details(json!({
                    "enabled": true,
                    "slug": chosen,
                    "previousSlug": before.as_ref().map(|b| &b.slug),
                })),
        )
        .await?;
    } else {
        let Some(before) = before else {
            return of_asset(tx.conn(), &found).await;
        };
        public_asset::Entity::delete_by_id(asset_id)
            .exec(tx.conn())
            .await?;
        tx.audit(
            event(AuditAction::PublicDeliveryChanged, actor, meta)
                .target("asset", asset_id)
                .details(json!({ "enabled": false, "previousSlug": before.slug })),
        )
        .await?;
    }
    let publication = of_asset(tx.conn(), &found).await?;
    tx.commit().await?;
    Ok(publication)
}

/// Opts a folder (and everything below it) into public delivery or out of
/// it. MANAGE_ACCESS on the folder. Returns whether it is opted in.
pub async fn set_folder(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    folder_id: Uuid,
    enabled: bool,
) -> ApiResult<bool> {
    let mut tx = begin(state).await?;
    access::managed_folder(state, tx.conn(), actor, folder_id).await?;
    let before = public_folder::Entity::find_by_id(folder_id)
        .one(tx.conn())
        .await?
        .is_some();
    if before == enabled {
        return Ok(enabled);
    }
    if enabled {
        public_folder::Entity::insert(public_folder::ActiveModel {
            folder_id: Set(folder_id),
            created_by: Set(actor.user_id()),
            created_at: Set(tx.now()),
        })
        .exec_without_returning(tx.conn())
        .await?;
    } else {
        public_folder::Entity::delete_by_id(folder_id)
            .exec(tx.conn())
            .await?;
    }
    tx.audit(
        event(AuditAction::PublicDeliveryChanged, actor, meta)
            .target("folder", folder_id)
            .details(json!({ "enabled": enabled })),
    )
    .await?;
    tx.commit().await?;
    Ok(enabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_readable_and_checked() {
        assert_eq!(slugify("Bague Rosé 0042 — front"), "bague-rose-0042-front");
        assert_eq!(slugify("  Straße!! "), "strasse");
        assert_eq!(slugify("日本"), "");
        assert!(slugify(&"a".repeat(200)).len() <= 80);
        assert!(check_slug("ring-0042").is_ok());
        for bad in [
            "",
            "-ring",
            "ring-",
            "Ring",
            "ring/0042",
            "ring.jpg",
            "0191f1a8-7c53-7cc2-9a43-1a2b3c4d5e6f",
        ] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
        assert!(check_slug(&"a".repeat(MAX_SLUG + 1)).is_err());
    }
}
