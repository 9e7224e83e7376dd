//! Database schema migrations.
//!
//! Migrations never import entities: an old migration must keep meaning what it
//! meant when it was written, whatever the entities become later.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_identity_and_audit;
mod m20261126_000002_assets;
mod m20261126_000003_processing;
mod m20261127_000004_access;
mod m20261128_000005_share_links;
mod m20261129_000006_licenses;
mod m20261130_000007_license_enforcement;
mod m20261201_000008_usage_stats;
mod m20261202_000009_bulk_writes;
mod m20261206_000010_download_units;
mod m20261206_000011_processing_heartbeat;
mod m20261207_000012_api_keys;
mod m20261207_000013_webhooks;
mod m20261207_000014_moderation;
mod m20261207_000015_upload_presets;
mod m20261207_000016_moderation_rules;
mod m20261208_000017_search;
mod m20261208_000018_smart_folders;
mod m20261208_000019_smart_folder_links;
mod m20261209_000020_search_mirror;
mod m20261210_000021_search_tag_array;
mod m20261210_000022_derivative_profiles;
mod m20261211_000023_derivatives;
mod m20261212_000024_public_delivery;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_identity_and_audit::Migration),
            Box::new(m20261126_000002_assets::Migration),
            Box::new(m20261126_000003_processing::Migration),
            Box::new(m20261127_000004_access::Migration),
            Box::new(m20261128_000005_share_links::Migration),
            Box::new(m20261129_000006_licenses::Migration),
            Box::new(m20261130_000007_license_enforcement::Migration),
            Box::new(m20261201_000008_usage_stats::Migration),
            Box::new(m20261202_000009_bulk_writes::Migration),
            Box::new(m20261206_000010_download_units::Migration),
            Box::new(m20261206_000011_processing_heartbeat::Migration),
            Box::new(m20261207_000012_api_keys::Migration),
            Box::new(m20261207_000013_webhooks::Migration),
            Box::new(m20261207_000014_moderation::Migration),
            Box::new(m20261207_000015_upload_presets::Migration),
            Box::new(m20261207_000016_moderation_rules::Migration),
            Box::new(m20261208_000017_search::Migration),
            Box::new(m20261208_000018_smart_folders::Migration),
            Box::new(m20261208_000019_smart_folder_links::Migration),
            Box::new(m20261209_000020_search_mirror::Migration),
            Box::new(m20261210_000021_search_tag_array::Migration),
            Box::new(m20261210_000022_derivative_profiles::Migration),
            Box::new(m20261211_000023_derivatives::Migration),
            Box::new(m20261212_000024_public_delivery::Migration),
        ]
    }
}
