//! GraphiQL, served entirely from the binary: the page (`GET /graphql` from a
//! browser) and the files it loads from `/graphql/assets/<file>` — GraphiQL
//! 4.1.2 and React 18.3.1 (UMD builds, vendored and pinned in
//! `api/assets/graphiql`, see its MANIFEST.md) and two small files of ours.
//! Nothing is fetched from another origin, so it works offline, and the page
//! runs under a Content-Security-Policy without inline scripts; every file
//! is loaded with a Subresource Integrity hash.

use std::sync::LazyLock;

use base64::Engine as _;
use poem::http::{StatusCode, header};
use poem::web::Path;
use poem::{Request, Response, handler};
use sha2::{Digest, Sha384};

/// The page. Its asset URLs and their `integrity` hashes are in the file.
const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// What the page may do: its own scripts and styles only (GraphiQL's
/// dialogs insert a `<style>` element, hence `'unsafe-inline'` for styles),
/// `data:` fonts and icons from the stylesheet, requests to this origin
/// (`fetch` to `/graphql`, the WebSocket to `/graphql/ws`).
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One file under `/graphql/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Exactly the files `index.html` refers to.
const ASSETS: &[Asset] = &[
    Asset {
        name: "graphiql.min.css",
        content_type: CSS,
        bytes: include_bytes!("../../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "init.css",
        content_type: CSS,
        bytes: include_bytes!("../../assets/graphiql/init.css"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: JS,
        bytes: include_bytes!("../../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: JS,
        bytes: include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "graphiql.min.js",
        content_type: JS,
        bytes: include_bytes!("../../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "init.js",
        content_type: JS,
        bytes: include_bytes!("../../assets/graphiql/init.js"),
    },
];

/// The Subresource Integrity value of some bytes (`sha384-<base64>`).
fn integrity(bytes: &[u8]) -> String {
    let digest = Sha384::digest(bytes);
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Each asset's entity tag: its SRI hash, computed once (about 5 ms).
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", integrity(a.bytes)))
        .collect()
});

/// The GraphiQL page.
pub fn page() -> Response {
    Response::builder()
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("Content-Security-Policy", PAGE_CSP)
        // `same-origin`, not `no-referrer`: under `no-referrer` Chromium
        // sends `Origin: null` with the page's POSTs to /graphql, which the
        // cross-site check must refuse (see `cors`). Other origins get nothing.
        .header("Referrer-Policy", "same-origin")
        .header("X-Robots-Tag", "noindex")
        .body(PAGE)
}

/// Whether an `If-None-Match` value names `etag` (weak comparison).
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// `GET /graphql/assets/<file>`. The names carry no version, so browsers
/// revalidate each time (`no-cache`) and get 304 while the file is the same.
#[handler]
pub fn asset(req: &Request, Path(name): Path<String>) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-store")
            .body("no such file");
    };
    let asset = &ASSETS[index];
    let etag = ETAGS[index].as_str();
    let builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if req
        .header(header::IF_NONE_MATCH)
        .is_some_and(|v| matches(v, etag))
    {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder.content_type(asset.content_type).body(asset.bytes)
}

#[cfg(test)]
mod tests {
    use super::{ASSETS, PAGE, integrity, matches};

    /// Every file the page loads is served, with the hash the page names
    /// (an edited `init.js` without a new hash in `index.html` fails here).
    #[test]
    fn the_page_names_each_asset_with_its_hash() {
        let mut referenced = 0;
        for part in PAGE.split("/graphql/assets/").skip(1) {
            let name = part.split('"').next().unwrap_or_default();
            let asset = ASSETS
                .iter()
                .find(|a| a.name == name)
                .unwrap_or_else(|| panic!("{name} is not served"));
            let hash = integrity(asset.bytes);
            assert!(
                part.contains(&format!("integrity=\"{hash}\"")),
                "{name}: index.html does not name {hash}"
            );
            referenced += 1;
        }
        assert_eq!(
            referenced,
            ASSETS.len(),
            "a served file the page never loads"
        );
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
    }

    #[test]
    fn if_none_match_is_compared_weakly() {
        assert!(matches("\"a\"", "\"a\""));
        assert!(matches("W/\"a\"", "\"a\""));
        assert!(matches("\"b\", \"a\"", "\"a\""));
        assert!(matches("*", "\"a\""));
        assert!(!matches("\"b\"", "\"a\""));
    }
}
