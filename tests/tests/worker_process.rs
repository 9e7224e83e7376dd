//! A separate `vitrine worker` process against Redis: it processes what the
//! API enqueues, and when it is killed with SIGKILL mid-job, the job
//! completes after a restart with nothing duplicated.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use vitrine_tests::vitrine_api::config::StorageConfig;
use vitrine_tests::vitrine_entity::ProcessingState;
use vitrine_tests::vitrine_entity::entities::asset_version;
use vitrine_tests::{
    ChildGuard as Worker, TestApp, UploadFile, spawn_app, uses_redis, vitrine_binary,
};

fn spawn_worker(app: &TestApp, binary: &Path) -> Worker {
    let config = &app.config;
    let mut command = Command::new(binary);
    command
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VITRINE_DATABASE_URL", config.database_url.expose())
        .env(
            "VITRINE_REDIS_URL",
            config.redis_url.as_ref().unwrap().expose(),
        )
        .env("VITRINE_REDIS_PREFIX", &config.redis_prefix)
        .env("VITRINE_DATA_DIR", config.data_dir.join("worker"))
        .env("VITRINE_SECRET", config.secret.as_ref().unwrap().expose())
        // Long: only the restarted worker's reclaim can recover in time.
        .env("VITRINE_PROCESSING_LEASE", "10m")
        .env("VITRINE_PROCESSING_CONCURRENCY", "1")
        .env("VITRINE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    match &config.storage {
        StorageConfig::Local(path) => {
            command.env("VITRINE_STORAGE_URL", path);
        }
        StorageConfig::S3 {
            bucket,
            prefix,
            endpoint,
            region,
            access_key_id,
            secret_access_key,
            ..
        } => {
            command
                .env("VITRINE_STORAGE_URL", format!("s3://{bucket}/{prefix}"))
                .env("VITRINE_S3_ENDPOINT", endpoint)
                .env("VITRINE_S3_REGION", region)
                .env("VITRINE_S3_ACCESS_KEY_ID", access_key_id)
                .env("VITRINE_S3_SECRET_ACCESS_KEY", secret_access_key.expose());
        }
    }
    Worker::new(command.spawn().expect("the worker starts"))
}

async fn count_in(app: &TestApp, state: ProcessingState) -> u64 {
    asset_version::Entity::find()
        .filter(asset_version::Column::ProcessingState.eq(state))
        .count(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_separate_worker_process_survives_sigkill_mid_job() {
    if !uses_redis() {
        eprintln!(
            "skipped: needs VITRINE_TEST_REDIS_URL (runs in the PostgreSQL + Redis pass of CI)"
        );
        return;
    }
    let t0 = std::time::Instant::now();
    let binary = vitrine_binary();
    eprintln!("binary ready after {:?}", t0.elapsed());
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let files = [
        UploadFile::fixture("garden.jpg"),
        UploadFile::fixture("yellow-flower.jpg"),
        UploadFile::fixture("coffee.png"),
        UploadFile::fixture("storm-orient6-gps.jpg"),
        UploadFile::fixture("chelsea.png"),
        UploadFile::fixture("kite-orient8-gps.jpg"),
    ];
    for file in &files {
        app.upload_asset(&admin, file, json!({})).await;
    }
    // The API process runs no workers with Redis: nothing moves yet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count_in(&app, ProcessingState::Pending).await,
        files.len() as u64
    );

    let mut worker = spawn_worker(&app, &binary);
    // Kill it the moment it holds a job.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while count_in(&app, ProcessingState::Processing).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never took a job"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!("killing after {:?}", t0.elapsed());
    worker.kill9();
    let ready_before = count_in(&app, ProcessingState::Ready).await;
    assert!(
        ready_before < files.len() as u64,
        "everything finished before the kill"
    );
    let interrupted = count_in(&app, ProcessingState::Processing).await;
    assert!(interrupted >= 1, "no job was in flight at the kill");

    // Restarted at once, the worker reclaims what its dead predecessor held
    // (it knows: it takes over its directory's lock), without waiting for
    // the lease: everything is READY within 30 s.
    let restarted = std::time::Instant::now();
    let worker = spawn_worker(&app, &binary);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count_in(&app, ProcessingState::Ready).await < files.len() as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all versions were processed within 30 s of the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("all READY {:?} after the restart", restarted.elapsed());
    eprintln!("all processed after {:?}", t0.elapsed());
    // Nothing duplicated: three renditions per version, and the interrupted
    // version ran twice.
    assert_eq!(app.count_rows("renditions").await, 3 * files.len() as i64);
    let retried = asset_version::Entity::find()
        .filter(asset_version::Column::ProcessingAttempts.gte(2))
        .count(app.db())
        .await
        .unwrap();
    assert!(retried >= 1);
    assert_eq!(count_in(&app, ProcessingState::Failed).await, 0);

    // SIGTERM: a graceful stop.
    let pid = worker.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let mut worker = worker;
    let stopped = tokio::task::spawn_blocking(move || {
        let status = worker.0.wait();
        drop(worker);
        status
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        stopped.success(),
        "the worker did not stop cleanly: {stopped:?}"
    );
    app.finish().await;
}
