//! sea-orm entities: one module per table. These are storage rows, never API
//! types: the GraphQL layer defines its own output types.

pub mod access_grant;
pub mod asset;
pub mod asset_focal_point;
pub mod asset_license;
pub mod asset_search;
pub mod asset_tag;
pub mod asset_tag_suppression;
pub mod asset_takedown;
pub mod asset_version;
pub mod audit_chain_head;
pub mod audit_event;
pub mod blob;
pub mod derivative;
pub mod derivative_profile;
pub mod folder;
pub mod job_lease;
pub mod license;
pub mod moderation_blocklist;
pub mod ownership_profile;
pub mod partner_org;
pub mod rendition;
pub mod retag_run;
pub mod session;
pub mod share_link;
pub mod share_link_asset;
pub mod share_visit;
pub mod smart_folder;
pub mod upload_preset;
pub mod usage_daily;
pub mod usage_monthly;
pub mod user;
pub mod watermark;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
