//! Search: an asset description; where each tag came from (typed by a
//! person, or added by the worker from the file, its colours or a rule) and
//! the automatic tags people removed (never added back); and the search
//! document of each asset — its analysed text in four weighted fields (the
//! last one members-only) and the values search filters and facets read —
//! indexed by the database's
//! own full-text engine: a generated `tsvector` under a GIN index on
//! PostgreSQL, an external-content FTS5 table kept in step by triggers on
//! SQLite.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
    Description,
}

#[derive(DeriveIden)]
enum AssetTags {
    Table,
    Source,
}

#[derive(DeriveIden)]
enum AssetTagSuppressions {
    Table,
    AssetId,
    Tag,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AssetSearch {
    Table,
    DocId,
    AssetId,
    TitleTerms,
    TagTerms,
    TagList,
    BodyTerms,
    InternalTerms,
    Orientation,
    Width,
    Height,
    Megapixels,
    CameraMake,
    CameraModel,
    Lens,
    HasGps,
    CapturedAt,
    UpdatedAt,
}

const PG_TSV: &str = "ALTER TABLE asset_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS (\
    setweight(to_tsvector('simple', title_terms), 'A') || \
    setweight(to_tsvector('simple', tag_terms), 'B') || \
    setweight(to_tsvector('simple', body_terms), 'C') || \
    setweight(to_tsvector('simple', internal_terms), 'D')) STORED";

const SQLITE_FTS: [&str; 4] = [
    "CREATE VIRTUAL TABLE asset_fts USING fts5(title_terms, tag_terms, body_terms, internal_terms, \
     content='asset_search', content_rowid='doc_id', \
     tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER asset_search_ai AFTER INSERT ON asset_search BEGIN \
     INSERT INTO asset_fts(rowid, title_terms, tag_terms, body_terms, internal_terms) \
     VALUES (new.doc_id, new.title_terms, new.tag_terms, new.body_terms, new.internal_terms); END",
    "CREATE TRIGGER asset_search_ad AFTER DELETE ON asset_search BEGIN \
     INSERT INTO asset_fts(asset_fts, rowid, title_terms, tag_terms, body_terms, internal_terms) \
     VALUES ('delete', old.doc_id, old.title_terms, old.tag_terms, old.body_terms, old.internal_terms); END",
    "CREATE TRIGGER asset_search_au AFTER UPDATE ON asset_search BEGIN \
     INSERT INTO asset_fts(asset_fts, rowid, title_terms, tag_terms, body_terms, internal_terms) \
     VALUES ('delete', old.doc_id, old.title_terms, old.tag_terms, old.body_terms, old.internal_terms); \
     INSERT INTO asset_fts(rowid, title_terms, tag_terms, body_terms, internal_terms) \
     VALUES (new.doc_id, new.title_terms, new.tag_terms, new.body_terms, new.internal_terms); END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .add_column(text(Assets::Description).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AssetTags::Table)
                    .add_column(string_len(AssetTags::Source, 16).default("MANUAL"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssetTagSuppressions::Table)
                    .col(uuid(AssetTagSuppressions::AssetId))
                    .col(string_len(AssetTagSuppressions::Tag, 64))
                    .col(timestamp_with_time_zone(AssetTagSuppressions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(AssetTagSuppressions::AssetId)
                            .col(AssetTagSuppressions::Tag),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_asset_tag_suppressions_asset")
                            .from(AssetTagSuppressions::Table, AssetTagSuppressions::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssetSearch::Table)
                    .col(
                        big_integer(AssetSearch::DocId)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(uuid_uniq(AssetSearch::AssetId))
                    .col(text(AssetSearch::TitleTerms).default(""))
                    .col(text(AssetSearch::TagTerms).default(""))
                    // The tags as a JSON array: the tag facet counts them
                    // without joining asset_tags.
                    .col(text(AssetSearch::TagList).default("[]"))
                    .col(text(AssetSearch::BodyTerms).default(""))
                    .col(text(AssetSearch::InternalTerms).default(""))
                    .col(string_len_null(AssetSearch::Orientation, 16))
                    .col(integer_null(AssetSearch::Width))
                    .col(integer_null(AssetSearch::Height))
                    .col(double_null(AssetSearch::Megapixels))
                    .col(string_len_null(AssetSearch::CameraMake, 128))
                    .col(string_len_null(AssetSearch::CameraModel, 128))
                    .col(string_len_null(AssetSearch::Lens, 128))
                    .col(boolean(AssetSearch::HasGps).default(false))
                    .col(timestamp_with_time_zone_null(AssetSearch::CapturedAt))
                    .col(timestamp_with_time_zone(AssetSearch::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_asset_search_asset")
                            .from(AssetSearch::Table, AssetSearch::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_asset_search_camera", AssetSearch::CameraModel),
            ("idx_asset_search_megapixels", AssetSearch::Megapixels),
            ("idx_asset_search_captured", AssetSearch::CapturedAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AssetSearch::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(PG_TSV).await?;
                db.execute_unprepared(
                    "CREATE INDEX idx_asset_search_tsv ON asset_search USING GIN (tsv)",
                )
                .await?;
            }
            _ => {
                for sql in SQLITE_FTS {
                    db.execute_unprepared(sql).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DatabaseBackend::Postgres {
            for sql in [
                "DROP TRIGGER IF EXISTS asset_search_ai",
                "DROP TRIGGER IF EXISTS asset_search_ad",
                "DROP TRIGGER IF EXISTS asset_search_au",
                "DROP TABLE IF EXISTS asset_fts",
            ] {
                db.execute_unprepared(sql).await?;
            }
        }
        manager
            .drop_table(Table::drop().table(AssetSearch::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AssetTagSuppressions::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AssetTags::Table)
                    .drop_column(AssetTags::Source)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .drop_column(Assets::Description)
                    .to_owned(),
            )
            .await
    }
}
