//! Data loaders: one query per batch of ids instead of one per list item.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;
use vitrine_entity::entities::partner_org;

use crate::services::partners;

pub struct PartnerOrgLoader {
    db: DatabaseConnection,
}

impl PartnerOrgLoader {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl Loader<Uuid> for PartnerOrgLoader {
    type Value = partner_org::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        partners::load_many(&self.db, keys).await.map_err(Arc::new)
    }
}
