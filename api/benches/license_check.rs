//! What the license check adds to a delivery.
//!
//! Every `/r/` request decides again with the policy; partners' and visitors'
//! decisions (and URLs declaring a use) include the license check, a pure
//! function over the asset's licenses held by the decision cache. When the
//! cache was invalidated (any write moves the access epoch), the decision's
//! inputs are read again, and the licenses are one more read.
//!
//! ```sh
//! cargo bench -p vitrine-api --bench license_check                 # SQLite
//! VITRINE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p vitrine-api --bench license_check               # and PostgreSQL
//! ```

// A benchmark harness: a failed setup step should stop it loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait};
use uuid::Uuid;
use vitrine_entity::entities::{asset, asset_license, license};
use vitrine_entity::license::{Channel, Terms, Usage};
use vitrine_entity::policy::{Action, Actor, AssetFacts, Licensing, Resource, authorize};
use vitrine_entity::{AccessMode, GrantLevel};

const ASSETS: usize = 50_000;
const LICENSES: usize = 10_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<58} p50 {:>9.3} µs   p99 {:>9.3} µs",
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );
}

/// Times `f` in batches of `per` calls; each sample is one call's mean.
fn time_pure(name: &str, per: u32, mut f: impl FnMut()) {
    let mut samples = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let start = Instant::now();
        for _ in 0..per {
            f();
        }
        samples.push(start.elapsed() / per);
    }
    report(name, samples);
}

fn terms(days_left: i64, channels: &[Channel], territories: &[&str]) -> Terms {
    let now = Utc::now();
    Terms {
        channels: channels.iter().copied().collect(),
        territories: territories.iter().map(|t| (*t).to_owned()).collect(),
        starts_at: now - chrono::Duration::days(300),
        ends_at: now + chrono::Duration::days(days_left),
    }
}

fn pure() {
    let now = Utc::now();
    let partner = Actor::Partner {
        user_id: Uuid::now_v7(),
        org_id: Uuid::now_v7(),
        org_allowlisted: true,
        scope: vitrine_entity::policy::KeyScope::FULL,
    };
    let base = AssetFacts {
        access: AccessMode::Public,
        grant: Some(GrantLevel::Download),
        ..AssetFacts::default()
    };
    let unchecked = Resource::Asset(AssetFacts {
        licensing: Some(Licensing {
            unlicensed_allowed: true,
            ..Licensing::default()
        }),
        ..base.clone()
    });
    let licenses = vec![
        terms(-30, &[Channel::Print], &["FR"]),
        terms(
            10,
            &[Channel::Ecommerce, Channel::Social],
            &["FR", "BE", "DE"],
        ),
        terms(200, &[Channel::Marketplace], &["WORLD"]),
    ];
    let checked = |usage: Usage| {
        Resource::Asset(AssetFacts {
            licensing: Some(Licensing {
                licenses: licenses.clone(),
                unlicensed_allowed: false,
                usage,
            }),
            ..base.clone()
        })
    };
    let any_use = checked(Usage::default());
    let marketplace_de = checked(Usage {
        channel: Some(Channel::Marketplace),
        territory: Some("DE".into()),
    });
    println!("-- per request (decision cache hit): the policy decision");
    time_pure("decision, no license to check", 1000, || {
        black_box(authorize(
            &partner,
            Action::ViewPreview,
            black_box(&unchecked),
            now,
        ))
        .ok();
    });
    time_pure("decision with 3 licenses (any use)", 1000, || {
        black_box(authorize(
            &partner,
            Action::ViewPreview,
            black_box(&any_use),
            now,
        ))
        .ok();
    });
    time_pure("decision with 3 licenses (MARKETPLACE, DE)", 1000, || {
        black_box(authorize(
            &partner,
            Action::ViewPreview,
            black_box(&marketplace_de),
            now,
        ))
        .ok();
    });
}

