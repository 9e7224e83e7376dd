//! Listing assets: filters, orders, keyset cursors, pages forwards and
//! backwards (`first`/`after`, `last`/`before`), and the trash.

use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;
use vitrine_entity::entities::asset;
use vitrine_entity::policy::{Action, Actor, AssetFacts, Resource, authorize};

use crate::error::{ApiError, ApiResult};
use crate::services::access::{self, Shelf};
use crate::services::fetch_page;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    CreatedAt,
    UpdatedAt,
    Title,
    DeletedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub field: OrderField,
    pub descending: bool,
}

impl Default for Order {
    fn default() -> Self {
        Order {
            field: OrderField::CreatedAt,
            descending: true,
        }
    }
}

pub use crate::services::asset_filter::AssetFilter;

/// A position in a listing: the sort value and the id of the last row seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Cursor {
    v: String,
    id: Uuid,
}

pub fn encode_cursor(order: Order, asset: &asset::Model) -> String {
    let v = match order.field {
        OrderField::CreatedAt => vitrine_entity::audit_chain::format_instant(asset.created_at),
        OrderField::UpdatedAt => vitrine_entity::audit_chain::format_instant(asset.updated_at),
        OrderField::DeletedAt => asset
            .deleted_at
            .map(vitrine_entity::audit_chain::format_instant)
            .unwrap_or_default(),
        OrderField::Title => asset.title.clone(),
    };
    let json = serde_json::to_vec(&Cursor { v, id: asset.id }).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(raw: &str) -> ApiResult<Cursor> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::BadUserInput("after is not a valid cursor".into()))
}

fn column(field: OrderField) -> asset::Column {
    match field {
        OrderField::CreatedAt => asset::Column::CreatedAt,
        OrderField::UpdatedAt => asset::Column::UpdatedAt,
        OrderField::Title => asset::Column::Title,
        OrderField::DeletedAt => asset::Column::DeletedAt,
    }
}

/// Rows strictly after the cursor in the listing order (keyset pagination:
/// rows inserted meanwhile neither repeat nor shift later pages).
fn after_cursor(order: Order, cursor: &Cursor) -> ApiResult<Condition> {
    let col = column(order.field);
    let value: sea_orm::Value = match order.field {
        OrderField::Title => cursor.v.clone().into(),
        _ => DateTime::parse_from_rfc3339(&cursor.v)
            .map_err(|_| ApiError::BadUserInput("after is not a valid cursor".into()))?
            .with_timezone(&Utc)
            .into(),
    };
    let (beyond, id_beyond) = if order.descending {
        (
            Expr::col((asset::Entity, col)).lt(value.clone()),
            asset::Column::Id.lt(cursor.id),
        )
    } else {
        (
            Expr::col((asset::Entity, col)).gt(value.clone()),
            asset::Column::Id.gt(cursor.id),
        )
    };
    Ok(Condition::any().add(beyond).add(
        Condition::all()
            .add(Expr::col((asset::Entity, col)).eq(value))
            .add(id_beyond),
    ))
}

/// A page of a listing.
#[derive(Debug)]
pub struct Page {
    /// In listing order, whichever way the page was asked for.
    pub rows: Vec<asset::Model>,
    /// More rows follow the last one.
    pub has_next: bool,
    /// More rows precede the first one.
    pub has_previous: bool,
    /// The number of matches across all pages, when it was asked for
    /// (counting costs a scan of every match).
    pub total: Option<u64>,
}

/// What to fetch: `limit` rows after a cursor (`first`/`after`), or the
/// `limit` rows just before one (`last`/`before`, paging backwards); and
/// whether to count all matches.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub after: Option<&'a str>,
    pub before: Option<&'a str>,
    /// `last` was given: the rows at the end (before `before`, if any).
    pub backwards: bool,
    pub limit: u64,
    pub with_total: bool,
}

async fn page(
    state: &AppState,
    base: Condition,
    order: Order,
    request: PageRequest<'_>,
) -> ApiResult<Page> {
    let total = if request.with_total {
        Some(
            asset::Entity::find()
                .filter(base.clone())
                .count(&state.db)
                .await?,
        )
    } else {
        None
    };
    // Backwards: read the listing in the opposite order from the cursor,
    // then turn the page around.
    let walk = if request.backwards {
        Order {
            field: order.field,
            descending: !order.descending,
        }
    } else {
        order
    };
    let mut cond = base;
    if let Some(raw) = request.after {
        cond = cond.add(after_cursor(order, &decode_cursor(raw)?)?);
    }
    if let Some(raw) = request.before {
        let reversed = Order {
            field: order.field,
            descending: !order.descending,
        };
        cond = cond.add(after_cursor(reversed, &decode_cursor(raw)?)?);
    }
    let mut query = asset::Entity::find().filter(cond);
    query = if walk.descending {
        query
            .order_by_desc(column(walk.field))
            .order_by_desc(asset::Column::Id)
    } else {
        query
            .order_by_asc(column(walk.field))
            .order_by_asc(asset::Column::Id)
    };
    let (mut rows, more) = fetch_page(query, request.limit, &state.db).await?;
    let (has_next, has_previous) = if request.backwards {
        rows.reverse();
        (request.before.is_some(), more)
    } else {
        (more, request.after.is_some())
    };
    Ok(Page {
        rows,
        has_next,
        has_previous,
        total,
    })
}

/// The live assets `actor` may see, filtered and ordered, one page.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    filter: &AssetFilter,
    order: Order,
    request: PageRequest<'_>,
) -> ApiResult<Page> {
    if order.field == OrderField::DeletedAt {
        return Err(ApiError::BadUserInput(
            "live assets have no deletion time".into(),
        ));
    }
    if matches!(actor, Actor::Anonymous) {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    }
    let now = state.clock.now();
    let Some(scope) = access::asset_scope(
        &state.db,
        actor,
        now,
        Shelf::Live,
        state.config.license_unlicensed_deliverable,
    )
    .await?
    else {
        return Ok(Page {
            rows: Vec::new(),
            has_next: false,
            has_previous: false,
            total: request.with_total.then_some(0),
        });
    };
    let cond = scope.add(crate::services::asset_filter::condition(state, actor, filter).await?);
    page(state, cond, order, request).await
}

/// The trash: deleted assets, most recently deleted first (for those who may
/// restore them).
pub async fn trash(state: &AppState, actor: &Actor, request: PageRequest<'_>) -> ApiResult<Page> {
    let now = state.clock.now();
    authorize(
        actor,
        Action::Delete,
        &Resource::Asset(AssetFacts {
            deleted: true,
            ..AssetFacts::default()
        }),
        now,
    )?;
    let order = Order {
        field: OrderField::DeletedAt,
        descending: true,
    };
    let Some(cond) = access::asset_scope(
        &state.db,
        actor,
        now,
        Shelf::Trash,
        state.config.license_unlicensed_deliverable,
    )
    .await?
    else {
        return Ok(Page {
            rows: Vec::new(),
            has_next: false,
            has_previous: false,
            total: request.with_total.then_some(0),
        });
    };
    page(state, cond, order, request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert!(decode_cursor("not-base64!").is_err());
        let c = Cursor {
            v: "2026-01-01T00:00:00.000000Z".into(),
            id: Uuid::nil(),
        };
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&c).unwrap());
        assert_eq!(decode_cursor(&raw).unwrap(), c);
    }
}
