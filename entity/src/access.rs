//! Where an actor stands in the folder tree: which places are restricted,
//! and which grants it holds. Pure: services load the (small) sets of
//! restricted folders and of the actor's grants once, and this module turns
//! them into policy facts for any folder, and into the prefix regions list
//! queries filter on.
//!
//! The rules:
//! - a grant on a folder is inherited by everything below it;
//! - a restricted folder cuts inheritance: inside it, only grants given on
//!   the restricted folder itself or below it count (a grant on a parent of a
//!   pre-launch collection does not open the collection), and roles do not
//!   count at all (only administrators see it without a grant);
//! - nested restricted folders cut again.
//!
//! Folders are identified by their ancestry string (`/<root>/…/<self>/`), so
//! "below or equal" is a prefix test.

use crate::domain::GrantLevel;
use crate::entities::asset;
use crate::policy::{AssetFacts, FolderFacts};

/// The restricted folders of the library and the grants one actor holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessMap {
    /// Ancestries of the restricted folders.
    restricted: Vec<String>,
    /// The actor's grants: the granted folder's ancestry and the level.
    grants: Vec<(String, GrantLevel)>,
}

/// A part of the tree an actor sees through a grant: the subtree under
/// `prefix`, except the subtrees under each of `except` (restricted folders
/// strictly below the granted one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub prefix: String,
    pub except: Vec<String>,
}

impl AccessMap {
    pub fn new(restricted: Vec<String>, grants: Vec<(String, GrantLevel)>) -> Self {
        Self { restricted, grants }
    }

    /// The ancestries of every restricted folder.
    pub fn restricted(&self) -> &[String] {
        &self.restricted
    }

    /// Whether the actor holds any grant at all.
    pub fn has_grants(&self) -> bool {
        !self.grants.is_empty()
    }

    /// The deepest restricted folder at or above `ancestry`.
    pub fn boundary(&self, ancestry: &str) -> Option<&str> {
        self.restricted
            .iter()
            .filter(|r| ancestry.starts_with(r.as_str()))
            .max_by_key(|r| r.len())
            .map(String::as_str)
    }

    /// The facts about a folder (given by its ancestry; `None` is the root,
    /// which is never restricted and can carry no grant).
    pub fn folder_facts(&self, ancestry: Option<&str>) -> FolderFacts {
        let Some(ancestry) = ancestry else {
            return FolderFacts::default();
        };
        let boundary = self.boundary(ancestry);
        let grant = self
            .grants
            .iter()
            .filter(|(granted, _)| {
                ancestry.starts_with(granted.as_str())
                    && boundary.is_none_or(|b| granted.starts_with(b))
            })
            .map(|(_, level)| *level)
            .max();
        FolderFacts {
            restricted: boundary.is_some(),
            grant,
        }
    }

    /// The facts about an asset filed in the folder with `folder_ancestry`.
    pub fn asset_facts(&self, folder_ancestry: Option<&str>, asset: &asset::Model) -> AssetFacts {
        let folder = self.folder_facts(folder_ancestry);
        AssetFacts {
            deleted: asset.deleted_at.is_some(),
            restricted: folder.restricted,
            grant: folder.grant,
            access: asset.access_mode,
            starts_at: asset.access_starts_at,
            ends_at: asset.access_ends_at,
            link: None,
            licensing: None,
            awaiting_moderation: asset.awaiting_moderation,
        }
    }

    /// The parts of the tree the actor's grants open (whatever their level:
    /// every level lets one see).
    pub fn granted_regions(&self) -> Vec<Region> {
        self.regions_at_least(GrantLevel::View)
    }

    /// The parts of the tree opened by grants of at least `level` (e.g.
    /// where a member may moderate).
    pub fn regions_at_least(&self, level: GrantLevel) -> Vec<Region> {
        let mut regions: Vec<Region> = self
            .grants
            .iter()
            .filter(|(_, granted_level)| *granted_level >= level)
            .map(|(granted, _)| Region {
                prefix: granted.clone(),
                except: self
                    .restricted
                    .iter()
                    .filter(|r| r.len() > granted.len() && r.starts_with(granted.as_str()))
                    .cloned()
                    .collect(),
            })
            .collect();
        regions.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        regions.dedup_by(|a, b| a.prefix == b.prefix);
        regions
    }

    /// Whether a member (not an administrator) sees the folder with this
    /// ancestry; partners see a folder only through a grant.
    pub fn member_sees(&self, ancestry: Option<&str>) -> bool {
        let facts = self.folder_facts(ancestry);
        !facts.restricted || facts.grant.is_some()
    }