async fn seed(db: &DatabaseConnection) -> Vec<Uuid> {
    let now = Utc::now();
    let asset_ids: Vec<Uuid> = (0..ASSETS).map(|_| Uuid::now_v7()).collect();
    let license_ids: Vec<Uuid> = (0..LICENSES).map(|_| Uuid::now_v7()).collect();
    for chunk in asset_ids.chunks(1000) {
        asset::Entity::insert_many(chunk.iter().enumerate().map(|(i, id)| asset::ActiveModel {
            id: Set(*id),
            folder_id: Set(None),
            title: Set(format!("Asset {i}")),
            description: Set(String::new()),
            current_version_id: Set(None),
            created_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
            deleted_by: Set(None),
            access_mode: Set(AccessMode::Public),
            access_starts_at: Set(None),
            access_ends_at: Set(None),
            awaiting_moderation: Set(false),
        }))
        .exec_without_returning(db)
        .await
        .expect("assets");
    }
    for chunk in license_ids.chunks(1000) {
        license::Entity::insert_many(chunk.iter().enumerate().map(|(i, id)| {
            license::ActiveModel {
                id: Set(*id),
                name: Set(format!("License {i}")),
                licensor: Set("Studio".into()),
                reference: Set(None),
                channels: Set("ECOMMERCE,SOCIAL".into()),
                territories: Set("BE,DE,FR".into()),
                starts_at: Set(now - chrono::Duration::days(100)),
                ends_at: Set(now + chrono::Duration::days(100 + i as i64 % 300)),
                notes: Set(None),
                created_by: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                expiry_processed_at: Set(None),
                expiring_notice_for: Set(None),
            }
        }))
        .exec_without_returning(db)
        .await
        .expect("licenses");
    }
    // Two licenses per asset.
    let pairs: Vec<(Uuid, Uuid)> = asset_ids
        .iter()
        .enumerate()
        .flat_map(|(i, a)| {
            [
                (license_ids[i % LICENSES], *a),
                (license_ids[(i * 7 + 1) % LICENSES], *a),
            ]
        })
        .collect();
    for chunk in pairs.chunks(1000) {
        asset_license::Entity::insert_many(chunk.iter().map(|(l, a)| asset_license::ActiveModel {
            license_id: Set(*l),
            asset_id: Set(*a),
            attached_by: Set(None),
            attached_at: Set(now),
        }))
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await
        .expect("attachments");
    }
    let _ = db.execute_unprepared("ANALYZE").await;
    asset_ids
}

async fn reads(name: &str, url: &str, data_dir: &std::path::Path) {
    let env: HashMap<String, String> = [
        ("VITRINE_DATABASE_URL".to_owned(), url.to_owned()),
        (
            "VITRINE_DATA_DIR".to_owned(),
            data_dir.to_string_lossy().into_owned(),
        ),
    ]
    .into();
    let config =
        vitrine_api::config::Config::from_sources(&env, &Default::default()).expect("config");
    let db = vitrine_api::db::connect(&config).await.expect("connect");
    vitrine_api::db::migrate(&db).await.expect("migrate");
    let assets = seed(&db).await;
    let now = Utc::now();
    let mut samples = Vec::with_capacity(5000);
    for i in 0..5000 {
        let id = assets[(i * 7919) % assets.len()];
        let start = Instant::now();
        let found = vitrine_api::services::licenses::of_assets(&db, &[id])
            .await
            .expect("read");
        let licensing = vitrine_api::services::access::licensing_of(
            found.into_values().next().unwrap_or_default(),
            false,
            Usage::default(),
        );
        black_box(licensing.permits(now));
        samples.push(start.elapsed());
    }
    println!("-- per decision-cache miss ({name}, {ASSETS} assets, {LICENSES} licenses)");
    report("read an asset's licenses + check", samples);
}

fn main() {
    pure();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    runtime.block_on(reads("SQLite", &sqlite, dir.path()));
    if let Ok(url) = std::env::var("VITRINE_BENCH_DATABASE_URL") {
        runtime.block_on(async {
            // A database of our own on the given server.
            let admin = sea_orm::Database::connect(&url).await.expect("connect");
            for sql in [
                "DROP DATABASE IF EXISTS bench_license_check",
                "CREATE DATABASE bench_license_check",
            ] {
                admin.execute_unprepared(sql).await.expect("database");
            }
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
            reads(
                "PostgreSQL",
                &format!("{base}/bench_license_check"),
                dir.path(),
            )
            .await;
            admin
                .execute_unprepared("DROP DATABASE IF EXISTS bench_license_check WITH (FORCE)")
                .await
                .expect("drop database");
        });
    }
}
