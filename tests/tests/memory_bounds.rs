//! Memory is bounded per process, not per request: many parallel downloads
//! of a large original and several huge images decoded at once stay within
//! a measured bound (the peak resident memory of the process running the
//! server, `VmHWM`, reset before the load).

use std::time::Duration;

use serde_json::json;
use vitrine_tests::images::noisy_jpeg;
use vitrine_tests::{UploadFile, peak_rss_bytes, reset_peak_rss, rss_bytes, spawn_with};

const MIB: u64 = 1 << 20;

/// Reads a response to its end without keeping it: (length, SHA-256).
async fn drain(mut response: reqwest::Response) -> (u64, String) {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = response.chunk().await.unwrap() {
        len += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (
        len,
        vitrine_tests::vitrine_entity::audit_chain::hex(&hasher.finalize()),
    )
}

#[tokio::test]
async fn fifty_parallel_downloads_of_a_large_original_hold_buffers_not_copies() {
    let app = spawn_with(|env| {
        // Renditions may be cached, originals never fit.
        env.insert("VITRINE_DELIVERY_CACHE_BYTES".into(), "16MiB".into());
    })
    .await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let original = noisy_jpeg(2200, 2000, 7);
    let size = original.len() as u64;
    assert!(size > 15 * MIB, "{size}");
    let asset = app
        .upload_asset(
            &admin,
            &UploadFile::new("large.jpg", "image/jpeg", original),
            json!({}),
        )
        .await;
    assert!(app.wait_until_processed(Duration::from_secs(120)).await);
    let id = asset["id"].as_str().unwrap();
    let url = app
        .delivery_url(&admin, id, "ORIGINAL", None)
        .await
        .unwrap();
    // The first download makes the stamped copy (once).
    let (len, sha) = drain(app.client.get(&url).send().await.unwrap()).await;
    assert!(len > 15 * MIB);

    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_bytes();
    reset_peak_rss();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let client = app.client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let response = client.get(&url).send().await.unwrap();
                assert_eq!(response.status(), 200);
                drain(response).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), (len, sha.clone()));
    }
    let grew = peak_rss_bytes().saturating_sub(before);
    eprintln!(
        "50 parallel downloads of a {} MiB original: peak RSS +{} MiB",
        len / MIB,
        grew / MIB
    );
    // Holding the file per download would be 50 × 2 × 16 MiB; buffers are
    // a few hundred KiB each.
    assert!(grew < 96 * MIB, "the peak grew by {} MiB", grew / MIB);
    // The range of a stamped copy is the range of what a whole download gets.
    let part = app
        .client
        .get(&url)
        .header("range", format!("bytes={}-", len - 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(drain(part).await.0, 1000);
    app.finish().await;
}