    /// Whether the actor holds a grant covering the folder.
    pub fn granted(&self, ancestry: Option<&str>) -> bool {
        self.folder_facts(ancestry).grant.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AccessMode;
    use uuid::Uuid;

    fn path(ids: &[u128]) -> String {
        let mut s = String::from("/");
        for id in ids {
            s.push_str(&Uuid::from_u128(*id).to_string());
            s.push('/');
        }
        s
    }

    /// Does `ancestry` fall in one of the regions (the SQL filter's meaning)?
    fn in_regions(regions: &[Region], ancestry: &str) -> bool {
        regions.iter().any(|r| {
            ancestry.starts_with(&r.prefix) && !r.except.iter().any(|e| ancestry.starts_with(e))
        })
    }

    /// Does a member see `ancestry` by the SQL filter's meaning?
    fn member_filter(map: &AccessMap, ancestry: &str) -> bool {
        !map.restricted().iter().any(|r| ancestry.starts_with(r))
            || in_regions(&map.granted_regions(), ancestry)
    }

    #[test]
    fn grants_are_inherited_below() {
        let map = AccessMap::new(vec![], vec![(path(&[1]), GrantLevel::Download)]);
        assert_eq!(
            map.folder_facts(Some(&path(&[1, 2, 3]))).grant,
            Some(GrantLevel::Download)
        );
        assert_eq!(map.folder_facts(Some(&path(&[4]))).grant, None);
        assert_eq!(map.folder_facts(None), FolderFacts::default());
    }

    #[test]
    fn the_strongest_applicable_grant_wins() {
        let map = AccessMap::new(
            vec![],
            vec![
                (path(&[1]), GrantLevel::View),
                (path(&[1, 2]), GrantLevel::Edit),
            ],
        );
        assert_eq!(
            map.folder_facts(Some(&path(&[1, 2, 3]))).grant,
            Some(GrantLevel::Edit)
        );
        assert_eq!(
            map.folder_facts(Some(&path(&[1, 5]))).grant,
            Some(GrantLevel::View)
        );
    }

    #[test]
    fn a_restricted_folder_cuts_inheritance_from_above() {
        let map = AccessMap::new(vec![path(&[1, 2])], vec![(path(&[1]), GrantLevel::Manage)]);
        let inside = map.folder_facts(Some(&path(&[1, 2, 3])));
        assert!(inside.restricted);
        assert_eq!(inside.grant, None, "a grant above does not open it");
        assert!(!map.member_sees(Some(&path(&[1, 2]))));
        assert!(map.member_sees(Some(&path(&[1, 9]))));
        // A grant on the restricted folder itself, or below, opens it.
        let map = AccessMap::new(vec![path(&[1, 2])], vec![(path(&[1, 2]), GrantLevel::View)]);
        assert_eq!(
            map.folder_facts(Some(&path(&[1, 2, 3]))).grant,
            Some(GrantLevel::View)
        );
        let map = AccessMap::new(
            vec![path(&[1, 2])],
            vec![(path(&[1, 2, 3]), GrantLevel::View)],
        );
        assert!(map.member_sees(Some(&path(&[1, 2, 3, 4]))));
        assert!(!map.member_sees(Some(&path(&[1, 2]))));
        assert!(!map.member_sees(Some(&path(&[1, 2, 5]))));
    }

    #[test]
    fn nested_restrictions_cut_again() {
        let map = AccessMap::new(
            vec![path(&[1]), path(&[1, 2])],
            vec![(path(&[1]), GrantLevel::View)],
        );
        assert!(map.member_sees(Some(&path(&[1, 3]))));
        assert!(!map.member_sees(Some(&path(&[1, 2, 3]))));
    }

    #[test]
    fn asset_facts_carry_the_window() {
        let now = chrono::Utc::now();
        let asset = asset::Model {
            id: Uuid::nil(),
            folder_id: None,
            title: "t".into(),
            description: String::new(),
            current_version_id: None,
            created_by: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            deleted_by: None,
            access_mode: AccessMode::Public,
            access_starts_at: Some(now),
            access_ends_at: None,
            awaiting_moderation: true,
        };
        let facts = AccessMap::default().asset_facts(None, &asset);
        assert!(facts.awaiting_moderation);
        assert_eq!(facts.access, AccessMode::Public);
        assert_eq!(facts.starts_at, Some(now));
        assert!(!facts.restricted);
        assert_eq!(facts.grant, None);
    }

    /// The SQL regions and the per-folder facts agree on every folder of
    /// random trees with random restrictions and grants.
    #[test]
    fn regions_agree_with_facts() {
        // xorshift: deterministic, no dependency.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let levels = [
            GrantLevel::View,
            GrantLevel::Download,
            GrantLevel::Edit,
            GrantLevel::Manage,
        ];
        for _ in 0..2000 {
            // A tree of 12 folders; each one's parent comes before it (or is the root).
            let mut ancestry: Vec<String> = Vec::new();
            for i in 0..12u64 {
                let parent = match next(i + 1) {
                    0 => "/".to_owned(),
                    p => ancestry[(p - 1) as usize].clone(),
                };
                ancestry.push(format!("{parent}{}/", Uuid::from_u128(u128::from(i) + 1)));
            }
            let restricted = ancestry.iter().filter(|_| next(4) == 0).cloned().collect();
            let mut grants = Vec::new();
            for a in &ancestry {
                if next(3) == 0 {
                    grants.push((a.clone(), levels[next(4) as usize]));
                }
            }
            let map = AccessMap::new(restricted, grants);
            let regions = map.granted_regions();
            for a in &ancestry {
                assert_eq!(map.granted(Some(a)), in_regions(&regions, a), "{map:?} {a}");
                assert_eq!(
                    map.member_sees(Some(a)),
                    member_filter(&map, a),
                    "{map:?} {a}"
                );
            }
        }
    }
}
