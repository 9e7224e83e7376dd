//! The blob store's contract, run against the local directory store and
//! against a real S3-compatible server (`VITRINE_TEST_S3_ENDPOINT`, started by
//! `.ci/run`); and the cleanup job that collects what nothing references.

use std::time::Duration;

use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;
use vitrine_tests::vitrine_entity::entities::blob;
use vitrine_tests::{
    S3_TEST_BUCKET, UploadFile, eventually, sha256_hex, spawn_app, uses_redis, vitrine_api,
};
use vitrine_worker::storage::sigv4::Credentials;
use vitrine_worker::storage::{BlobStore, S3Config, original_key};

async fn read_all(store: &BlobStore, key: &str) -> Option<Vec<u8>> {
    let (mut reader, size) = store.open(key).await.unwrap()?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.unwrap();
    assert_eq!(size as usize, bytes.len());
    Some(bytes)
}

/// What every backend must do.
async fn contract(store: BlobStore) {
    store.check().await.unwrap();
    let dir = std::env::temp_dir().join(format!("vitrine-blobs-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let sha = sha256_hex(&bytes);
    let source = dir.join("upload");
    std::fs::write(&source, &bytes).unwrap();
    let key = original_key(&sha);

    assert!(!store.exists(&key).await.unwrap());
    assert!(store.open(&key).await.unwrap().is_none());
    store
        .put_file(&key, &source, &sha, bytes.len() as u64)
        .await
        .unwrap();
    assert!(store.exists(&key).await.unwrap());
    assert_eq!(read_all(&store, &key).await.unwrap(), bytes);
    // Storing the same key again is harmless.
    store
        .put_file(&key, &source, &sha, bytes.len() as u64)
        .await
        .unwrap();
    // The source may go away: the store has its own copy.
    std::fs::remove_file(&source).unwrap();
    assert_eq!(read_all(&store, &key).await.unwrap(), bytes);

    store
        .put_bytes("renditions/x/thumb.jpg", b"small".to_vec())
        .await
        .unwrap();
    let originals = store.list("originals/").await.unwrap();
    assert_eq!(originals.len(), 1);
    assert_eq!(originals[0].key, key);
    assert_eq!(originals[0].size, bytes.len() as u64);
    assert_eq!(store.list("").await.unwrap().len(), 2);

    store.delete(&key).await.unwrap();
    assert!(!store.exists(&key).await.unwrap());
    store.delete(&key).await.unwrap();
    store.delete("renditions/x/thumb.jpg").await.unwrap();
    assert!(store.list("").await.unwrap().is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn local_directory_store() {
    let root = std::env::temp_dir().join(format!("vitrine-store-{}", uuid::Uuid::now_v7()));
    contract(BlobStore::local(&root)).await;
    // Keys cannot escape the store's directory.
    let store = BlobStore::local(&root);
    assert!(store.put_bytes("../escape", b"x".to_vec()).await.is_err());
    std::fs::remove_dir_all(&root).ok();
}

#[tokio::test]
async fn s3_compatible_store() {
    let Ok(endpoint) = std::env::var("VITRINE_TEST_S3_ENDPOINT") else {
        eprintln!("skipped: needs VITRINE_TEST_S3_ENDPOINT (.ci/run starts a local S3 server)");
        return;
    };
    vitrine_tests::ensure_s3_bucket().await;
    let config = |secret: &str| S3Config {
        endpoint: endpoint.clone(),
        region: "us-east-1".into(),
        bucket: S3_TEST_BUCKET.into(),
        prefix: format!("contract-{}/", uuid::Uuid::now_v7().simple()),
        path_style: true,
        credentials: Credentials {
            access_key_id: "testing".into(),
            secret_access_key: secret.into(),
            session_token: None,
        },
    };
    contract(BlobStore::s3(config("testing")).unwrap()).await;
}

#[tokio::test]
async fn the_cleanup_job_collects_unreferenced_originals_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let kept = UploadFile::fixture("chelsea.png");
    app.upload_asset(&admin, &kept, json!({})).await;

    // An upload that crashed after storing its original, before its commit:
    // an object without a row.
    let orphan = b"bytes of an upload that never committed".to_vec();
    let orphan_key = original_key(&sha256_hex(&orphan));
    app.state
        .store
        .put_bytes(&orphan_key, orphan.clone())
        .await
        .unwrap();
    // A claimed original that no version references.
    let unused = b"an original nothing references".to_vec();
    let unused_sha = sha256_hex(&unused);
    app.state
        .store
        .put_bytes(&original_key(&unused_sha), unused)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    blob::ActiveModel {
        sha256: Set(unused_sha.clone()),
        bytes: Set(30),
        media_type: Set("image/png".into()),
        width: Set(1),
        height: Set(1),
        created_at: Set(now),
        last_used_at: Set(now),
    }
    .insert(app.db())
    .await
    .unwrap();
    assert_eq!(app.stored_originals().await.len(), 3);

    let stop = CancellationToken::new();
    if uses_redis() {
        let deps = vitrine_api::app::worker_deps(&app.state);
        let until = stop.clone().cancelled_owned();
        tokio::spawn(async move { vitrine_worker::run_workers(deps, until).await });
    }
    // Within the grace period nothing is touched (an upload may be in flight).
    app.state
        .queue
        .enqueue_collect_garbage_blobs(1)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.stored_originals().await.len(), 3);

    // Two hours later both go; the referenced original stays.
    app.clock.advance(chrono::Duration::hours(2));
    app.state
        .queue
        .enqueue_collect_garbage_blobs(2)
        .await
        .unwrap();
    // An object is deleted inside the transaction that then deletes its row:
    // the job is done when both are gone.
    let collected = eventually(Duration::from_secs(20), || async {
        app.stored_originals().await.len() == 1 && app.count_rows("blobs").await == 1
    })
    .await;
    assert!(collected, "left: {:?}", app.stored_originals().await);
    assert!(app.stored_originals().await[0].ends_with(&sha256_hex(&kept.bytes)));
    assert_eq!(app.count_rows("blobs").await, 1);
    // The job records its event once its work is done: wait for it too.
    let query = "{ auditEvents(filter: { action: BLOBS_COLLECTED }) { edges { node { actorKind details } } } }";
    let recorded = eventually(Duration::from_secs(20), || async {
        let events = app.gql(Some(&admin), query, serde_json::Value::Null).await;
        events["data"]["auditEvents"]["edges"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    })
    .await;
    assert!(recorded, "no BLOBS_COLLECTED event");
    let events = app.gql(Some(&admin), query, serde_json::Value::Null).await;
    let event = &events["data"]["auditEvents"]["edges"][0]["node"];
    assert_eq!(event["actorKind"], "SYSTEM", "{events}");
    assert_eq!(event["details"]["blobs"], 2);
    stop.cancel();
    app.finish().await;
}
