//! The search document carries a copy of what search filters, sorts and
//! counts by most: whether the asset is live (not in the trash), its folder,
//! its creation time, its current version's stage and moderation state,
//! and whether any license is attached to it.
//! A search then reads one table for its matches, filters and facets, and
//! looks up `assets` only for the page it returns (or where the asker's
//! visible scope needs it: members' and partners' scopes are always decided
//! on `assets` itself).
//!
//! The copies are kept by the database, not by the application: triggers on
//! `assets`, `asset_versions` and `asset_licenses` rewrite them in the same statement that
//! changes the original, and a new document takes them from the asset when
//! it is inserted. No code path can forget them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssetSearch {
    Table,
    Live,
    FolderId,
    Stage,
    ModerationState,
    CreatedAt,
    Licensed,
}

/// What the copies are, from the asset `a` (and its current version).
const PG_FILL: &str = "CREATE OR REPLACE FUNCTION vitrine_search_fill() RETURNS trigger AS $$ \
BEGIN \
  SELECT a.deleted_at IS NULL, a.folder_id, a.created_at, v.stage, v.moderation_state, \
    EXISTS (SELECT 1 FROM asset_licenses al WHERE al.asset_id = a.id) \
    INTO NEW.live, NEW.folder_id, NEW.created_at, NEW.stage, NEW.moderation_state, NEW.licensed \
    FROM assets a LEFT JOIN asset_versions v ON v.id = a.current_version_id \
    WHERE a.id = NEW.asset_id; \
  RETURN NEW; \
END $$ LANGUAGE plpgsql";

const PG_FROM_ASSET: &str = "CREATE OR REPLACE FUNCTION vitrine_search_from_asset() RETURNS trigger AS $$ \
BEGIN \
  UPDATE asset_search s SET live = NEW.deleted_at IS NULL, folder_id = NEW.folder_id, \
    created_at = NEW.created_at, stage = v.stage, moderation_state = v.moderation_state \
    FROM (SELECT NEW.current_version_id AS id) c LEFT JOIN asset_versions v ON v.id = c.id \
    WHERE s.asset_id = NEW.id; \
  RETURN NULL; \
END $$ LANGUAGE plpgsql";

const PG_FROM_VERSION: &str = "CREATE OR REPLACE FUNCTION vitrine_search_from_version() RETURNS trigger AS $$ \
BEGIN \
  UPDATE asset_search s SET stage = NEW.stage, moderation_state = NEW.moderation_state \
    FROM assets a WHERE a.id = NEW.asset_id AND a.current_version_id = NEW.id \
    AND s.asset_id = a.id; \
  RETURN NULL; \
END $$ LANGUAGE plpgsql";

/// Whether the asset has any license attached (the UNLICENSED filter and
/// facet read it instead of every license link).
const PG_FROM_LICENSE_LINK: &str = "CREATE OR REPLACE FUNCTION vitrine_search_from_license_link() \
RETURNS trigger AS $$ \
BEGIN \
  IF TG_OP <> 'DELETE' THEN \
    UPDATE asset_search SET licensed = TRUE WHERE asset_id = NEW.asset_id AND NOT licensed; \
  END IF; \
  IF TG_OP <> 'INSERT' THEN \
    UPDATE asset_search SET licensed = EXISTS \
      (SELECT 1 FROM asset_licenses al WHERE al.asset_id = OLD.asset_id) \
      WHERE asset_id = OLD.asset_id; \
  END IF; \
  RETURN NULL; \
END $$ LANGUAGE plpgsql";

const PG_TRIGGERS: [&str; 8] = [
    PG_FILL,
    PG_FROM_ASSET,
    PG_FROM_VERSION,
    PG_FROM_LICENSE_LINK,
    "CREATE TRIGGER asset_licenses_search_mirror AFTER INSERT OR UPDATE OR DELETE \
     ON asset_licenses FOR EACH ROW EXECUTE FUNCTION vitrine_search_from_license_link()",
    // On insert, and whenever the application rewrites the document (every
    // rewrite sets updated_at): a document written while its asset changed
    // in another transaction is put right by its next rewrite.
    "CREATE TRIGGER asset_search_fill BEFORE INSERT OR UPDATE OF updated_at ON asset_search \
     FOR EACH ROW EXECUTE FUNCTION vitrine_search_fill()",
    "CREATE TRIGGER assets_search_mirror AFTER UPDATE OF deleted_at, folder_id, current_version_id, created_at \
     ON assets FOR EACH ROW EXECUTE FUNCTION vitrine_search_from_asset()",
    "CREATE TRIGGER asset_versions_search_mirror AFTER UPDATE OF stage, moderation_state \
     ON asset_versions FOR EACH ROW EXECUTE FUNCTION vitrine_search_from_version()",
];

