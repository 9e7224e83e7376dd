//! An HTTP receiver on a loopback port (webhooks, CDN purges): records every
//! request and answers with a status the test sets.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    /// A header's value (empty when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// The receiver; `url` ends in `path` given at start.
pub struct Receiver {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    /// The status it answers with (204 at first).
    pub status: Arc<AtomicU16>,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_at("/hooks/vitrine").await
    }

    pub async fn start_at(path: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(204));
        let (got2, status2) = (got.clone(), status.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (got, status) = (got2.clone(), status2.clone());
                tokio::spawn(async move { serve(stream, got, status).await });
            }
        });
        Self {
            base: format!("http://{addr}"),
            url: format!("http://{addr}{path}"),
            got,
            status,
            _task: task,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Waits (30 s at most) until `n` requests came.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let ok = crate::eventually(Duration::from_secs(30), || async {
            self.received().len() >= n
        })
        .await;
        assert!(ok, "expected {n} requests, got {:?}", self.received());
        self.received()
    }
}

/// A minimal HTTP/1.1 exchange: one request per connection.
async fn serve(
    mut stream: tokio::net::TcpStream,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            break (pos + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let path = first.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let code = status.load(Ordering::SeqCst);
    got.lock().unwrap().push(Received {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&buf[head_end..]).to_string(),
    });
    let response = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, computed by
/// hand (RFC 2104) so tests do not share the server's code.
pub fn standard_signature(key: &[u8], id: &str, timestamp: &str, body: &str) -> String {
    use sha2::Digest;
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha2::Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let signed = format!("{id}.{timestamp}.{body}");
    let inner = sha2::Sha256::new()
        .chain_update(&ipad)
        .chain_update(signed.as_bytes())
        .finalize();
    let mac = sha2::Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    )
}
