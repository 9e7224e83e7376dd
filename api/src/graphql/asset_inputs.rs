//! GraphQL inputs of the asset library, and asset connections (paging,
//! ordering).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::{AccessMode, Stage, SubjectKind};

use crate::services::assets::{self as asset_service, Order, OrderField, Page, PageRequest};

use super::asset_types::Asset;

/// Extra fields of asset connections.
#[derive(SimpleObject, Debug)]
pub struct AssetConnectionFields {
    /// How many assets match, across all pages (counted only when asked for).
    pub total_count: u64,
}

/// Where a client is in a connection: `first`/`after` forwards, or
/// `last`/`before` backwards (Relay cursor connections).
#[derive(Debug, Clone, Default)]
pub struct Paging {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// The page the client asks for; `totalCount` is computed only if selected.
pub fn page_request<'a>(
    ctx: &Context<'_>,
    paging: &'a Paging,
) -> async_graphql::Result<PageRequest<'a>> {
    let backwards = match (
        paging.first.is_some() || paging.after.is_some(),
        paging.last.is_some() || paging.before.is_some(),
    ) {
        (true, true) => {
            return Err(crate::error::ApiError::BadUserInput(
                "page forwards (first, after) or backwards (last, before), not both".into(),
            )
            .into());
        }
        (_, backwards) => backwards,
    };
    let size = if backwards { paging.last } else { paging.first };
    Ok(PageRequest {
        after: paging.after.as_deref(),
        before: paging.before.as_deref(),
        backwards,
        limit: super::page_size(size).map_err(|_| {
            crate::error::ApiError::BadUserInput("first and last must be between 1 and 200".into())
        })?,
        with_total: ctx.look_ahead().field("totalCount").exists(),
    })
}

pub type AssetConnection =
    Connection<String, Asset, AssetConnectionFields, async_graphql::connection::EmptyFields>;

pub fn asset_connection(page: Page, order: Order) -> AssetConnection {
    let mut connection = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        AssetConnectionFields {
            total_count: page.total.unwrap_or_default(),
        },
    );
    connection.edges.extend(page.rows.into_iter().map(|row| {
        let cursor = asset_service::encode_cursor(order, &row);
        Edge::new(cursor, Asset::from(row))
    }));
    connection
}

/// Who a grant is for.
#[derive(InputObject, Debug, Clone)]
pub struct GrantSubjectInput {
    pub kind: SubjectKind,
    /// A user id or a partner organisation id.
    pub id: ID,
}

#[derive(InputObject, Debug)]
pub struct SetAccessInput {
    /// 1 to 500 assets; all are changed or none.
    pub asset_ids: Vec<ID>,
    pub mode: AccessMode,
    /// Null: no embargo.
    pub starts_at: Option<DateTime<Utc>>,
    /// Null: no end.
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(InputObject, Debug)]
pub struct CreateFolderInput {
    /// Null creates a root folder.
    pub parent_id: Option<ID>,
    pub name: String,
}

#[derive(InputObject, Debug, Default)]
pub struct UploadAssetInput {
    /// An upload preset; without one, the default preset applies (if any).
    pub preset_id: Option<ID>,
    /// Null files the asset at the root (or in the preset's folder).
    pub folder_id: Option<ID>,
    /// Defaults to the file name without its extension.
    pub title: Option<String>,
    /// Free text (searchable), at most 5000 characters.
    pub description: Option<String>,
    #[graphql(default)]
    pub tags: Vec<String>,
    /// Defaults to RAW.
    pub stage: Option<Stage>,
    pub note: Option<String>,
}

#[derive(InputObject, Debug, Default)]
pub struct UploadVersionInput {
    /// Defaults to RAW.
    pub stage: Option<Stage>,
    pub note: Option<String>,
}

#[derive(InputObject, Debug, Default)]
pub struct UpdateAssetInput {
    pub title: Option<String>,
    /// Free text (searchable), at most 5000 characters; empty clears it.
    pub description: Option<String>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    /// A folder id, or null to move the asset to the root; absent leaves it.
    pub folder_id: MaybeUndefined<ID>,
}

pub use super::filters::AssetFilter;

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetOrderField {
    CreatedAt,
    UpdatedAt,
    Title,
}

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderDirection {
    Asc,
    Desc,
}

#[derive(InputObject, Debug, Clone, Copy)]
pub struct AssetOrder {
    pub field: AssetOrderField,
    #[graphql(default_with = "OrderDirection::Desc")]
    pub direction: OrderDirection,
}

impl From<Option<AssetOrder>> for Order {
    fn from(o: Option<AssetOrder>) -> Self {
        match o {
            None => Order::default(),
            Some(o) => Order {
                field: match o.field {
                    AssetOrderField::CreatedAt => OrderField::CreatedAt,
                    AssetOrderField::UpdatedAt => OrderField::UpdatedAt,
                    AssetOrderField::Title => OrderField::Title,
                },
                descending: o.direction == OrderDirection::Desc,
            },
        }
    }
}
