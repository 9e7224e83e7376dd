//! The ownership statement in force for an asset: its override's fields,
//! falling back to the organisation's profile field by field.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;
use vitrine_entity::entities::ownership_profile::{self, ORGANISATION};

use crate::tagging::Ownership;

fn from_row(row: &ownership_profile::Model) -> Ownership {
    Ownership {
        copyright: row.copyright.clone(),
        creator: row.creator.clone(),
        credit: row.credit.clone(),
        source: row.source.clone(),
        usage_terms: row.usage_terms.clone(),
        web_statement: row.web_statement.clone(),
    }
}

/// The organisation's profile (empty until an administrator sets it).
pub async fn organisation<C: ConnectionTrait>(conn: &C) -> Result<Ownership, DbErr> {
    Ok(ownership_profile::Entity::find_by_id(ORGANISATION)
        .one(conn)
        .await?
        .as_ref()
        .map(from_row)
        .unwrap_or_default())
}

/// An asset's own override, if it has one.
pub async fn asset_override<C: ConnectionTrait>(
    conn: &C,
    asset_id: Uuid,
) -> Result<Option<Ownership>, DbErr> {
    Ok(ownership_profile::Entity::find()
        .filter(ownership_profile::Column::AssetId.eq(asset_id))
        .one(conn)
        .await?
        .as_ref()
        .map(from_row))
}

/// Field by field: the override where it has a value, else the organisation's.
pub fn merge(organisation: Ownership, over: Option<Ownership>) -> Ownership {
    let Some(o) = over else {
        return organisation;
    };
    Ownership {
        copyright: o.copyright.or(organisation.copyright),
        creator: o.creator.or(organisation.creator),
        credit: o.credit.or(organisation.credit),
        source: o.source.or(organisation.source),
        usage_terms: o.usage_terms.or(organisation.usage_terms),
        web_statement: o.web_statement.or(organisation.web_statement),
    }
}

/// The statement in force for an asset.
pub async fn effective<C: ConnectionTrait>(conn: &C, asset_id: Uuid) -> Result<Ownership, DbErr> {
    Ok(merge(
        organisation(conn).await?,
        asset_override(conn, asset_id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_field_by_field() {
        let org = Ownership {
            copyright: Some("© Brand".into()),
            creator: Some("Brand Studio".into()),
            ..Ownership::default()
        };
        let over = Ownership {
            creator: Some("Guest Photographer".into()),
            ..Ownership::default()
        };
        let merged = merge(org.clone(), Some(over));
        assert_eq!(merged.copyright.as_deref(), Some("© Brand"));
        assert_eq!(merged.creator.as_deref(), Some("Guest Photographer"));
        assert_eq!(merge(org.clone(), None), org);
    }
}
