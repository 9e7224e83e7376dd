use sea_orm::entity::prelude::*;

/// A folder of the tree. `ancestry` lists the ids from the root down to and
/// including this folder (`/<root>/.../<self>/`), so a subtree is one prefix
/// match and a move rewrites one prefix.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "folders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub ancestry: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// A pre-launch collection: only admins and explicitly granted subjects
    /// see it and everything below.
    pub restricted: bool,
    /// Versions uploaded here (or below) wait for a moderator.
    pub requires_moderation: bool,
}

impl Model {
    /// The ids from the root down to this folder.
    pub fn lineage(&self) -> Vec<Uuid> {
        lineage_of(&self.ancestry)
    }

    /// Whether `other` is this folder or lies below it.
    pub fn contains(&self, other: &Model) -> bool {
        other.ancestry.starts_with(&self.ancestry)
    }
}

/// The ids of an ancestry string, root first.
pub fn lineage_of(ancestry: &str) -> Vec<Uuid> {
    ancestry
        .split('/')
        .filter(|s| !s.is_empty())
        .filter_map(|s| Uuid::parse_str(s).ok())
        .collect()
}

/// The ancestry of a folder `id` under a parent with ancestry `parent` (or at the root).
pub fn ancestry_under(parent: Option<&str>, id: Uuid) -> String {
    format!("{}{id}/", parent.unwrap_or("/"))
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestry_round_trips_and_nests() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let root = ancestry_under(None, a);
        let child = ancestry_under(Some(&root), b);
        assert_eq!(root, format!("/{a}/"));
        assert_eq!(lineage_of(&child), vec![a, b]);
        assert!(child.starts_with(&root));
    }
}
