//! Recovery after a crash takes seconds, not a lease: the real `vitrine
//! serve` (embedded default: SQLite, embedded queue, in-process workers)
//! killed with SIGKILL mid-processing and mid-upload, then restarted,
//! finishes every rendition within 30 s and removes the partial upload at
//! start-up. (With PostgreSQL + Redis, `worker_process` kills a separate
//! `vitrine worker` the same way.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{
    ColumnTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use vitrine_tests::images::noisy_jpeg;
use vitrine_tests::vitrine_entity::ProcessingState;
use vitrine_tests::vitrine_entity::entities::asset_version;
use vitrine_tests::{ChildGuard, PASSWORD, UploadFile, upload_with, uses_redis, vitrine_binary};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `vitrine <args>` with the test's data directory and address.
fn vitrine(binary: &Path, data: &Path, port: u16) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VITRINE_DATA_DIR", data)
        .env("VITRINE_BIND", format!("127.0.0.1:{port}"))
        .env(
            "VITRINE_LOG",
            std::env::var("VITRINE_TEST_SERVE_LOG").unwrap_or_else(|_| "warn".into()),
        )
        // Long: only the restart's reclaim can recover in time.
        .env("VITRINE_PROCESSING_LEASE", "10m")
        .env("VITRINE_PROCESSING_CONCURRENCY", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

async fn serve(binary: &Path, data: &Path, port: u16) -> ChildGuard {
    let child = ChildGuard::new(
        vitrine(binary, data, port)
            .arg("serve")
            .spawn()
            .expect("serve starts"),
    );
    let url = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(&url).await.is_err() {
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

async fn count_in(db: &DatabaseConnection, state: ProcessingState) -> u64 {
    asset_version::Entity::find()
        .filter(asset_version::Column::ProcessingState.eq(state))
        .count(db)
        .await
        .unwrap()
}

/// The staging directories of uploads under `<data>/tmp`.
fn staging_dirs(data: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data.join("tmp"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_embedded_server_recovers_within_seconds_of_a_restart_after_sigkill() {
    if uses_redis() || std::env::var("VITRINE_TEST_DATABASE_URL").is_ok() {
        eprintln!("skipped: the embedded default (runs in the SQLite pass of CI)");
        return;
    }
    let binary = vitrine_binary();
    let data = std::env::temp_dir().join(format!("vitrine-recovery-{}", uuid::Uuid::now_v7()));
    let port = free_port();
    // A fresh directory: create the database first (`admin` never does).
    let migrated = vitrine(&binary, &data, port)
        .arg("migrate")
        .status()
        .unwrap();
    assert!(migrated.success(), "migrate");
    let mut create = vitrine(&binary, &data, port)
        .args(["admin", "create-user", "--email", "admin@example.com"])
        .args(["--role", "ADMIN", "--name", "Admin"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(create.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(create.wait().unwrap().success(), "admin create-user");

    let mut server = serve(&binary, &data, port).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let body: Value = client
        .post(format!("{base}/graphql"))
        .json(&json!({
            "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
            "variables": { "e": "admin@example.com", "p": PASSWORD },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["data"]["login"]["token"].as_str().unwrap().to_owned();
    let db = Database::connect(format!(
        "sqlite://{}?mode=ro",
        data.join("vitrine.sqlite").display()
    ))
    .await
    .unwrap();

    let mut files = vec![UploadFile::new(
        "large.jpg",
        "image/jpeg",
        noisy_jpeg(2000, 1500, 3),
    )];
    for name in [
        "garden.jpg",
        "yellow-flower.jpg",
        "coffee.png",
        "chelsea.png",
    ] {
        files.push(UploadFile::fixture(name));
    }
    let upload = "mutation($file: Upload!) { uploadAsset(file: $file) { id } }";
    for file in &files {
        let response = upload_with(&client, &base, Some(&token), upload, json!({}), file).await;
        let body: Value = response.json().await.unwrap();
        assert!(body["errors"].is_null(), "{body}");
    }
    // An upload cut off mid-body: its first half is staged when the crash comes.
    let partial = noisy_jpeg(1500, 1500, 9);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let boundary = "vitrine-recovery-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"cut.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
        json!({ "query": upload, "variables": { "file": null } }),
        json!({ "0": ["variables.file"] }),
    );
    let length = head.len() + partial.len() + boundary.len() + 8;
    stream
        .write_all(
            format!(
                "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n{head}"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stream
        .write_all(&partial[..partial.len() / 2])
        .await
        .unwrap();
    stream.flush().await.unwrap();

    // Kill the server the moment it holds a version, with the upload staged.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let staged = staging_dirs(&data)
            .iter()
            .any(|d| std::fs::read_dir(d).map(|e| e.count() > 1).unwrap_or(false));
        if staged && count_in(&db, ProcessingState::Processing).await > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no version in flight with a staged upload"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill9();
    drop(stream);
    let interrupted = count_in(&db, ProcessingState::Processing).await;
    assert!(interrupted >= 1, "nothing was in flight at the kill");
    let before = staging_dirs(&data);
    assert_eq!(before.len(), 1);

    let restarted = Instant::now();
    let server = serve(&binary, &data, port).await;
    // The dead process's staging directory, with its partial upload, is gone.
    let after = staging_dirs(&data);
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(!before[0].exists(), "the partial upload was left behind");
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_in(&db, ProcessingState::Ready).await < files.len() as u64 {
        assert!(
            Instant::now() < deadline,
            "not every version was READY within 30 s of the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        if std::env::var("VITRINE_TEST_TRACE").is_ok() {
            eprintln!(
                "{:?}: {} ready",
                restarted.elapsed(),
                count_in(&db, ProcessingState::Ready).await
            );
        }
    }
    eprintln!(
        "{interrupted} interrupted; all {} READY {:?} after the restart",
        files.len(),
        restarted.elapsed()
    );
    assert_eq!(count_in(&db, ProcessingState::Failed).await, 0);
    db.close().await.ok();
    drop(server);
    std::fs::remove_dir_all(&data).ok();
}
