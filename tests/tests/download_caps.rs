//! A share link's `maxDownloads` caps the bytes that go out, not requests
//! that look like a first range: no Range header — suffix ranges, several
//! ranges, other units, inverted ranges, whitespace — gets more than
//! `maxDownloads` files' worth out of a link, in parallel or in sequence,
//! and a download resumed with a range costs only its rest.

use serde_json::json;
use vitrine_tests::share::{delivery_urls, link_url, page, published, visitor};
use vitrine_tests::{TestApp, spawn_app};

/// Every Range header that used to get the whole file past the cap.
const TRICKS: [Option<&str>; 10] = [
    None,
    Some("bytes=0-"),
    Some("bytes=-999999999"),
    Some("items=0-1"),
    Some("bytes=1-2,0-"),
    Some("bytes=9-1"),
    Some("bytes= 0-"),
    Some("bytes=0-0,-1"),
    Some("bytes=1-"),
    Some("BYTES=0-"),
];

/// A capped DOWNLOAD link on one processed, published asset; the URL of its
/// page's download button and the link id.
async fn capped_link(app: &TestApp, admin: &str, max: i64) -> (String, String) {
    let (_, ids) = published(app, admin, 1).await;
    let (url, link_id) = link_url(
        app,
        admin,
        json!({ "assetIds": ids, "scope": "DOWNLOAD", "maxDownloads": max }),
    )
    .await;
    let html = page(&url).await;
    let downloads = delivery_urls(app, &html, "class=\"download\" href");
    assert_eq!(downloads.len(), 1, "{html}");
    (downloads[0].clone(), link_id)
}

/// Status and body of a GET with an optional Range header.
async fn get(url: &str, range: Option<&str>) -> (u16, Vec<u8>, String) {
    let mut request = visitor().get(url);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_range = response
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        response.bytes().await.unwrap().to_vec(),
        content_range,
    )
}

/// The length of the file behind a download URL, from a `Content-Range`.
fn total_of(content_range: &str) -> u64 {
    content_range.rsplit('/').next().unwrap().parse().unwrap()
}

async fn downloads_of(app: &TestApp, admin: &str, link_id: &str) -> i64 {
    let body = app
        .gql(
            Some(admin),
            "query($id: ID!) { shareLink(id: $id) { downloads } }",
            json!({ "id": link_id }),
        )
        .await;
    body["data"]["shareLink"]["downloads"]
        .as_i64()
        .unwrap_or_else(|| panic!("{body}"))
}

#[tokio::test]
async fn no_range_trick_in_parallel_gets_more_than_the_cap_out() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (url, link_id) = capped_link(&app, &admin, 2).await;
    // Five rounds of every trick at once against a cap of two files.
    let tasks: Vec<_> = (0..5)
        .flat_map(|_| TRICKS)
        .map(|range| {
            let url = url.clone();
            tokio::spawn(async move { (range, get(&url, range).await) })
        })
        .collect();
    let mut served = 0u64;
    let mut len = None;
    for task in tasks {
        let (range, (status, body, content_range)) = task.await.unwrap();
        match status {
            200 => {
                len.get_or_insert(body.len() as u64);
                served += body.len() as u64;
            }
            206 => {
                len.get_or_insert(total_of(&content_range));
                served += body.len() as u64;
            }
            403 | 416 => {}
            other => panic!("{range:?}: unexpected status {other}"),
        }
    }
    let len = len.expect("some download went out");
    assert!(len > 10_000, "{len}");
    assert!(
        served <= 2 * len,
        "{served} bytes served, more than two copies of {len}"
    );
    // The cap is used, and says so.
    assert_eq!(downloads_of(&app, &admin, &link_id).await, 2);
    for range in TRICKS {
        let (status, body, _) = get(&url, range).await;
        assert_eq!(status, 403, "{range:?} after the cap");
        assert!(!body.starts_with(&[0xFF, 0xD8]), "{range:?}");
    }
    app.finish().await;
}

#[tokio::test]
async fn a_download_resumed_with_ranges_costs_one_file_and_nothing_more_goes_out() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (url, link_id) = capped_link(&app, &admin, 1).await;
    // The first half, then the rest: a resumed download.
    let (status, first, content_range) = get(&url, Some("bytes=0-9999")).await;
    assert_eq!(status, 206, "{content_range}");
    let len = total_of(&content_range);
    assert_eq!(first.len(), 10_000);
    assert_eq!(downloads_of(&app, &admin, &link_id).await, 1);
    let (status, rest, _) = get(&url, Some("bytes=10000-")).await;
    assert_eq!(status, 206);
    assert_eq!((first.len() + rest.len()) as u64, len);
    let whole = [first, rest].concat();
    assert!(whole.starts_with(&[0xFF, 0xD8]) && whole.ends_with(&[0xFF, 0xD9]));
    // One file's worth went out: not one byte more, however it is asked.
    for range in TRICKS
        .into_iter()
        .chain([Some("bytes=0-0"), Some("bytes=-1")])
    {
        let (status, _, _) = get(&url, range).await;
        assert_eq!(status, 403, "{range:?}");
    }
    assert_eq!(downloads_of(&app, &admin, &link_id).await, 1);
    app.finish().await;
}

#[tokio::test]
async fn ranges_are_parsed_strictly_for_everyone() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (url, _) = capped_link(&app, &admin, 100).await;
    let (status, whole, _) = get(&url, None).await;
    assert_eq!(status, 200);
    let len = whole.len();
    // Ignored: served whole (200).
    for range in [
        "items=0-1",
        "bytes=1-2,0-",
        "bytes=9-1",
        "bytes= 0-",
        "bytes=0-0,-1",
    ] {
        let (status, body, _) = get(&url, Some(range)).await;
        assert_eq!((status, body.len()), (200, len), "{range}");
    }
    // One well-formed range: 206 with exactly it.
    let (status, body, content_range) = get(&url, Some("bytes=-999999999")).await;
    assert_eq!((status, body.len()), (206, len));
    assert_eq!(content_range, format!("bytes 0-{}/{len}", len - 1));
    let (status, body, content_range) = get(&url, Some("bytes=5-9")).await;
    assert_eq!((status, body.as_slice()), (206, &whole[5..10]));
    assert_eq!(content_range, format!("bytes 5-9/{len}"));
    // Past the end: 416 with the length.
    let (status, body, content_range) = get(&url, Some(&format!("bytes={len}-"))).await;
    assert_eq!((status, body.len()), (416, 0));
    assert_eq!(content_range, format!("bytes */{len}"));
    app.finish().await;
}