const PG_DROP: [&str; 8] = [
    "DROP TRIGGER IF EXISTS asset_licenses_search_mirror ON asset_licenses",
    "DROP FUNCTION IF EXISTS vitrine_search_from_license_link()",
    "DROP TRIGGER IF EXISTS asset_search_fill ON asset_search",
    "DROP TRIGGER IF EXISTS assets_search_mirror ON assets",
    "DROP TRIGGER IF EXISTS asset_versions_search_mirror ON asset_versions",
    "DROP FUNCTION IF EXISTS vitrine_search_fill()",
    "DROP FUNCTION IF EXISTS vitrine_search_from_asset()",
    "DROP FUNCTION IF EXISTS vitrine_search_from_version()",
];

/// Completes the document `new` from its asset (SQLite).
macro_rules! sqlite_fill {
    () => {
        "UPDATE asset_search SET \
           live = (SELECT a.deleted_at IS NULL FROM assets a WHERE a.id = new.asset_id), \
           folder_id = (SELECT a.folder_id FROM assets a WHERE a.id = new.asset_id), \
           created_at = (SELECT a.created_at FROM assets a WHERE a.id = new.asset_id), \
           stage = (SELECT v.stage FROM assets a JOIN asset_versions v \
                    ON v.id = a.current_version_id WHERE a.id = new.asset_id), \
           moderation_state = (SELECT v.moderation_state FROM assets a JOIN asset_versions v \
                    ON v.id = a.current_version_id WHERE a.id = new.asset_id), \
           licensed = EXISTS (SELECT 1 FROM asset_licenses al WHERE al.asset_id = new.asset_id) \
         WHERE doc_id = new.doc_id;"
    };
}

/// SQLite: a BEFORE trigger cannot change the row, so a new document is
/// completed right after its insert, and again whenever the application
/// rewrites it (every rewrite sets `updated_at`). The full-text index is rebuilt only
/// when the text changes (it was rebuilt on any update before).
const SQLITE_TRIGGERS: [&str; 9] = [
    "DROP TRIGGER IF EXISTS asset_search_au",
    "CREATE TRIGGER asset_search_text_au AFTER UPDATE OF title_terms, tag_terms, body_terms, internal_terms \
     ON asset_search BEGIN \
     INSERT INTO asset_fts(asset_fts, rowid, title_terms, tag_terms, body_terms, internal_terms) \
     VALUES ('delete', old.doc_id, old.title_terms, old.tag_terms, old.body_terms, old.internal_terms); \
     INSERT INTO asset_fts(rowid, title_terms, tag_terms, body_terms, internal_terms) \
     VALUES (new.doc_id, new.title_terms, new.tag_terms, new.body_terms, new.internal_terms); END",
    concat!(
        "CREATE TRIGGER asset_search_fill AFTER INSERT ON asset_search BEGIN ",
        sqlite_fill!(),
        " END"
    ),
    concat!(
        "CREATE TRIGGER asset_search_refill AFTER UPDATE OF updated_at ON asset_search BEGIN ",
        sqlite_fill!(),
        " END"
    ),
    "CREATE TRIGGER assets_search_mirror AFTER UPDATE OF deleted_at, folder_id, current_version_id, created_at \
     ON assets BEGIN \
     UPDATE asset_search SET live = (new.deleted_at IS NULL), folder_id = new.folder_id, \
       created_at = new.created_at, \
       stage = (SELECT v.stage FROM asset_versions v WHERE v.id = new.current_version_id), \
       moderation_state = (SELECT v.moderation_state FROM asset_versions v \
                           WHERE v.id = new.current_version_id) \
     WHERE asset_id = new.id; END",
    "CREATE TRIGGER asset_versions_search_mirror AFTER UPDATE OF stage, moderation_state \
     ON asset_versions BEGIN \
     UPDATE asset_search SET stage = new.stage, moderation_state = new.moderation_state \
     WHERE asset_id = new.asset_id AND EXISTS (SELECT 1 FROM assets a \
       WHERE a.id = new.asset_id AND a.current_version_id = new.id); END",
    "CREATE TRIGGER asset_licenses_search_ai AFTER INSERT ON asset_licenses BEGIN \
     UPDATE asset_search SET licensed = 1 WHERE asset_id = new.asset_id; END",
    "CREATE TRIGGER asset_licenses_search_ad AFTER DELETE ON asset_licenses BEGIN \
     UPDATE asset_search SET licensed = EXISTS (SELECT 1 FROM asset_licenses al \
       WHERE al.asset_id = old.asset_id) WHERE asset_id = old.asset_id; END",
    "CREATE TRIGGER asset_licenses_search_au AFTER UPDATE ON asset_licenses BEGIN \
     UPDATE asset_search SET licensed = EXISTS (SELECT 1 FROM asset_licenses al \
       WHERE al.asset_id = old.asset_id) WHERE asset_id = old.asset_id; \
     UPDATE asset_search SET licensed = 1 WHERE asset_id = new.asset_id; END",
];

