//! Memory is bounded per process, not per request: many parallel downloads
//! of a large original and several huge images decoded at once stay within
//! a measured bound (the peak resident memory of the process running the
//! server, `VmHWM`, reset before the load).

use std::time::Duration;

use serde_json::{Value, json};
use vitrine_tests::images::{noisy_jpeg, png16_rgba};
use vitrine_tests::{
    UploadFile, peak_rss_bytes, reset_peak_rss, rss_bytes, spawn_with, upload_with,
};

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

#[tokio::test]
async fn three_huge_sixteen_bit_pngs_at_once_stay_within_the_decode_budget() {
    let budget = 200 * MIB;
    let app = spawn_with(|env| {
        env.insert("VITRINE_DECODE_BUDGET".into(), budget.to_string());
        env.insert("VITRINE_MAX_DECODE_BYTES".into(), budget.to_string());
        env.insert("VITRINE_MAX_UPLOAD_BYTES".into(), "64MiB".into());
    })
    .await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    // 10,000 × 10,000 RGBA at 16 bits a sample: 800 MB of pixels each.
    let started = std::time::Instant::now();
    let first = png16_rgba(10_000, 10_000, "one");
    eprintln!(
        "a {} KiB PNG made in {:?}",
        first.len() >> 10,
        started.elapsed()
    );
    let files: Vec<UploadFile> = ["one", "two", "three"]
        .iter()
        .enumerate()
        .map(|(i, tag)| {
            let bytes = if i == 0 {
                first.clone()
            } else {
                retagged_png(&first, tag)
            };
            UploadFile::new(&format!("{tag}.png"), "image/png", bytes)
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_bytes();
    reset_peak_rss();
    let uploads: Vec<_> = files
        .into_iter()
        .map(|file| {
            let app_base = app.base.clone();
            let client = app.client.clone();
            let token = admin.clone();
            tokio::spawn(async move {
                let query = "mutation($file: Upload!) { uploadAsset(file: $file) { id } }";
                upload_with(&client, &app_base, Some(&token), query, json!({}), &file)
                    .await
                    .json::<Value>()
                    .await
                    .unwrap()
            })
        })
        .collect();
    for upload in uploads {
        let body = upload.await.unwrap();
        assert!(body["errors"].is_null(), "{body}");
    }
    assert!(app.wait_until_processed(Duration::from_secs(300)).await);
    let grew = peak_rss_bytes().saturating_sub(before);
    eprintln!(
        "three 10,000 × 10,000 16-bit PNGs checked and processed at once: peak RSS +{} MiB (budget {} MiB)",
        grew / MIB,
        budget / MIB
    );
    assert!(grew < budget, "the peak grew by {} MiB", grew / MIB);
    // And they were processed: renditions of the full image, shrunk.
    let body = app
        .gql(
            Some(&admin),
            "{ assets(first: 5) { edges { node { currentVersion { width height processing { state } renditions { kind width height } } } } } }",
            Value::Null,
        )
        .await;
    for edge in body["data"]["assets"]["edges"].as_array().unwrap() {
        let version = &edge["node"]["currentVersion"];
        assert_eq!(version["processing"]["state"], "READY", "{body}");
        assert_eq!(version["width"], 10_000);
        let preview = version["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "PREVIEW")
            .unwrap();
        assert_eq!(
            (preview["width"].as_i64(), preview["height"].as_i64()),
            (Some(1024), Some(1024))
        );
    }
    app.finish().await;
}

/// The same PNG with its text chunk saying `tag` (other bytes, same pixels).
fn retagged_png(png: &[u8], tag: &str) -> Vec<u8> {
    let mut out = png[..8].to_vec();
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let end = at + 12 + len;
        if kind == b"tEXt" {
            let data = [b"Comment\0".as_slice(), tag.as_bytes()].concat();
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut crc = crc32fast::Hasher::new();
            crc.update(b"tEXt");
            crc.update(&data);
            out.extend_from_slice(b"tEXt");
            out.extend_from_slice(&data);
            out.extend_from_slice(&crc.finalize().to_be_bytes());
        } else {
            out.extend_from_slice(&png[at..end]);
        }
        at = end;
    }
    out
}
