//! What a query costs, for the complexity limit: every field costs one (a
//! delivery URL two: it is signed and decided), and a list costs what one
//! of its items costs times how many it may hold — the page size asked for
//! (`first`), or what such a list holds at most or typically — multiplied
//! down the tree. One HTTP request has one budget, however many operations
//! it batches ([`super::budget`]).

/// A page size nobody asked for explicitly (the resolvers' default).
const DEFAULT_PAGE: i32 = 50;

/// A page of `first` items (the default when absent), each costing `child`.
pub fn page(first: Option<i32>, child: usize) -> usize {
    let n = usize::try_from(first.unwrap_or(DEFAULT_PAGE).max(1)).unwrap_or(1);
    n.saturating_mul(child).saturating_add(1)
}

/// A list of at most (or typically) `n` items, each costing `child`.
pub fn list(n: usize, child: usize) -> usize {
    n.saturating_mul(child).saturating_add(1)
}

/// Versions an asset typically has (raw, retouched, final, a few restores).
pub const VERSIONS: usize = 10;
/// Licenses attached to one asset.
pub const LICENSES: usize = 10;
/// Renditions of a version (THUMBNAIL, PREVIEW, LOWRES).
pub const RENDITIONS: usize = 3;
/// Grants on one folder.
pub const GRANTS: usize = 20;
/// Accessor types of a usage breakdown.
pub const ACCESSOR_TYPES: usize = 4;
/// Folders under one parent, organisations, share links listed at once.
pub const SHORT_LIST: usize = 50;
/// Rows of a report that the server itself caps (usage rows, license
/// dashboard items): what a report typically holds.
pub const REPORT_ROWS: usize = 100;
/// Assets one `setAccess` may change.
pub const SET_ACCESS: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_multiply_what_their_items_cost() {
        assert_eq!(page(Some(200), 10), 2001);
        assert_eq!(page(None, 10), 501);
        assert_eq!(page(Some(-5), 10), 11);
        assert_eq!(page(Some(i32::MAX), usize::MAX), usize::MAX);
        assert_eq!(list(3, 4), 13);
    }
}