const SQLITE_DROP: [&str; 9] = [
    "DROP TRIGGER IF EXISTS asset_licenses_search_ai",
    "DROP TRIGGER IF EXISTS asset_licenses_search_ad",
    "DROP TRIGGER IF EXISTS asset_licenses_search_au",
    "DROP TRIGGER IF EXISTS asset_search_fill",
    "DROP TRIGGER IF EXISTS asset_search_refill",
    "DROP TRIGGER IF EXISTS assets_search_mirror",
    "DROP TRIGGER IF EXISTS asset_versions_search_mirror",
    "DROP TRIGGER IF EXISTS asset_search_text_au",
    "CREATE TRIGGER asset_search_au AFTER UPDATE ON asset_search BEGIN \
     INSERT INTO asset_fts(asset_fts, rowid, title_terms, tag_terms, body_terms, internal_terms) \
     VALUES ('delete', old.doc_id, old.title_terms, old.tag_terms, old.body_terms, old.internal_terms); \
     INSERT INTO asset_fts(rowid, title_terms, tag_terms, body_terms, internal_terms) \
     VALUES (new.doc_id, new.title_terms, new.tag_terms, new.body_terms, new.internal_terms); END",
];

/// The copies of the documents that exist already.
const PG_BACKFILL: &str = "UPDATE asset_search s SET live = a.deleted_at IS NULL, \
    folder_id = a.folder_id, created_at = a.created_at, stage = v.stage, \
    moderation_state = v.moderation_state, \
    licensed = EXISTS (SELECT 1 FROM asset_licenses al WHERE al.asset_id = a.id) \
    FROM assets a LEFT JOIN asset_versions v ON v.id = a.current_version_id \
    WHERE a.id = s.asset_id";

const SQLITE_BACKFILL: &str = "UPDATE asset_search SET \
    live = (SELECT a.deleted_at IS NULL FROM assets a WHERE a.id = asset_search.asset_id), \
    folder_id = (SELECT a.folder_id FROM assets a WHERE a.id = asset_search.asset_id), \
    created_at = (SELECT a.created_at FROM assets a WHERE a.id = asset_search.asset_id), \
    stage = (SELECT v.stage FROM assets a JOIN asset_versions v ON v.id = a.current_version_id \
             WHERE a.id = asset_search.asset_id), \
    moderation_state = (SELECT v.moderation_state FROM assets a \
             JOIN asset_versions v ON v.id = a.current_version_id \
             WHERE a.id = asset_search.asset_id), \
    licensed = EXISTS (SELECT 1 FROM asset_licenses al \
             WHERE al.asset_id = asset_search.asset_id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            boolean(AssetSearch::Live).default(true).to_owned(),
            uuid_null(AssetSearch::FolderId),
            timestamp_with_time_zone_null(AssetSearch::CreatedAt),
            string_len_null(AssetSearch::Stage, 16),
            string_len_null(AssetSearch::ModerationState, 16),
            boolean(AssetSearch::Licensed).default(false).to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(AssetSearch::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        let pg = db.get_database_backend() == DatabaseBackend::Postgres;
        db.execute_unprepared(if pg { PG_BACKFILL } else { SQLITE_BACKFILL })
            .await?;
        let triggers: &[&str] = if pg { &PG_TRIGGERS } else { &SQLITE_TRIGGERS };
        for sql in triggers {
            db.execute_unprepared(sql).await?;
        }
        // The folder facet and filter read the copy.
        manager
            .create_index(
                Index::create()
                    .name("idx_asset_search_folder")
                    .table(AssetSearch::Table)
                    .col(AssetSearch::FolderId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let pg = db.get_database_backend() == DatabaseBackend::Postgres;
        let drops: &[&str] = if pg { &PG_DROP } else { &SQLITE_DROP };
        for sql in drops {
            db.execute_unprepared(sql).await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_asset_search_folder")
                    .table(AssetSearch::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            AssetSearch::Live,
            AssetSearch::FolderId,
            AssetSearch::CreatedAt,
            AssetSearch::Stage,
            AssetSearch::ModerationState,
            AssetSearch::Licensed,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AssetSearch::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
