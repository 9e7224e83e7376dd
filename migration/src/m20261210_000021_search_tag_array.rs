//! PostgreSQL: the search document's tags as a `text[]` beside the JSON
//! list, kept by a trigger. The tag facet expands each hit's tags; from the
//! array that is half the cost of parsing the JSON text (about 5 against
//! 10 ms for 3,600 hits with 37,000 tags). SQLite keeps reading the JSON
//! list with `json_each`, which it does natively.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 4] = [
    "ALTER TABLE asset_search ADD COLUMN tag_array text[] NOT NULL DEFAULT '{}'",
    "CREATE OR REPLACE FUNCTION vitrine_search_tag_array() RETURNS trigger AS $$ \
     BEGIN \
       NEW.tag_array := ARRAY(SELECT json_array_elements_text(CAST(NEW.tag_list AS json))); \
       RETURN NEW; \
     END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER asset_search_tag_array BEFORE INSERT OR UPDATE OF tag_list ON asset_search \
     FOR EACH ROW EXECUTE FUNCTION vitrine_search_tag_array()",
    "UPDATE asset_search SET tag_array = ARRAY(SELECT json_array_elements_text(CAST(tag_list AS json)))",
];

const DOWN: [&str; 3] = [
    "DROP TRIGGER IF EXISTS asset_search_tag_array ON asset_search",
    "DROP FUNCTION IF EXISTS vitrine_search_tag_array()",
    "ALTER TABLE asset_search DROP COLUMN IF EXISTS tag_array",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &DOWN).await
    }
}

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}
